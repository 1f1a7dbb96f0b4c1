"""DynamoDB's throttling and partial answers, produced at the HTTP layer of real boto3 clients.

A botocore `before-send` hook answers some write requests as DynamoDB does when a table is throttled: a 400
with ProvisionedThroughputExceededException or ThrottlingException (botocore's retry handler then retries),
or, for BatchWriteItem, a 200 whose UnprocessedItems hands back part of the batch (the part that was written
is sent on to moto by a client without the hook). Only first attempts are refused, so retries succeed.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from tests.conftest import REGION

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
_ERRORS = {
    "ProvisionedThroughputExceededException": (
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
        "provisioning level with the UpdateTable API.",
    ),
    "ThrottlingException": (
        "com.amazon.coral.availability#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
}


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(65_536):
            yield chunk


def _response(request: AWSPreparedRequest, status: int, document: dict[str, Any]) -> AWSResponse:
    body = json.dumps(document).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    headers["Content-Length"] = str(len(body))
    headers["x-amzn-RequestId"] = "FAULT" + "0" * 47
    return AWSResponse(request.url, status, headers, _Body(body))


def _attempt(request: AWSPreparedRequest) -> int:
    header = request.headers.get("amz-sdk-request", b"attempt=1")
    found = re.search(r"attempt=(\d+)", header.decode() if isinstance(header, bytes) else header)
    return int(found.group(1)) if found else 1


@dataclass
class ThrottledDynamoDB:
    """Refuses the first attempt of every `throttle_every`-th write of each operation (alternating the two
    throttling errors), and writes only two thirds of every `partial_every`-th BatchWriteItem, handing the
    rest back as UnprocessedItems. `injected` counts what it did."""

    moto_url: str
    throttle_every: int = 2
    partial_every: int = 3
    injected: Counter[str] = field(default_factory=Counter)
    _calls: Counter[str] = field(default_factory=Counter)
    _errors: Iterator[str] = field(default_factory=lambda: itertools.cycle(_ERRORS))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> None:
        for operation in WRITES:
            client.meta.events.register(f"before-send.dynamodb.{operation}", self.answer)

    def answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        if _attempt(request) > 1:
            return None  # a retry goes through: the table has capacity again
        with self._lock:
            self._calls[operation] += 1
            number = self._calls[operation]
            if number % self.throttle_every == 0:
                code = next(self._errors)
                self.injected[code] += 1
                kind, message = _ERRORS[code]
                return _response(request, 400, {"__type": kind, "message": message})
            if operation == "BatchWriteItem" and number % self.partial_every == 0:
                return self._partial(request)
        return None

    def _partial(self, request: AWSPreparedRequest) -> AWSResponse | None:
        body: bytes = request.body or b"{}"  # type: ignore[assignment]  # a JSON request's body is bytes
        requested: dict[str, list[dict[str, Any]]] = json.loads(body)["RequestItems"]
        written: dict[str, list[dict[str, Any]]] = {}
        unprocessed: dict[str, list[dict[str, Any]]] = {}
        for table, entries in requested.items():
            keep = max(1, len(entries) * 2 // 3)
            written[table], unprocessed[table] = entries[:keep], entries[keep:]
        if not any(unprocessed.values()):
            return None  # a batch of one: nothing to hand back
        forward = boto3.session.Session().client("dynamodb", region_name=REGION, endpoint_url=self.moto_url)
        forward.batch_write_item(RequestItems=written)
        self.injected["UnprocessedItems"] += sum(len(entries) for entries in unprocessed.values())
        return _response(request, 200, {"UnprocessedItems": {t: e for t, e in unprocessed.items() if e}})
