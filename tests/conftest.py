"""Fixtures shared by every test: AWS resources in moto, shaped exactly as template.yaml declares them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from moto import mock_aws

from local.template import table_definition
from review_pipeline.settings import Settings, load_settings

# The sentiment endpoint fixture (`sentiment_endpoint`): the shipped model over HTTP, as the emulator runs it.
# Unit tests override it with the small model answered in-process (tests/unit/conftest.py).
pytest_plugins = ["tests.endpoint_server"]

# As on Lambda, the service is named before any module makes its logger: the pipeline's child loggers take
# their parent's name from it when they are imported (at collection), and append their keys through it.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "review-sentiment")

REGION = "us-east-1"
TABLE_NAME = "reviews-test"
BUCKET_NAME = "review-sentiment-test"
ENDPOINT_NAME = "sentiment-test"


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches real AWS: fake credentials, one region, Powertools' tracer off."""
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
        "EXPORT_QUEUE_URL": sqs.create_queue(QueueName="export-test")["QueueUrl"],
        "ENDPOINT_NAME": ENDPOINT_NAME,
        "INCOMING_PREFIX": "incoming/",
        "PROCESSED_PREFIX": "processed/",
        "REJECTED_PREFIX": "rejected/",
        "CHUNK_SIZE": "50",
        "CURSOR_SIGNING_KEY": "test-cursor-signing-key-0123456789abcdef",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def settings(pipeline_env: dict[str, str]) -> Settings:
    """The functions' settings in the pipeline environment (for others: `settings.model_copy(update=...)`)."""
    return load_settings()


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """A metrics collector for a service under test (what it would publish is in `metrics.metric_set`)."""
    collected = Metrics(namespace="Test", service="test")
    collected.clear_metrics()
    yield collected
    collected.clear_metrics()


@pytest.fixture
def classifier(settings: Settings, sentiment_endpoint: Any, metrics: Metrics) -> Any:
    """InferenceFunction's service over the moto resources and the sentiment endpoint of the test's tier."""
    from review_pipeline.logic.inference import ChunkClassifier

    return ChunkClassifier.from_settings(settings, metrics)
