"""ExportFunction's handler, invoked with events/export_job_finished.json against moto."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.handlers import lambda_context, load_handler
from tests.observability import log_lines
from tests.unit.export.seed import allow_small_parts, seed_finished_job
from tests.unit.inference.seed import stored_job

EVENT = json.loads((Path(__file__).resolve().parents[3] / "events" / "export_job_finished.json").read_text())
JOB_ID = json.loads(EVENT["Records"][0]["body"])["job_id"]


@pytest.fixture
def handler(pipeline_env: dict[str, str]) -> ModuleType:
    return load_handler("export")


def test_given_the_sample_event_when_invoked_then_both_files_are_written(
    handler: ModuleType, table: Any, bucket: str
) -> None:
    seed_finished_job(table, bucket, JOB_ID)

    response = handler.lambda_handler(EVENT, lambda_context("ExportFunction"))

    listed = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=bucket, Prefix=f"results/{JOB_ID}/"
    )
    assert response == {"batchItemFailures": []}
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        f"results/{JOB_ID}/results.csv",
        f"results/{JOB_ID}/results.jsonl.gz",
    ]


def test_given_rows_missing_then_the_message_is_retried(handler: ModuleType, table: Any, bucket: str) -> None:
    seed_finished_job(table, bucket, JOB_ID, store_rows=(1, 2))
    second = copy.deepcopy(EVENT["Records"][0]) | {
        "messageId": "second",
        "body": json.dumps({"job_id": "other"}),
    }
    event = {"Records": [EVENT["Records"][0], second]}

    response = handler.lambda_handler(event, lambda_context("ExportFunction"))

    # The incomplete job's message is retried; an unknown job's is done (nothing to export)
    assert response == {"batchItemFailures": [{"itemIdentifier": EVENT["Records"][0]["messageId"]}]}


def test_every_log_line_of_an_export_names_the_job_and_its_uploaded_key(
    handler: ModuleType, table: Any, bucket: str
) -> None:
    seed_finished_job(table, bucket, JOB_ID)
    job = stored_job(table, JOB_ID)

    with log_lines(handler.logger) as logs:
        handler.lambda_handler(EVENT, lambda_context("ExportFunction"))

    assert [line["message"] for line in logs] == ["Export processed"]
    assert {(line["job_id"], line["source_key"]) for line in logs} == {(JOB_ID, job.source_key)}


def test_given_a_job_bigger_than_a_part_when_each_queued_part_is_handled_then_both_files_hold_every_row(
    handler: ModuleType,
    table: Any,
    bucket: str,
    pipeline_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given parts of 4 rows (S3's 5 MiB minimum lowered, in moto and in the exporter, for parts of a few rows)
    monkeypatch.setenv("EXPORT_PART_ROWS", "4")
    allow_small_parts(monkeypatch)
    monkeypatch.setattr("review_pipeline.logic.export.S3_MIN_PART_BYTES", 1)
    handler.service.cache_clear()
    seed_finished_job(table, bucket, JOB_ID)
    sqs = boto3.client("sqs", region_name=REGION)
    # When the job's message is handled, then each message the function queues on the export queue
    event, bodies = EVENT, []
    while event is not None:
        assert handler.lambda_handler(event, lambda_context("ExportFunction")) == {"batchItemFailures": []}
        received = sqs.receive_message(QueueUrl=pipeline_env["EXPORT_QUEUE_URL"]).get("Messages", [])
        bodies += [json.loads(message["Body"]) for message in received]
        record = copy.deepcopy(EVENT["Records"][0])
        event = {"Records": [record | {"body": received[0]["Body"]}]} if received else None
    handler.service.cache_clear()
    # Then the first two messages queued parts 2 and 3 (9 rows), and the third completed both files
    assert [body["continuation"]["part"] for body in bodies] == [2, 3]
    assert [body["continuation"]["rows_before"] for body in bodies] == [4, 8]
    s3 = boto3.client("s3", region_name=REGION)
    csv_body = s3.get_object(Bucket=bucket, Key=f"results/{JOB_ID}/results.csv")["Body"].read().decode()
    assert [line.split(",")[0] for line in csv_body.splitlines()] == ["row", *map(str, range(1, 10))]
