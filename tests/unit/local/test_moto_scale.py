"""local/moto_scale.py keeps moto's answers while it drops the costs that grow with the table: a failed
transaction still leaves nothing changed, queries still page and sort as DynamoDB does, on the table and on an
index, and nothing it does leaks out of a transaction."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from local import moto_answers, moto_scale
from local.moto_hints import hint
from local.template import table_definition

REGION = "us-east-1"


@pytest.fixture
def table(scaled_table: Any) -> Any:
    table = scaled_table
    with table.batch_writer() as batch:
        for row in range(250, 0, -1):  # written out of order: the query must sort
            batch.put_item(Item={"pk": "JOB#a", "sk": f"RESULT#{row:08d}", "row": row})
        for row in range(1, 4):
            batch.put_item(Item={"pk": "JOB#b", "sk": f"RESULT#{row:08d}", "row": row})
        for name, created in (("a", "2026-01-02"), ("b", "2026-01-01"), ("c", "2026-01-03")):
            batch.put_item(
                Item={
                    "pk": f"JOB#{name}",
                    "sk": "JOB",
                    "count": 0,
                    "jobs_by_created_pk": "JOBS",
                    "jobs_by_created_sk": f"{created}#{name}",
                }
            )
    return table


def count_update(table_name: str, job: str, condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": {"pk": {"S": f"JOB#{job}"}, "sk": {"S": "JOB"}},
        "UpdateExpression": "SET #count = #count + :one",
        "ExpressionAttributeNames": {"#count": "count"},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def rows_of_every_page(table: Any, **query: Any) -> list[int]:
    """The `row` of every item of a query, page after page."""
    rows: list[int] = []
    while True:
        page = table.query(**query)
        rows += [int(item["row"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return rows
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_a_partition_query_pages_through_its_own_rows_in_key_order(table: Any) -> None:
    # Given 250 rows of job a (written in reverse) and 3 of job b
    results_of_a = Key("pk").eq("JOB#a") & Key("sk").begins_with("RESULT#")
    # When every page of job a's results is read, 100 at a time, Then each row comes once, in key order
    assert rows_of_every_page(table, KeyConditionExpression=results_of_a, Limit=100) == list(range(1, 251))
    # And paged backwards, 70 at a time, in reverse key order
    backwards_rows = rows_of_every_page(
        table, KeyConditionExpression=results_of_a, Limit=70, ScanIndexForward=False
    )
    assert backwards_rows == list(range(250, 0, -1))
    backwards = table.query(
        KeyConditionExpression=Key("pk").eq("JOB#b"), ScanIndexForward=False, ConsistentRead=True
    )
    assert [item["sk"] for item in backwards["Items"]] == [
        "RESULT#00000003",
        "RESULT#00000002",
        "RESULT#00000001",
        "JOB",
    ]
    assert table.query(KeyConditionExpression=Key("pk").eq("JOB#none"))["Items"] == []


def test_an_index_query_finds_only_indexed_items_sorted_by_the_index_key(table: Any) -> None:
    # When the jobs index is queried newest first, a page of 2 at a time
    first = table.query(
        IndexName="JobsByCreatedAt",
        KeyConditionExpression=Key("jobs_by_created_pk").eq("JOBS"),
        ScanIndexForward=False,
        Limit=2,
    )
    rest = table.query(
        IndexName="JobsByCreatedAt",
        KeyConditionExpression=Key("jobs_by_created_pk").eq("JOBS"),
        ScanIndexForward=False,
        Limit=2,
        ExclusiveStartKey=first["LastEvaluatedKey"],
    )
    # Then the three jobs come newest first, and no result row (they carry no index key)
    assert [item["pk"] for item in first["Items"] + rest["Items"]] == ["JOB#c", "JOB#a", "JOB#b"]
    assert "LastEvaluatedKey" not in rest


def test_an_index_query_reads_only_its_own_index_partition_and_answers_as_moto(table: Any) -> None:
    # Given an item in another partition of the jobs index, and the answer of moto's own query path
    table.put_item(
        Item={
            "pk": "JOB#d",
            "sk": "JOB",
            "jobs_by_created_pk": "ARCHIVED",
            "jobs_by_created_sk": "2026-01-04#d",
        }
    )
    query = {"IndexName": "JobsByCreatedAt", "KeyConditionExpression": Key("jobs_by_created_pk").eq("JOBS")}
    with hint(unsorted=True):  # what every index query did before: every item, moto filters
        moto_answer = table.query(**query)["Items"]

    # When each partition of the index is queried
    jobs = table.query(**query)["Items"]
    archived = table.query(
        IndexName="JobsByCreatedAt", KeyConditionExpression=Key("jobs_by_created_pk").eq("ARCHIVED")
    )["Items"]

    # Then each gets its own items only, and the same answer as moto's path
    assert jobs == moto_answer
    assert [item["pk"] for item in jobs] == ["JOB#b", "JOB#a", "JOB#c"]
    assert [item["pk"] for item in archived] == ["JOB#d"]


def test_a_transaction_that_fails_its_condition_changes_nothing(table: Any) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    # Given a transaction whose first write would succeed and whose second fails its condition
    items = [
        count_update("t", "a"),
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "JOB#a"}, "sk": {"S": "CHUNK#1"}}}},
        count_update("t", "b", condition="#count = :one"),
    ]
    # When it runs
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=items)
    # Then DynamoDB's cancellation reasons come back and neither the update nor the put stayed
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert table.get_item(Key={"pk": "JOB#a", "sk": "JOB"})["Item"]["count"] == 0
    assert "Item" not in table.get_item(Key={"pk": "JOB#a", "sk": "CHUNK#1"})
    # And a transaction that holds applies every write, once
    client.transact_write_items(TransactItems=items[:2])
    assert table.get_item(Key={"pk": "JOB#a", "sk": "JOB"})["Item"]["count"] == 1
    assert "Item" in table.get_item(Key={"pk": "JOB#a", "sk": "CHUNK#1"})


def test_a_table_copied_outside_a_transaction_is_a_deep_copy() -> None:
    with mock_aws():
        moto_scale.install()
        boto3.client("dynamodb", region_name=REGION).create_table(TableName="t", **table_definition())
        boto3.resource("dynamodb", region_name=REGION).Table("t").put_item(Item={"pk": "p", "sk": "s"})
        original = dynamodb_backends["123456789012"][REGION].tables["t"]
        # When moto (a backup, a restore) deep-copies the table
        clone = copy.deepcopy(original)
        # Then it is another table with other items
        assert clone is not original
        assert clone.items is not original.items
        assert len(clone.all_items()) == len(original.all_items()) == 1


def test_every_attribute_type_reads_back_as_written(table: Any) -> None:
    # Given an item with every DynamoDB type, binary among them (moto's serializer answers that one)
    rich = {
        "pk": "JOB#rich",
        "sk": "JOB",
        "text": 'a "quoted" null \u2028 text',
        "number": Decimal("12.5"),
        "flag": True,
        "nothing": None,
        "map": {"list": [Decimal(1), "two", False, None], "set": {"x", "y"}},
        "numbers": {Decimal(1), Decimal(2)},
    }
    table.put_item(Item=rich)
    table.put_item(Item={"pk": "JOB#rich", "sk": "BINARY", "data": b"\x00\xff"})
    # When it is read by key and by query
    got = table.get_item(Key={"pk": "JOB#rich", "sk": "JOB"}, ConsistentRead=True)["Item"]
    queried = table.query(KeyConditionExpression=Key("pk").eq("JOB#rich"))["Items"]
    # Then it is what was written, and so is the binary item
    assert got == rich
    assert [item["sk"] for item in queried] == ["BINARY", "JOB"]
    assert queried[0]["data"].value == b"\x00\xff"
    assert queried[1] == rich


def test_a_partition_query_sees_every_write_since_the_last_one(table: Any) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    results_of_a = Key("pk").eq("JOB#a") & Key("sk").begins_with("RESULT#")
    # Given job a's results read once (its key order is now kept between queries)
    assert rows_of_every_page(table, KeyConditionExpression=results_of_a, Limit=100) == list(range(1, 251))
    # When rows come before, after and among them, one is overwritten, one deleted, and a failed
    # transaction puts (then takes back) another
    for row in (0, 251, 300):
        table.put_item(Item={"pk": "JOB#a", "sk": f"RESULT#{row:08d}", "row": row})
    table.put_item(Item={"pk": "JOB#a", "sk": "RESULT#00000007", "row": 7, "label": "positive"})
    table.delete_item(Key={"pk": "JOB#a", "sk": "RESULT#00000100"})
    doomed = {"Put": {"TableName": "t", "Item": {"pk": {"S": "JOB#a"}, "sk": {"S": "RESULT#00000150x"}}}}
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=[doomed, count_update("t", "b", condition="#count = :one")])
    # Then every page reads what the partition now holds, in key order, forwards and backwards
    expected = [0, *range(1, 100), *range(101, 252), 300]
    assert rows_of_every_page(table, KeyConditionExpression=results_of_a, Limit=100) == expected
    backwards = rows_of_every_page(
        table, KeyConditionExpression=results_of_a, Limit=64, ScanIndexForward=False
    )
    assert backwards == expected[::-1]
    # And the overwritten row is read as it was last written
    seventh = table.query(KeyConditionExpression=Key("pk").eq("JOB#a") & Key("sk").eq("RESULT#00000007"))
    assert seventh["Items"][0]["label"] == "positive"


def test_a_query_without_limit_pages_by_one_megabyte_within_its_key_range(
    scaled_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 200 results of about 20 KB each in one partition, with rejected rows and the job item beside them
    with scaled_table.batch_writer() as batch:
        for row in range(1, 201):
            batch.put_item(Item={"pk": "JOB#big", "sk": f"RESULT#{row:08d}", "row": row, "pad": "x" * 20_000})
            if row % 50 == 0:
                batch.put_item(Item={"pk": "JOB#big", "sk": f"REJECTED#{row:08d}", "row": -row})
        batch.put_item(Item={"pk": "JOB#big", "sk": "JOB", "row": 0})
    between = Key("pk").eq("JOB#big") & Key("sk").between("RESULT#00000010", "RESULT#00000150")
    looked_at: list[int] = []  # how many items each page hands moto
    partition_items = moto_scale._partition_items

    def counted(*arguments: Any) -> list[Any]:
        found = partition_items(*arguments)
        looked_at.append(len(found))
        return found

    monkeypatch.setattr(moto_scale, "_partition_items", counted)
    # When the rows 10 to 150 are read with no Limit, forwards, backwards, and by prefix
    pages: list[list[int]] = []
    query: dict[str, Any] = {"KeyConditionExpression": between}
    while True:
        page = scaled_table.query(**query)
        pages.append([int(item["row"]) for item in page["Items"]])
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    backwards = rows_of_every_page(scaled_table, KeyConditionExpression=between, ScanIndexForward=False)
    by_prefix = Key("pk").eq("JOB#big") & Key("sk").begins_with("RESULT#")
    # Then each row comes once, in key order, in pages of 1 MB (49 items of 20 KB), as DynamoDB pages them
    assert [row for page in pages for row in page] == list(range(10, 151))
    assert [len(page) for page in pages] == [49, 49, 43]
    assert backwards == list(range(150, 9, -1))
    assert rows_of_every_page(scaled_table, KeyConditionExpression=by_prefix) == list(range(1, 201))
    # And moto looked at one page and the item after it each time, not at the rest of the partition
    assert max(looked_at) == 50


def test_an_item_is_sized_as_moto_sizes_it(scaled_table: Any) -> None:
    # Given items of every attribute type, with names and strings beyond ASCII
    items = [
        {
            "pk": "JOB#size",
            "sk": "PLAIN",
            "text": "caf\u00e9 \u2603",
            "n\u00e4me": Decimal("-12.50"),
            "flag": False,
        },
        {"pk": "JOB#size", "sk": "RICH", "nothing": None, "data": b"\x00\xff", "tags": {"a", "bb"}},
        {"pk": "JOB#size", "sk": "NESTED", "map": {"list": [Decimal(1), "two", None], "set": {Decimal(3)}}},
    ]
    for item in items:
        scaled_table.put_item(Item=item)
    stored = dynamodb_backends["123456789012"][REGION].tables["t"].items
    # When each is sized as a Query pages it, and as moto sizes it
    for item in stored[next(iter(stored))].values():
        # Then the two agree
        assert moto_answers._item_size(item) == moto_answers._ORIGINAL_ITEM_SIZE(item)


def test_a_projected_query_leaves_the_stored_items_whole(table: Any) -> None:
    # Given job items read through the index and through the table with a projection (moto builds new
    # items for both, now from the stored items themselves rather than from copies)
    by_index = table.query(
        IndexName="JobsByCreatedAt",
        KeyConditionExpression=Key("jobs_by_created_pk").eq("JOBS"),
        ProjectionExpression="pk, #count",
        ExpressionAttributeNames={"#count": "count"},
    )["Items"]
    by_table = table.query(KeyConditionExpression=Key("pk").eq("JOB#a"), ProjectionExpression="sk", Limit=3)
    # Then the answers are projected
    assert by_index == [{"pk": f"JOB#{name}", "count": 0} for name in ("b", "a", "c")]
    assert by_table["Items"] == [{"sk": "JOB"}, {"sk": "RESULT#00000001"}, {"sk": "RESULT#00000002"}]
    # And the stored items still have every attribute
    job = table.get_item(Key={"pk": "JOB#a", "sk": "JOB"}, ConsistentRead=True)["Item"]
    assert job == {
        "pk": "JOB#a",
        "sk": "JOB",
        "count": 0,
        "jobs_by_created_pk": "JOBS",
        "jobs_by_created_sk": "2026-01-02#a",
    }
    assert table.get_item(Key={"pk": "JOB#a", "sk": "RESULT#00000001"})["Item"]["row"] == 1
