"""ChunkClassifier on a chunk's last delivery, against moto and an endpoint that keeps failing."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from botocore.config import Config

from review_pipeline.dal.chunks import ChunkUnreadableError
from review_pipeline.dal.jobs import JobNotFoundError
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import EndpointError, SentimentEndpoint
from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.models import JobStatus, ReviewRecord
from tests.staged_endpoint import StagedEndpoint
from tests.unit.inference.seed import (
    deliver_then_crash_before_counting,
    put_chunk,
    read_jsonl_object,
    seed_processing_job,
    stored_job,
)

LAST = 3  # MAX_RECEIVE_COUNT's default


def test_given_a_throttled_endpoint_when_the_last_delivery_fails_then_the_reason_names_the_throttling(
    classifier: ChunkClassifier,
    sentiment_endpoint: StagedEndpoint,
    metrics: Metrics,
    table: Any,
    bucket: str,
) -> None:
    # Given an endpoint that throttles every request (the client does not retry, to keep the test fast)
    sentiment_endpoint.fail_every_request(400, "ThrottlingException", "Rate exceeded")
    classifier.endpoint = SentimentEndpoint(
        "sentiment-test",
        classifier.endpoint.max_payload_bytes,
        client=boto3.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1})),
    )
    [message] = seed_processing_job(table, bucket, "job-1", [2])

    # When the chunk fails on an early delivery, Then it raises for SQS to retry
    with pytest.raises(EndpointError, match="throttling"):
        classifier.classify(message, receive_count=LAST - 1)
    # When it fails on its last delivery
    outcome = classifier.classify(message, receive_count=LAST)

    # Then both reviews are rejected with a reason naming the throttling and what to do
    rejected = ResultStore(table).list_rejected("job-1", limit=10).items
    assert (outcome.given_up, outcome.counted, outcome.rejected) == (True, True, 2)
    assert outcome.job_status is JobStatus.COMPLETED_WITH_ERRORS
    assert [row.row for row in rejected] == [1, 2]
    assert rejected[0].reason.startswith(f"not classified: the sentiment endpoint failed {LAST} times (")
    assert "ThrottlingException: the sentiment endpoint 'sentiment-test' is throttling" in rejected[0].reason
    assert rejected[0].reason.endswith("; upload the file again to retry")
    # And the metric says a chunk was given up
    assert metrics.metric_set["ChunksGivenUp"]["Value"] == [1.0]


def test_given_results_stored_by_an_earlier_delivery_when_the_last_fails_then_they_stay_classified(
    classifier: ChunkClassifier,
    sentiment_endpoint: StagedEndpoint,
    table: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a delivery that stored the chunk's 3 results, then crashed before counting them
    [message] = seed_processing_job(table, bucket, "job-1", [3])

    deliver_then_crash_before_counting(classifier, message, monkeypatch, receive_count=1)
    # And an endpoint that fails from then on
    sentiment_endpoint.fail_every_request(424, "ModelError", "model crashed")

    # When the last delivery fails
    outcome = classifier.classify(message, receive_count=LAST)

    # Then the stored results are counted as classified and nothing is rejected
    job = stored_job(table, "job-1")
    assert (outcome.classified, outcome.rejected, outcome.counted) == (3, 0, True)
    assert ResultStore(table).list_rejected("job-1", limit=10).items == []
    assert job.status is JobStatus.COMPLETED
    assert (job.counts.classified, job.counts.positive + job.counts.negative, job.counts.total) == (3, 3, 3)
    assert job.model_version not in (None, "unknown")


def test_given_a_review_too_large_when_its_chunk_is_given_up_then_it_keeps_its_own_reason(
    small_payload_classifier: ChunkClassifier,
    sentiment_endpoint: StagedEndpoint,
    table: Any,
    bucket: str,
) -> None:
    # Given a chunk with one review the endpoint could never take, and an endpoint that fails
    classifier = small_payload_classifier
    seed_processing_job(table, bucket, "job-1", [])
    message = put_chunk(
        bucket,
        "job-1",
        0,
        [
            ReviewRecord(review_id="ok", row=1, text="a great film"),
            ReviewRecord(review_id="long", row=2, text="great " * 400),
        ],
    )
    table.update_item(  # the job as preprocess leaves it: one chunk of two rows
        Key={"pk": "JOB#job-1", "sk": "JOB"},
        UpdateExpression="SET chunks_total = :one, counts.#total = :two",
        ExpressionAttributeNames={"#total": "total"},
        ExpressionAttributeValues={":one": 1, ":two": 2},
    )
    sentiment_endpoint.fail_every_request(424, "ModelError", "model crashed")

    # When the last delivery fails
    outcome = classifier.classify(message, receive_count=LAST)

    # Then the short review is rejected because the endpoint failed, the long one because it is too long
    reasons = {row.row: row.reason for row in ResultStore(table).list_rejected("job-1", limit=10).items}
    assert outcome.rejected == 2
    assert reasons[1].startswith("not classified: the sentiment endpoint failed")
    assert "too long for the sentiment endpoint" in reasons[2]
    in_s3 = read_jsonl_object(bucket, "rejected/job-1/chunk-00000.jsonl")
    assert [(line["row"], line["reason"]) for line in in_s3] == [(1, reasons[1]), (2, reasons[2])]
    assert in_s3[1]["raw"] == "great " * 400  # the file keeps the whole text; the table an excerpt
    assert stored_job(table, "job-1").status is JobStatus.COMPLETED_WITH_ERRORS


def test_given_a_review_too_large_when_its_chunk_is_classified_then_it_is_also_in_theread_jsonl_object(
    small_payload_classifier: ChunkClassifier, table: Any, bucket: str
) -> None:
    # Given a chunk of chunk index 4 with one review too long for the endpoint
    classifier = small_payload_classifier
    seed_processing_job(table, bucket, "job-1", [])
    message = put_chunk(bucket, "job-1", 4, [ReviewRecord(review_id="long", row=9, text="great " * 400)])

    # When it is classified (first delivery, the endpoint works)
    outcome = classifier.classify(message)

    # Then the rejected review is in the table and in rejected/<job>/chunk-00004.jsonl
    assert (outcome.given_up, outcome.rejected) == (False, 1)
    [line] = read_jsonl_object(bucket, "rejected/job-1/chunk-00004.jsonl")
    [row] = ResultStore(table).list_rejected("job-1", limit=10).items
    assert (line["row"], line["reason"]) == (row.row, row.reason)
    assert row.row == 9
    assert "too long for the sentiment endpoint" in row.reason


def test_given_a_chunk_object_gone_when_its_last_delivery_fails_then_the_job_fails_with_the_reason(
    classifier: ChunkClassifier, table: Any, bucket: str
) -> None:
    # Given a chunk whose object was deleted (its reviews can no longer be named one by one)
    [message] = seed_processing_job(table, bucket, "job-1", [2])
    boto3.client("s3").delete_object(Bucket=bucket, Key=message.key)

    # When an early delivery fails, Then it raises for a retry
    with pytest.raises(ChunkUnreadableError):
        classifier.classify(message, receive_count=1)
    # When the last delivery fails
    outcome = classifier.classify(message, receive_count=LAST)

    # Then the job is FAILED, saying which reviews were lost and what to do
    job = stored_job(table, "job-1")
    assert outcome.job_status is JobStatus.FAILED
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith(f"2 reviews (chunk 0) were not classified after {LAST} attempts: chunk s3://")
    assert "could not be read (NoSuchKey)" in job.error
    assert job.error.endswith("; upload the file again")


def test_given_a_chunk_of_an_unknown_job_when_its_last_delivery_fails_then_it_still_raises(
    classifier: ChunkClassifier, bucket: str
) -> None:
    message = put_chunk(bucket, "ghost", 0, [ReviewRecord(review_id="a", row=1, text="fine")])

    with pytest.raises(JobNotFoundError, match="job ghost"):
        classifier.classify(message, receive_count=LAST)
