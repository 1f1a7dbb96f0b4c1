"""InferenceFunction on a chunk's last delivery: the endpoint keeps failing, the job still finishes.

Records are events/inference_chunk.json with their ApproximateReceiveCount set; MAX_RECEIVE_COUNT is the
template's InferenceMaxReceiveCount default, as the deployed function gets it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from local.template import load_template
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.models import ChunkMessage, JobStatus
from tests.endpoint_server import SentimentEndpointServer
from tests.handlers import handler_for, lambda_context
from tests.unit.inference.seed import read_jsonl_object, seed_processing_job, stored_job

EVENT = json.loads((Path(__file__).resolve().parents[3] / "events" / "inference_chunk.json").read_text())
MAX_RECEIVE_COUNT = int(load_template()["Parameters"]["InferenceMaxReceiveCount"]["Default"])
JOB_ID = "job-endpoint-down"


@pytest.fixture
def handler(
    pipeline_env: dict[str, str], sentiment_endpoint: SentimentEndpointServer, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    monkeypatch.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVE_COUNT))
    return handler_for("inference", monkeypatch)


@pytest.fixture
def chunks(table: Any, bucket: str) -> list[ChunkMessage]:
    """A PROCESSING job of 2 chunks (3 + 2 reviews) and 1 row preprocess already rejected: 6 rows in all."""
    return seed_processing_job(table, bucket, JOB_ID, [3, 2], rejected=1)


def delivery(message_id: str, message: ChunkMessage, receive_count: int) -> dict[str, Any]:
    """The sample event's record, carrying this chunk on its `receive_count`th delivery."""
    record = copy.deepcopy(EVENT["Records"][0])
    record.update(messageId=message_id, body=message.model_dump_json())
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return record


def invoke(handler: ModuleType, *records: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = handler.lambda_handler({"Records": list(records)}, lambda_context("inference"))
    return response


def rejected_keys(bucket: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"rejected/{JOB_ID}/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_given_the_endpoint_down_when_a_chunk_is_not_on_its_last_delivery_then_it_is_retried_uncounted(
    handler: ModuleType,
    chunks: list[ChunkMessage],
    sentiment_endpoint: SentimentEndpointServer,
    table: Any,
    bucket: str,
) -> None:
    # Given an endpoint whose model fails every request, and a batch of chunk 0 on its next-to-last delivery
    # beside chunk 1 of a job that already failed (so the batch is not all failures)
    sentiment_endpoint.fail_every_request(424, "ModelError", "model crashed")
    [other] = seed_processing_job(table, bucket, "job-already-failed", [1])
    JobStore(table).fail("job-already-failed", "the file is not valid CSV")

    # When the batch is handled
    response = invoke(
        handler, delivery("retry-me", chunks[0], MAX_RECEIVE_COUNT - 1), delivery("skipped", other, 1)
    )

    # Then only chunk 0 is reported, so SQS delivers it again, and nothing of it is counted or rejected
    assert response == {"batchItemFailures": [{"itemIdentifier": "retry-me"}]}
    after = stored_job(table, JOB_ID)
    assert (after.status, after.chunks_done, after.counts.classified, after.counts.rejected) == (
        JobStatus.PROCESSING,
        0,
        0,
        1,
    )
    assert ResultStore(table).list_rejected(JOB_ID, limit=100).items == []
    assert rejected_keys(bucket) == []


def test_given_the_endpoint_down_when_a_chunk_is_on_its_last_delivery_then_its_reviews_end_rejected(
    handler: ModuleType,
    chunks: list[ChunkMessage],
    sentiment_endpoint: SentimentEndpointServer,
    table: Any,
    bucket: str,
) -> None:
    # Given chunk 0 classified normally, then an endpoint whose model fails every request
    assert invoke(handler, delivery("first", chunks[0], 1)) == {"batchItemFailures": []}
    sentiment_endpoint.fail_every_request(424, "ModelError", "model crashed")

    # When chunk 1 fails on its last delivery (SQS would dead-letter it if it failed again)
    response = invoke(handler, delivery("last", chunks[1], MAX_RECEIVE_COUNT))

    # Then no failure is reported: the message is settled, not dead-lettered
    assert response == {"batchItemFailures": []}
    # And both reviews of chunk 1 are rejected rows saying what happened and what to do
    expected_reason = (
        f"not classified: the sentiment endpoint failed {MAX_RECEIVE_COUNT} times (ModelError: the sentiment "
        "model on endpoint 'sentiment-test' failed with status 400: model crashed); "
        "upload the file again to retry"
    )
    in_table = ResultStore(table).list_rejected(JOB_ID, limit=100).items
    assert [(row.row, row.reason) for row in in_table] == [(4, expected_reason), (5, expected_reason)]
    assert in_table[0].raw_excerpt.startswith("An awful script")
    # And the same rows are in S3 next to preprocess's rejected.jsonl, in its line format
    assert rejected_keys(bucket) == [f"rejected/{JOB_ID}/chunk-00001.jsonl"]
    in_s3 = read_jsonl_object(bucket, f"rejected/{JOB_ID}/chunk-00001.jsonl")
    assert [(line["row"], line["reason"]) for line in in_s3] == [(4, expected_reason), (5, expected_reason)]
    assert set(in_s3[0]) == {"row", "reason", "raw"}
    # And the job is finished with errors, every row accounted for exactly once
    after = stored_job(table, JOB_ID)
    assert after.status is JobStatus.COMPLETED_WITH_ERRORS
    assert (after.chunks_done, after.chunks_total) == (2, 2)
    assert (after.counts.classified, after.counts.rejected, after.counts.total) == (3, 3, 6)
    assert after.counts.classified + after.counts.rejected == after.counts.total
    assert after.model_version not in (None, "unknown")


def test_given_a_chunk_retried_then_given_up_when_redelivered_again_then_it_is_counted_once(
    handler: ModuleType,
    chunks: list[ChunkMessage],
    sentiment_endpoint: SentimentEndpointServer,
    table: Any,
    bucket: str,
) -> None:
    # Given both chunks failing while the endpoint is down: chunk 0 on an early delivery, chunk 1 on its last
    sentiment_endpoint.fail_every_request(424, "ModelError", "model crashed")
    response = invoke(
        handler, delivery("early", chunks[0], 1), delivery("last", chunks[1], MAX_RECEIVE_COUNT)
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "early"}]}
    assert stored_job(table, JOB_ID).status is JobStatus.PROCESSING

    # When chunk 0 reaches its last delivery, and the same delivery arrives once more
    final = invoke(handler, delivery("early", chunks[0], MAX_RECEIVE_COUNT))
    again = invoke(handler, delivery("early", chunks[0], MAX_RECEIVE_COUNT + 1))

    # Then the job is finished with every review rejected, and counted once
    assert final == again == {"batchItemFailures": []}
    after = stored_job(table, JOB_ID)
    assert after.status is JobStatus.COMPLETED_WITH_ERRORS
    assert (after.counts.classified, after.counts.rejected, after.counts.total, after.chunks_done) == (
        0,
        6,
        6,
        2,
    )
    assert len(ResultStore(table).list_rejected(JOB_ID, limit=100).items) == 5
    assert rejected_keys(bucket) == [
        f"rejected/{JOB_ID}/chunk-00000.jsonl",
        f"rejected/{JOB_ID}/chunk-00001.jsonl",
    ]


def test_given_a_message_that_is_not_a_chunk_when_on_its_last_delivery_then_it_still_fails(
    handler: ModuleType, chunks: list[ChunkMessage]
) -> None:
    # Given a message with nothing to attribute it to, on its last delivery, beside a good chunk
    garbage = {**delivery("garbage", chunks[0], MAX_RECEIVE_COUNT), "body": "not json"}

    # When handled
    response = invoke(handler, delivery("good", chunks[0], 1), garbage)

    # Then it is still reported failed, so SQS moves it to InferenceDeadLetterQueue
    assert response == {"batchItemFailures": [{"itemIdentifier": "garbage"}]}
