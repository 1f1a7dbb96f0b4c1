"""local/moto_indexes.py answers an index Query from the keys of the items that may carry the index's hash
key: whatever write gives, changes or takes away that attribute (put, batch, update, delete, a transaction and
its rollback), the answer stays moto's own."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from local.moto_hints import hint

REGION = "us-east-1"
SOURCE = Key("jobs_by_source_pk").eq("incoming/a.jsonl")
INDEX = {"IndexName": "JobsBySource", "KeyConditionExpression": SOURCE}


def job(name: str, source: str = "incoming/a.jsonl", **more: Any) -> dict[str, Any]:
    return {"pk": f"JOB#{name}", "sk": "JOB", "jobs_by_source_pk": source, "jobs_by_source_sk": name, **more}


def answers(table: Any) -> tuple[list[str], list[str]]:
    """(this module's answer, moto's: every item looked at), each as the jobs' pks in the index's order."""
    ours = [item["pk"] for item in table.query(**INDEX)["Items"]]
    with hint(unsorted=True):
        moto = [item["pk"] for item in table.query(**INDEX)["Items"]]
    return ours, moto


@pytest.fixture
def table(scaled_table: Any) -> Any:
    table = scaled_table
    # Given a job written before any index query, and results that carry no index key
    table.put_item(Item=job("a"))
    with table.batch_writer() as batch:
        for row in range(1, 51):
            batch.put_item(Item={"pk": "JOB#a", "sk": f"RESULT#{row:08d}"})
    return table


def test_an_index_query_sees_items_written_before_and_after_its_first_query(table: Any) -> None:
    assert answers(table) == (["JOB#a"], ["JOB#a"])
    # When jobs come by PutItem and BatchWriteItem, and one of another source
    table.put_item(Item=job("b"))
    with table.batch_writer() as batch:
        batch.put_item(Item=job("c"))
        batch.put_item(Item=job("d", source="incoming/other.jsonl"))
    # Then the query finds this source's jobs only, in the index's order, as moto does
    assert answers(table) == (["JOB#a", "JOB#b", "JOB#c"], ["JOB#a", "JOB#b", "JOB#c"])


def test_updates_that_give_move_or_take_the_index_key_are_seen(table: Any) -> None:
    assert answers(table)[0] == ["JOB#a"]
    # When an update gives a result item the key, another moves a job to another source, a third removes it
    table.update_item(
        Key={"pk": "JOB#a", "sk": "RESULT#00000007"},
        UpdateExpression="SET jobs_by_source_pk = :s, jobs_by_source_sk = :k",
        ExpressionAttributeValues={":s": "incoming/a.jsonl", ":k": "r7"},
    )
    table.put_item(Item=job("b"))
    table.update_item(
        Key={"pk": "JOB#b", "sk": "JOB"},
        UpdateExpression="SET jobs_by_source_pk = :s",
        ExpressionAttributeValues={":s": "incoming/elsewhere.jsonl"},
    )
    ours, moto = answers(table)
    assert ours == moto == ["JOB#a", "JOB#a"]
    table.update_item(Key={"pk": "JOB#a", "sk": "JOB"}, UpdateExpression="REMOVE jobs_by_source_pk")
    # Then each answer is moto's
    ours, moto = answers(table)
    assert ours == moto == ["JOB#a"]  # the result item that was given the key


def test_deleted_and_overwritten_items_leave_the_index(table: Any) -> None:
    table.put_item(Item=job("b"))
    assert answers(table)[0] == ["JOB#a", "JOB#b"]
    # When one job is deleted and the other overwritten without the key, then written again with it
    table.delete_item(Key={"pk": "JOB#b", "sk": "JOB"})
    table.put_item(Item={"pk": "JOB#a", "sk": "JOB"})
    assert answers(table) == ([], [])
    table.put_item(Item=job("a"))
    # Then the answers follow every write
    assert answers(table) == (["JOB#a"], ["JOB#a"])


def test_a_transaction_puts_and_its_rollback_restores_index_keys(table: Any) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    assert answers(table)[0] == ["JOB#a"]
    put_b = {"Put": {"TableName": "t", "Item": {k: {"S": v} for k, v in job("b").items()}}}
    delete_a = {"Delete": {"TableName": "t", "Key": {"pk": {"S": "JOB#a"}, "sk": {"S": "JOB"}}}}
    failing = {
        "ConditionCheck": {
            "TableName": "t",
            "Key": {"pk": {"S": "JOB#none"}, "sk": {"S": "JOB"}},
            "ConditionExpression": "attribute_exists(pk)",
        }
    }
    # When a transaction that deletes a job and puts another fails, then one that holds runs
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=[delete_a, put_b, failing])
    assert answers(table) == (["JOB#a"], ["JOB#a"])
    client.transact_write_items(TransactItems=[delete_a, put_b])
    # Then the index answers what the table holds after each
    assert answers(table) == (["JOB#b"], ["JOB#b"])
