"""How the emulator's moto answers a DynamoDB request: a Query page's items sized and handed over without
copies, the answer turned into JSON text directly. Same answers as moto's, in less of the server's lock.

Why it matters: the moto server answers one request at a time (local/moto_server.py), so a request that holds
the lock long delays every other. A 1 MB page of 2,250 results (an export's first read of a 5,000-review
job) held it about 390 ms; a progress poll arriving meanwhile waited for it (0.3-0.8 s at the end of a job,
docs/benchmarks.md "End to end"). Each step below names its share; the page now holds it about 130 ms.
`install()` is idempotent; local/moto_scale.py installs it and marks each Query with `answering_query()`.
"""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize, dynamo_to_dict
from moto.dynamodb.responses import DynamoResult

from local.moto_hints import hint, hints, wrapped

_installed = threading.Lock()
_ORIGINAL_EXECUTE = DynamoResult.execute_result
_ORIGINAL_RESULT_INIT = DynamoResult.__init__
_ORIGINAL_ITEM_DEEPCOPY = Item.__deepcopy__
_ORIGINAL_ITEM_SIZE = Item.size


def answering_query() -> AbstractContextManager[None]:
    """Within: moto is answering one Query under the server's lock, so its items cannot change."""
    return hint(sizes={}, shared_results=True)


def _item_size(self: Item) -> int:
    """Item.size, as moto counts it (names and values in UTF-8 bytes, a number's digits), with strings and
    numbers counted inline, and once per item in a Query. moto's Query counts each result's size twice (and
    _one_page once more) through a DynamoType method per attribute: a 1 MB page of 2,000 results held the
    server's lock about 170 ms there."""
    sizes: dict[int, tuple[Item, int]] | None = getattr(hints, "sizes", None)
    if sizes is None:
        return _counted_size(self)
    known = sizes.get(id(self))
    if known is None:  # the item is kept with its size, so that its id is not reused during the Query
        known = sizes[id(self)] = (self, _counted_size(self))
    return known[1]


def _counted_size(self: Item) -> int:
    total = 0
    for name, value in self.attrs.items():
        kind = value.type
        if kind == "S":
            value_size = bytesize(value.value)
        elif kind == "N":
            value_size = len(str(value.value))
        else:
            value_size = value.size()
        total += bytesize(name) + value_size
    return total


def _item_deepcopy(self: Item, memo: dict[int, Any]) -> Item:
    """Inside a Query: the item itself. moto copies each page's results before it projects and filters
    them, which makes new items or reads, and the answer is turned into plain dicts (dynamo_to_dict) before
    the server's lock is let go; the copy of a 1 MB page took about 110 ms of that lock."""
    if getattr(hints, "shared_results", False):
        return self
    return _ORIGINAL_ITEM_DEEPCOPY(self, memo)


_PLAIN_TYPES = frozenset({"S", "N", "BOOL", "NULL"})  # attribute values whose value is already plain JSON


def _to_dict(obj: Any) -> Any:
    """moto's dynamo_to_dict, with string, number, boolean and null attribute values converted inline: it
    made a recursive call per attribute and per value, about 40% of the server's time on a 1 MB page."""
    kind = type(obj)
    if kind is DynamoType:
        return {obj.type: obj.value} if obj.type in _PLAIN_TYPES else dynamo_to_dict(obj)
    if kind is dict or kind is LimitedSizeDict:
        return {key: _to_dict(value) for key, value in obj.items()}
    if kind is list:
        return [_to_dict(value) for value in obj]
    return dynamo_to_dict(obj)


def _result_init(self: DynamoResult, result: object) -> None:
    ActionResult.__init__(self, _to_dict(result))


def _execute_result(self: DynamoResult, context: Any) -> Any:
    """A DynamoDB answer of plain JSON values (no binary, timestamp or absent member) as JSON text: what
    moto's generic serializer makes of it, walking the operation's shapes value by value (most of the
    server's time went there: 1 MB query pages of results, for exports and the API). Anything else goes
    through moto's."""
    try:
        body = json.dumps(self.result, allow_nan=False)
    except (TypeError, ValueError):
        return _ORIGINAL_EXECUTE(self, context)
    if "null" in body:  # a member set to None, which moto's serializer leaves out (or a text saying null)
        return _ORIGINAL_EXECUTE(self, context)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


def install() -> None:
    """Apply the changes above to moto in this process (idempotent)."""
    with _installed:
        Item.size = wrapped(_ORIGINAL_ITEM_SIZE, _item_size)  # type: ignore[method-assign]
        Item.__deepcopy__ = wrapped(_ORIGINAL_ITEM_DEEPCOPY, _item_deepcopy)  # type: ignore[method-assign]
        DynamoResult.__init__ = wrapped(_ORIGINAL_RESULT_INIT, _result_init)  # type: ignore[method-assign]
        DynamoResult.execute_result = _execute_result  # type: ignore[method-assign,assignment]
