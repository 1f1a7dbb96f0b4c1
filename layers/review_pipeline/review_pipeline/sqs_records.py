"""What the SQS functions receive: Powertools record models and the batch processors that parse them.

One place for every queue, so the SQS functions read their batches the same way: `IngestQueueRecord` (an S3
notification, S3's test event, or a PieceMessage) for IngestQueue, `ChunkQueueRecord` (a ChunkMessage claim
check) for InferenceQueue, `ExportQueueRecord` (a finished job's id, or the next part of its export) for
ExportQueue; `ingest_processor()`, `chunk_processor()` and `export_processor()` build the processors their
handlers hand to `process_partial_response`. Each record is handled inside the trace its message carries, in
a subsegment annotated with it (trace_context.py).
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.parser.models import S3Model, SqsRecordModel
from pydantic import BaseModel, ConfigDict, Json, RootModel

from review_pipeline.models import ChunkMessage, ExportContinuation, PieceMessage
from review_pipeline.trace_context import following_trace, record_subsegment

logger = Logger(child=True)


class S3TestEvent(BaseModel):
    """What S3 sends once when a notification configuration is saved; not an upload."""

    model_config = ConfigDict(extra="ignore")

    Event: Literal["s3:TestEvent"]
    Service: str | None = None
    Bucket: str | None = None


class S3Notification(RootModel[S3Model | S3TestEvent]):
    """The body of an ingest queue message: an S3 event notification (Powertools' model) or S3's test
    event."""


class IngestMessage(RootModel[S3Model | S3TestEvent | PieceMessage]):
    """The body of an ingest queue message: what S3 sends, or a piece of an upload that preprocess sent."""


class IngestQueueRecord(SqsRecordModel):
    """An SQS record whose body (a JSON string) is parsed by the batch processor: an S3 notification, or a
    PieceMessage (a piece of a big upload, or the continuation of one from its checkpoint)."""

    body: Json[IngestMessage]


class ChunkQueueRecord(SqsRecordModel):
    """An InferenceQueue message: the SQS record, its body parsed as a ChunkMessage claim check."""

    body: Json[ChunkMessage]


class ExportRequest(BaseModel):
    """An ExportQueue message: a job that has just finished, or the next part of its export."""

    job_id: str
    continuation: ExportContinuation | None = None


class ExportQueueRecord(SqsRecordModel):
    body: Json[ExportRequest]


class TracedBatchProcessor(BatchProcessor):
    """BatchProcessor that handles each record inside its message's trace (its AWSTraceHeader attribute), in
    an X-Ray subsegment annotated with that trace (and, once known, its job's id and file)."""

    def _process_record(self, record: dict[str, Any]) -> Any:
        header = (record.get("attributes") or {}).get("AWSTraceHeader")
        with following_trace(header), record_subsegment():
            return super()._process_record(record)


class ChunkBatchProcessor(TracedBatchProcessor):
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


def ingest_processor() -> BatchProcessor:
    """IngestQueue batches: each record's body parsed as an S3 notification."""
    return TracedBatchProcessor(event_type=EventType.SQS, model=IngestQueueRecord)


def chunk_processor() -> ChunkBatchProcessor:
    """InferenceQueue batches: each record's body parsed as a ChunkMessage; failures logged with why."""
    return ChunkBatchProcessor(event_type=EventType.SQS, model=ChunkQueueRecord)


def export_processor() -> BatchProcessor:
    """ExportQueue batches: each record's body parsed as an ExportRequest."""
    return TracedBatchProcessor(event_type=EventType.SQS, model=ExportQueueRecord)
