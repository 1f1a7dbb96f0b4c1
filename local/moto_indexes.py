"""Which items of a moto table carry an index's hash key: what an index Query reads, not the whole table.

moto answers a Query on a global secondary index by looking at every item of the table. The pipeline's
indexes are sparse: only job items carry their keys, so a progress poll (`GET /jobs?source_key=`, a
JobsBySource query) of a 50,000-review job looked at 50,000 result items to find one job; it held the
server's lock about 20 ms per poll, 8% of the emulator's CPU through a 50,000-review upload (py-spy,
docs/benchmarks.md "End to end").

Here each table keeps, per index hash attribute, the keys of the items that may carry it. Every write path
that can give an item an attribute adds its key: Table.put_item (moto's PutItem, BatchWriteItem and
TransactWriteItems' Put go through it), DynamoDBBackend.update_item (UpdateItem and TransactWriteItems'
Update) and a failed transaction's rollback. The set may hold keys whose item is gone or no longer carries
the attribute: a query checks each item again and drops those keys. It is built by one pass over the table
the first time an index is queried, so a table written before `install()` is read right too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_MEMBERS = "_moto_indexes_members"  # Table attribute: index hash attribute -> keys of items that may carry it
_ORIGINAL_UPDATE_ITEM = DynamoDBBackend.update_item

ItemKey = tuple[DynamoType, DynamoType | None]


def _members(table: Table) -> dict[str, set[ItemKey]]:
    members: dict[str, set[ItemKey]] = table.__dict__.setdefault(_MEMBERS, {})
    return members


def _key(table: Table, item: Item) -> ItemKey:
    return (item.hash_key, item.range_key if table.range_key_attr else None)


def _stored(table: Table, key: ItemKey) -> Item | None:
    hash_key, range_key = key
    stored = table.items.get(hash_key)
    if range_key is None or stored is None:
        return stored  # type: ignore[return-value]  # without a range key a partition is an item
    found: Item | None = stored.get(range_key)
    return found


def every_item(table: Table) -> list[Item]:
    """Every item of the table, unsorted."""
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())  # type: ignore[arg-type]  # without a range key a partition is an item


def note(table: Table, items: Iterable[Item | None]) -> None:
    """These items were written: remember the key of each that carries an attribute the table tracks."""
    members = table.__dict__.get(_MEMBERS)
    if not members:
        return  # no index queried yet: the first query reads the whole table
    for item in items:
        if item is None:
            continue
        for attribute, keys in members.items():
            if attribute in item.attrs:
                keys.add(_key(table, item))


def items_with(table: Table, attribute: str, value: DynamoType) -> list[Item]:
    """The items whose `attribute` equals `value` (an index partition), in no order: moto sorts them."""
    members = _members(table)
    keys = members.get(attribute)
    if keys is None:
        keys = members[attribute] = {_key(table, i) for i in every_item(table) if attribute in i.attrs}
    found: list[Item] = []
    for key in list(keys):
        item = _stored(table, key)
        carried = item.attrs.get(attribute) if item is not None else None
        if carried is None:
            keys.discard(key)  # deleted, overwritten or updated without it: a later write adds it back
        elif carried == value:
            found.append(item)  # type: ignore[arg-type]
    return found


def _update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    item = _ORIGINAL_UPDATE_ITEM(self, table_name, *args, **kwargs)
    note(self.get_table(table_name), [item])
    return item


def install() -> None:
    """Track the writes that can give an item an index key (idempotent; moto_scale wraps put_item)."""
    DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]
