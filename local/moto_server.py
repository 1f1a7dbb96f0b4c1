"""moto's threaded server, with its requests applied one at a time.

moto's backends are not thread-safe: with several function environments writing at once (DynamoDB
TransactWriteItems deep-copies a table while a batch write adds to it), moto 5.2 answers 500
"dictionary changed size during iteration". AWS serializes nothing of the kind, but the emulator must not
invent failures, so every request holds one lock while moto handles it. SQS ReceiveMessage is the exception:
it may long-poll (WaitTimeSeconds), and moto guards a queue's messages with its own condition. The bytes of a
large object (local/moto_s3.py) are sent after the lock is released too: they come from the object's file.

Two answers moto works out again for every request are kept instead (they never change while it runs): which
service a host name is (moto lists its package directory and tries its URL patterns each time), and which
actions a service's response class has (inspect.getmembers each time). Through a 50,000-review upload they
were about 6% of the emulator's CPU (py-spy, docs/benchmarks.md "End to end").
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import moto.core.responses
from moto.core.utils import method_names_from_class
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from local import moto_s3
from local.xray import RequestTraceHeader

_FORM = "application/x-www-form-urlencoded"
_MAX_PEEK_BYTES = 64 * 1024


def _is_receive_message(environ: dict[str, Any]) -> bool:
    if environ.get("HTTP_X_AMZ_TARGET", "") == "AmazonSQS.ReceiveMessage":  # SQS JSON protocol (boto3)
        return True
    if "Action=ReceiveMessage" in environ.get("QUERY_STRING", ""):
        return True
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if environ.get("CONTENT_TYPE", "").startswith(_FORM) and 0 < length <= _MAX_PEEK_BYTES:
        # SQS query protocol (older clients, the AWS CLI v1): the action is in the form body; read it and
        # put it back for moto.
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return b"Action=ReceiveMessage" in body
    return False


class _OneRequestAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _is_receive_message(environ):
            return self._app(environ, start_response)
        with self._lock:
            body = self._app(environ, start_response)
            if moto_s3.take_streamed():
                return body  # a large object's bytes, read from its own file (under its own lock) as sent
            # The body is produced inside the lock: moto builds it while it still reads its backends.
            return list(body)


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering the service of each host name it has seen (a handful)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


_action_names = cache(method_names_from_class)  # a response class's methods: fixed once it is defined


def _remember_action_names() -> None:
    moto.core.responses.method_names_from_class = _action_names


class SerializedMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer (moto 5.2) whose app handles one state-changing request at a time."""

    def _server_entry(self) -> None:
        # Each request's X-Amzn-Trace-Id is kept while moto handles it (local/xray.py: SQS's AWSTraceHeader).
        _remember_action_names()
        app = _OneRequestAtATime(RequestTraceHeader(_Dispatcher(create_backend_app)))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
