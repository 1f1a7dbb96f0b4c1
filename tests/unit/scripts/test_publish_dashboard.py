"""scripts/publish_dashboard.py against moto: what it uploads (with the content types browsers need), what it
leaves alone, what it deletes, and the CloudFront invalidation that makes the new files visible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.publish_dashboard import invalidate, main, publish, remove_objects, stack_resource

BUCKET = "dashboard-bucket"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    files = {
        "index.html": b"<!doctype html><title>x</title>",
        "app.js": b"export {};",
        "model/card.png": b"\x89PNG",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    return {"": tmp_path / "index.html", **{name: tmp_path / name for name in files}}


def _objects(s3: Any) -> dict[str, tuple[str, str]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    heads = {key: s3.head_object(Bucket=BUCKET, Key=key) for key in keys}
    return {key: (head["ContentType"], head["CacheControl"]) for key, head in heads.items()}


def test_publish_uploads_every_file_under_the_prefix_with_its_content_type(
    s3: Any, site: dict[str, Path]
) -> None:
    # Given an empty dashboard bucket
    # When the site is published
    uploaded, deleted = publish(s3, BUCKET, site)
    # Then every file is there under dashboard/, the page also as the folder's own key
    assert (uploaded, deleted) == (4, 0)
    assert _objects(s3) == {
        "dashboard/": ("text/html; charset=utf-8", "max-age=300"),
        "dashboard/index.html": ("text/html; charset=utf-8", "max-age=300"),
        "dashboard/app.js": ("text/javascript; charset=utf-8", "max-age=300"),
        "dashboard/model/card.png": ("image/png", "max-age=300"),
    }


def test_publishing_again_uploads_only_changes_and_deletes_what_is_gone(
    s3: Any, site: dict[str, Path]
) -> None:
    # Given a published site, then one file edited and one removed
    publish(s3, BUCKET, site)
    site["app.js"].write_bytes(b"export const changed = true;")
    del site["model/card.png"]
    # When it is published again
    uploaded, deleted = publish(s3, BUCKET, site)
    # Then only the edited file is uploaded and the removed one is deleted
    assert (uploaded, deleted) == (1, 1)
    assert set(_objects(s3)) == {"dashboard/", "dashboard/index.html", "dashboard/app.js"}
    assert (
        s3.get_object(Bucket=BUCKET, Key="dashboard/app.js")["Body"].read() == b"export const changed = true;"
    )


def test_remove_empties_the_bucket(s3: Any, site: dict[str, Path]) -> None:
    publish(s3, BUCKET, site)
    remove_objects(s3, BUCKET, [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]])
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_invalidate_asks_cloudfront_to_drop_the_dashboard_paths(aws: None) -> None:
    # Given a distribution
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    origin = {
        "Id": "o",
        "DomainName": "example.com",
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
    }
    config = {
        "CallerReference": "test",
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
        "Comment": "",
        "Enabled": True,
    }
    distribution_id = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    # When the dashboard is invalidated
    invalidation_id = invalidate(cloudfront, distribution_id)
    # Then CloudFront holds an invalidation of /dashboard/*
    answer = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)
    assert answer["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/dashboard/*"]


def test_the_bucket_is_found_by_its_logical_id_in_the_stack(aws: None) -> None:
    # Given a stack with a DashboardBucket
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    body = '{"Resources": {"DashboardBucket": {"Type": "AWS::S3::Bucket"}}}'
    cloudformation.create_stack(StackName="review-sentiment-test", TemplateBody=body)
    # When its physical name is asked for
    name = stack_resource(cloudformation, "review-sentiment-test", "DashboardBucket")
    # Then it is the bucket the stack created
    assert name in [b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]]


def test_remove_before_delete_empties_the_stacks_bucket_and_tolerates_a_stack_without_one(aws: None) -> None:
    # Given a stack whose dashboard bucket holds files
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    body = '{"Resources": {"DashboardBucket": {"Type": "AWS::S3::Bucket"}}}'
    cloudformation.create_stack(StackName="with-dashboard", TemplateBody=body)
    bucket = stack_resource(cloudformation, "with-dashboard", "DashboardBucket")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key="dashboard/index.html", Body=b"<!doctype html>")
    # When `make delete` empties it, and then asks the same of a stack that does not exist
    emptied = main(["--stack", "with-dashboard", "--region", "us-east-1", "--remove"])
    missing = main(["--stack", "no-such-stack", "--region", "us-east-1", "--remove"])
    # Then the bucket is empty, and the missing stack does not stop the delete
    assert (emptied, missing) == (0, 0)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
