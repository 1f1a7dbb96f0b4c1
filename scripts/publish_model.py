"""Upload the model artifact to S3 under a content-hash key and print its s3:// URI (for ModelDataUrl).

    python -m scripts.publish_model --region eu-west-1 [--bucket my-models] [--artifact path/model.tar.gz]

Without --bucket the artifact goes to review-sentiment-models-<account>-<region>, created on first use as a
private, encrypted, TLS-only bucket in the deploy region (SageMaker reads model data from its own region).
The key is the SHA-256 of the file, so an unchanged model is not uploaded again and CloudFormation sees no
change, while a retrained one gets a new ModelDataUrl and therefore a new SageMaker model.
Progress goes to stderr; stdout carries only the URI, for `$(...)` in the Makefile.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARTIFACT = PROJECT_ROOT / "model" / "artifact" / "model.tar.gz"
DEFAULT_PREFIX = "review-sentiment"
BUCKET_NAME_PREFIX = "review-sentiment-models"
HASH_METADATA_KEY = "sha256"


class PublishError(RuntimeError):
    """The artifact cannot be published; the message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def default_bucket_name(account_id: str, region: str) -> str:
    return f"{BUCKET_NAME_PREFIX}-{account_id}-{region}"


def artifact_key(digest: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix.strip('/')}/{digest}/model.tar.gz"


def ensure_private_bucket(s3: S3Client, bucket: str, region: str, account_id: str) -> None:
    """Use the bucket if this account owns it; otherwise create it private, encrypted and TLS-only."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account_id)
        return
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise PublishError(
                f"bucket {bucket} exists but belongs to another account: pass MODEL_BUCKET=<your bucket>"
            ) from error
        if status != 404:
            raise
    print(f"creating model bucket s3://{bucket} in {region}", file=sys.stderr)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerEnforced")
    else:
        s3.create_bucket(
            Bucket=bucket,
            ObjectOwnership="BucketOwnerEnforced",
            CreateBucketConfiguration={"LocationConstraint": region},
        )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_tls_only_policy(bucket)))


def publish(s3: S3Client, artifact: Path, bucket: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Upload `artifact` unless the same content is already there; return its s3:// URI."""
    digest = sha256_of(artifact)
    key = artifact_key(digest, prefix)
    uri = f"s3://{bucket}/{key}"
    try:
        existing = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        # 403 is S3's answer for a missing key to a caller without s3:ListBucket on someone else's bucket.
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") not in (403, 404):
            raise
    else:
        # Same key means same content, unless someone wrote there by hand: then upload again.
        if existing.get("Metadata", {}).get(HASH_METADATA_KEY) == digest:
            print(f"model unchanged, already at {uri}", file=sys.stderr)
            return uri
    print(f"uploading {artifact} ({artifact.stat().st_size} bytes) to {uri}", file=sys.stderr)
    s3.upload_file(
        str(artifact),
        bucket,
        key,
        ExtraArgs={"ServerSideEncryption": "AES256", "Metadata": {HASH_METADATA_KEY: digest}},
    )
    return uri


def _tls_only_policy(bucket: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.publish_model", description="Upload model.tar.gz under its content hash."
    )
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--region", help="deploy region (default: the AWS configuration's)")
    parser.add_argument("--bucket", default="", help="existing bucket to use (default: create/use our own)")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix (default: %(default)s)")
    args = parser.parse_args(argv)

    if not args.artifact.is_file():
        print(
            f"error: {args.artifact} not found: run `make train`, or deploy with EXISTING_ENDPOINT=name",
            file=sys.stderr,
        )
        return 2
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    if not region:
        print("error: no AWS region: pass --region or set AWS_DEFAULT_REGION", file=sys.stderr)
        return 2
    s3 = session.client("s3")
    try:
        bucket = args.bucket
        if not bucket:
            account_id = session.client("sts").get_caller_identity()["Account"]
            bucket = default_bucket_name(account_id, region)
            ensure_private_bucket(s3, bucket, region, account_id)
        print(publish(s3, args.artifact, bucket, args.prefix))
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError, S3UploadFailedError) as error:
        print(f"error: publishing the model failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
