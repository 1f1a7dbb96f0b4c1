"""InferenceFunction's handler, invoked with events/inference_chunk.json against moto and a live endpoint."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.dal.results import ResultStore
from review_pipeline.models import ChunkMessage, JobStatus, ReviewRecord
from tests.endpoint_server import SentimentEndpointServer
from tests.handlers import handler_for, lambda_context
from tests.unit.inference.seed import put_chunk, seed_processing_job

EVENT = json.loads((Path(__file__).resolve().parents[3] / "events" / "inference_chunk.json").read_text())
MESSAGE = ChunkMessage.model_validate_json(EVENT["Records"][0]["body"])


@pytest.fixture
def handler(
    pipeline_env: dict[str, str], sentiment_endpoint: SentimentEndpointServer, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    return handler_for("inference", monkeypatch)


@pytest.fixture
def event_job(table: Any) -> ChunkMessage:
    """The job, bucket and chunk that events/inference_chunk.json names, as preprocess leaves them."""
    boto3.client("s3").create_bucket(Bucket=MESSAGE.bucket)
    [message] = seed_processing_job(table, MESSAGE.bucket, MESSAGE.job_id, [MESSAGE.review_count])
    assert message == MESSAGE
    return message


def _record(message_id: str, body: str) -> dict[str, Any]:
    record = copy.deepcopy(EVENT["Records"][0])
    record.update(messageId=message_id, body=body)
    return record


def test_given_the_sample_event_when_invoked_then_results_are_stored_and_the_job_completes(
    handler: ModuleType, event_job: ChunkMessage, table: Any
) -> None:
    response = handler.lambda_handler(EVENT, lambda_context("InferenceFunction"))

    results = ResultStore(table).list_results(event_job.job_id, limit=100).items
    job = JobStore(table).get(event_job.job_id)
    assert response == {"batchItemFailures": []}
    assert len(results) == event_job.review_count
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert job.counts.classified == event_job.review_count
    assert {result.model_version for result in results} == {job.model_version}
    assert job.model_version
    assert job.model_version != "unknown"


def test_given_the_same_event_delivered_twice_when_invoked_then_the_job_counts_it_once(
    handler: ModuleType, event_job: ChunkMessage, table: Any
) -> None:
    handler.lambda_handler(EVENT, lambda_context("InferenceFunction"))

    second = handler.lambda_handler(EVENT, lambda_context("InferenceFunction"))

    job = JobStore(table).get(event_job.job_id)
    assert second == {"batchItemFailures": []}
    assert job is not None
    assert (job.counts.classified, job.chunks_done) == (event_job.review_count, 1)


def test_given_a_batch_with_a_malformed_message_when_invoked_then_only_that_message_fails(
    handler: ModuleType, event_job: ChunkMessage, table: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = {
        "Records": [
            _record("good", EVENT["Records"][0]["body"]),
            _record("not-json", "this is not json"),
            _record("not-a-chunk", json.dumps({"job_id": "x", "chunk_index": "first"})),
        ]
    }

    response = handler.lambda_handler(event, lambda_context("InferenceFunction"))

    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    job = JobStore(table).get(event_job.job_id)
    malformed = [r for r in caplog.records if "is not a ChunkMessage" in r.getMessage()]
    assert failed == ["not-json", "not-a-chunk"]
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert [r.message_id for r in malformed] == ["not-json", "not-a-chunk"]  # type: ignore[attr-defined]
    assert all(r.levelname == "ERROR" for r in malformed)


def test_given_a_chunk_whose_object_is_missing_when_invoked_then_it_fails_and_the_others_succeed(
    handler: ModuleType, table: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = seed_processing_job(table, bucket, "job-2", [2, 2])
    boto3.client("s3").delete_object(Bucket=bucket, Key=second.key)
    event = {"Records": [_record("ok", first.model_dump_json()), _record("lost", second.model_dump_json())]}

    response = handler.lambda_handler(event, lambda_context("InferenceFunction"))

    job = JobStore(table).get("job-2")
    assert response == {"batchItemFailures": [{"itemIdentifier": "lost"}]}
    assert job is not None
    assert (job.chunks_done, job.status) == (1, JobStatus.PROCESSING)
    assert "chunk-00001.jsonl could not be read (NoSuchKey)" in caplog.text


def test_given_the_endpoint_fails_when_invoked_then_the_chunk_is_reported_for_retry(
    handler: ModuleType, event_job: ChunkMessage, sentiment_endpoint: SentimentEndpointServer, table: Any
) -> None:
    sentiment_endpoint.fail_next(424, "ModelError", "model crashed")

    # Every record of the batch failed: Powertools raises, so Lambda retries the whole (one-message) batch.
    with pytest.raises(BatchProcessingError, match="All records failed"):
        handler.lambda_handler(EVENT, lambda_context("InferenceFunction"))
    retried = handler.lambda_handler(EVENT, lambda_context("InferenceFunction"))

    job = JobStore(table).get(event_job.job_id)
    assert retried == {"batchItemFailures": []}
    assert job is not None
    assert job.status is JobStatus.COMPLETED


def test_given_a_clear_and_a_bland_review_when_classified_then_only_the_bland_one_counts_uncertain(
    handler: ModuleType, table: Any, bucket: str
) -> None:
    # Given a chunk with a clearly positive review and a bland sentence (0.55 with the shipped model; "It was
    # a movie." would not do: it scores 0.05, outside the band)
    texts = [
        "An absolutely wonderful, moving film with brilliant acting. I loved it.",
        "The film was released in 2004.",
    ]
    jobs = JobStore(table)
    jobs.create(new_job("job-u", bucket, "incoming/u.jsonl", None))
    records = [ReviewRecord(review_id=f"r{row}", row=row, text=text) for row, text in enumerate(texts, 1)]
    message = put_chunk(bucket, "job-u", 0, records)
    jobs.mark_processing("job-u", total=2, rejected=0, chunks_total=1)

    # When the chunk's message is delivered twice
    for attempt in ("first", "again"):
        handler.lambda_handler(
            {"Records": [_record(attempt, message.model_dump_json())]}, lambda_context("InferenceFunction")
        )

    # Then each result carries the model's flag, and the job counts the uncertain review once
    clear, bland = ResultStore(table).list_results("job-u", limit=10).items
    job = JobStore(table).get("job-u")
    assert (clear.label, clear.uncertain) == ("positive", False)
    assert bland.uncertain is True
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert (job.counts.classified, job.counts.uncertain) == (2, 1)
