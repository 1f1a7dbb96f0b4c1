"""The end-to-end suite finds a deployed stack by its CloudFormation outputs (here: a stack in moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local.stack import StackInfo
from tests.conftest import REGION
from tests.e2e.targets import (
    DEFAULT_INCOMING_PREFIX,
    DEPLOYED_POLL_TIMEOUT,
    LOCAL_POLL_TIMEOUT,
    DeployedStack,
    LocalEmulator,
    MissingStackOutputError,
)

STACK_NAME = "review-sentiment-e2e-unit"
BUCKET = "review-sentiment-e2e-unit-bucket"
CLOUDFRONT_URL = "https://d111111abcdef8.cloudfront.net"
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"


def stack_with_outputs(cloudformation: Any, outputs: dict[str, Any], name: str = STACK_NAME) -> None:
    """A real (moto) stack: one S3 bucket, and the given outputs."""
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"ReviewsBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def cloudformation(aws: None) -> Any:
    return boto3.client("cloudformation", region_name=REGION)


def test_reads_bucket_cloudfront_url_and_incoming_prefix_from_the_outputs(cloudformation: Any) -> None:
    # Given a stack with the template's outputs, the bucket one a !Ref to the stack's bucket
    stack_with_outputs(
        cloudformation,
        {
            "BucketName": {"Ref": "ReviewsBucket"},
            "IncomingUri": {"Fn::Sub": "s3://${ReviewsBucket}/incoming/"},
            "CloudFrontUrl": CLOUDFRONT_URL,
            "ApiUrl": API_URL,
        },
    )
    # When the suite reads them
    target = DeployedStack.from_outputs(STACK_NAME, cloudformation, run_id="run-1")
    # Then it talks to CloudFront, uploads to the stack's bucket in a folder of its own, and waits long
    assert target.api_url == CLOUDFRONT_URL
    assert target.bucket == BUCKET
    assert target.incoming_prefix == "incoming/"
    assert target.region == REGION
    assert target.upload_prefix == "incoming/e2e/run-1/"
    assert target.poll_timeout == DEPLOYED_POLL_TIMEOUT > LOCAL_POLL_TIMEOUT
    assert not target.is_local
    assert STACK_NAME in target.description


def test_falls_back_to_the_api_url_and_the_default_prefix(cloudformation: Any) -> None:
    # Given a stack without CloudFrontUrl and IncomingUri outputs, its ApiUrl with a trailing slash
    stack_with_outputs(cloudformation, {"BucketName": {"Ref": "ReviewsBucket"}, "ApiUrl": f"{API_URL}/"})
    # When the suite reads them
    target = DeployedStack.from_outputs(STACK_NAME, cloudformation)
    # Then it uses the HTTP API itself, without the slash, and the template's incoming/ prefix
    assert target.api_url == API_URL
    assert target.incoming_prefix == DEFAULT_INCOMING_PREFIX


def test_each_run_uploads_under_its_own_folder(cloudformation: Any) -> None:
    # Given a deployed stack
    stack_with_outputs(
        cloudformation, {"BucketName": {"Ref": "ReviewsBucket"}, "CloudFrontUrl": CLOUDFRONT_URL}
    )
    # When two runs read it without naming a run id
    first = DeployedStack.from_outputs(STACK_NAME, cloudformation)
    second = DeployedStack.from_outputs(STACK_NAME, cloudformation)
    # Then their uploads cannot collide
    assert first.upload_prefix != second.upload_prefix
    assert first.upload_prefix.startswith("incoming/e2e/")


@pytest.mark.parametrize(
    ("outputs", "missing"),
    [
        ({"CloudFrontUrl": CLOUDFRONT_URL}, "BucketName"),
        ({"BucketName": {"Ref": "ReviewsBucket"}}, "CloudFrontUrl or ApiUrl"),
    ],
)
def test_a_missing_output_names_the_output_and_the_stack(
    cloudformation: Any, outputs: dict[str, Any], missing: str
) -> None:
    # Given a stack that lacks an output the suite needs
    stack_with_outputs(cloudformation, outputs)
    # When the suite reads it
    # Then the error says which output, of which stack
    with pytest.raises(MissingStackOutputError, match=missing) as raised:
        DeployedStack.from_outputs(STACK_NAME, cloudformation)
    assert STACK_NAME in str(raised.value)


def test_an_unknown_stack_is_cloudformations_own_error(cloudformation: Any) -> None:
    # Given no stack of that name
    # When the suite reads it
    # Then CloudFormation's error (it names the stack) reaches the user unchanged
    with pytest.raises(cloudformation.exceptions.ClientError, match="no-such-stack"):
        DeployedStack.from_outputs("no-such-stack", cloudformation)


def test_the_local_emulator_exposes_the_same_interface() -> None:
    # Given what the emulator writes to .local/stack.json
    info = StackInfo(
        aws_endpoint_url="http://127.0.0.1:5000",
        region=REGION,
        bucket="review-sentiment-e2e",
        incoming_prefix="incoming/",
        api_url="http://127.0.0.1:3000",
        sagemaker_runtime_url="http://127.0.0.1:8080",
        endpoint_name="review-sentiment-e2e-sentiment",
    )
    # When it becomes the suite's target
    target = LocalEmulator.from_info(info)
    # Then it answers the same questions, with the emulator's short deadline and the suite's old keys
    assert (target.api_url, target.bucket, target.incoming_prefix, target.region) == (
        "http://127.0.0.1:3000",
        "review-sentiment-e2e",
        "incoming/",
        REGION,
    )
    assert target.upload_prefix == "incoming/e2e/"
    assert target.poll_timeout == LOCAL_POLL_TIMEOUT
    assert target.is_local
