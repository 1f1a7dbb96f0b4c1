"""What the handlers ask of AWS, counted from the requests boto3 really sends (here to moto).

`AwsMeter.hooks()` are botocore before-call/after-call handlers for every session created after they are
added: every API call is counted by (service, operation), with its payload size, and DynamoDB capacity
units are computed from the exact items written and read, by DynamoDB's own sizing rules:

- an item's size is the sum of its attribute names and values (strings and binaries by their bytes, numbers
  about one byte per two significant digits plus one, booleans and nulls one byte, lists and maps three bytes
  plus one byte and the size of each element) ("Item sizes and formats", DynamoDB developer guide);
- a write costs one unit per KB of the item (rounded up), twice in a transaction; each global secondary index
  whose key attributes the item has costs the same again for the projected item (all our indexes project ALL);
- an update is billed on the larger of the item before and after: we size the item after, read back once the
  run is over (`settle_updates`);
- a read costs one unit per 4 KB (a query sums its items before rounding), half if eventually consistent.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_NESTED_OVERHEAD = 3  # bytes for a list or map, plus one byte per element


def value_size(value: dict[str, Any]) -> int:  # noqa: PLR0911 - one return per DynamoDB type
    """Bytes of one typed attribute value ({"S": ...}, {"N": ...}, {"M": {...}}, ...), without its name."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        digits = Decimal(str(data)).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(str(data))
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "L":
        return _NESTED_OVERHEAD + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return _NESTED_OVERHEAD + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in data.items())
    if kind in {"SS", "NS", "BS"}:
        return sum(value_size({kind[0]: v}) for v in data)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """DynamoDB's size of a typed item: every attribute's name and value."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass
class AwsMeter:
    """Counts of API calls, payload bytes and DynamoDB units, for whatever ran while it was installed."""

    # index name -> its (hash, range) key attribute names, from the template's table
    index_keys: dict[str, tuple[str, ...]]
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    request_bytes: Counter[tuple[str, str]] = field(default_factory=Counter)
    response_bytes: Counter[tuple[str, str]] = field(default_factory=Counter)
    sqs_sends: list[tuple[int, int]] = field(default_factory=list)  # (payload bytes, messages) per call
    write_units: float = 0.0
    read_units: float = 0.0
    item_bytes: Counter[str] = field(default_factory=Counter)  # bytes written per sort-key kind (RESULT, ...)
    items_written: Counter[str] = field(default_factory=Counter)
    pending_updates: list[tuple[dict[str, Any], int]] = field(default_factory=list)  # (key, multiplier)
    enabled: bool = True

    def hooks(self) -> list[tuple[str, Any]]:
        """(event, handler) pairs for botocore's BUILTIN_HANDLERS: sessions created afterwards are metered."""
        return [("before-call", self._before), ("after-call", self._after)]

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if not self.enabled:
            return
        operation = (model.service_model.service_name, model.name)
        body = params.get("body") or b""
        size = len(body) if isinstance(body, bytes | bytearray) else len(str(body))
        if hasattr(body, "read"):  # streamed uploads (put_object with a file): count what S3 will store
            size = int(params.get("headers", {}).get("Content-Length", 0))
        self.calls[operation] += 1
        self.request_bytes[operation] += size
        if operation[0] == "sqs" and operation[1] in {"SendMessage", "SendMessageBatch"}:
            # One request per 64 KB of the call's payload; a batch carries several messages.
            self.sqs_sends.append((size, len(json.loads(body).get("Entries", [None]))))
        if operation[0] == "dynamodb" and isinstance(body, bytes | bytearray | str) and body:
            request = json.loads(body)
            context["meter_request"] = request
            self._writes(model.name, request)

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        if not self.enabled:
            return
        operation = (model.service_model.service_name, model.name)
        http_response = kwargs.get("http_response")
        if model.has_streaming_output:  # reading the body here would consume the caller's stream
            self.response_bytes[operation] += int(parsed.get("ContentLength", 0))
        elif http_response is not None and http_response.content is not None:
            self.response_bytes[operation] += len(http_response.content)
        if operation[0] == "dynamodb" and http_response is not None and http_response.content:
            # The raw answer, typed: the resource layer may already have turned `parsed` into plain values.
            self._reads(model.name, context.get("meter_request", {}), json.loads(http_response.content))

    def _put(self, item: dict[str, Any], multiplier: int = 1) -> None:
        size = item_size(item)
        indexes = sum(1 for keys in self.index_keys.values() if all(k in item for k in keys))
        self.write_units += multiplier * write_units(size) * (1 + indexes)
        kind = item.get("sk", {}).get("S", "?").split("#", 1)[0]
        self.item_bytes[kind] += size
        self.items_written[kind] += 1

    def _writes(self, name: str, request: dict[str, Any]) -> None:  # noqa: PLR0912 - one branch per operation
        if name == "PutItem":
            self._put(request["Item"])
        elif name == "BatchWriteItem":
            for writes in request["RequestItems"].values():
                for write in writes:
                    if "PutRequest" in write:
                        self._put(write["PutRequest"]["Item"])
                    else:
                        self.write_units += 1
        elif name == "TransactWriteItems":
            for action in request["TransactItems"]:
                if "Put" in action:
                    self._put(action["Put"]["Item"], multiplier=2)
                elif "Update" in action:
                    self.pending_updates.append((action["Update"]["Key"], 2))
                else:
                    self.write_units += 2
        elif name == "UpdateItem":
            self.pending_updates.append((request["Key"], 1))
        elif name == "DeleteItem":
            self.write_units += 1

    def _reads(self, name: str, request: dict[str, Any], parsed: dict[str, Any]) -> None:
        consistent = bool(request.get("ConsistentRead"))
        if name == "GetItem":
            self.read_units += read_units(item_size(parsed.get("Item", {})), consistent)
        elif name == "Query":
            returned = parsed.get("Items", [])
            size = sum(item_size(item) for item in returned)
            # A filtered query pays for every item it evaluated: scale by scanned / returned.
            scanned, count = parsed.get("ScannedCount", len(returned)), max(1, len(returned))
            self.read_units += read_units(size * scanned // count, consistent)
        elif name == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                consistent = bool(request["RequestItems"][table].get("ConsistentRead"))
                self.read_units += sum(read_units(item_size(item), consistent) for item in items)

    def settle_updates(self, read_item: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Bill each update on the size of the item it left (read without metering), indexes included."""
        self.enabled = False
        for key, multiplier in self.pending_updates:
            item = read_item(key) or key
            indexes = sum(1 for keys in self.index_keys.values() if all(k in item for k in keys))
            self.write_units += multiplier * write_units(item_size(item)) * (1 + indexes)
        self.pending_updates.clear()

    def count(self, service: str, *operations: str) -> int:
        return sum(
            n for (s, op), n in self.calls.items() if s == service and (not operations or op in operations)
        )
