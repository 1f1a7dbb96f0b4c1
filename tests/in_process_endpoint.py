"""The sentiment endpoint answered in this process: boto3's InvokeEndpoint never leaves the test.

A botocore `before-send` hook on sagemaker-runtime InvokeEndpoint hands the signed request to the local
emulator's own answer (local.endpoint.answer_invocation: the model's output, or SageMaker's error shapes) and
returns it as the HTTP response. Everything else is the real client: serialization, response parsing, error
classes and retries, so `SentimentEndpoint` cannot tell this from the HTTP endpoint. moto's own
sagemaker-runtime (canned answers) never sees the request: a handler registered for the operation's own event
runs before moto's catch-all `before-send` stubber.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from local.endpoint import answer_invocation
from tests.staged_endpoint import StagedEndpoint

INVOKE_ENDPOINT_EVENT = "before-send.sagemaker-runtime.InvokeEndpoint"


class _RawBody(io.BytesIO):
    """A response body as botocore reads one: read() for a streaming Body, stream() for an error body."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(65_536):
            yield chunk


def _header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    return body.encode() if isinstance(body, str) else bytes(body)


@dataclass
class InProcessEndpoint(StagedEndpoint):
    """A StagedEndpoint that boto3 clients reach through a botocore event hook instead of a socket."""

    def answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """The `before-send` handler: SageMaker's HTTP answer to this InvokeEndpoint request."""
        answer = answer_invocation(
            self.endpoint_name,
            self.handle,
            urlsplit(request.url).path,
            _body(request),
            _header(request, "Content-Type"),
            _header(request, "Accept"),
        )
        headers = HTTPHeaders()
        for name, value in answer.headers.items():
            headers[name] = value
        headers["Content-Length"] = str(len(answer.body))
        headers["x-amzn-RequestId"] = "in-process"
        return AWSResponse(request.url, answer.status, headers, _RawBody(answer.body))

    @contextmanager
    def answering_boto3(self) -> Iterator[None]:
        """Clients made meanwhile by `boto3.client(...)`, as the pipeline makes them, are answered here.

        The hook goes on boto3's default session, which a client copies its handlers from when it is made;
        so start this after moto (mock_aws starts from a fresh default session) and before the clients.
        """
        session = boto3.DEFAULT_SESSION or boto3.Session()
        boto3.DEFAULT_SESSION = session
        hook: Callable[..., Any] = self.answer  # it answers the request: not the None botocore-stubs expect
        session.events.register(INVOKE_ENDPOINT_EVENT, hook)
        try:
            yield
        finally:
            session.events.unregister(INVOKE_ENDPOINT_EVENT, hook)
