"""PreprocessFunction: turns each file named by an IngestQueue message into a job and queued chunks.

The door, not the room: each SQS record's body is parsed (Powertools' S3 notification model, or S3's test
event) by the batch processor and handed to `logic.preprocess.handle_ingest_record`. A record that raises is
reported in batchItemFailures, so only it is retried (and ends in IngestDeadLetterQueue after
maxReceiveCount); a file that cannot be read does not raise: its job is FAILED with the reason, and so is a
file that still fails on the message's last delivery.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from review_pipeline.logic.preprocess import IngestQueueRecord, handle_ingest_record

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, model=IngestQueueRecord)


@tracer.capture_method
def process_record(record: IngestQueueRecord, lambda_context: LambdaContext) -> None:
    outcomes = handle_ingest_record(record, lambda_context)
    for outcome in outcomes:
        logger.info("Uploaded file handled", extra=outcome.model_dump(mode="json"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=process_record, processor=processor, context=context
        )
    )
