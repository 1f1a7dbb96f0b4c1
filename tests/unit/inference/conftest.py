"""Fixtures of the inference tests (the `classifier` itself is shared, in tests/conftest.py)."""

import pytest
from aws_lambda_powertools import Metrics

from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.settings import Settings
from tests.staged_endpoint import StagedEndpoint


@pytest.fixture
def small_payload_classifier(
    settings: Settings, sentiment_endpoint: StagedEndpoint, metrics: Metrics
) -> ChunkClassifier:
    """A classifier whose endpoint payload limit (1,000 bytes) a long review exceeds."""
    return ChunkClassifier.from_settings(settings.model_copy(update={"max_payload_bytes": 1000}), metrics)
