"""Fixtures of the inference tests: the live endpoint, a metrics collector and the chunk classifier."""

from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Metrics

from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.settings import load_settings
from tests.endpoint_server import SentimentEndpointServer, _scoring_handler, sentiment_endpoint  # noqa: F401


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    collected = Metrics(namespace="Test", service="test")
    collected.clear_metrics()
    yield collected
    collected.clear_metrics()


@pytest.fixture
def classifier(
    pipeline_env: dict[str, str],
    sentiment_endpoint: SentimentEndpointServer,  # noqa: F811 - the fixture imported above
    metrics: Metrics,
) -> ChunkClassifier:
    return ChunkClassifier.from_settings(load_settings(), metrics)


@pytest.fixture
def small_payload_classifier(
    pipeline_env: dict[str, str],
    sentiment_endpoint: SentimentEndpointServer,  # noqa: F811 - the fixture imported above
    metrics: Metrics,
    monkeypatch: pytest.MonkeyPatch,
) -> ChunkClassifier:
    """A classifier whose endpoint payload limit (1,000 bytes) a long review exceeds."""
    monkeypatch.setenv("MAX_PAYLOAD_BYTES", "1000")
    load_settings.cache_clear()
    return ChunkClassifier.from_settings(load_settings(), metrics)
