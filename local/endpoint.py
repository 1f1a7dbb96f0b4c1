"""A SageMaker-runtime-compatible endpoint on 127.0.0.1.

It answers the path botocore's `sagemaker-runtime` client calls for InvokeEndpoint
(`POST /endpoints/{EndpointName}/invocations`, see botocore/data/sagemaker-runtime/*/service-2.json), so a
function's boto3 code is the same as on AWS: only AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME differs. The model is the
shipped artifact, served through its own code/inference.py (model.serving.load_endpoint_handler).

Errors use SageMaker's wire shapes, so botocore raises the same exception classes as on AWS:
the model failing -> 424 ModelError (with OriginalStatusCode/OriginalMessage), an unknown endpoint -> 400
ValidationError.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from local.loopback import LoopbackServer
from local.template import PROJECT_ROOT

logger = logging.getLogger("local.endpoint")

# handler(body, content_type, accept) -> (body, content_type), as model.serving.load_endpoint_handler returns
EndpointHandler = Callable[[bytes, str, str], tuple[bytes, str]]
_INVOCATIONS = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
_ACCOUNT_ID = "123456789012"


class EndpointFault(Exception):
    """Raised by a model handler to answer with exactly this SageMaker error (how tests stage an outage)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _original_status(error: Exception) -> int:
    """The status the model container would have answered: its own if known, 400 for bad input, else 500."""
    status = getattr(error, "status_code", None) or getattr(error, "status", None)
    if isinstance(status, int):
        return status
    return 400 if isinstance(error, (ValueError, TypeError, KeyError)) else 500


@dataclass(frozen=True)
class InvocationAnswer:
    """What SageMaker answers an InvokeEndpoint request with: HTTP status, body and headers."""

    status: int
    body: bytes
    headers: dict[str, str]


def _error_answer(status: int, error_type: str, message: str, **extra: Any) -> InvocationAnswer:
    body = json.dumps({"ErrorCode": error_type, "Message": message, "message": message, **extra}).encode()
    return InvocationAnswer(
        status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}
    )


def _model_error_answer(name: str, error: Exception) -> InvocationAnswer:
    logger.warning("model error on %s: %s", name, error)
    original = _original_status(error)
    return _error_answer(
        424,
        "ModelError",
        f'Received client error ({original}) from primary with message "{error}". See '
        f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
        f"group=/aws/sagemaker/Endpoints/{name} in account {_ACCOUNT_ID} for more information.",
        OriginalStatusCode=original,
        OriginalMessage=str(error),
        LogStreamArn=f"arn:aws:logs:us-east-1:{_ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{name}",
    )


def answer_invocation(
    endpoint_name: str,
    model_handler: EndpointHandler,
    path: str,
    body: bytes,
    content_type: str | None,
    accept: str | None,
) -> InvocationAnswer:
    """SageMaker's answer to `POST path` with this body, whatever carries it (the HTTP server here, or a
    test's botocore hook in-process): the model's output, or an error in SageMaker's wire shape."""
    match = _INVOCATIONS.match(path.split("?", 1)[0])
    if match is None:
        return _error_answer(404, "UnknownOperationException", f"no operation at POST {path}")
    name = match.group("name")
    if name != endpoint_name:
        return _error_answer(400, "ValidationError", f"Endpoint {name} of account {_ACCOUNT_ID} not found.")
    try:
        answer, answer_type = model_handler(
            body, content_type or "application/octet-stream", accept or "application/json"
        )
    except EndpointFault as fault:
        extra = (
            {"OriginalStatusCode": 400, "OriginalMessage": fault.message}
            if fault.code == "ModelError"
            else {}
        )
        return _error_answer(fault.status, fault.code, fault.message, **extra)
    except Exception as error:
        return _model_error_answer(name, error)
    return InvocationAnswer(
        200, answer, {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"}
    )


class _EndpointRequestHandler(BaseHTTPRequestHandler):
    server: EndpointServer | EndpointWorker
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes (see local/http_api.py)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, answer: InvocationAnswer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("x-amzn-RequestId", "local")
        self.end_headers()
        self.wfile.write(answer.body)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(InvocationAnswer(200, b"", {"Content-Type": "text/plain"}))
        else:
            self._send(_error_answer(404, "UnknownOperationException", f"no operation at GET {self.path}"))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(
            answer_invocation(
                self.server.endpoint_name,
                self.server.model_handler,
                self.path,
                body,
                self.headers.get("Content-Type"),
                self.headers.get("Accept"),
            )
        )


class EndpointServer(LoopbackServer):
    """Serves one endpoint name with one model handler."""

    thread_name = "sagemaker-endpoint"

    def __init__(self, endpoint_name: str, model_handler: EndpointHandler, port: int = 0) -> None:
        super().__init__(_EndpointRequestHandler, port)
        self.endpoint_name = endpoint_name
        self.model_handler = model_handler


class _OneAnswerPerConnection(_EndpointRequestHandler):
    # Each answer closes its connection, so a caller's next request is accepted by whichever worker is idle
    # (a kept-alive connection would tie the caller to one worker).
    protocol_version = "HTTP/1.0"


class EndpointWorker(HTTPServer):
    """One worker of an endpoint served by several processes: it answers one request at a time, accepted from
    a listening socket the workers share (as a model container's server workers do)."""

    def __init__(self, endpoint_name: str, model_handler: EndpointHandler, listener: socket.socket) -> None:
        super().__init__(listener.getsockname(), _OneAnswerPerConnection, bind_and_activate=False)
        self.socket.close()
        # Every worker wakes for a new connection and one gets it: the others must not wait in accept(), or
        # shutdown() would wait for them (an accepted connection is blocking again in Python).
        listener.setblocking(False)
        self.socket = listener
        self.endpoint_name = endpoint_name
        self.model_handler = model_handler


DEFAULT_ARTIFACT = PROJECT_ROOT / "model" / "artifact" / "model.tar.gz"


def require_artifact(artifact: Path) -> None:
    """Raise a clear FileNotFoundError if the model artifact to serve is missing."""
    if not artifact.is_file():
        raise FileNotFoundError(
            f"{artifact} is missing: the local endpoint serves the shipped model artifact "
            "(train one with `make train`)"
        )


def load_model_handler(artifact: Path = DEFAULT_ARTIFACT) -> EndpointHandler:
    """The shipped model, run in-process through the artifact's own code/inference.py."""
    require_artifact(artifact)
    from model.serving import load_endpoint_handler  # the model package is only needed when serving it

    handler: EndpointHandler = load_endpoint_handler(artifact)
    return handler
