"""What one DynamoDB call costs in moto as the table grows, with and without local/moto_scale.py.

    python -m bench.moto_costs [--without-moto-scale]

moto in this process (mock_aws), the template's table; a job partition filled with result-sized items, then at
5,000 and 50,000 items: one TransactWriteItems on the job item (how the pipeline counts a chunk), one Query of
a 100-result page (the API, the export), one Query on the jobs index (every progress poll). Medians of 3.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from moto import mock_aws

from local import moto_scale
from local.template import table_definition

REGION = "us-east-1"
SIZES = (5_000, 50_000)


def _median_ms(call: Callable[[], Any], times: int = 3) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def measure(with_moto_scale: bool) -> list[tuple[int, float, float, float]]:
    """(items, transaction ms, partition page ms, index query ms) per size."""
    rows = []
    with mock_aws():
        if with_moto_scale:
            moto_scale.install()
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName="costs", **table_definition())
        table = boto3.resource("dynamodb", region_name=REGION).Table("costs")
        table.put_item(
            Item={"pk": "JOB#j", "sk": "JOB", "n": 0, "jobs_by_created_pk": "JOBS", "jobs_by_created_sk": "x"}
        )
        count = {
            "TableName": "costs",
            "Key": {"pk": {"S": "JOB#j"}, "sk": {"S": "JOB"}},
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        written = 0
        for size in SIZES:
            with table.batch_writer() as batch:
                while written < size:
                    item = {"pk": "JOB#j", "sk": f"RESULT#{written:08d}", "label": "positive", "score": 1}
                    batch.put_item(Item={**item, "row": written, "text_excerpt": "x" * 120})
                    written += 1
            rows.append(
                (
                    size,
                    _median_ms(lambda: client.transact_write_items(TransactItems=[{"Update": count}])),
                    _median_ms(
                        lambda: table.query(
                            KeyConditionExpression=Key("pk").eq("JOB#j") & Key("sk").begins_with("RESULT#"),
                            Limit=100,
                        )
                    ),
                    _median_ms(
                        lambda: table.query(
                            IndexName="JobsByCreatedAt",
                            KeyConditionExpression=Key("jobs_by_created_pk").eq("JOBS"),
                            Limit=1,
                        )
                    ),
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.moto_costs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--without-moto-scale", action="store_true", help="moto as it ships")
    args = parser.parse_args(argv)
    label = "moto 5.2.5 as it ships" if args.without_moto_scale else "with local/moto_scale.py"
    for size, transact, page, index in measure(not args.without_moto_scale):
        print(f"| {label} | {size:,} | {transact:,.0f} ms | {page:,.0f} ms | {index:,.0f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
