"""The CLI finds its target: a deployed stack by its outputs (in moto), or the emulator's stack.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.state import StackInfo
from review_sentiment_cli.target import NoTargetError, Target, resolve_target
from tests.conftest import REGION

INGEST_DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/stack-IngestDeadLetterQueue"
INFERENCE_DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/stack-InferenceDeadLetterQueue"


def emulator_info() -> StackInfo:
    return StackInfo(
        aws_endpoint_url="http://127.0.0.1:5000",
        region=REGION,
        bucket="review-sentiment-local",
        incoming_prefix="incoming/",
        api_url="http://127.0.0.1:3000",
        sagemaker_runtime_url="http://127.0.0.1:8080",
        endpoint_name="sentiment",
        queues={
            "IngestQueue": "http://127.0.0.1:5000/123456789012/ingest",
            "IngestDeadLetterQueue": "http://127.0.0.1:5000/123456789012/ingest-dlq",
            "InferenceDeadLetterQueue": "http://127.0.0.1:5000/123456789012/inference-dlq",
        },
    )


def test_the_running_emulator_is_the_target_when_no_stack_is_named(tmp_path: Path) -> None:
    # Given the state file the emulator writes while it runs
    state_file = tmp_path / "stack.json"
    emulator_info().write(state_file)
    # When the CLI resolves its target without --stack
    target = resolve_target(None, None, state_file)
    # Then it talks to the emulator's API and moto server, and knows both dead-letter queues
    assert (target.api_url, target.bucket, target.incoming_prefix) == (
        "http://127.0.0.1:3000",
        "review-sentiment-local",
        "incoming/",
    )
    assert target.is_local
    assert target.aws_endpoint_url == "http://127.0.0.1:5000"
    assert target.dead_letter_queue_urls == (
        "http://127.0.0.1:5000/123456789012/inference-dlq",
        "http://127.0.0.1:5000/123456789012/ingest-dlq",
    )


def test_a_named_stack_is_found_by_its_outputs(aws: None) -> None:
    # Given a deployed stack (in moto) with the template's outputs
    outputs = {
        "BucketName": {"Ref": "ReviewsBucket"},
        "IncomingUri": {"Fn::Sub": "s3://${ReviewsBucket}/incoming/"},
        "CloudFrontUrl": "https://d111111abcdef8.cloudfront.net",
        "IngestDeadLetterQueueUrl": INGEST_DLQ,
        "InferenceDeadLetterQueueUrl": INFERENCE_DLQ,
    }
    template = {
        "Resources": {
            "ReviewsBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "reviews-b"}}
        },
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="review-sentiment-dev", TemplateBody=json.dumps(template)
    )
    # When the CLI resolves --stack review-sentiment-dev --region us-east-1 (a stack.json would not matter)
    target = resolve_target("review-sentiment-dev", REGION, Path("/nonexistent/stack.json"))
    # Then it uploads to the stack's bucket, asks CloudFront, and uses the caller's AWS credentials
    assert target == Target(
        description=f"stack review-sentiment-dev in {REGION}",
        api_url="https://d111111abcdef8.cloudfront.net",
        bucket="reviews-b",
        incoming_prefix="incoming/",
        region=REGION,
        dead_letter_queue_urls=(INGEST_DLQ, INFERENCE_DLQ),
    )
    assert not target.is_local


def test_without_stack_or_emulator_the_error_says_what_to_do(tmp_path: Path) -> None:
    # Given no --stack and no running emulator
    # When the CLI resolves its target
    # Then the error names both ways to get one
    with pytest.raises(NoTargetError, match=r"--stack NAME.*make local"):
        resolve_target(None, None, tmp_path / "stack.json")


def test_emulator_clients_never_carry_the_callers_credentials(tmp_path: Path, monkeypatch: Any) -> None:
    # Given real-looking credentials in the environment
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    # When the CLI makes an S3 client for the emulator
    s3 = Target.of_emulator(emulator_info()).client("s3")
    # Then it points at the emulator with the emulator's fake credentials
    assert s3.meta.endpoint_url == "http://127.0.0.1:5000"
    assert s3._request_signer._credentials.access_key == "local"
