"""QueryApiFunction's handler over moto and the live endpoint (shipped model), and the job the events name."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from review_pipeline.dal.results import ResultStore
from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.models import RejectedRow
from review_pipeline.settings import Settings
from tests.endpoint_server import SentimentEndpointServer
from tests.handlers import handler_for
from tests.integration.query_api.api_events import JOB_ID
from tests.unit.inference.seed import seed_processing_job


@pytest.fixture
def handler(
    pipeline_env: dict[str, str], sentiment_endpoint: SentimentEndpointServer, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    return handler_for("query_api", monkeypatch)


@pytest.fixture
def event_job(classifier: ChunkClassifier, settings: Settings, table: Any) -> str:
    """The job the events name: 6 reviews classified in two chunks and 2 rejected rows."""
    for message in seed_processing_job(table, settings.bucket_name, JOB_ID, [4, 2], rejected=2):
        classifier.classify(message)
    ResultStore(table).put_rejected(
        JOB_ID,
        [
            RejectedRow(row=7, reason="text: the review is empty", raw_excerpt='{"text": ""}'),
            RejectedRow(row=8, reason="rating: must be between 1 and 10", raw_excerpt='{"rating": 11}'),
        ],
    )
    return JOB_ID
