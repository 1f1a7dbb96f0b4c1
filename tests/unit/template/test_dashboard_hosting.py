"""template.yaml serves the results dashboard as local/dashboard.py lays it out: `/dashboard/*` on the API's
CloudFront distribution, from a private bucket only that distribution may read (origin access control)."""

from __future__ import annotations

from typing import Any

import pytest

from local.dashboard import KEY_PREFIX, URL_PREFIX
from local.template import load_template, resources_of_type

MANAGED_CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    (distribution,) = resources_of_type("AWS::CloudFront::Distribution", template).values()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def test_cloudfront_sends_dashboard_paths_to_the_dashboard_bucket_through_origin_access_control(
    template: dict[str, Any],
) -> None:
    # Given the distribution in front of the API
    config = _distribution(template)
    # When its behaviour for the dashboard's paths is read
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == f"{URL_PREFIX}*"]
    origin = next(o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"])
    # Then it reads, over HTTPS only, the dashboard bucket, signed by an S3 origin access control
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["CachePolicyId"] == MANAGED_CACHING_OPTIMIZED
    assert origin["DomainName"] == {"Fn::GetAtt": ["DashboardBucket", "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    control_id = origin["OriginAccessControlId"]["Fn::GetAtt"][0]
    control = template["Resources"][control_id]["Properties"]["OriginAccessControlConfig"]
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"]) == ("s3", "always")
    # And everything else still goes to the API
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "HttpApiOrigin"


def test_only_this_distribution_may_read_the_dashboard_files_and_the_bucket_is_private(
    template: dict[str, Any],
) -> None:
    # Given the dashboard bucket and its policy
    bucket = template["Resources"]["DashboardBucket"]["Properties"]
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources_of_type("AWS::S3::BucketPolicy", template).values()
        if p["Properties"]["Bucket"] == {"Ref": "DashboardBucket"}
    ]
    # Then it blocks public access and is encrypted
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    # And the one Allow is CloudFront's GetObject under the files' prefix, for this stack's distribution only
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Sub": f"${{DashboardBucket.Arn}}/{KEY_PREFIX}*"}
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${ApiDistribution}")
    assert any(s["Sid"] == "DenyInsecureTransport" for s in policy["Statement"])


def test_the_outputs_name_the_dashboard_url(template: dict[str, Any]) -> None:
    output = template["Outputs"]["ResultsDashboardUrl"]["Value"]
    assert output == {"Fn::Sub": f"https://${{ApiDistribution.DomainName}}{URL_PREFIX}"}
