"""A job of more rows than EXPORT_PART_ROWS: exported in parts, one message each, joined by multipart uploads.

The 9-row job of seed.py (rows 3 and 7 rejected) stands for a job of millions: parts of 3 or 4 rows. S3 wants
every part but the last to hold 5 MiB; at a million rows a part holds about 100 MB of CSV and 25 MB of gzip
JSON lines, so here moto's minimum is lowered to let parts of a few rows through (seed.allow_small_parts).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest

from review_pipeline.dal.exports import ExportRequests, ExportUploadGoneError, export_key
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.logic.export import ExportIncompleteError, ExportOutcome, JobExporter
from review_pipeline.sqs_records import ExportRequest
from tests.conftest import REGION
from tests.unit.export.seed import RESULT_ROWS, allow_small_parts, seed_finished_job

JOB_ID = "0123456789abcdef0123"


@pytest.fixture(autouse=True)
def _parts_of_a_few_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    allow_small_parts(monkeypatch)


@pytest.fixture
def queue_url(aws: None) -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName="export")["QueueUrl"]


def exporter(
    table: Any, bucket: str, queue_url: str, part_rows: int, prefix: str = "results/", min_part_bytes: int = 1
) -> JobExporter:
    return JobExporter(
        jobs=JobStore(table),
        results=ResultStore(table),
        s3=boto3.client("s3", region_name=REGION),
        bucket_name=bucket,
        prefix=prefix,
        part_rows=part_rows,
        min_part_bytes=min_part_bytes,
        requests=ExportRequests(boto3.client("sqs", region_name=REGION), queue_url),
    )


def queued(queue_url: str) -> list[ExportRequest]:
    """Every message on the export queue, taken off it."""
    sqs, found = boto3.client("sqs", region_name=REGION), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(ExportRequest.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def run_to_the_end(export: JobExporter, queue_url: str) -> list[ExportOutcome]:
    """The job's export, then every part it queues, as the export function would take them."""
    outcomes = [export.export(JOB_ID)]
    while requests := queued(queue_url):
        outcomes += [export.export(request.job_id, request.continuation) for request in requests]
    return outcomes


def read(bucket: str, key: str) -> tuple[bytes, dict[str, Any]]:
    response = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
    return response["Body"].read(), response


@pytest.mark.parametrize("part_rows", [4, 3])
def test_given_more_rows_than_a_part_when_exported_then_the_parts_join_into_the_files_a_whole_export_writes(
    table: Any, bucket: str, queue_url: str, part_rows: int
) -> None:
    # Given a finished job of 9 rows, and parts of 4 rows (a short last part) or of 3 (the last part full)
    seed_finished_job(table, bucket, JOB_ID)
    # When it is exported, each queued part taken as the export function takes its messages
    outcomes = run_to_the_end(exporter(table, bucket, queue_url, part_rows), queue_url)
    # Then each invocation wrote one part and queued the next, and the last one completed both files
    parts = -(-9 // part_rows)
    assert [o.status for o in outcomes] == ["continued"] * (parts - 1) + ["exported"]
    assert [o.rows for o in outcomes] == [min(9, part_rows * n) for n in range(1, parts + 1)]
    # And the files are those one invocation writes for the same job: the CSV byte for byte (one header),
    # the JSON lines the same once decompressed (one gzip member a part), with the same type and row count
    whole = exporter(table, bucket, queue_url, part_rows=100, prefix="whole/")
    assert whole.export(JOB_ID).status == "exported"
    for export_format in ("csv", "jsonl"):
        in_parts, response = read(bucket, export_key(JOB_ID, export_format))
        in_one, expected = read(bucket, export_key(JOB_ID, export_format, "whole/"))
        if export_format == "jsonl":
            in_parts, in_one = gzip.decompress(in_parts), gzip.decompress(in_one)
        assert in_parts == in_one
        assert (response["ContentType"], response["Metadata"]) == (expected["ContentType"], {"rows": "9"})
    lines = gzip.decompress(read(bucket, export_key(JOB_ID, "jsonl"))[0]).splitlines()
    assert [json.loads(line)["row"] for line in lines] == list(range(1, 10))


def test_given_a_part_under_s3s_minimum_size_when_written_then_it_takes_more_rows(
    table: Any, bucket: str, queue_url: str
) -> None:
    # Given a job of 9 rows, parts of 1 row, and a minimum part size its gzip JSON lines never reach
    seed_finished_job(table, bucket, JOB_ID)
    export = exporter(table, bucket, queue_url, part_rows=1, min_part_bytes=10**9)
    # When it is exported
    outcome = export.export(JOB_ID)
    # Then the first part keeps taking rows until there are none left: one part, every row, nothing queued
    assert (outcome.status, outcome.rows, outcome.detail) == ("exported", 9, "in 1 part")
    assert queued(queue_url) == []
    body, response = read(bucket, export_key(JOB_ID, "csv"))
    assert (len(body.decode().splitlines()), response["Metadata"]) == (10, {"rows": "9"})


def test_given_a_part_delivered_twice_when_both_run_then_the_files_are_the_same_and_the_late_one_stops(
    table: Any, bucket: str, queue_url: str
) -> None:
    # Given an export in parts of 4 rows whose first part has queued the second
    seed_finished_job(table, bucket, JOB_ID)
    export = exporter(table, bucket, queue_url, part_rows=4)
    assert export.export(JOB_ID).status == "continued"
    [second] = queued(queue_url)
    # When the second part's message is delivered twice (SQS delivers at least once), the copy after the end
    outcomes = [export.export(JOB_ID, second.continuation), export.export(JOB_ID, second.continuation)]
    while requests := queued(queue_url):  # both copies queued the third part
        outcomes += [export.export(r.job_id, r.continuation) for r in requests]
    # Then the first copy of the last part completes the files, and the later copies find them completed
    assert [o.status for o in outcomes] == ["continued", "continued", "exported", "skipped"]
    assert outcomes[-1].detail == "export already completed"
    lines = gzip.decompress(read(bucket, export_key(JOB_ID, "jsonl"))[0]).decode().splitlines()
    assert [json.loads(line)["row"] for line in lines] == list(range(1, 10))


def test_given_rows_missing_when_the_last_part_is_written_then_nothing_is_published(
    table: Any, bucket: str, queue_url: str
) -> None:
    # Given a job whose counts say 7 classified but only 6 results are stored, exported in parts of 4
    seed_finished_job(table, bucket, JOB_ID, store_rows=RESULT_ROWS[:-1])
    export = exporter(table, bucket, queue_url, part_rows=4)
    assert export.export(JOB_ID).status == "continued"
    [second] = queued(queue_url)
    # When the last part finds fewer rows than the counts
    # Then it raises (the message is retried, then dead-lettered with an alarm) and no file is published
    with pytest.raises(ExportIncompleteError, match="8 rows stored, its counts say 9"):
        export.export(JOB_ID, second.continuation)
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket, Prefix="results/")
    assert listed["KeyCount"] == 0


def test_given_the_upload_was_aborted_when_a_part_comes_then_the_error_says_how_to_export_again(
    table: Any, bucket: str, queue_url: str
) -> None:
    # Given an export in parts whose multipart uploads were aborted (the bucket's 7-day lifecycle rule)
    seed_finished_job(table, bucket, JOB_ID)
    export = exporter(table, bucket, queue_url, part_rows=4)
    export.export(JOB_ID)
    [second] = queued(queue_url)
    assert second.continuation is not None
    s3 = boto3.client("s3", region_name=REGION)
    for export_format, upload_id in second.continuation.upload_ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=export_key(JOB_ID, export_format), UploadId=upload_id)
    # When its next part comes
    # Then the error names the job and the message that exports it again
    with pytest.raises(ExportUploadGoneError, match=f'send {{"job_id": "{JOB_ID}"}} to the export queue'):
        export.export(JOB_ID, second.continuation)
