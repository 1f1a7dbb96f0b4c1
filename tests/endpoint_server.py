"""The emulator's SageMaker-compatible endpoint (local/endpoint.py), serving the shipped model, as a fixture.

moto's sagemaker-runtime returns canned data, so tests point boto3 here through
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME. Requests are answered by the model artifact's own inference.py
(model.serving.load_endpoint_handler); the fixture records each invocation and can stage failures.

A plugin of tests/conftest.py (`pytest_plugins`): any test can ask for the `sentiment_endpoint` fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.endpoint import EndpointFault, EndpointServer
from model.serving import load_endpoint_handler
from tests.conftest import ENDPOINT_NAME

ARTIFACT = Path(__file__).resolve().parent.parent / "model" / "artifact" / "model.tar.gz"

ScoringHandler = Callable[[bytes, str, str], tuple[bytes, str]]


@dataclass
class Invocation:
    endpoint_name: str
    body: bytes
    content_type: str


@dataclass
class SentimentEndpointServer:
    """The running endpoint: its URL, every invocation it received, and failures to stage."""

    url: str
    scoring: ScoringHandler
    invocations: list[Invocation] = field(default_factory=list)
    # Each queued failure answers one request: (HTTP status, SageMaker error code, message).
    queued_failures: list[tuple[int, str, str]] = field(default_factory=list)
    # While set, every request (after the queued failures) is answered with this failure: an endpoint that is
    # down, or throttling, for longer than any retry.
    persistent_failure: tuple[int, str, str] | None = None
    # Rewrites a successful answer before it is sent (to test a model that breaks the contract).
    answer_rewriter: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def fail_next(self, status: int, code: str, message: str) -> None:
        self.queued_failures.append((status, code, message))

    def fail_every_request(self, status: int, code: str, message: str) -> None:
        """Answer every request with this error until `recover()` (e.g. 424 ModelError, 400 Throttling)."""
        self.persistent_failure = (status, code, message)

    def recover(self) -> None:
        self.persistent_failure = None

    def handle(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """The model handler the endpoint server calls: record, fail if staged, else score with the model."""
        self.invocations.append(Invocation(ENDPOINT_NAME, body, content_type))
        if self.queued_failures:
            raise EndpointFault(*self.queued_failures.pop(0))
        if self.persistent_failure is not None:
            raise EndpointFault(*self.persistent_failure)
        answer, answer_type = self.scoring(body, content_type, accept)
        if self.answer_rewriter is not None:
            answer = json.dumps(self.answer_rewriter(json.loads(answer))).encode()
        return answer, answer_type


@pytest.fixture(scope="session")
def _scoring_handler() -> ScoringHandler:
    """Loaded once: extracting the artifact and loading the model is the slow part."""
    return load_endpoint_handler(ARTIFACT)


@pytest.fixture
def sentiment_endpoint(
    monkeypatch: pytest.MonkeyPatch, _scoring_handler: ScoringHandler
) -> Iterator[SentimentEndpointServer]:
    """A live endpoint named ENDPOINT_NAME on a free 127.0.0.1 port; boto3 sagemaker-runtime points at it."""
    state = SentimentEndpointServer(url="", scoring=_scoring_handler)
    server = EndpointServer(ENDPOINT_NAME, state.handle)
    server.start()
    state.url = server.url
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", state.url)
    try:
        yield state
    finally:
        server.stop()
