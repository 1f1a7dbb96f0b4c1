"""What a test's sentiment endpoint does, however it is reached: record, stage failures, score with a model.

Two carriers share it: tests/endpoint_server.py serves it over HTTP on 127.0.0.1 (integration tests, as the
local emulator does); tests/in_process_endpoint.py answers boto3's InvokeEndpoint in-process (unit tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.endpoint import EndpointFault

# (body, content_type, accept) -> (answer, answer content type): a model artifact's code/inference.py chained,
# as model.serving.load_endpoint_handler returns it.
ScoringHandler = Callable[[bytes, str, str], tuple[bytes, str]]


@dataclass
class Invocation:
    endpoint_name: str
    body: bytes
    content_type: str


@dataclass
class StagedEndpoint:
    """A sentiment endpoint a test drives: every invocation it received, and failures to stage."""

    endpoint_name: str
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
        """The model handler the endpoint calls: record, fail if staged, else score with the model."""
        self.invocations.append(Invocation(self.endpoint_name, body, content_type))
        if self.queued_failures:
            raise EndpointFault(*self.queued_failures.pop(0))
        if self.persistent_failure is not None:
            raise EndpointFault(*self.persistent_failure)
        answer, answer_type = self.scoring(body, content_type, accept)
        if self.answer_rewriter is not None:
            answer = json.dumps(self.answer_rewriter(json.loads(answer))).encode()
        return answer, answer_type
