"""Fixtures shared by every test: AWS resources in moto, shaped exactly as template.yaml declares them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.template import table_definition
from review_pipeline.settings import load_settings

REGION = "us-east-1"
TABLE_NAME = "reviews-test"
BUCKET_NAME = "review-sentiment-test"
ENDPOINT_NAME = "sentiment-test"


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches real AWS: fake credentials, one region, Powertools' tracer off, fresh settings."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "review-sentiment")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ReviewSentimentPipeline")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process AWS for the duration of one test."""
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None) -> Any:
    """The pipeline table, created from the template's own KeySchema and indexes."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    created = dynamodb.create_table(TableName=TABLE_NAME, **table_definition())
    created.wait_until_exists()
    return created


@pytest.fixture
def bucket(aws: None) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET_NAME)
    return BUCKET_NAME


@pytest.fixture
def pipeline_env(monkeypatch: pytest.MonkeyPatch, table: Any, bucket: str) -> dict[str, str]:
    """The environment the template gives every function, pointing at the moto resources."""
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="inference-test")["QueueUrl"]
    env = {
        "TABLE_NAME": TABLE_NAME,
        "BUCKET_NAME": bucket,
        "INFERENCE_QUEUE_URL": queue_url,
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "INCOMING_PREFIX": "incoming/",
        "PROCESSED_PREFIX": "processed/",
        "REJECTED_PREFIX": "rejected/",
        "CHUNK_SIZE": "50",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    load_settings.cache_clear()
    return env
