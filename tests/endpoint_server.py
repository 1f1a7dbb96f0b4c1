"""The emulator's SageMaker-compatible endpoint (local/endpoint.py), serving the shipped model, as a fixture.

moto's sagemaker-runtime returns canned data, so tests point boto3 here through
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME. Requests are answered by the model artifact's own inference.py
(model.serving.load_endpoint_handler); the fixture records each invocation and can stage failures.

A plugin of tests/conftest.py (`pytest_plugins`): any test can ask for the `sentiment_endpoint` fixture.
Unit tests get the tiny model in-process instead (tests/unit/conftest.py overrides the fixture); integration
and end-to-end tests keep this real HTTP endpoint with the shipped model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.endpoint import EndpointServer
from model.serving import load_endpoint_handler
from tests.conftest import ENDPOINT_NAME
from tests.staged_endpoint import ScoringHandler, StagedEndpoint

ARTIFACT = Path(__file__).resolve().parent.parent / "model" / "artifact" / "model.tar.gz"


@dataclass
class SentimentEndpointServer(StagedEndpoint):
    """The running endpoint: its URL, every invocation it received, and failures to stage."""

    url: str = ""


@pytest.fixture(scope="session")
def _scoring_handler() -> ScoringHandler:
    """Loaded once: extracting the artifact and loading the model is the slow part."""
    return load_endpoint_handler(ARTIFACT)


@pytest.fixture
def sentiment_endpoint(
    monkeypatch: pytest.MonkeyPatch, _scoring_handler: ScoringHandler
) -> Iterator[SentimentEndpointServer]:
    """A live endpoint named ENDPOINT_NAME on a free 127.0.0.1 port; boto3 sagemaker-runtime points at it."""
    state = SentimentEndpointServer(ENDPOINT_NAME, _scoring_handler)
    server = EndpointServer(ENDPOINT_NAME, state.handle)
    server.start()
    state.url = server.url
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", state.url)
    try:
        yield state
    finally:
        server.stop()
