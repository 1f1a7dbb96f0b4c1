"""A finished job's export: every row once, in file order, as CSV and gzip JSON lines in the bucket (moto)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import boto3
import pytest

from review_pipeline.dal.exports import export_key
from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.dal.results import ResultStore
from review_pipeline.logic.export import ExportIncompleteError, JobExporter
from tests.conftest import REGION
from tests.unit.export.seed import REJECTED_ROWS, RESULT_ROWS, seed_finished_job

JOB_ID = "0123456789abcdef0123"


def finished_job(table: Any, bucket: str, *, store_rows: tuple[int, ...] = RESULT_ROWS) -> None:
    seed_finished_job(table, bucket, JOB_ID, store_rows=store_rows)


@pytest.fixture
def exporter(table: Any, bucket: str) -> JobExporter:
    return JobExporter(
        jobs=JobStore(table),
        results=ResultStore(table),
        s3=boto3.client("s3", region_name=REGION),
        bucket_name=bucket,
    )


def read_object(bucket: str, key: str) -> tuple[bytes, dict[str, Any]]:
    response = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
    return response["Body"].read(), response


def test_a_finished_job_is_exported_whole_in_both_formats(
    table: Any, bucket: str, exporter: JobExporter
) -> None:
    # Given a finished job with results and rejected rows
    finished_job(table, bucket)
    # When it is exported
    outcome = exporter.export(JOB_ID)
    # Then the CSV holds every row of the file once, in order: results labelled, rejected rows with a reason
    assert (outcome.status, outcome.rows) == ("exported", 9)
    body, response = read_object(bucket, f"results/{JOB_ID}/results.csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [int(r["row"]) for r in rows] == list(range(1, 10))
    assert {int(r["row"]) for r in rows if r["reason"]} == set(REJECTED_ROWS)
    assert rows[0] == {
        "row": "1",
        "id": "id-1",
        "label": "positive",
        "score": "0.9",
        "model_version": "m-1",
        "reason": "",
        "uncertain": "false",
        "given_label": "positive",
    }
    assert {r["given_label"] for r in rows[1:]} == {""}
    assert response["ContentType"].startswith("text/csv")
    assert response["Metadata"] == {"rows": "9"}
    # And the gzip JSON lines hold the same rows
    body, response = read_object(bucket, export_key(JOB_ID, "jsonl"))
    lines = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    assert [line["row"] for line in lines] == list(range(1, 10))
    assert lines[2] == {
        "row": 3,
        "id": None,
        "label": None,
        "score": None,
        "model_version": None,
        "reason": "row 3: text is empty",
        "uncertain": None,
        "given_label": None,
    }
    assert lines[0]["given_label"] == "positive"
    assert response["ContentType"] == "application/x-ndjson"


def test_exporting_again_rewrites_the_same_bytes(table: Any, bucket: str, exporter: JobExporter) -> None:
    # Given a job exported once
    finished_job(table, bucket)
    exporter.export(JOB_ID)
    first = {fmt: read_object(bucket, export_key(JOB_ID, fmt))[0] for fmt in ("csv", "jsonl")}
    # When the export runs again (a redelivered message)
    exporter.export(JOB_ID)
    # Then both objects are byte for byte what they were
    assert {fmt: read_object(bucket, export_key(JOB_ID, fmt))[0] for fmt in ("csv", "jsonl")} == first


def test_rows_missing_against_the_counts_publish_nothing(
    table: Any, bucket: str, exporter: JobExporter
) -> None:
    # Given a job whose counts say 7 classified but only 6 results are stored
    finished_job(table, bucket, store_rows=RESULT_ROWS[:-1])
    # When it is exported
    # Then the export fails loudly (the message is retried) and writes no object
    with pytest.raises(ExportIncompleteError, match="8 rows stored, its counts say 9"):
        exporter.export(JOB_ID)
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket, Prefix="results/")
    assert listed["KeyCount"] == 0


def test_a_job_not_yet_finished_is_skipped(table: Any, bucket: str, exporter: JobExporter) -> None:
    # Given a job still PROCESSING, and an unknown job id
    jobs = JobStore(table)
    jobs.create(new_job(JOB_ID, bucket, "incoming/reviews.jsonl", "v1"))
    jobs.mark_processing(JOB_ID, total=9, rejected=0, chunks_total=1)
    # When either is exported
    # Then nothing is written, and the outcome says why
    assert exporter.export(JOB_ID).detail == "job is PROCESSING, not finished"
    assert exporter.export("no-such-job").detail == "no such job"
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket, Prefix="results/")
    assert listed["KeyCount"] == 0
