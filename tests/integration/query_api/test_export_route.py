"""GET /jobs/{job_id}/export, invoked with events/api_job_export.json against moto."""

from __future__ import annotations

import gzip
import json
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests

from review_pipeline.dal.exports import export_requester
from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.logic.export import JobExporter
from review_pipeline.settings import Settings
from tests.conftest import REGION
from tests.handlers import handler_for
from tests.integration.query_api.api_events import EVENTS_DIR, api_event, call
from tests.unit.export.seed import seed_finished_job

JOB_ID = json.loads((EVENTS_DIR / "api_job_export.json").read_text())["pathParameters"]["job_id"]


@pytest.fixture
def handler(pipeline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return handler_for("query_api", monkeypatch)


@pytest.fixture
def exported_job(settings: Settings, table: Any, bucket: str) -> None:
    """The job the event names, finished (9 rows: 7 results, 2 rejected) and exported."""
    seed_finished_job(table, bucket, JOB_ID)
    JobExporter.from_settings(settings).export(JOB_ID)


def test_given_the_export_event_when_exported_then_a_short_lived_url_of_every_row(
    handler: ModuleType, exported_job: None
) -> None:
    status, body, _ = call(handler, api_event("api_job_export"))

    assert status == 200
    assert isinstance(body, dict)
    assert (body["job_id"], body["format"], body["rows"], body["expires_in"]) == (JOB_ID, "csv", 9, 300)
    download = requests.get(body["url"], timeout=10)
    assert download.status_code == 200
    assert download.text.splitlines()[0] == "row,id,label,score,model_version,reason,uncertain,given_label"
    assert len(download.text.splitlines()) == 1 + 9


def test_given_jsonl_when_exported_then_the_url_serves_gzip_json_lines(
    handler: ModuleType, exported_job: None
) -> None:
    status, body, _ = call(handler, api_event("api_job_export", query={"format": "jsonl"}))

    assert status == 200
    assert isinstance(body, dict)
    lines = gzip.decompress(requests.get(body["url"], timeout=10).content).decode().splitlines()
    assert [json.loads(line)["row"] for line in lines] == list(range(1, 10))


def test_given_a_finished_job_not_yet_exported_then_404_says_it_is_being_written(
    handler: ModuleType, table: Any, bucket: str
) -> None:
    seed_finished_job(table, bucket, JOB_ID)

    status, body, _ = call(handler, api_event("api_job_export"))

    assert status == 404
    assert isinstance(body, dict)
    assert "still being written" in body["message"]
    assert body["job_id"] == JOB_ID


def test_given_a_job_still_processing_then_404_says_when_it_will_be_exported(
    handler: ModuleType, table: Any, bucket: str
) -> None:
    jobs = JobStore(table)
    jobs.create(new_job(JOB_ID, bucket, "incoming/reviews.jsonl", "v1"))
    jobs.mark_processing(JOB_ID, total=9, rejected=0, chunks_total=2)

    status, body, _ = call(handler, api_event("api_job_export"))

    assert status == 404
    assert isinstance(body, dict)
    assert body["message"].startswith(f"Job '{JOB_ID}' is PROCESSING; its export is written when it ends")


def test_given_an_unknown_format_then_422(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_job_export", query={"format": "xlsx"}))

    assert status == 422
    assert isinstance(body, dict)
    assert body["errors"][0]["location"] == "query.format"


def test_given_a_job_closed_by_its_last_chunk_then_its_export_is_asked_for(
    settings: Settings, table: Any, bucket: str
) -> None:
    # The job store as the functions build it from their settings closes the job
    seed_finished_job(table, bucket, JOB_ID, jobs=JobStore(table, on_finished=export_requester(settings)))

    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=settings.export_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"job_id": JOB_ID}]
