"""Fixtures of the query service tests."""

from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.logic.query import QueryService
from review_pipeline.settings import Settings
from tests.staged_endpoint import StagedEndpoint
from tests.unit.inference.seed import seed_processing_job


@pytest.fixture
def service(settings: Settings, sentiment_endpoint: StagedEndpoint, metrics: Metrics) -> QueryService:
    """QueryApiFunction's service over the moto resources and the sentiment endpoint (the small model)."""
    return QueryService.from_settings(settings, metrics)


@pytest.fixture
def classified_job(service: QueryService, classifier: ChunkClassifier, table: Any, bucket: str) -> str:
    """A completed job of 7 reviews in two chunks (rows 1-4 in chunk 0, rows 5-7 in chunk 1)."""
    for message in seed_processing_job(table, bucket, "job-1", [4, 3]):
        classifier.classify(message)
    return "job-1"
