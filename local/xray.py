"""X-Ray trace headers in the emulator, passed on as AWS passes them (see review_pipeline/trace_context.py).

- `new_trace_header()`: a fresh `Root=1-<epoch seconds>-<96 random bits>;Parent=<64 bits>;Sampled=1`, what
  Lambda gives each invocation of an actively traced function as `_X_AMZN_TRACE_ID` (the function host sets
  one per invocation; an SQS event source's batch gets a new trace too, its records keep `AWSTraceHeader`).
- `RequestTraceHeader`: WSGI middleware of the moto server that keeps each request's `X-Amzn-Trace-Id` while
  moto handles it.
- `install()`: moto's SQS then does with it what SQS does: a message sent without an `AWSTraceHeader`
  system attribute gets its request's header (SQS's "default HTTP header"), so the S3 notification moto
  sends while it handles a PutObject or CompleteMultipartUpload carries the upload's header, as S3 passes it
  on; and SendMessageBatch keeps each entry's `MessageSystemAttributes` (moto 5.2 drops them there).

This module imports moto only in `install()`: the function host (a Lambda environment) imports it too.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"  # where Lambda puts an invocation's trace header
_request_header: ContextVar[str | None] = ContextVar("moto_request_trace_header", default=None)
_batch_attributes: ContextVar[Iterator[dict[str, Any] | None] | None] = ContextVar(
    "moto_batch_system_attributes", default=None
)
_installed = threading.Lock()


def new_trace_header(sampled: bool = True) -> str:
    """A new X-Ray trace header: a new trace, with a root segment id as its Parent."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled={int(sampled)}"


class RequestTraceHeader:
    """Keeps the request's X-Amzn-Trace-Id header (None without one) while the wrapped app handles it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        token = _request_header.set(environ.get("HTTP_X_AMZN_TRACE_ID") or None)
        try:
            return self._app(environ, start_response)
        finally:
            _request_header.reset(token)


def install() -> None:
    """Make moto's SQS keep trace headers as SQS does (idempotent; affects moto in this process only)."""
    from moto.sqs.models import SQSBackend

    with _installed:
        if getattr(SQSBackend.send_message, "_keeps_trace_header", False):
            return
        send_message, send_message_batch = SQSBackend.send_message, SQSBackend.send_message_batch

        def send_message_with_trace(
            self: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any
        ) -> Any:
            attributes = dict(kwargs.get("system_attributes") or {})
            pending = _batch_attributes.get()
            if pending is not None:  # this message is the next entry of a SendMessageBatch
                entry_attributes: dict[str, Any] | None = next(pending, None)
                attributes.update(entry_attributes or {})
            header = _request_header.get()
            if header and not attributes.get("AWSTraceHeader"):  # the system attribute wins over the header
                attributes["AWSTraceHeader"] = {"StringValue": header, "DataType": "String"}
            kwargs["system_attributes"] = attributes or None
            return send_message(self, queue_name, message_body, *args, **kwargs)

        def send_message_batch_with_trace(self: Any, queue_name: str, entries: dict[str, Any]) -> Any:
            # moto sends the entries one by one, in this order, through send_message.
            token = _batch_attributes.set(
                iter([entry.get("MessageSystemAttributes") for entry in entries.values()])
            )
            try:
                return send_message_batch(self, queue_name, entries)
            finally:
                _batch_attributes.reset(token)

        send_message_with_trace._keeps_trace_header = True  # type: ignore[attr-defined]
        SQSBackend.send_message = send_message_with_trace  # type: ignore[method-assign]
        SQSBackend.send_message_batch = send_message_batch_with_trace  # type: ignore[method-assign]
