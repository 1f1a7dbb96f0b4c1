"""PreprocessFunction: turns each file named by an IngestQueue message into a job and queued chunks.

The door, not the room: each SQS record's body is parsed (Powertools' S3 notification model, or S3's test
event; see review_pipeline/sqs_records.py) by the batch processor and handed to the `UploadSplitter` of
logic/preprocess.py, built on first use by `service()`. A record that raises is reported in
batchItemFailures, so only it is retried (and ends in IngestDeadLetterQueue after maxReceiveCount); a file
that cannot be read does not raise: its job is FAILED with the reason, and so is a file that still fails on
the message's last delivery.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from review_pipeline.tracing import LazyXRayProvider

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.logic.preprocess import UploadSplitter
    from review_pipeline.sqs_records import IngestQueueRecord

logger = Logger()
tracer = Tracer(provider=LazyXRayProvider(), auto_patch=False)  # X-Ray loads on first use
metrics = Metrics()


@cache
def service() -> UploadSplitter:
    """The service of this execution environment, built on the first message (not at import)."""
    # Imported here, not at the top: the service's modules (boto3, pydantic models) are most of a cold start.
    from review_pipeline.logic.preprocess import UploadSplitter
    from review_pipeline.settings import load_settings

    tracer.patch()  # before the service creates its clients, so that their calls are traced
    return UploadSplitter.from_settings(load_settings(), metrics)


@tracer.capture_method
def process_record(record: IngestQueueRecord, lambda_context: LambdaContext) -> None:
    service().handle_record(record, lambda_context)  # logs each file's outcome with its job_id and source_key


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from review_pipeline.sqs_records import ingest_processor

    return dict(
        process_partial_response(
            event=event, record_handler=process_record, processor=ingest_processor(), context=context
        )
    )
