"""InferenceFunction: classifies the chunks named by InferenceQueue messages (see logic/inference.py).

Each message is one chunk, parsed by the batch processor of review_pipeline/sqs_records.py and handed to the
`ChunkClassifier` built on first use by `service()`. A chunk that fails is reported in
batchItemFailures so only it is retried, and a message that is not a ChunkMessage is reported the same way (it
ends in InferenceDeadLetterQueue). On a chunk's last delivery a failure is not reported: its unclassified
reviews become rejected rows.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from review_pipeline.tracing import LazyXRayProvider

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.logic.inference import ChunkClassifier
    from review_pipeline.sqs_records import ChunkQueueRecord

logger = Logger()
tracer = Tracer(provider=LazyXRayProvider(), auto_patch=False)  # X-Ray loads on first use
metrics = Metrics()


@cache
def service() -> ChunkClassifier:
    """The service of this execution environment, built on the first message (not at import)."""
    # Imported here, not at the top: the service's modules (boto3, pydantic models) are most of a cold start.
    from review_pipeline.logic.inference import ChunkClassifier
    from review_pipeline.settings import load_settings

    tracer.patch()  # before the service creates its clients, so that their calls are traced
    return ChunkClassifier.from_settings(load_settings(), metrics)


@tracer.capture_method
def classify_record(record: ChunkQueueRecord) -> None:
    service().classify_record(record)  # logs the chunk's outcome with its job_id and source_key


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from review_pipeline.sqs_records import chunk_processor

    return dict(
        process_partial_response(
            event=event, record_handler=classify_record, processor=chunk_processor(), context=context
        )
    )
