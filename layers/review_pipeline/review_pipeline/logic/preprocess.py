"""One uploaded file -> a job, processed/ chunks on the inference queue, and rejected rows with their reasons.

`UploadSplitter` does it, for each S3 record of an ingest queue message (`handle_notification`):
  1. Only ObjectCreated events for keys under the incoming prefix are files to process; S3's test event,
     folder markers and other keys are logged and skipped.
  2. The job id is derived from what identifies the upload (bucket, key, version or etag+sequencer), so a
     redelivered event names the same job. Powertools Idempotency (same table) keeps two concurrent deliveries
     from both working; the job record keeps a late redelivery from redoing a file that is already queued.
  3. The object is streamed: rows are parsed, validated, cleaned; valid reviews are written chunk by chunk,
     every other row is kept with its reason (rejected/<job_id>/rejected.jsonl and the table).
  4. Only once the whole file has been read are the chunk messages sent and the job marked PROCESSING, so a
     file that breaks halfway never sends work for a job that then fails.

A file that cannot be read (FileFormatError, object gone) fails its job with the reason and is not retried;
any other error (throttling, network, access denied) propagates so SQS redelivers the message, except on its
last delivery (ApproximateReceiveCount >= MAX_RECEIVE_COUNT, the queue's maxReceiveCount): then the job is
FAILED with the error and what to do, instead of staying PENDING while the message sits in the DLQ. Only a
message that names no file to attribute the error to still ends in the DLQ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel, computed_field

from review_pipeline.chunking import chunk_body, chunk_key, chunked
from review_pipeline.dal.exports import export_requester
from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.dal.objects import ObjectMissingError, ObjectStore
from review_pipeline.dal.queue import ChunkQueue
from review_pipeline.dal.results import ResultStore, expiration_after
from review_pipeline.logic.validation import RowValidator, accepted_reviews
from review_pipeline.models import ChunkMessage, JobStatus
from review_pipeline.observability import add_rejected_row_metrics, job_log_keys
from review_pipeline.readers import DEFAULT_MAX_LINE_BYTES, FileFormatError, read_rows
from review_pipeline.readers.context import InputReport
from review_pipeline.readers.formats import supported_formats_sentence
from review_pipeline.rejections import RejectedRowsFile, rejected_file_key
from review_pipeline.retries import describe_error, error_code, is_last_delivery
from review_pipeline.sqs_records import IngestQueueRecord, S3Notification, S3TestEvent
from review_pipeline.trace_context import current_trace_id

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.parser.models import S3RecordModel
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.settings import Settings

logger = Logger(child=True)
tracer = Tracer()

JOB_ID_HEX_CHARS = 20
_JSONL = "application/x-ndjson"
# Codes of errors a policy or permission causes (moto answers a bucket policy's deny with a bare 403).
_ACCESS_CODES = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "403"}


class UploadedObject(BaseModel):
    """One upload, as the event names it (key URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def revision(self) -> str:
        """What tells this upload of the key from another: its version, else its etag and event sequencer."""
        if self.version_id:
            return f"version:{self.version_id}"
        return f"etag:{self.etag or ''}:{self.sequencer or ''}"


class FileOutcome(BaseModel):
    """What happened to one uploaded file (also the stored idempotency response)."""

    job_id: str
    status: Literal["queued", "completed", "failed", "already_processed"]
    rows: int = 0
    rejected: int = 0
    chunks: int = 0
    rejected_by_reason: dict[str, int] = {}  # observability.REJECTION_KINDS -> rows
    error: str | None = None


def job_id_for(upload: UploadedObject) -> str:
    """Deterministic job id: the same upload (even delivered twice) always gets the same id."""
    identity = "\n".join((upload.bucket, upload.key, upload.revision))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:JOB_ID_HEX_CHARS]


def uploaded_object(record: S3RecordModel, incoming_prefix: str) -> UploadedObject | None:
    """The upload an S3 record names, or None (logged) when the record is not a file to process."""
    s3_object = record.s3.object
    where = {"bucket": record.s3.bucket.name, "event_name": record.eventName}
    if s3_object is None or not record.eventName.startswith("ObjectCreated"):
        logger.info("Ignoring S3 event: not an upload", extra=where)
        return None
    key = unquote_plus(s3_object.key)  # S3 event keys are URL-encoded, with '+' for spaces
    where["key"] = key
    if not key.startswith(incoming_prefix):
        logger.info(f"Ignoring S3 event: key is outside {incoming_prefix}", extra=where)
        return None
    if key.endswith("/"):
        logger.info("Ignoring S3 event: folder marker, not a file", extra=where)
        return None
    return UploadedObject(
        bucket=record.s3.bucket.name,
        key=key,
        version_id=s3_object.versionId,
        etag=s3_object.eTag,
        sequencer=s3_object.sequencer,
    )


def give_up_message(key: str, error: Exception, attempts: int) -> str:
    """What failed, how often, and what the uploader (or the operator) can do about it."""
    code = error_code(error)
    if code in _ACCESS_CODES:
        advice = (
            "access was denied: check the bucket policy (and the KMS key, if any) lets the "
            "PreprocessFunction read incoming/ and write processed/ and rejected/, then upload the file again"
        )
    elif code == "InvalidObjectState":
        advice = (
            "the object is archived (e.g. the GLACIER storage class): upload it again with the STANDARD "
            "storage class"
        )
    else:
        advice = "upload the file again; if it keeps failing, the PreprocessFunction logs have the details"
    return f"could not process {key} after {attempts} attempts ({describe_error(error)}); {advice}"


def idempotency_config(settings: Settings) -> IdempotencyConfig:
    """An upload (bucket, key, revision) is processed once while its record lives."""
    return IdempotencyConfig(
        event_key_jmespath="[bucket, key, revision]",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )


def _process_upload(
    *, upload: UploadedObject, splitter: UploadSplitter, receive_count: int = 1
) -> FileOutcome:
    """The function Powertools Idempotency wraps: its module and name key the idempotency records."""
    return splitter.process_upload(upload, receive_count)


@dataclass
class UploadSplitter:
    """PreprocessFunction's service: one uploaded file -> a job, its queued chunks and its rejected rows."""

    settings: Settings
    objects: ObjectStore
    queue: ChunkQueue
    jobs: JobStore
    results: ResultStore
    metrics: Metrics
    idempotency_config: IdempotencyConfig
    # `_process_upload` as Powertools Idempotency wraps it (set by from_settings); None: not idempotent.
    idempotent_process_upload: Callable[..., FileOutcome] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> UploadSplitter:
        """Clients get no endpoint_url: the local emulator sets AWS_ENDPOINT_URL, which boto3 honours."""
        session = boto3.session.Session()
        table = session.resource("dynamodb").Table(settings.table_name)
        config = idempotency_config(settings)
        persistence = DynamoDBPersistenceLayer(
            table_name=settings.table_name,
            key_attr="pk",
            sort_key_attr="sk",
            expiry_attr="expiration",
            boto3_client=session.client("dynamodb"),
        )
        return cls(
            settings=settings,
            objects=ObjectStore(session.client("s3")),
            queue=ChunkQueue(session.client("sqs"), settings.inference_queue_url),
            jobs=JobStore(table, on_finished=export_requester(settings, session)),
            results=ResultStore(table),
            metrics=metrics,
            idempotency_config=config,
            idempotent_process_upload=idempotent_function(
                _process_upload,
                data_keyword_argument="upload",
                persistence_store=persistence,
                config=config,
                output_serializer=PydanticSerializer(FileOutcome),
            ),
        )

    # -- entry points ---------------------------------------------------------------------------------------
    def handle_record(
        self, record: IngestQueueRecord, lambda_context: LambdaContext | None = None
    ) -> list[FileOutcome]:
        """Process the files of one ingest queue message, knowing which delivery of the message this is."""
        receive_count = int(record.attributes.ApproximateReceiveCount)
        return self.handle_notification(record.body, lambda_context, receive_count=receive_count)

    @tracer.capture_method
    def handle_notification(
        self,
        notification: S3Notification,
        lambda_context: LambdaContext | None = None,
        receive_count: int = 1,
    ) -> list[FileOutcome]:
        """Process every uploaded file an ingest queue message names; what happened to each.

        `receive_count` is the message's ApproximateReceiveCount: on its last delivery a file that fails with
        an unexpected error fails its job instead of raising.
        """
        event = notification.root
        if isinstance(event, S3TestEvent):
            logger.info(
                "Ignoring S3 test event (sent when the bucket notification is configured)",
                extra={"bucket": event.Bucket},
            )
            return []
        if lambda_context is not None:
            # Lets an in-progress idempotency record expire with this invocation if the function times out.
            self.idempotency_config.register_lambda_context(lambda_context)
        outcomes: list[FileOutcome] = []
        for record in event.Records:
            upload = uploaded_object(record, self.settings.incoming_prefix)
            if upload is None:
                continue
            with job_log_keys(job_id_for(upload), upload.key):
                if self.idempotent_process_upload is None:
                    outcome = self.process_upload(upload, receive_count)
                else:
                    # Only `upload` keys the idempotency record; the other arguments are passed through.
                    outcome = self.idempotent_process_upload(
                        upload=upload, splitter=self, receive_count=receive_count
                    )
                logger.info("Uploaded file handled", extra=outcome.model_dump(mode="json"))
            outcomes.append(outcome)
        return outcomes

    # -- one file -------------------------------------------------------------------------------------------
    def process_upload(self, upload: UploadedObject, receive_count: int = 1) -> FileOutcome:
        job_id = job_id_for(upload)
        where = {"job_id": job_id, "bucket": upload.bucket, "key": upload.key}
        if not self.jobs.create(
            new_job(job_id, upload.bucket, upload.key, upload.version_id, current_trace_id())
        ):
            existing = self._existing_outcome(job_id, where)
            if existing is not None:
                return existing
        try:
            outcome = self._split_file(upload, job_id)
        except (FileFormatError, ObjectMissingError) as error:
            message = str(error)
            self.jobs.fail(job_id, message)
            self._count(FilesFailed=1)
            logger.warning(f"File cannot be processed: {message}", extra=where)
            return FileOutcome(job_id=job_id, status="failed", error=message)
        except Exception as error:
            if not is_last_delivery(receive_count, self.settings.max_receive_count):
                raise  # SQS redelivers the message; the job stays PENDING until then
            return self._give_up(upload, job_id, error, receive_count)
        self._count(
            FilesProcessed=1,
            RowsRead=outcome.rows,
            RowsRejected=outcome.rejected,
            ChunksQueued=outcome.chunks,
        )
        add_rejected_row_metrics(self.metrics, outcome.rejected_by_reason)
        logger.info(
            "File split into chunks", extra={**where, **outcome.model_dump(exclude={"job_id", "error"})}
        )
        return outcome

    def _existing_outcome(self, job_id: str, where: dict[str, str]) -> FileOutcome | None:
        """A redelivery's answer when an earlier delivery queued the file; None if the job must be redone."""
        existing = self.jobs.get(job_id)
        if existing is None or existing.status == JobStatus.PENDING:
            logger.info(
                "Job exists but is PENDING: an earlier attempt stopped midway; reading the file again",
                extra=where,
            )
            return None
        # Every chunk was queued by an earlier delivery; only closing the job may be left to do.
        if existing.status == JobStatus.PROCESSING:
            self.jobs.finish_if_done(job_id)
        logger.info(f"Duplicate delivery: job is already {existing.status.value}", extra=where)
        return FileOutcome(
            job_id=job_id,
            status="already_processed",
            rows=existing.counts.total,
            rejected=existing.counts.rejected,
            chunks=existing.chunks_total,
            error=existing.error,
        )

    def _give_up(
        self, upload: UploadedObject, job_id: str, error: Exception, receive_count: int
    ) -> FileOutcome:
        """The last delivery failed too: the job is FAILED with the error and what to do, and nothing raises.

        Returning (not raising) also stores the idempotency record, which only this upload's redeliveries
        match: an upload of the key again is a new version (or etag and sequencer), hence a new job.
        """
        message = give_up_message(upload.key, error, receive_count)
        where = {"job_id": job_id, "bucket": upload.bucket, "key": upload.key, "receive_count": receive_count}
        if not self.jobs.fail_if_pending(job_id, message):
            # Every chunk was queued before the error (only closing the job failed): inference finishes it.
            logger.warning("Last delivery failed after the file was queued; job left as it is", extra=where)
            return FileOutcome(job_id=job_id, status="queued", error=message)
        self._count(FilesFailed=1, FilesGivenUp=1)
        logger.exception(f"File failed on its last delivery; job FAILED: {message}", extra=where)
        return FileOutcome(job_id=job_id, status="failed", error=message)

    @tracer.capture_method
    def _split_file(self, upload: UploadedObject, job_id: str) -> FileOutcome:
        settings = self.settings
        report = InputReport()
        with RejectedRowsFile() as rejections:
            messages = self._write_chunks(upload, job_id, rejections, report)
            rejections.store(
                job_id,
                results=self.results,
                objects=self.objects,
                bucket=settings.bucket_name,
                key=rejected_file_key(settings.rejected_prefix, job_id, "rejected.jsonl"),
                expiration=expiration_after(settings.results_ttl_days),
            )
        total = rejections.count + sum(message.review_count for message in messages)
        self.jobs.record_input(job_id, report.summary())
        self.queue.send(messages)
        self.jobs.mark_processing(job_id, total=total, rejected=rejections.count, chunks_total=len(messages))
        final = self.jobs.finish_if_done(job_id)  # a file without valid rows has no chunk to wait for
        return FileOutcome(
            job_id=job_id,
            status="completed" if final is not None else "queued",
            rows=total,
            rejected=rejections.count,
            chunks=len(messages),
            rejected_by_reason=dict(rejections.by_kind),
        )

    def _write_chunks(
        self, upload: UploadedObject, job_id: str, rejections: RejectedRowsFile, report: InputReport
    ) -> list[ChunkMessage]:
        """Stream the file into processed/ chunks; the message of each. A file that fails leaves no chunk."""
        settings = self.settings
        validator = RowValidator(settings.max_text_chars)
        max_line_bytes = max(DEFAULT_MAX_LINE_BYTES, 8 * settings.max_text_chars)
        messages: list[ChunkMessage] = []
        try:
            with closing(self.objects.open(upload.bucket, upload.key, upload.version_id)) as body:
                rows = read_rows(body, upload.key, max_line_bytes, report)
                for index, records in chunked(
                    accepted_reviews(rows, validator, rejections), settings.chunk_size
                ):
                    key = chunk_key(settings.processed_prefix, job_id, index)
                    self.objects.put_bytes(settings.bucket_name, key, chunk_body(records), _JSONL)
                    messages.append(
                        ChunkMessage(
                            job_id=job_id,
                            bucket=settings.bucket_name,
                            key=key,
                            chunk_index=index,
                            review_count=len(records),
                            source_key=upload.key,
                        )
                    )
            if not messages and not rejections.count:
                raise FileFormatError(report.no_rows_message(upload.key, supported_formats_sentence()))
        except FileFormatError:
            # Chunks of a file that fails are never queued; do not leave them behind.
            self.objects.delete(settings.bucket_name, [message.key for message in messages])
            raise
        return messages

    def _count(self, **counts: int) -> None:
        for name, value in counts.items():
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
