"""Classify one processed/ chunk: read it, ask the endpoint, store the results, count the chunk once.

Order matters for crash safety: results are written (idempotent puts keyed by job and row) before the chunk
is counted (a transaction conditioned on the chunk's marker). A crash in between leaves the message on the
queue; its redelivery rewrites the same results and then counts the chunk, exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, Json

from review_pipeline.dal.chunks import ChunkReader
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import SentimentEndpoint, TooLargeReview
from review_pipeline.models import ChunkMessage, JobStatus, RejectedRow, ReviewRecord, ReviewResult

if TYPE_CHECKING:
    from review_pipeline.settings import Settings

logger = Logger(child=True)
tracer = Tracer()

TEXT_EXCERPT_CHARS = 280
RAW_EXCERPT_CHARS = 200
SECONDS_PER_DAY = 86_400


class ChunkQueueRecord(SqsRecordModel):
    """An InferenceQueue message: the SQS record, its body parsed as a ChunkMessage claim check."""

    body: Json[ChunkMessage]


class JobNotFoundError(Exception):
    """A chunk names a job that does not exist: the message is retried, then goes to the dead-letter queue."""


class ChunkOutcome(BaseModel):
    """What happened to one chunk; logged by the handler."""

    job_id: str
    chunk_index: int
    classified: int = 0
    positive: int = 0
    negative: int = 0
    rejected: int = 0
    counted: bool = False  # False: the chunk had been counted before (a redelivery) or its job had failed
    job_status: JobStatus | None = None  # the final status, when this chunk finished the job


def text_excerpt(text: str, limit: int = TEXT_EXCERPT_CHARS) -> str:
    """At most `limit` characters of the cleaned text; a cut text ends with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_results(
    job_id: str, records: list[ReviewRecord], labels: Mapping[int, tuple[str, float]], model_version: str
) -> list[ReviewResult]:
    """One ReviewResult per classified record; labels maps a record's row to (label, score)."""
    results = []
    for record in records:
        if record.row not in labels:
            continue
        label, score = labels[record.row]
        results.append(
            ReviewResult.model_validate(
                {
                    "job_id": job_id,
                    "review_id": record.review_id,
                    "row": record.row,
                    "label": label,
                    "score": score,
                    "model_version": model_version,
                    "text_excerpt": text_excerpt(record.text),
                    "movie_id": record.movie_id,
                    "rating": record.rating,
                    "given_label": record.given_label,
                }
            )
        )
    return results


@dataclass
class ChunkClassifier:
    chunks: ChunkReader
    endpoint: SentimentEndpoint
    jobs: JobStore
    results: ResultStore
    metrics: Metrics
    results_ttl_days: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> ChunkClassifier:
        table = boto3.resource("dynamodb").Table(settings.table_name)
        return cls(
            chunks=ChunkReader(boto3.client("s3")),
            endpoint=SentimentEndpoint(settings.endpoint_name, settings.max_payload_bytes),
            jobs=JobStore(table),
            results=ResultStore(table),
            metrics=metrics,
            results_ttl_days=settings.results_ttl_days,
        )

    @tracer.capture_method
    def classify(self, message: ChunkMessage) -> ChunkOutcome:
        outcome = ChunkOutcome(job_id=message.job_id, chunk_index=message.chunk_index)
        job = self.jobs.get(message.job_id)
        if job is None:
            raise JobNotFoundError(
                f"job {message.job_id} of chunk s3://{message.bucket}/{message.key} does not exist"
            )
        if job.status == JobStatus.FAILED:
            logger.info("Job already failed; chunk not classified", extra=outcome.model_dump())
            return outcome
        if self.jobs.is_chunk_recorded(message.job_id, message.chunk_index):
            # A redelivery after the counts were written: only the job's closing may be missing.
            outcome.job_status = self.jobs.finish_if_done(message.job_id)
            return outcome

        records = self.chunks.read(message.bucket, message.key)
        if len(records) != message.review_count:
            logger.warning(
                "Chunk holds a different number of reviews than its message says",
                extra={"key": message.key, "in_chunk": len(records), "in_message": message.review_count},
            )
        # The row is unique within a job (review ids given by users need not be), so it is the endpoint's id.
        answer = self.endpoint.predict([(str(record.row), record.text) for record in records])
        for latency in answer.call_latencies_ms:
            self.metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency)
        self.metrics.add_metric(
            name="EndpointCalls", unit=MetricUnit.Count, value=len(answer.call_latencies_ms)
        )

        labels = {int(p.id): (p.label, p.score) for p in answer.predictions}
        results = to_results(message.job_id, records, labels, answer.model_version)
        rejected = self._too_large_rows(records, answer.too_large)
        expiration = self._expiration()
        self.results.put_results(results, expiration=expiration)
        if rejected:
            self.results.put_rejected(message.job_id, rejected, expiration=expiration)

        outcome.classified = len(results)
        outcome.positive = sum(1 for result in results if result.label == "positive")
        outcome.negative = outcome.classified - outcome.positive
        outcome.rejected = len(rejected)
        # A chunk with nothing sent to the model (every review too large) has no version of its own.
        outcome.counted = self.jobs.record_chunk(
            message.job_id,
            message.chunk_index,
            positive=outcome.positive,
            negative=outcome.negative,
            model_version=answer.model_version or job.model_version or "unknown",
            rejected=outcome.rejected,
        )
        if outcome.counted:
            # Counted here, once per chunk, so the metrics agree with the job's counts even on redelivery.
            self.metrics.add_metric(name="ReviewsClassified", unit=MetricUnit.Count, value=outcome.classified)
            self.metrics.add_metric(name="PositiveReviews", unit=MetricUnit.Count, value=outcome.positive)
            self.metrics.add_metric(name="NegativeReviews", unit=MetricUnit.Count, value=outcome.negative)
        outcome.job_status = self.jobs.finish_if_done(message.job_id)
        return outcome

    def _too_large_rows(
        self, records: list[ReviewRecord], too_large: list[TooLargeReview]
    ) -> list[RejectedRow]:
        by_row = {str(record.row): record for record in records}
        return [
            RejectedRow(
                row=by_row[review.id].row,
                reason=review.reason,
                raw_excerpt=by_row[review.id].text[:RAW_EXCERPT_CHARS],
            )
            for review in too_large
        ]

    def _expiration(self) -> int | None:
        if not self.results_ttl_days:
            return None
        return int(time.time()) + self.results_ttl_days * SECONDS_PER_DAY


class ChunkBatchProcessor(BatchProcessor):
    """BatchProcessor that logs every failed message with why, so a chunk bound for the DLQ is explained."""

    def failure_handler(self, record: Any, exception: Any) -> Any:
        _, error, _ = exception
        message_id = getattr(record, "message_id", None) or getattr(record, "messageId", None)
        if isinstance(record, ChunkQueueRecord):
            logger.exception(
                "Chunk failed; it will be retried and, after maxReceiveCount, moved to the dead-letter queue",
                extra={"message_id": message_id, "job_id": record.body.job_id, "key": record.body.key},
                exc_info=exception,
            )
        else:
            # Model validation failed: the body is not a ChunkMessage. Retrying will not fix it, but the
            # redrive policy moves it to InferenceDeadLetterQueue where it can be inspected.
            logger.error(
                "InferenceQueue message is not a ChunkMessage; reported as failed, bound for the DLQ",
                extra={"message_id": message_id, "error": str(error)[:1000]},
            )
        return super().failure_handler(record, exception)
