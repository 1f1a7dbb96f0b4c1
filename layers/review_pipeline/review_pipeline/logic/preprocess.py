"""One uploaded file -> a job, processed/ chunks on the inference queue, and rejected rows with their reasons.

`UploadSplitter` does it, for each S3 record of an ingest queue message (`handle_notification`):
  1. Only ObjectCreated events for keys under the incoming prefix are files to process; S3's test event,
     folder markers and other keys are logged and skipped.
  2. The job id is derived from what identifies the upload (bucket, key, version or etag+sequencer), so a
     redelivered event names the same job. Powertools Idempotency (same table) keeps two concurrent deliveries
     from both working; the job record keeps a late redelivery from redoing a file that is already queued.
  3. The upload is planned into pieces (logic/pieces.py): a big uncompressed JSON lines object into byte
     ranges, each a PieceMessage on the ingest queue that this function reads again (`handle_record`), in
     parallel; anything else is one piece, read here. A piece is streamed: rows are parsed, validated,
     cleaned; valid reviews are written chunk by chunk, every other row is kept with its reason (rejected/
     and the table); near its time limit the piece stores a checkpoint and is continued by a new message.
  4. Only once a piece has been read whole are its chunk messages sent, and only once every piece is
     recorded is the job marked PROCESSING, so a file that breaks halfway never sends that piece's work.

A file that cannot be read (FileFormatError, object gone) fails its job with the reason and is not retried;
any other error (throttling, network, access denied) propagates so SQS redelivers the message, except on its
last delivery (ApproximateReceiveCount >= MAX_RECEIVE_COUNT, the queue's maxReceiveCount): then the job is
FAILED with the error and what to do, instead of staying PENDING while the message sits in the DLQ. Only a
message that names no file to attribute the error to still ends in the DLQ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from review_pipeline.dal.exports import export_requester
from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.dal.objects import ObjectMissingError, ObjectStore
from review_pipeline.dal.pieces import PieceStore
from review_pipeline.dal.queue import ChunkQueue
from review_pipeline.dal.results import ResultStore
from review_pipeline.logic.pieces import MessageSender, PieceOutcome, PieceReader, RemainingTime
from review_pipeline.logic.uploads import UploadedObject, give_up_message, job_id_for, uploaded_object
from review_pipeline.models import Job, JobStatus, PieceMessage, seconds_between
from review_pipeline.observability import add_rejected_row_metrics, job_log_keys
from review_pipeline.readers import FileFormatError
from review_pipeline.retries import is_last_delivery
from review_pipeline.sqs_records import IngestQueueRecord, S3Notification, S3TestEvent
from review_pipeline.trace_context import current_trace_id

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.settings import Settings

logger = Logger(child=True)
tracer = Tracer()


class FileOutcome(BaseModel):
    """What happened to one uploaded file (also the stored idempotency response)."""

    job_id: str
    # split: the upload's pieces are queued; continued: a piece goes on from its checkpoint elsewhere
    status: Literal["queued", "completed", "failed", "already_processed", "split", "continued"]
    piece: int | None = None  # the piece this outcome is about, for a piece of an upload cut into several
    pieces: int = 1
    rows: int = 0
    rejected: int = 0
    chunks: int = 0
    rejected_by_reason: dict[str, int] = {}  # observability.REJECTION_KINDS -> rows
    error: str | None = None


def idempotency_config(settings: Settings) -> IdempotencyConfig:
    """An upload (bucket, key, revision) is processed once while its record lives."""
    return IdempotencyConfig(
        event_key_jmespath="[bucket, key, revision]",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )


def piece_idempotency_config(settings: Settings) -> IdempotencyConfig:
    """A piece message (job, piece, continuation) is processed once while its record lives."""
    return IdempotencyConfig(
        event_key_jmespath="[job_id, piece, continuation]",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )


def _process_upload(
    *, upload: UploadedObject, splitter: UploadSplitter, receive_count: int = 1, context: Any = None
) -> FileOutcome:
    """The function Powertools Idempotency wraps: its module and name key the idempotency records."""
    return splitter.process_upload(upload, receive_count, context)


def _process_piece(
    *, piece: PieceMessage, splitter: UploadSplitter, receive_count: int = 1, context: Any = None
) -> FileOutcome:
    """The same for a piece message (a record of its own per job, piece and continuation)."""
    return splitter.process_piece(piece, receive_count, context)


@dataclass
class UploadSplitter:
    """PreprocessFunction's service: one uploaded file -> a job, its queued chunks and its rejected rows."""

    settings: Settings
    objects: ObjectStore
    queue: MessageSender  # the inference queue (chunk messages)
    piece_queue: MessageSender  # the ingest queue (piece and continuation messages)
    jobs: JobStore
    pieces: PieceStore
    results: ResultStore
    metrics: Metrics
    idempotency_config: IdempotencyConfig
    # `_process_upload` and `_process_piece` as Powertools Idempotency wraps them (set by from_settings);
    # None: not idempotent.
    idempotent_process_upload: Callable[..., FileOutcome] | None = None
    idempotent_process_piece: Callable[..., FileOutcome] | None = None
    piece_idempotency_config: IdempotencyConfig | None = None

    @property
    def reader(self) -> PieceReader:
        return PieceReader(
            self.settings, self.objects, self.queue, self.piece_queue, self.jobs, self.pieces, self.results
        )

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> UploadSplitter:
        """Clients get no endpoint_url: the local emulator sets AWS_ENDPOINT_URL, which boto3 honours."""
        session = boto3.session.Session()
        table = session.resource("dynamodb").Table(settings.table_name)
        config = idempotency_config(settings)
        piece_config = piece_idempotency_config(settings)
        dynamodb = session.client("dynamodb")
        # One persistence layer per idempotent function: a layer keeps the key expression it is first given.
        upload_records, piece_records = (
            DynamoDBPersistenceLayer(
                table_name=settings.table_name,
                key_attr="pk",
                sort_key_attr="sk",
                expiry_attr="expiration",
                boto3_client=dynamodb,
            )
            for _ in range(2)
        )
        sqs = session.client("sqs")
        return cls(
            settings=settings,
            objects=ObjectStore(session.client("s3")),
            queue=ChunkQueue(sqs, settings.inference_queue_url),
            piece_queue=ChunkQueue(sqs, settings.ingest_queue_url),
            jobs=JobStore(table, on_finished=export_requester(settings, session)),
            pieces=PieceStore(table),
            results=ResultStore(table),
            metrics=metrics,
            idempotency_config=config,
            idempotent_process_upload=idempotent_function(
                _process_upload,
                data_keyword_argument="upload",
                persistence_store=upload_records,
                config=config,
                output_serializer=PydanticSerializer(FileOutcome),
            ),
            piece_idempotency_config=piece_config,
            idempotent_process_piece=idempotent_function(
                _process_piece,
                data_keyword_argument="piece",
                persistence_store=piece_records,
                config=piece_config,
                output_serializer=PydanticSerializer(FileOutcome),
            ),
        )

    # -- entry points ---------------------------------------------------------------------------------------
    def handle_record(
        self, record: IngestQueueRecord, lambda_context: LambdaContext | None = None
    ) -> list[FileOutcome]:
        """Process one ingest queue message (an S3 notification or a piece), knowing which delivery it is."""
        receive_count = int(record.attributes.ApproximateReceiveCount)
        body = record.body.root
        if isinstance(body, PieceMessage):
            return [self.handle_piece(body, lambda_context, receive_count)]
        return self.handle_notification(S3Notification(body), lambda_context, receive_count=receive_count)

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
        self._register(lambda_context)
        outcomes: list[FileOutcome] = []
        for record in event.Records:
            upload = uploaded_object(record, self.settings.incoming_prefix)
            if upload is None:
                continue
            with job_log_keys(job_id_for(upload), upload.key):
                if self.idempotent_process_upload is None:
                    outcome = self.process_upload(upload, receive_count, lambda_context)
                else:
                    # Only `upload` keys the idempotency record; the other arguments are passed through.
                    outcome = self.idempotent_process_upload(
                        upload=upload, splitter=self, receive_count=receive_count, context=lambda_context
                    )
                logger.info("Uploaded file handled", extra=outcome.model_dump(mode="json"))
            outcomes.append(outcome)
        return outcomes

    @tracer.capture_method
    def handle_piece(
        self, piece: PieceMessage, lambda_context: LambdaContext | None = None, receive_count: int = 1
    ) -> FileOutcome:
        """Read one piece of an upload (or carry one on from its checkpoint), once per continuation."""
        self._register(lambda_context)
        with job_log_keys(piece.job_id, piece.key):
            if self.idempotent_process_piece is None:
                outcome = self.process_piece(piece, receive_count, lambda_context)
            else:
                outcome = self.idempotent_process_piece(
                    piece=piece, splitter=self, receive_count=receive_count, context=lambda_context
                )
            logger.info("Piece handled", extra=outcome.model_dump(mode="json"))
        return outcome

    def _register(self, lambda_context: LambdaContext | None) -> None:
        """Lets an in-progress idempotency record expire with this invocation if the function times out."""
        if lambda_context is not None:
            for config in (self.idempotency_config, self.piece_idempotency_config):
                if config is not None:
                    config.register_lambda_context(lambda_context)

    # -- one file -------------------------------------------------------------------------------------------
    def process_upload(
        self, upload: UploadedObject, receive_count: int = 1, context: RemainingTime | None = None
    ) -> FileOutcome:
        """Plan the upload into pieces: read it here when it is one piece, else queue its pieces."""
        job_id = job_id_for(upload)
        where = {"job_id": job_id, "bucket": upload.bucket, "key": upload.key}
        trace_id = current_trace_id()
        job = new_job(job_id, upload.bucket, upload.key, upload.version_id, trace_id, upload.uploaded_at)
        if self.jobs.create(job):
            self._observe_ingest_wait(job)
        elif (existing := self._existing_outcome(job_id, where)) is not None:
            return existing

        def plan_and_read() -> FileOutcome:
            pieces = self.reader.plan(job_id, upload.bucket, upload.key, upload.version_id)
            if len(pieces) == 1:
                return self._piece_outcome(job_id, pieces[0], self.reader.run(pieces[0], context))
            self.piece_queue.send(pieces)
            self._count(FilesSplit=1, PiecesQueued=len(pieces))
            return FileOutcome(job_id=job_id, status="split", pieces=len(pieces))

        return self._guarded(job_id, upload.bucket, upload.key, receive_count, plan_and_read)

    def process_piece(
        self, piece: PieceMessage, receive_count: int = 1, context: RemainingTime | None = None
    ) -> FileOutcome:
        """Read one piece of an upload on from its checkpoint (the work a PieceMessage names)."""
        return self._guarded(
            piece.job_id,
            piece.bucket,
            piece.key,
            receive_count,
            lambda: self._piece_outcome(piece.job_id, piece, self.reader.run(piece, context)),
        )

    def _guarded(
        self, job_id: str, bucket: str, key: str, receive_count: int, work: Callable[[], FileOutcome]
    ) -> FileOutcome:
        """Run the work on a file; a file that cannot be read fails its job, and so does the last delivery."""
        where = {"job_id": job_id, "bucket": bucket, "key": key}
        try:
            return work()
        except (FileFormatError, ObjectMissingError) as error:
            message = str(error)
            self.jobs.fail(job_id, message)
            self._count(FilesFailed=1)
            logger.warning(f"File cannot be processed: {message}", extra=where)
            return FileOutcome(job_id=job_id, status="failed", error=message)
        except Exception as error:
            if not is_last_delivery(receive_count, self.settings.max_receive_count):
                raise  # SQS redelivers the message; the job stays PENDING until then
            return self._give_up(bucket, key, job_id, error, receive_count)

    def _piece_outcome(self, job_id: str, piece: PieceMessage, outcome: PieceOutcome) -> FileOutcome:
        """A piece's outcome as the file's; metrics of what it read (once, when it is recorded)."""
        where = {"job_id": job_id, "key": piece.key, "piece": piece.piece, "pieces": piece.pieces}
        status: Literal["queued", "completed", "already_processed", "continued"]
        if outcome.status == "continued":
            status = "continued"
        elif outcome.status == "already_recorded":
            status = "already_processed"
        else:
            final = outcome.job_status is not None and outcome.job_status.is_final
            status = "completed" if final else "queued"
            self._count(RowsRead=outcome.rows, RowsRejected=outcome.rejected, ChunksQueued=outcome.chunks)
            add_rejected_row_metrics(self.metrics, outcome.rejected_by_reason)
            what = "File" if piece.pieces == 1 else "Piece"
            logger.info(f"{what} split into chunks", extra={**where, **outcome.model_dump(mode="json")})
        if outcome.read_whole:
            self._count(FilesProcessed=1)  # this piece was the upload's last
        return FileOutcome(
            job_id=job_id,
            status=status,
            piece=piece.piece if piece.pieces > 1 else None,
            pieces=piece.pieces,
            rows=outcome.rows,
            rejected=outcome.rejected,
            chunks=outcome.chunks,
            rejected_by_reason=outcome.rejected_by_reason,
        )

    def _existing_outcome(self, job_id: str, where: dict[str, str]) -> FileOutcome | None:
        """A redelivery's answer when an earlier delivery queued the file; None if the job must be redone."""
        existing = self.jobs.get(job_id)
        if existing is None or existing.status == JobStatus.PENDING:
            logger.info(
                "Job exists but is PENDING: an earlier attempt stopped midway; planning the file again "
                "(its pieces carry on from their checkpoints)",
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
        self, bucket: str, key: str, job_id: str, error: Exception, receive_count: int
    ) -> FileOutcome:
        """The last delivery failed too: the job is FAILED with the error and what to do, and nothing raises.

        Returning (not raising) also stores the idempotency record, which only this upload's redeliveries
        match: an upload of the key again is a new version (or etag and sequencer), hence a new job.
        """
        message = give_up_message(key, error, receive_count)
        where = {"job_id": job_id, "bucket": bucket, "key": key, "receive_count": receive_count}
        if not self.jobs.fail_if_pending(job_id, message):
            # Every chunk was queued before the error (only closing the job failed): inference finishes it.
            logger.warning("Last delivery failed after the file was queued; job left as it is", extra=where)
            return FileOutcome(job_id=job_id, status="queued", error=message)
        self._count(FilesFailed=1, FilesGivenUp=1)
        logger.exception(f"File failed on its last delivery; job FAILED: {message}", extra=where)
        return FileOutcome(job_id=job_id, status="failed", error=message)

    def _observe_ingest_wait(self, job: Job) -> None:
        """IngestWait: seconds from the S3 event to the job's start, the ingest queue's backlog as one upload
        saw it (a retried message waits longer; a job with no event time has none)."""
        if job.uploaded_at is not None:
            wait = seconds_between(job.uploaded_at, job.created_at)
            self.metrics.add_metric(name="IngestWait", unit=MetricUnit.Seconds, value=max(wait, 0.0))

    def _count(self, **counts: int) -> None:
        for name, value in counts.items():
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
