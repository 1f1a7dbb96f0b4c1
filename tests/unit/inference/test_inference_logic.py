"""ChunkClassifier: one chunk from S3 to stored results and counts, against moto and the small model."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics

from review_pipeline.dal.chunks import ChunkReader, ChunkUnreadableError
from review_pipeline.dal.jobs import JobNotFoundError, JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import EndpointError
from review_pipeline.logic.inference import (
    FIRST_CALL_REVIEWS,
    REVIEWS_PER_CALL,
    ChunkClassifier,
    text_excerpt,
)
from review_pipeline.models import ChunkMessage, JobStatus, ReviewRecord
from tests.staged_endpoint import StagedEndpoint
from tests.unit.inference.seed import deliver_then_crash_before_counting, put_chunk, seed_processing_job


def _metric_total(metrics: Metrics, name: str) -> float:
    values = metrics.metric_set.get(name, {}).get("Value", [])
    return float(sum(values)) if isinstance(values, list) else float(values)


def test_given_a_chunk_when_classified_then_every_review_is_stored_with_its_model_version(
    classifier: ChunkClassifier, table: Any, bucket: str
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [5])

    outcome = classifier.classify(message)

    page = ResultStore(table).list_results("job-1", limit=100)
    assert outcome.counted
    assert outcome.classified == 5 == outcome.positive + outcome.negative
    assert [result.row for result in page.items] == [1, 2, 3, 4, 5]
    assert all(result.model_version and result.model_version != "unknown" for result in page.items)
    first = page.items[0]
    assert (first.review_id, first.movie_id, first.rating, first.given_label) == (
        "review-1",
        "tt0000001",
        9,
        1,
    )
    assert first.text_excerpt.startswith("A wonderful film")


def test_given_the_last_chunk_when_classified_then_the_job_is_completed_with_its_counts(
    classifier: ChunkClassifier, table: Any, bucket: str
) -> None:
    first, last = seed_processing_job(table, bucket, "job-1", [3, 2])

    assert classifier.classify(first).job_status is None
    outcome = classifier.classify(last)

    job = JobStore(table).get("job-1")
    assert outcome.job_status is JobStatus.COMPLETED
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert job.counts.classified == 5
    assert job.counts.positive + job.counts.negative == 5
    assert job.model_version == ResultStore(table).list_results("job-1", limit=1).items[0].model_version
    assert job.finished_at is not None


def test_given_a_redelivered_chunk_when_classified_again_then_it_counts_once_and_skips_the_endpoint(
    classifier: ChunkClassifier, table: Any, bucket: str, sentiment_endpoint: StagedEndpoint
) -> None:
    message, _ = seed_processing_job(table, bucket, "job-1", [4, 1])
    classifier.classify(message)
    calls_before = len(sentiment_endpoint.invocations)

    again = classifier.classify(message)

    job = JobStore(table).get("job-1")
    assert not again.counted
    assert len(sentiment_endpoint.invocations) == calls_before
    assert job is not None
    assert (job.counts.classified, job.chunks_done, job.status) == (4, 1, JobStatus.PROCESSING)


def test_given_results_written_but_a_crash_before_counting_when_redelivered_then_counted_once(
    classifier: ChunkClassifier, table: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [3])

    deliver_then_crash_before_counting(classifier, message, monkeypatch)
    stored_before_count = len(ResultStore(table).list_results("job-1", limit=100).items)

    outcome = classifier.classify(message)

    job = JobStore(table).get("job-1")
    assert stored_before_count == 3
    assert outcome.counted
    assert job is not None
    assert (job.counts.classified, job.status) == (3, JobStatus.COMPLETED)


def test_given_a_chunk_when_classified_then_metrics_count_reviews_and_endpoint_calls(
    classifier: ChunkClassifier, table: Any, bucket: str, metrics: Metrics
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [5])

    outcome = classifier.classify(message)

    assert _metric_total(metrics, "ReviewsClassified") == 5
    assert _metric_total(metrics, "PositiveReviews") == outcome.positive
    assert _metric_total(metrics, "NegativeReviews") == outcome.negative
    assert _metric_total(metrics, "EndpointCalls") == 1
    assert metrics.metric_set["EndpointLatency"]["Unit"] == "Milliseconds"


def test_given_a_chunk_over_one_call_when_classified_then_a_small_call_then_calls_of_100_and_all_stored(
    classifier: ChunkClassifier, table: Any, bucket: str, sentiment_endpoint: StagedEndpoint
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [250])

    outcome = classifier.classify(message)

    # Four calls (25, 100, 100, 25), each call's results stored while the next was scored, then counted once
    sizes = [len(json.loads(call.body)["instances"]) for call in sentiment_endpoint.invocations]
    assert sizes == [FIRST_CALL_REVIEWS, REVIEWS_PER_CALL, REVIEWS_PER_CALL, 25]
    assert (outcome.counted, outcome.classified) == (True, 250)
    stored = ResultStore(table).list_results("job-1", limit=1000).items
    assert [result.row for result in stored] == list(range(1, 251))


def test_given_a_review_too_large_for_the_endpoint_when_classified_then_it_is_rejected_with_its_reason(
    small_payload_classifier: ChunkClassifier, table: Any, bucket: str
) -> None:
    classifier = small_payload_classifier
    seed_processing_job(table, bucket, "job-1", [])
    records = [
        ReviewRecord(review_id="ok", row=1, text="a great film"),
        ReviewRecord(review_id="long", row=2, text="great " * 400),
    ]
    message = put_chunk(bucket, "job-1", 0, records)
    table.update_item(  # the job as preprocess leaves it: one chunk of two rows
        Key={"pk": "JOB#job-1", "sk": "JOB"},
        UpdateExpression="SET chunks_total = :one, counts.#total = :two",
        ExpressionAttributeNames={"#total": "total"},
        ExpressionAttributeValues={":one": 1, ":two": 2},
    )

    outcome = classifier.classify(message)

    rejected = ResultStore(table).list_rejected("job-1", limit=10).items
    job = JobStore(table).get("job-1")
    assert (outcome.classified, outcome.rejected) == (1, 1)
    assert [row.row for row in rejected] == [2]
    assert "too long for the sentiment endpoint" in rejected[0].reason
    assert job is not None
    assert (job.counts.classified, job.counts.rejected) == (1, 1)
    assert job.status is JobStatus.COMPLETED_WITH_ERRORS


def test_given_a_failed_job_when_its_chunk_arrives_then_nothing_is_classified(
    classifier: ChunkClassifier, table: Any, bucket: str, sentiment_endpoint: StagedEndpoint
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [2])
    JobStore(table).fail("job-1", "the file is not valid CSV")

    outcome = classifier.classify(message)

    assert not outcome.counted
    assert sentiment_endpoint.invocations == []
    assert ResultStore(table).list_results("job-1", limit=10).items == []


def test_given_a_chunk_of_an_unknown_job_when_classified_then_it_fails_naming_the_job(
    classifier: ChunkClassifier, bucket: str
) -> None:
    message = put_chunk(bucket, "ghost", 0, [ReviewRecord(review_id="a", row=1, text="fine")])

    with pytest.raises(JobNotFoundError, match="job ghost"):
        classifier.classify(message)


def test_given_a_missing_chunk_object_when_classified_then_it_fails_naming_the_object(
    classifier: ChunkClassifier, table: Any, bucket: str
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [2])
    boto3.client("s3").delete_object(Bucket=bucket, Key=message.key)

    with pytest.raises(ChunkUnreadableError, match=r"chunk s3://.*chunk-00000.jsonl could not be read"):
        classifier.classify(message)


def test_given_an_endpoint_failure_when_classified_then_nothing_is_counted(
    classifier: ChunkClassifier, table: Any, bucket: str, sentiment_endpoint: StagedEndpoint
) -> None:
    [message] = seed_processing_job(table, bucket, "job-1", [2])
    sentiment_endpoint.fail_next(424, "ModelError", "model crashed")  # a model error is not retried

    with pytest.raises(EndpointError, match="model crashed"):
        classifier.classify(message)

    job = JobStore(table).get("job-1")
    assert job is not None
    assert (job.counts.classified, job.chunks_done) == (0, 0)


def test_given_a_chunk_line_that_is_not_a_review_when_read_then_the_line_is_named(bucket: str) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key="processed/j/chunk-00000.jsonl", Body=b'{"row": 1}\n')

    with pytest.raises(ChunkUnreadableError, match="line 1 is not a review record"):
        ChunkReader(boto3.client("s3")).read(bucket, "processed/j/chunk-00000.jsonl")


def test_given_a_long_text_when_excerpted_then_it_is_at_most_120_characters() -> None:
    assert text_excerpt("short") == "short"
    assert text_excerpt("x" * 120) == "x" * 120
    assert len(text_excerpt("x" * 1000)) == 120
    assert text_excerpt("x" * 1000).endswith("…")


def test_given_a_chunk_message_when_parsed_then_negative_indexes_are_refused() -> None:
    with pytest.raises(ValueError, match="chunk_index"):
        ChunkMessage(job_id="j", bucket="b", key="k", chunk_index=-1, review_count=1)
