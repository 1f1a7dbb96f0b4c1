"""A real HTTP server on 127.0.0.1 that answers SageMaker InvokeEndpoint the way the endpoint would.

moto's sagemaker-runtime returns canned data, so tests point boto3 here instead through
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME. Requests are answered by the shipped model artifact's own inference.py
(model.serving.load_endpoint_handler). Until model/artifact/model.tar.gz exists, a clearly temporary word
list scorer stands in, speaking the same wire contract.

Use the `sentiment_endpoint` fixture (import it into a conftest or test module).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from review_pipeline.settings import load_settings

ARTIFACT = Path(__file__).resolve().parent.parent / "model" / "artifact" / "model.tar.gz"
_INVOCATIONS = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")

ScoringHandler = Callable[[bytes, str, str], tuple[bytes, str]]

_POSITIVE_WORDS = {"good", "great", "excellent", "wonderful", "loved", "love", "best", "brilliant", "enjoyed"}
_NEGATIVE_WORDS = {"bad", "awful", "terrible", "boring", "worst", "hated", "waste", "poor", "dull"}


def temporary_word_list_scoring(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """TEMPORARY stand-in for the model artifact (not yet built): counts a few sentiment words.

    Speaks the wire contract and fails bad requests with ValueError, like the artifact's input_fn.
    """
    if content_type != "application/json":
        raise ValueError(f"unsupported content type {content_type!r}")
    request = json.loads(body)
    instances = request.get("instances")
    if not isinstance(instances, list) or not instances:
        raise ValueError('"instances" must be a non-empty list')
    predictions = []
    for instance in instances:
        words = re.findall(r"[a-z']+", str(instance["text"]).lower())
        balance = sum(w in _POSITIVE_WORDS for w in words) - sum(w in _NEGATIVE_WORDS for w in words)
        score = min(1.0, max(0.0, 0.5 + 0.2 * balance)) if balance else 0.45
        prediction: dict[str, Any] = {
            "id": instance["id"],
            "label": "positive" if score >= 0.5 else "negative",
            "score": score,
        }
        if request.get("explain"):
            prediction["explanation"] = {"positive": [], "negative": []}
        predictions.append(prediction)
    return json.dumps({"predictions": predictions, "model_version": "temporary-word-list"}).encode(), accept


def load_scoring_handler() -> ScoringHandler:
    """The shipped artifact's handler when it exists, else the temporary scorer."""
    if ARTIFACT.is_file():
        from model.serving import load_endpoint_handler

        return load_endpoint_handler(ARTIFACT)
    return temporary_word_list_scoring


@dataclass
class Invocation:
    endpoint_name: str
    body: bytes
    content_type: str


@dataclass
class SentimentEndpointServer:
    """The running server: its URL, every invocation it received, and failures to inject."""

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


def _make_handler(server_state: SentimentEndpointServer) -> type[BaseHTTPRequestHandler]:
    class InvocationsHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            match = _INVOCATIONS.match(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if match is None:
                self._send_error(404, "ValidationError", f"unknown path {self.path}")
                return
            content_type = self.headers.get("Content-Type", "")
            server_state.invocations.append(Invocation(match["name"], body, content_type))
            if server_state.queued_failures:
                self._send_error(*server_state.queued_failures.pop(0))
                return
            if server_state.persistent_failure is not None:
                self._send_error(*server_state.persistent_failure)
                return
            try:
                answer, answer_type = server_state.scoring(body, content_type, self.headers.get("Accept", ""))
            except ValueError as error:
                # The container answers the model's ValueError with 400; SageMaker reports that as ModelError.
                self._send_error(
                    424, "ModelError", "Received client error (400) from model", original=str(error)
                )
                return
            if server_state.answer_rewriter is not None:
                answer = json.dumps(server_state.answer_rewriter(json.loads(answer))).encode()
            self.send_response(200)
            self.send_header("Content-Type", answer_type or "application/json")
            self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def _send_error(self, status: int, code: str, message: str, original: str | None = None) -> None:
            payload: dict[str, Any] = {"message": message}
            if code == "ModelError":
                payload.update(OriginalStatusCode=400, OriginalMessage=original or message)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows failures; access logs would only be noise."""

    return InvocationsHandler


@pytest.fixture(scope="session")
def _scoring_handler() -> ScoringHandler:
    """Loaded once: extracting the artifact and loading the model is the slow part."""
    return load_scoring_handler()


@pytest.fixture
def sentiment_endpoint(
    monkeypatch: pytest.MonkeyPatch, _scoring_handler: ScoringHandler
) -> Iterator[SentimentEndpointServer]:
    """A live endpoint on a free 127.0.0.1 port, with boto3's sagemaker-runtime pointed at it."""
    state = SentimentEndpointServer(url="", scoring=_scoring_handler)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="sentiment-endpoint", daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", state.url)
    load_settings.cache_clear()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
