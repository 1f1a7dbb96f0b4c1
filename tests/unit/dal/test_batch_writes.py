"""dal/batch_writes.py against moto: result items stored as DynamoDB JSON of their own types, 25 at a time,
the last of two items with one key kept, unprocessed items sent again after a pause, and a clear error when
DynamoDB keeps handing them back."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from review_pipeline.dal.batch_writes import MAX_ATTEMPTS, BatchWrites, UnprocessedItemsError, attribute_value


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def hand_back(times: int) -> tuple[list[int], Any]:
    """A before-send hook: the first `times` BatchWriteItem calls write nothing and hand every item back as
    unprocessed (a throttled table); it counts the items of every call it sees."""
    sizes: list[int] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        requested = json.loads(request.body or b"{}")["RequestItems"]  # type: ignore[arg-type]
        sizes.append(sum(len(entries) for entries in requested.values()))
        if len(sizes) > times:
            return None
        body = json.dumps({"UnprocessedItems": requested}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))  # type: ignore[arg-type]

    return sizes, answer


def item(row: int, **more: Any) -> dict[str, Any]:
    return {"pk": "JOB#j", "sk": f"RESULT#{row:010d}", "row": row, **more}


def test_each_value_type_a_result_holds_becomes_its_attribute_value() -> None:
    assert attribute_value("positive") == {"S": "positive"}
    assert attribute_value(True) == {"BOOL": True}
    assert attribute_value(7) == {"N": "7"}
    assert attribute_value(Decimal("0.123456")) == {"N": "0.123456"}
    with pytest.raises(TypeError, match="float"):
        attribute_value(0.5)  # a score is stored as a Decimal: a float would lose its exact digits


def test_items_are_stored_as_written_and_a_repeated_key_keeps_the_last(table: Any) -> None:
    writes = BatchWrites(table)
    items = [item(n, label="positive", score=Decimal("0.9"), uncertain=False) for n in range(1, 61)]
    # When row 3 comes twice within one batch of 25 (DynamoDB refuses a batch that names a key twice)
    written = writes.put([*items[:20], item(3, label="negative", score=Decimal("0.1")), *items[20:]])
    # Then it is sent once, as its later version, and every item reads back as written
    assert written == 60
    assert table.get_item(Key={"pk": "JOB#j", "sk": "RESULT#0000000003"})["Item"] == item(
        3, label="negative", score=Decimal("0.1")
    )
    assert table.get_item(Key={"pk": "JOB#j", "sk": "RESULT#0000000060"})["Item"] == items[-1]
    assert table.scan()["Count"] == 60


def test_unprocessed_items_are_sent_again_after_growing_pauses(table: Any) -> None:
    pauses: list[float] = []
    writes = BatchWrites(table, sleep=pauses.append)
    sizes, answer = hand_back(times=2)
    writes._dynamodb().meta.events.register("before-send.dynamodb.BatchWriteItem", answer)
    # When a batch of 25 comes back unprocessed twice
    assert writes.put(item(n) for n in range(1, 26)) == 25
    # Then it is sent again after a pause each time, the second pause drawn from a longer range
    assert sizes == [25, 25, 25]
    assert len(pauses) == 2
    assert 0.025 <= pauses[0] <= 0.05 <= pauses[1] <= 0.1
    assert table.scan()["Count"] == 25


def test_items_handed_back_on_every_attempt_raise_a_clear_error(table: Any) -> None:
    writes = BatchWrites(table, sleep=lambda _: None)
    sizes, answer = hand_back(times=MAX_ATTEMPTS)
    writes._dynamodb().meta.events.register("before-send.dynamodb.BatchWriteItem", answer)
    with pytest.raises(UnprocessedItemsError, match=f"25 items of a batch unprocessed {MAX_ATTEMPTS} times"):
        writes.put(item(n) for n in range(1, 26))
    assert sizes == [25] * MAX_ATTEMPTS
