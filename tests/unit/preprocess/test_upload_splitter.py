"""UploadSplitter's orchestration, built directly (no handler, no idempotency): the job's life, the chunks,
the rejected rows and the last delivery. The stores are real (moto); the queue is a fake that records what it
is given or fails like an unreachable queue, since what SQS does with the messages is not the point here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics

from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.queue import QueueSendError
from review_pipeline.dal.results import ResultStore
from review_pipeline.logic.preprocess import UploadedObject, UploadSplitter, job_id_for
from review_pipeline.models import ChunkMessage, JobStatus, iso_utc, seconds_between
from review_pipeline.settings import Settings


@dataclass
class RecordingQueue:
    """The inference queue as the splitter sees it: `send` records the messages, or fails while `down`."""

    sent: list[ChunkMessage] = field(default_factory=list)
    down: bool = False

    def send(self, messages: Sequence[ChunkMessage]) -> int:
        if self.down:
            raise QueueSendError("2 of 2 messages could not be sent: AWS.SimpleQueueService.NonExistentQueue")
        self.sent.extend(messages)
        return len(messages)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def splitter(settings: Settings, metrics: Metrics, queue: RecordingQueue) -> UploadSplitter:
    built = UploadSplitter.from_settings(settings.model_copy(update={"chunk_size": 2}), metrics)
    return replace(built, queue=queue, idempotent_process_upload=None)


def upload(bucket: str, key: str, rows: list[str]) -> UploadedObject:
    response = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body="\n".join(rows).encode() + b"\n")
    return UploadedObject(bucket=bucket, key=key, etag=response["ETag"].strip('"'), sequencer="0001")


def review(number: int) -> str:
    return json.dumps({"id": f"r{number}", "text": f"Review number {number}<br />It was fine.", "rating": 7})


def metric_names(metrics: Metrics) -> set[str]:
    return set(metrics.metric_set)


def test_given_good_and_bad_rows_when_processed_then_chunks_are_queued_and_bad_rows_kept_with_reasons(
    splitter: UploadSplitter, queue: RecordingQueue, bucket: str, table: Any, metrics: Metrics
) -> None:
    # Given a file of 5 reviews and 1 row that is not JSON
    uploaded = upload(
        bucket, "incoming/mixed.jsonl", [*map(review, range(1, 4)), '{"text": "broken', review(4), review(5)]
    )

    # When the splitter processes it
    outcome = splitter.process_upload(uploaded)

    # Then 3 chunks of at most 2 reviews are queued, and the job waits for them
    assert (outcome.status, outcome.rows, outcome.rejected, outcome.chunks) == ("queued", 6, 1, 3)
    assert [message.review_count for message in queue.sent] == [2, 2, 1]
    job = JobStore(table).get(job_id_for(uploaded))
    assert job is not None
    assert (job.status, job.counts.total, job.counts.rejected, job.chunks_total) == (
        JobStatus.PROCESSING,
        6,
        1,
        3,
    )
    # And the bad row is kept with its reason, in the table
    [rejected] = ResultStore(table).list_rejected(outcome.job_id, limit=10).items
    assert rejected.row == 4
    assert rejected.raw_excerpt == '{"text": "broken'
    assert {"FilesProcessed", "RowsRead", "RowsRejected", "ChunksQueued"} <= metric_names(metrics)


def test_given_an_upload_two_seconds_old_when_its_job_starts_then_the_ingest_wait_is_recorded(
    splitter: UploadSplitter, bucket: str, table: Any, metrics: Metrics
) -> None:
    # Given an upload whose S3 event is two seconds old
    two_seconds_ago = iso_utc(datetime.now(UTC) - timedelta(seconds=2))
    uploaded = upload(bucket, "incoming/waited.jsonl", [review(1)]).model_copy(
        update={"uploaded_at": two_seconds_ago}
    )
    # When the splitter starts its job
    splitter.process_upload(uploaded)
    # Then the job keeps the event's time, and IngestWait says how long the upload waited, in seconds
    job = JobStore(table).require(job_id_for(uploaded))
    assert job.uploaded_at == two_seconds_ago
    [wait] = metrics.metric_set["IngestWait"]["Value"]
    assert metrics.metric_set["IngestWait"]["Unit"] == "Seconds"
    assert wait == seconds_between(two_seconds_ago, job.created_at) >= 2.0


def test_given_an_upload_without_an_event_time_when_its_job_starts_then_no_wait_is_recorded(
    splitter: UploadSplitter, bucket: str, metrics: Metrics
) -> None:
    splitter.process_upload(upload(bucket, "incoming/no-time.jsonl", [review(1)]))

    assert "IngestWait" not in metric_names(metrics)
    assert "FilesProcessed" in metric_names(metrics)


def test_given_the_queue_is_down_when_not_the_last_delivery_then_it_raises_and_the_job_stays_pending(
    splitter: UploadSplitter, queue: RecordingQueue, bucket: str, table: Any
) -> None:
    queue.down = True
    uploaded = upload(bucket, "incoming/retry.jsonl", [review(1), review(2), review(3)])

    with pytest.raises(QueueSendError):
        splitter.process_upload(uploaded, receive_count=1)

    job = JobStore(table).get(job_id_for(uploaded))
    assert job is not None
    assert job.status == JobStatus.PENDING


def test_given_the_queue_is_down_on_the_last_delivery_then_the_job_fails_with_what_to_do(
    splitter: UploadSplitter, queue: RecordingQueue, bucket: str, table: Any, metrics: Metrics
) -> None:
    queue.down = True
    uploaded = upload(bucket, "incoming/down.jsonl", [review(1)])

    outcome = splitter.process_upload(uploaded, receive_count=splitter.settings.max_receive_count)

    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("could not process incoming/down.jsonl after 3 attempts")
    job = JobStore(table).get(outcome.job_id)
    assert job is not None
    assert (job.status, job.error) == (JobStatus.FAILED, outcome.error)
    assert {"FilesFailed", "FilesGivenUp"} <= metric_names(metrics)


def test_given_a_file_already_queued_when_delivered_again_then_nothing_is_queued_twice(
    splitter: UploadSplitter, queue: RecordingQueue, bucket: str
) -> None:
    uploaded = upload(bucket, "incoming/twice.jsonl", [review(1), review(2), review(3)])
    first = splitter.process_upload(uploaded)

    again = splitter.process_upload(uploaded)

    assert (again.status, again.rows, again.chunks) == ("already_processed", first.rows, first.chunks)
    assert len(queue.sent) == first.chunks


def test_given_an_empty_file_when_processed_then_its_job_fails_saying_so(
    splitter: UploadSplitter, queue: RecordingQueue, bucket: str, table: Any
) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key="incoming/empty.jsonl", Body=b"")
    uploaded = UploadedObject(bucket=bucket, key="incoming/empty.jsonl", etag="e", sequencer="1")

    outcome = splitter.process_upload(uploaded)

    assert outcome.status == "failed"
    assert outcome.error is not None
    assert "no reviews" in outcome.error
    assert queue.sent == []
