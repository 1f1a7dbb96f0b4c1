"""Classify one processed/ chunk: read it, ask the endpoint, store the results, count the chunk once.

Order matters for crash safety: results are written (idempotent puts keyed by job and row) before the chunk
is counted (a transaction conditioned on the chunk's marker). A crash in between leaves the message on the
queue; its redelivery rewrites the same results and then counts the chunk, exactly once.

A chunk that fails (endpoint down or throttled beyond its retries, any unexpected error) raises, so SQS
redelivers it; on its last delivery (ApproximateReceiveCount >= MAX_RECEIVE_COUNT, the queue's
maxReceiveCount) it is given up instead: every review without a result becomes a rejected row saying what
happened and what to do, the chunk is counted with them, and the job can finish (COMPLETED_WITH_ERRORS)
rather than wait forever for a message in the dead-letter queue. Rejected reviews of a chunk are also
written to rejected/<job_id>/chunk-<n:05d>.jsonl, in the line format of preprocess's rejected.jsonl.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from review_pipeline.chunking import chunk_key
from review_pipeline.dal.chunks import ChunkReader, ChunkUnreadableError
from review_pipeline.dal.exports import export_requester
from review_pipeline.dal.jobs import ChunkCounts, JobNotFoundError, JobStore
from review_pipeline.dal.objects import ObjectStore
from review_pipeline.dal.results import ResultStore, expiration_after
from review_pipeline.endpoint import (
    EndpointError,
    EndpointInstance,
    SentimentEndpoint,
    TooLargeReview,
    add_endpoint_metrics,
    plan_requests,
)
from review_pipeline.models import ChunkMessage, JobStatus, Prediction, ReviewRecord, ReviewResult
from review_pipeline.observability import (
    add_batch_size_metric,
    add_positive_share_metric,
    add_rejected_row_metrics,
    job_log_keys,
)
from review_pipeline.rejections import RejectedRowsFile
from review_pipeline.retries import describe_error, is_last_delivery

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from review_pipeline.settings import Settings
    from review_pipeline.sqs_records import ChunkQueueRecord

logger = Logger(child=True)
tracer = Tracer()

# Enough to recognise a review in a listing; the full text stays in its processed/ chunk (for explanations,
# ProcessedChunkExpirationDays) and in the upload. Was 280: each stored character costs DynamoDB storage and
# CloudFront transfer on every read (docs/benchmarks.md, cost).
TEXT_EXCERPT_CHARS = 120
# Reviews per InvokeEndpoint call for a chunk. One call for the whole chunk (500 reviews) left nothing to
# write while the model scored, and nothing to score while the results were written; calls of 100 let the
# results of one call be stored while the next is scored. 100 is also where the model serves most reviews
# per CPU-second (docs/benchmarks.md, model serving); each call adds a few milliseconds of overhead.
REVIEWS_PER_CALL = 100
# The first call is smaller: until it answers there is nothing to store, and storing is the slower half (a
# chunk's writes outlast its scoring). With a first call of 25 the first answer came 27 ms after the chunk was
# read instead of 55 (medians of 40 invocations each, 5,000-review uploads on the emulator, 2026-12-01).
FIRST_CALL_REVIEWS = 25
# The fields a review keeps from its record into its result (the text is kept as an excerpt instead).
_CARRIED_FIELDS = (set(ReviewRecord.model_fields) & set(ReviewResult.model_fields)) - {"text"}


class ChunkOutcome(BaseModel):
    """What happened to one chunk; logged by the handler."""

    job_id: str
    chunk_index: int
    classified: int = 0
    positive: int = 0
    negative: int = 0
    uncertain: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = {}  # observability.REJECTION_KINDS -> reviews
    counted: bool = False  # False: the chunk had been counted before (a redelivery) or its job had failed
    job_status: JobStatus | None = None  # the final status, when this chunk finished the job
    given_up: bool = False  # True: the last delivery failed too; unclassified reviews were rejected


def text_excerpt(text: str, limit: int = TEXT_EXCERPT_CHARS) -> str:
    """At most `limit` characters of the cleaned text; a cut text ends with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_classified_reason(error: Exception, attempts: int) -> str:
    """The reason of a review whose chunk failed on every delivery: what happened and what to do."""
    what = "the sentiment endpoint" if isinstance(error, EndpointError) else "classifying its chunk"
    return (
        f"not classified: {what} failed {attempts} times ({describe_error(error)}); "
        "upload the file again to retry"
    )


def to_results(
    job_id: str,
    records: list[ReviewRecord],
    predictions: Mapping[int, Prediction],
    model_version: str,
    chunk_index: int | None = None,
) -> list[ReviewResult]:
    """One ReviewResult per classified record; predictions maps a record's row to the endpoint's answer.

    chunk_index is the chunk the records were read from: where each result's full text stays.
    """
    results = []
    for record in records:
        prediction = predictions.get(record.row)
        if prediction is None:
            continue
        results.append(
            ReviewResult.model_validate(
                {
                    # What the review carries through (review_id, row, movie_id, rating, given_label, and any
                    # field added to both models), then what classifying it added.
                    **record.model_dump(include=_CARRIED_FIELDS),
                    "job_id": job_id,
                    "label": prediction.label,
                    "score": prediction.score,
                    "uncertain": prediction.uncertain,
                    "model_version": model_version,
                    "text_excerpt": text_excerpt(record.text),
                    "chunk_index": chunk_index,
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
    objects: ObjectStore
    metrics: Metrics
    bucket_name: str  # where rejected/ files are written (the pipeline's bucket)
    rejected_prefix: str = "rejected/"
    max_receive_count: int = 3  # the inference queue's maxReceiveCount
    results_ttl_days: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> ChunkClassifier:
        table = boto3.resource("dynamodb").Table(settings.table_name)
        s3 = boto3.client("s3")
        return cls(
            chunks=ChunkReader(s3),
            endpoint=SentimentEndpoint(settings.endpoint_name, settings.max_payload_bytes),
            jobs=JobStore(table, on_finished=export_requester(settings)),
            results=ResultStore(table),
            objects=ObjectStore(s3),
            metrics=metrics,
            bucket_name=settings.bucket_name,
            rejected_prefix=settings.rejected_prefix,
            max_receive_count=settings.max_receive_count,
            results_ttl_days=settings.results_ttl_days,
        )

    def classify_record(self, record: ChunkQueueRecord) -> ChunkOutcome:
        """Classify the chunk an InferenceQueue message names, knowing which delivery of it this is; every log
        line meanwhile carries the job's id and its uploaded file's key."""
        message = record.body
        # A message queued before chunks named their file: the job knows it.
        job = None if message.source_key else self.jobs.get(message.job_id)
        source_key = message.source_key or (job.source_key if job else "")
        with job_log_keys(message.job_id, source_key):
            outcome = self.classify(message, receive_count=int(record.attributes.ApproximateReceiveCount))
            logger.info("Chunk processed", extra=outcome.model_dump(mode="json"))
        return outcome

    @tracer.capture_method
    def classify(self, message: ChunkMessage, receive_count: int = 1) -> ChunkOutcome:
        """Classify one chunk; a failure raises (SQS retries), except on the message's last delivery."""
        try:
            return self._classify(message)
        except JobNotFoundError:
            raise  # no job to attribute the reviews to: the dead-letter queue keeps the message
        except Exception as error:
            if not is_last_delivery(receive_count, self.max_receive_count):
                raise
            return self._give_up(message, error, receive_count)

    def _classify(self, message: ChunkMessage) -> ChunkOutcome:
        outcome = ChunkOutcome(job_id=message.job_id, chunk_index=message.chunk_index)
        job = self.jobs.require(
            message.job_id,
            f"job {message.job_id} of chunk s3://{message.bucket}/{message.key} does not exist",
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
        add_batch_size_metric(self.metrics, len(records))
        results, too_large, model_version = self._classify_and_store(message, records)
        with RejectedRowsFile() as rejected:
            self._add_too_large(rejected, records, too_large)
            self._store_rejected(message, rejected)
        # A chunk with nothing sent to the model (every review too large) has no version of its own.
        return self._settle(outcome, results, rejected, model_version or job.model_version)

    def _classify_and_store(
        self, message: ChunkMessage, records: list[ReviewRecord]
    ) -> tuple[list[ReviewResult], list[TooLargeReview], str]:
        """Ask the endpoint one call at a time and store each call's results while the next is scored; every
        result is stored when this returns. The row is unique within a job (review ids given by users need
        not be), so it is the endpoint's id."""
        by_row = {record.row: record for record in records}
        results: list[ReviewResult] = []
        too_large: list[TooLargeReview] = []
        model_version = ""
        parts = self.endpoint.predict_parts(
            [(str(record.row), record.text) for record in records],
            max_per_call=REVIEWS_PER_CALL,
            first_call=FIRST_CALL_REVIEWS,
        )
        with self.results.writing(expiration_after(self.results_ttl_days)) as writer:
            for answer in parts:
                add_endpoint_metrics(self.metrics, answer)
                predictions = {int(p.id): p for p in answer.predictions}
                part = to_results(
                    message.job_id,
                    [by_row[row] for row in predictions],
                    predictions,
                    answer.model_version,
                    message.chunk_index,
                )
                writer.write(part)
                results += part
                too_large += answer.too_large
                model_version = answer.model_version or model_version
        return results, too_large, model_version

    def _give_up(self, message: ChunkMessage, error: Exception, receive_count: int) -> ChunkOutcome:
        """The last delivery failed too: reject what has no result, count the chunk once, close the job.

        Any error in here raises (with the original as its context): the message then goes to the
        dead-letter queue, as it would have without this.
        """
        outcome = ChunkOutcome(job_id=message.job_id, chunk_index=message.chunk_index, given_up=True)
        where = {**outcome.model_dump(include={"job_id", "chunk_index"}), "receive_count": receive_count}
        if self.jobs.is_chunk_recorded(message.job_id, message.chunk_index):
            # Counted by an earlier delivery; what failed came after (closing the job), nothing to reject.
            outcome.job_status = self.jobs.finish_if_done(message.job_id)
            return outcome
        try:
            records = self.chunks.read(message.bucket, message.key)
        except ChunkUnreadableError as unreadable:
            return self._fail_job(message, outcome, unreadable, receive_count)
        # An earlier delivery may have stored some results before it failed: those reviews are classified.
        stored = self.results.results_of_rows(message.job_id, [record.row for record in records])
        classified = {result.row for result in stored}
        pending = [record for record in records if record.row not in classified]
        reason = not_classified_reason(error, receive_count)
        # Reviews the endpoint could never take keep that reason: uploading them again would not help.
        _, too_large = plan_requests(
            [EndpointInstance(id=str(record.row), text=record.text) for record in pending],
            explain=False,
            max_payload_bytes=self.endpoint.max_payload_bytes,
        )
        never_sendable = {review.id: review.reason for review in too_large}
        with RejectedRowsFile() as rejected:
            for record in pending:
                if str(record.row) in never_sendable:
                    kind, why = "too_large_for_endpoint", never_sendable[str(record.row)]
                else:
                    kind, why = "not_classified", reason
                rejected.add(record.row, why, record.text, kind)
            self._store_rejected(message, rejected)

        job = self.jobs.get(message.job_id)
        model_version = next((result.model_version for result in stored), None)
        self._settle(outcome, stored, rejected, model_version or (job.model_version if job else None))
        logger.exception(
            "Chunk failed on its last delivery: its unclassified reviews are rejected with the reason",
            extra={**where, "rejected": outcome.rejected, "reason": reason},
        )
        return outcome

    def _fail_job(
        self, message: ChunkMessage, outcome: ChunkOutcome, error: ChunkUnreadableError, receive_count: int
    ) -> ChunkOutcome:
        """The chunk itself cannot be read, so its reviews cannot be named: the job fails with the reason."""
        self.jobs.fail(
            message.job_id,
            f"{message.review_count} reviews (chunk {message.chunk_index}) were not classified after "
            f"{receive_count} attempts: {error}; upload the file again",
        )
        self.metrics.add_metric(name="ChunksGivenUp", unit=MetricUnit.Count, value=1)
        logger.exception(
            "Chunk unreadable on its last delivery: job FAILED",
            extra={"job_id": message.job_id, "key": message.key, "receive_count": receive_count},
        )
        outcome.job_status = JobStatus.FAILED
        return outcome

    def _add_too_large(
        self, rejected: RejectedRowsFile, records: list[ReviewRecord], too_large: list[TooLargeReview]
    ) -> None:
        by_row = {str(record.row): record for record in records}
        for review in too_large:
            rejected.add(
                by_row[review.id].row, review.reason, by_row[review.id].text, "too_large_for_endpoint"
            )

    def _settle(
        self,
        outcome: ChunkOutcome,
        results: Sequence[ReviewResult],
        rejected: RejectedRowsFile,
        model_version: str | None,
    ) -> ChunkOutcome:
        """Count the chunk once (its results and rejected reviews), its metrics with it; close the job."""
        outcome.classified = len(results)
        outcome.positive = sum(1 for result in results if result.label == "positive")
        outcome.negative = outcome.classified - outcome.positive
        outcome.uncertain = sum(1 for result in results if result.uncertain)
        outcome.rejected = rejected.count
        outcome.rejected_by_reason = dict(rejected.by_kind)
        counts = ChunkCounts(
            positive=outcome.positive,
            negative=outcome.negative,
            uncertain=outcome.uncertain,
            model_version=model_version or "unknown",
            rejected=rejected.count,
        )
        outcome.counted = self.jobs.record_chunk(outcome.job_id, outcome.chunk_index, counts)
        if outcome.counted:
            # Counted here, once per chunk, so the metrics agree with the job's counts even on redelivery.
            if outcome.given_up:
                self.metrics.add_metric(name="ChunksGivenUp", unit=MetricUnit.Count, value=1)
            self.metrics.add_metric(name="ReviewsClassified", unit=MetricUnit.Count, value=outcome.classified)
            self.metrics.add_metric(name="PositiveReviews", unit=MetricUnit.Count, value=outcome.positive)
            self.metrics.add_metric(name="NegativeReviews", unit=MetricUnit.Count, value=outcome.negative)
            add_rejected_row_metrics(self.metrics, outcome.rejected_by_reason)
        outcome.job_status = self.jobs.finish_if_done(outcome.job_id)
        finished = self.jobs.get(outcome.job_id) if outcome.job_status is not None else None
        if finished is not None:  # this chunk closed the job: its share of positive reviews, once per job
            add_positive_share_metric(self.metrics, finished)
        return outcome

    def _store_rejected(self, message: ChunkMessage, rejected: RejectedRowsFile) -> None:
        """Rejected reviews of a chunk: in the table, and as rejected/<job_id>/chunk-<n:05d>.jsonl (named like
        the chunk it comes from, same scheme as processed/, under the rejected prefix)."""
        rejected.store(
            message.job_id,
            results=self.results,
            objects=self.objects,
            bucket=self.bucket_name,
            key=chunk_key(self.rejected_prefix, message.job_id, message.chunk_index),
            expiration=expiration_after(self.results_ttl_days),
        )
