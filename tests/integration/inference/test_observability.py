"""The inference handler's log lines and metrics: each line names the job and its uploaded key, each chunk
reports its batch size, and the chunk that finishes a job reports the job's share of positive reviews once
(the drift alarm's metric)."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import pytest

from review_pipeline.models import ChunkMessage
from tests.endpoint_server import SentimentEndpointServer
from tests.handlers import handler_for, lambda_context
from tests.integration.inference.test_inference_handler import EVENT
from tests.observability import emf_records, log_lines, metric_values
from tests.unit.inference.seed import seed_processing_job, stored_job

JOB_ID = "observed-job"


@pytest.fixture
def handler(
    pipeline_env: dict[str, str], sentiment_endpoint: SentimentEndpointServer, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    return handler_for("inference", monkeypatch)


def _event(message: ChunkMessage) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    event["Records"][0].update(messageId=f"chunk-{message.chunk_index}", body=message.model_dump_json())
    return event


def test_chunks_log_their_job_report_batch_sizes_and_the_last_one_the_positive_share(
    handler: ModuleType, pipeline_env: dict[str, str], table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a job of two chunks (3 and 2 reviews), queued before chunks named their file (no source_key)
    bucket = pipeline_env["BUCKET_NAME"]
    messages = seed_processing_job(table, bucket, JOB_ID, [3, 2])
    assert all(message.source_key is None for message in messages)
    capsys.readouterr()

    # When the handler classifies both
    with log_lines(handler.logger) as logs:
        for message in messages:
            assert handler.lambda_handler(_event(message), lambda_context("InferenceFunction")) == {
                "batchItemFailures": []
            }
    metrics = emf_records(capsys.readouterr().out)

    # Then every line names the job and the file it came from (looked up from the job)
    job = stored_job(table, JOB_ID)
    assert logs
    for line in logs:
        assert (line.get("job_id"), line.get("source_key")) == (JOB_ID, job.source_key), line
    # And each chunk reported its size, and only the last one the job's positive share
    assert sorted(value for _, value in metric_values(metrics, "BatchSize")) == [[2.0], [3.0]]
    [(dimensions, share)] = metric_values(metrics, "JobPositiveShare")
    assert dimensions == {"service": "review-sentiment"}
    assert share == [pytest.approx(job.counts.positive / job.counts.classified)]
    assert 0 < job.counts.positive < job.counts.classified == 5


def test_a_chunk_that_names_its_file_logs_it_without_a_lookup(
    handler: ModuleType, pipeline_env: dict[str, str], table: Any
) -> None:
    [message] = seed_processing_job(table, pipeline_env["BUCKET_NAME"], JOB_ID, [2])
    named = message.model_copy(update={"source_key": "incoming/named.jsonl"})

    with log_lines(handler.logger) as logs:
        handler.lambda_handler(_event(named), lambda_context("InferenceFunction"))

    assert {(line["job_id"], line["source_key"]) for line in logs} == {(JOB_ID, "incoming/named.jsonl")}
