"""scripts/publish_model.py against moto: the bucket it creates, the key it chooses, what it re-uploads."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest

from scripts.publish_model import (
    artifact_key,
    default_bucket_name,
    ensure_private_bucket,
    main,
    publish,
)

ACCOUNT_ID = "123456789012"  # moto's account


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """A small model.tar.gz laid out like the real one (model data plus code/inference.py)."""
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, content in [("model.npz", b"weights"), ("code/inference.py", b"def model_fn(d): ...\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_ensure_private_bucket_creates_a_private_encrypted_tls_only_bucket_in_the_deploy_region(
    aws: None, region: str
) -> None:
    # Given no model bucket yet
    s3 = boto3.client("s3", region_name=region)
    bucket = default_bucket_name(ACCOUNT_ID, region)

    # When it is ensured
    ensure_private_bucket(s3, bucket, region, ACCOUNT_ID)

    # Then it lives in the deploy region, blocks public access, encrypts and refuses plain HTTP
    location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert (location or "us-east-1") == region
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block[setting] for setting in block)
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(statement["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


def test_ensure_private_bucket_reuses_a_bucket_this_account_owns(aws: None) -> None:
    # Given the bucket exists already
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = default_bucket_name(ACCOUNT_ID, "us-east-1")
    ensure_private_bucket(s3, bucket, "us-east-1", ACCOUNT_ID)

    # When it is ensured again
    ensure_private_bucket(s3, bucket, "us-east-1", ACCOUNT_ID)

    # Then nothing fails and there is still one bucket
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]


# moto applies a bucket policy's Deny without evaluating its Condition, so the TLS-only policy above would
# refuse every upload in moto (on AWS the uploads are HTTPS and pass). The upload tests therefore use a
# bucket without that policy, as a user's own MODEL_BUCKET may be.
@pytest.fixture
def plain_bucket(aws: None) -> str:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="my-models")
    return "my-models"


def test_publish_skips_the_upload_when_the_same_content_is_already_there(
    plain_bucket: str, artifact: Path
) -> None:
    # Given an artifact published once
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = plain_bucket
    first_uri = publish(s3, artifact, bucket)
    first_etag = s3.head_object(Bucket=bucket, Key=artifact_key(_sha256(artifact)))["ETag"]

    # When the unchanged artifact is published again
    second_uri = publish(s3, artifact, bucket)

    # Then the URI is the same and there is still exactly one object
    assert second_uri == first_uri
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["ETag"] for item in listed] == [first_etag]


def test_publish_gives_a_retrained_model_a_new_uri(plain_bucket: str, artifact: Path, tmp_path: Path) -> None:
    # Given a published artifact
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = plain_bucket
    old_uri = publish(s3, artifact, bucket)

    # When a different artifact is published
    retrained = tmp_path / "retrained.tar.gz"
    retrained.write_bytes(artifact.read_bytes() + b"\0")
    new_uri = publish(s3, retrained, bucket)

    # Then it gets its own key, so CloudFormation sees a new ModelDataUrl, and the old one stays
    assert new_uri != old_uri
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 2


def test_main_uses_the_given_bucket_as_is(
    aws: None, artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a bucket of the user's own (MODEL_BUCKET)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="my-models")

    # When the artifact is published to it
    exit_code = main(["--artifact", str(artifact), "--region", "us-east-1", "--bucket", "my-models"])

    # Then the object is there and no bucket of ours was created
    assert exit_code == 0
    assert capsys.readouterr().out.strip() == f"s3://my-models/{artifact_key(_sha256(artifact))}"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["my-models"]


def test_main_explains_a_missing_artifact(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no trained model
    missing = tmp_path / "model.tar.gz"

    # When publishing
    exit_code = main(["--artifact", str(missing), "--region", "us-east-1"])

    # Then it fails with what to do, and prints no URI
    output = capsys.readouterr()
    assert exit_code == 2
    assert output.out == ""
    assert "make train" in output.err
