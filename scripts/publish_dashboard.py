"""Upload the results dashboard (dashboard/ and the model card, laid out by local/dashboard.py) to the stack's
DashboardBucket and invalidate CloudFront's `/dashboard/*`, so the deployed page is the one in the repository.

    python -m scripts.publish_dashboard --config-env default     # after sam deploy (make deploy runs it)
    python -m scripts.publish_dashboard --config-env default --remove   # before sam delete (make delete)

The stack name and region come from samconfig.toml's environment unless --stack / --region are given. Files
whose content is already there (same MD5 as the object's ETag) are not uploaded again; objects under
dashboard/ that the layout no longer has are deleted. Progress goes to stderr; stdout gets the dashboard URL.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local.dashboard import KEY_PREFIX, URL_PREFIX, content_type, site_files
from scripts.samconfig import SamConfigError, command_parameters

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_s3 import S3Client

BUCKET_RESOURCE = "DashboardBucket"
DISTRIBUTION_RESOURCE = "ApiDistribution"
URL_OUTPUT = "ResultsDashboardUrl"
# Browsers revalidate after five minutes; CloudFront is invalidated on every publish.
CACHE_CONTROL = "max-age=300"


def _existing_etags(s3: S3Client, bucket: str, prefix: str) -> dict[str, str]:
    etags: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            etags[item["Key"]] = item["ETag"].strip('"')
    return etags


def publish(s3: S3Client, bucket: str, files: dict[str, Path], prefix: str = KEY_PREFIX) -> tuple[int, int]:
    """Make `prefix` in `bucket` hold exactly `files`; returns (uploaded, deleted) counts."""
    existing = _existing_etags(s3, bucket, prefix)
    uploaded = 0
    for name, path in sorted(files.items()):
        key = prefix + name
        body = path.read_bytes()
        if existing.get(key) == hashlib.md5(body, usedforsecurity=False).hexdigest():
            continue
        print(f"uploading {path} to s3://{bucket}/{key}", file=sys.stderr)
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type(path), CacheControl=CACHE_CONTROL
        )
        uploaded += 1
    stale = sorted(set(existing) - {prefix + name for name in files})
    remove_objects(s3, bucket, stale)
    return uploaded, len(stale)


def remove_objects(s3: S3Client, bucket: str, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        print(f"deleting {len(batch)} object(s) from s3://{bucket}", file=sys.stderr)
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})


def invalidate(cloudfront: CloudFrontClient, distribution_id: str) -> str:
    """Ask CloudFront to drop its cached copies of the dashboard; returns the invalidation id."""
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": [f"{URL_PREFIX}*"]},
            "CallerReference": f"publish-dashboard-{time.time_ns()}",
        },
    )
    return answer["Invalidation"]["Id"]


def stack_resource(cloudformation: CloudFormationClient, stack: str, logical_id: str) -> str:
    answer = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return answer["StackResourceDetail"]["PhysicalResourceId"]


def dashboard_url(cloudformation: CloudFormationClient, stack: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return next((o["OutputValue"] for o in outputs if o["OutputKey"] == URL_OUTPUT), "")


def _empty_bucket(cloudformation: CloudFormationClient, s3: S3Client, stack: str) -> int:
    """Empty the stack's dashboard bucket so `sam delete` can delete it; no stack or no bucket is no error."""
    try:
        bucket = stack_resource(cloudformation, stack, BUCKET_RESOURCE)
    except ClientError as error:
        # A stack that is already gone, or was deployed before the dashboard existed, has nothing to empty.
        print(f"no dashboard bucket to empty in stack {stack}: {error}", file=sys.stderr)
        return 0
    remove_objects(s3, bucket, sorted(_existing_etags(s3, bucket, "")))
    return 0


def _target(args: argparse.Namespace) -> tuple[str, str]:
    configured = command_parameters(args.config_env, "deploy")
    stack = args.stack or str(configured.get("stack_name", ""))
    region = args.region or str(configured.get("region", ""))
    if not stack or not region:
        raise SamConfigError(
            f"samconfig environment {args.config_env!r} sets no stack_name/region: pass them"
        )
    return stack, region


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.publish_dashboard", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--config-env", default="default", help="samconfig environment (default: %(default)s)"
    )
    parser.add_argument("--stack", default="", help="stack name (default: the environment's stack_name)")
    parser.add_argument("--region", default="", help="region (default: the environment's region)")
    parser.add_argument(
        "--remove", action="store_true", help="empty the dashboard bucket (before sam delete)"
    )
    args = parser.parse_args(argv)
    try:
        stack, region = _target(args)
        session = boto3.session.Session(region_name=region)
        cloudformation = session.client("cloudformation")
        s3 = session.client("s3")
        if args.remove:
            return _empty_bucket(cloudformation, s3, stack)
        bucket = stack_resource(cloudformation, stack, BUCKET_RESOURCE)
        uploaded, deleted = publish(s3, bucket, site_files())
        distribution = stack_resource(cloudformation, stack, DISTRIBUTION_RESOURCE)
        invalidation = invalidate(session.client("cloudfront"), distribution)
        print(
            f"dashboard: {uploaded} file(s) uploaded, {deleted} deleted; invalidation {invalidation}",
            file=sys.stderr,
        )
        print(dashboard_url(cloudformation, stack))
    except SamConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"error: publishing the dashboard failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
