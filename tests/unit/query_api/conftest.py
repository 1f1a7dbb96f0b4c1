"""Fixtures of the query service tests."""

import pytest
from aws_lambda_powertools import Metrics

from review_pipeline.logic.query import QueryService
from review_pipeline.settings import Settings
from tests.endpoint_server import SentimentEndpointServer


@pytest.fixture
def service(
    settings: Settings, sentiment_endpoint: SentimentEndpointServer, metrics: Metrics
) -> QueryService:
    """QueryApiFunction's service over the moto resources and the live sentiment endpoint."""
    return QueryService.from_settings(settings, metrics)
