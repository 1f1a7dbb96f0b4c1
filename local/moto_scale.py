"""moto's DynamoDB without its costs that grow with the table: what keeps the emulator's rate flat at scale.

Measured on moto 5.2.5 (docs/benchmarks.md, "Emulator at scale"): with 50,000 result items in the table, one
TransactWriteItems took about 9 s (moto deep-copies every table the transaction names, to roll back on
failure), one Query on a job's partition about 2 s and one Query on an index about 1 s (moto sorts every item
of the table before it filters). The pipeline counts each chunk in a transaction and every progress poll
queries an index, so a 50,000-review file ran at a third of a 5,000-review file's rate, and the copies made
the process grow by gigabytes.

What changes here, in this process only (the emulator's moto server), and what stays as moto does it:
- a transaction snapshots only the items it names (deep copies of those), and on failure puts them back;
  moto's own copy of the table is skipped. The outcome, errors and rollback included, is moto's.
- a Query on the table reads only its partition's items, through its range keys' order kept between queries
  (computed again after a key is added or removed); a Query on an index reads only the items whose index
  hash key has the queried value, found from the keys of the items that carry it (local/moto_indexes.py:
  a progress poll of a 50,000-result job took 72 ms of the server's lock when moto sorted every item,
  about 20 ms when it looked at each, under 1 ms now). moto then filters, sorts, pages and projects them as
  before, so the answers (order, pages, LastEvaluatedKey) are moto's.
Both act through moto's own methods (wrapped, not rewritten); `install()` is idempotent.
"""

from __future__ import annotations

import bisect
import copy
import threading
from operator import itemgetter
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

from local import moto_answers, moto_indexes
from local.moto_hints import hint, hints, wrapped

_installed = threading.Lock()
_ORIGINAL_ALL_ITEMS = Table.all_items
_ORIGINAL_QUERY = Table.query
_ORIGINAL_TRANSACT = DynamoDBBackend.transact_write_items
_ORIGINAL_PUT_ITEM = Table.put_item
_ORIGINAL_DELETE_ITEM = Table.delete_item
_SORTED = "_moto_scale_sorted_keys"  # Table attribute: hash key -> (its partition dict, its sorted keys)

# moto's Table.query keyword arguments; any other is a legacy QueryFilter condition (moto's filter_kwargs)
_NAMED_QUERY_ARGUMENTS = frozenset({"hash_key_conditions", "range_key_conditions"})

ItemKey = tuple[DynamoType, DynamoType | None]
SortedKeys = tuple[list[Any], list[DynamoType]]  # range keys' plain values in order, and moto's keys alike


def _plain(key: DynamoType) -> Any:
    """A key's Python value (a string's own value: DynamoType.cast_value is a slow property)."""
    return key.value if key.type == "S" else key.cast_value


def _partition_items(table: Table, hash_key: DynamoType) -> list[Any]:
    """The items of a partition moto's Query will look at, in range-key order: past the start key, within a
    begins_with prefix, and no more than one past the page's Limit (moto would skip the others anyway, and the
    one past the limit keeps its LastEvaluatedKey as it is).

    Sorted on the keys' plain values (C comparisons), not on moto's DynamoType objects: moto sorts again, but
    a sorted list costs it one comparison per item. The order is kept per partition until a key comes or goes.
    """
    stored = table.items.get(hash_key)
    if stored is None:
        return []
    if not table.range_key_attr:
        return [stored]
    keys, range_keys = _sorted_keys(table, hash_key, stored)
    low, high = 0, len(keys)
    prefix = getattr(hints, "prefix", None)
    if isinstance(prefix, str):
        low = bisect.bisect_left(keys, prefix)
        high = bisect.bisect_left(keys, prefix + "\U0010ffff", lo=low)
    between = getattr(hints, "between", None)
    if between is not None:
        low = bisect.bisect_left(keys, between[0])
        high = max(low, bisect.bisect_right(keys, between[1], lo=low))
    start = getattr(hints, "start", None)
    forward = getattr(hints, "forward", True)
    if start and table.range_key_attr in start:
        after = _plain(DynamoType(start[table.range_key_attr]))
        if forward:
            low = max(low, bisect.bisect_right(keys, after, lo=low, hi=high))
        else:
            high = min(high, bisect.bisect_left(keys, after, lo=low, hi=high))
    limit = getattr(hints, "limit", None)
    if limit:
        if forward:
            high = min(high, low + limit + 1)
        else:
            low = max(low, high - limit - 1)
    if getattr(hints, "whole_window", False):
        low, high = _one_page(stored, range_keys, low, high, forward)
    return [stored[range_key] for range_key in range_keys[low:high]]


def _one_page(
    stored: dict[Any, Any], range_keys: list[DynamoType], low: int, high: int, forward: bool
) -> tuple[int, int]:
    """The part of a window (every item of which the query returns) that one page can hold: items up to
    moto's 1 MB page size and the one after, which moto needs to see that the page is full. Without it, each
    page of a query with no Limit sorted and walked the rest of the partition: an export of a million results
    read 200 pages of up to a million items each (about 1,000 rows a second on the emulator)."""
    size = 0
    positions = range(low, high) if forward else range(high - 1, low - 1, -1)
    for position in positions:
        size += stored[range_keys[position]].size()
        if size > RESULT_SIZE_LIMIT:
            return (low, position + 1) if forward else (position, high)
    return low, high


def _sorted_keys(table: Table, hash_key: DynamoType, stored: dict[Any, Any]) -> SortedKeys:
    """A partition's range keys in order (plain values, moto's keys), kept between queries until a key is
    added or removed: sorting 50,000 keys for every page of an export cost 0.3 s of the server's lock."""
    index: dict[DynamoType, tuple[dict[Any, Any], SortedKeys]] = table.__dict__.setdefault(_SORTED, {})
    cached = index.get(hash_key)
    if cached is not None and cached[0] is stored:
        return cached[1]
    ordered = sorted(((_plain(range_key), range_key) for range_key in stored), key=itemgetter(0))
    keys = ([key for key, _ in ordered], [range_key for _, range_key in ordered])
    index[hash_key] = (stored, keys)
    return keys


def _forget_order(table: Table, hash_key: DynamoType) -> None:
    """A key was added to or removed from this partition: its order is computed again when next queried."""
    table.__dict__.get(_SORTED, {}).pop(hash_key, None)


def _put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    before = _partition_size(self, item_attrs)
    item = _ORIGINAL_PUT_ITEM(self, item_attrs, *args, **kwargs)
    moto_indexes.note(self, [item])
    if _partition_size(self, item_attrs) != before:  # a new key (an overwrite keeps the order)
        _forget_order(self, DynamoType(item_attrs[self.hash_key_attr]))
    return item


def _partition_size(table: Table, item_attrs: dict[str, Any]) -> int:
    if not table.range_key_attr or table.hash_key_attr not in item_attrs:
        return 0
    stored = table.items.get(DynamoType(item_attrs[table.hash_key_attr]))
    return len(stored) if stored is not None else 0


def _delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Any:
    item = _ORIGINAL_DELETE_ITEM(self, hash_key, range_key)
    if item is not None:
        _forget_order(self, hash_key)
    return item


def _all_items(self: Table) -> list[Any]:
    """Table.all_items as a Query needs it: one partition, or every item unsorted (the Query sorts)."""
    partition = getattr(hints, "partition", None)
    if partition is not None:
        return _partition_items(self, partition)
    index_hash = getattr(hints, "index_hash", None)
    if index_hash is not None:
        attribute, value = index_hash
        return moto_indexes.items_with(self, attribute, value)
    if getattr(hints, "unsorted", False):
        return moto_indexes.every_item(self)
    return _ORIGINAL_ALL_ITEMS(self)


def _index_hash_attribute(table: Table, index_name: str) -> str | None:
    """The hash key attribute of one of the table's indexes; None for a name moto will refuse itself."""
    for index in table.all_indexes():
        if index.name == index_name:
            return next((key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"), None)
    return None


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    with moto_answers.answering_query():
        return _query_window(self, *args, **kwargs)


def _query_window(
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    *args: Any,
    **kwargs: Any,
) -> Any:
    index_name = args[1] if len(args) > 1 else kwargs.get("index_name")  # moto: projection, index_name, ...
    arguments = (range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, *args)
    if index_name is None and hash_key is not None:
        prefix = (
            range_objs[0].cast_value if range_comparison == "BEGINS_WITH" and len(range_objs) == 1 else None
        )
        between = (
            (_plain(range_objs[0]), _plain(range_objs[1]))
            if range_comparison == "BETWEEN" and len(range_objs) == 2
            else None
        )
        # Every item of the window is a result (no other key condition, no legacy QueryFilter), so the window
        # can stop where moto's page does.
        conditions_on = {condition[0] for condition in kwargs.get("range_key_conditions") or ()}
        whole = range_comparison in (None, "BEGINS_WITH", "BETWEEN") and conditions_on <= {
            self.range_key_attr
        }
        whole = whole and not set(kwargs) - _NAMED_QUERY_ARGUMENTS
        hints = {
            "start": exclusive_start_key,
            "forward": scan_index_forward,
            "limit": limit,
            "prefix": prefix,
            "between": between,
            "whole_window": whole,
        }
        with hint(partition=hash_key, **hints):
            return _ORIGINAL_QUERY(self, hash_key, *arguments, **kwargs)
    attribute = _index_hash_attribute(self, index_name) if index_name and hash_key is not None else None
    if attribute is not None:
        with hint(index_hash=(attribute, hash_key)):
            return _ORIGINAL_QUERY(self, hash_key, *arguments, **kwargs)
    with hint(unsorted=True):
        return _ORIGINAL_QUERY(self, hash_key, *arguments, **kwargs)


def _table_deepcopy(self: Table, memo: dict[int, Any]) -> Table:
    """Inside a transaction: no copy (the touched items are snapshot instead); elsewhere a real deep copy."""
    if getattr(hints, "in_transaction", False):
        return self
    clone: Table = object.__new__(type(self))
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, copy.deepcopy(value, memo))
    return clone


def _touched(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> dict[tuple[str, ItemKey], Any]:
    """(table, key) -> a deep copy of the item now there (None: absent), for each item a transaction names."""
    snapshots: dict[tuple[str, ItemKey], Any] = {}
    for entry in transact_items:
        operation: Any = next(iter(entry.values()), {})
        name = operation.get("TableName") if isinstance(operation, dict) else None
        if name not in backend.tables:
            continue
        table = backend.tables[name]
        attributes = operation.get("Item") or operation.get("Key") or {}
        if table.hash_key_attr not in attributes:
            continue
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_key = (
            DynamoType(attributes[table.range_key_attr])
            if table.range_key_attr and table.range_key_attr in attributes
            else None
        )
        if table.range_key_attr and range_key is None:
            continue
        current = table.get_item(hash_key, range_key)
        snapshots[(name, (hash_key, range_key))] = copy.deepcopy(current)
    return snapshots


def _restore(backend: DynamoDBBackend, snapshots: dict[tuple[str, ItemKey], Any]) -> None:
    for (name, (hash_key, range_key)), item in snapshots.items():
        table = backend.tables[name]
        _forget_order(table, hash_key)
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
            moto_indexes.note(table, [item])
            continue
        partition = table.items[hash_key]
        if item is None:
            partition.pop(range_key, None)
        else:
            partition[range_key] = item
        moto_indexes.note(table, [item])


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    snapshots = _touched(self, transact_items)
    try:
        with hint(in_transaction=True):
            _ORIGINAL_TRANSACT(self, transact_items)
    except Exception:
        _restore(self, snapshots)
        raise


def install() -> None:
    """Apply the changes above to moto in this process (idempotent)."""
    with _installed:
        moto_indexes.install()
        moto_answers.install()
        Table.all_items = wrapped(_ORIGINAL_ALL_ITEMS, _all_items)  # type: ignore[method-assign]
        Table.query = wrapped(_ORIGINAL_QUERY, _query)  # type: ignore[method-assign]
        Table.put_item = wrapped(_ORIGINAL_PUT_ITEM, _put_item)  # type: ignore[method-assign]
        Table.delete_item = wrapped(_ORIGINAL_DELETE_ITEM, _delete_item)  # type: ignore[method-assign]
        Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]
        DynamoDBBackend.transact_write_items = wrapped(  # type: ignore[method-assign]
            _ORIGINAL_TRANSACT, _transact_write_items
        )
