"""BatchWriteItem for items our own code builds (results), through a plain DynamoDB client.

boto3's Table.batch_writer goes through the resource layer: each item is walked twice against the service
model (converted to DynamoDB JSON, then validated) before it is serialized. For the inference function that
was 28% of its CPU (py-spy, docs/benchmarks.md "End to end"): billed Lambda time on AWS, shared cores in
the local emulator. Result items are built by `result_item` from a validated ReviewResult and hold strings,
integers, Decimals and booleans only, so they are converted here directly, and the client skips botocore's
parameter validation (DynamoDB still validates every request).

Like batch_writer: batches of 25, the last of two items with one key kept, UnprocessedItems sent again;
unlike it, with a growing pause between attempts (AWS's advice for unprocessed items) and a limit, after
which the write raises instead of spinning until the function times out.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table

BATCH_ITEMS = 25  # BatchWriteItem takes at most 25 items
KEY_ATTRIBUTES = ("pk", "sk")
MAX_ATTEMPTS = 8
_FIRST_PAUSE_S = 0.05
_LONGEST_PAUSE_S = 2.0


class UnprocessedItemsError(RuntimeError):
    """DynamoDB kept handing items back as unprocessed (throttled) on every attempt."""


def attribute_value(value: Any) -> dict[str, Any]:
    """A result item's value as a DynamoDB attribute value (the types `result_item` produces)."""
    if isinstance(value, bool):  # before int: a bool is an int
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    raise TypeError(f"no DynamoDB attribute value for {type(value).__name__} {value!r}")


def _batches(items: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Requests of up to 25 items; a later item with the same key replaces the earlier one in its batch."""
    batch: dict[tuple[Any, ...], dict[str, Any]] = {}
    for item in items:
        batch[tuple(item[k] for k in KEY_ATTRIBUTES)] = item
        if len(batch) == BATCH_ITEMS:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


class BatchWrites:
    """Puts items of one table; its client is made on first use (thread-safe: one client for every thread)."""

    def __init__(self, table: Table, sleep: Callable[[float], None] = time.sleep) -> None:
        self._table_name = table.name
        meta = table.meta.client.meta
        self._client_args = {"region_name": meta.region_name, "endpoint_url": meta.endpoint_url}
        self._client: DynamoDBClient | None = None
        self._lock = threading.Lock()
        self._sleep = sleep

    def _dynamodb(self) -> DynamoDBClient:
        with self._lock:
            if self._client is None:
                config = Config(parameter_validation=False)  # the items are built by our own typed code
                self._client = boto3.client("dynamodb", config=config, **self._client_args)
            return self._client

    def put(self, items: Iterable[dict[str, Any]]) -> int:
        """Store the items; how many were written. Raises UnprocessedItemsError when throttled throughout."""
        written = 0
        for batch in _batches(items):
            self._write(
                [{"PutRequest": {"Item": {k: attribute_value(v) for k, v in i.items()}}} for i in batch]
            )
            written += len(batch)
        return written

    def _write(self, requests: list[dict[str, Any]]) -> None:
        client = self._dynamodb()
        for attempt in range(MAX_ATTEMPTS):
            response = client.batch_write_item(RequestItems={self._table_name: requests})
            requests = list(response.get("UnprocessedItems", {}).get(self._table_name, []))
            if not requests:
                return
            pause = min(_LONGEST_PAUSE_S, _FIRST_PAUSE_S * 2**attempt)
            self._sleep(random.uniform(pause / 2, pause))  # noqa: S311  # jitter, not security
        raise UnprocessedItemsError(
            f"DynamoDB left {len(requests)} items of a batch unprocessed {MAX_ATTEMPTS} times (throttled)"
        )
