"""InferenceFunction: classifies the chunks named by InferenceQueue messages (see logic/inference.py).

Each message is one chunk; a chunk that fails is reported in batchItemFailures so only it is retried,
and a message that is not a ChunkMessage is reported the same way (it ends in InferenceDeadLetterQueue).
On a chunk's last delivery a failure is not reported: its unclassified reviews become rejected rows.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from review_pipeline.logic.inference import ChunkBatchProcessor, ChunkClassifier, ChunkQueueRecord
from review_pipeline.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
classifier = ChunkClassifier.from_settings(load_settings(), metrics)
processor = ChunkBatchProcessor(event_type=EventType.SQS, model=ChunkQueueRecord)


@tracer.capture_method
def classify_record(record: ChunkQueueRecord) -> None:
    outcome = classifier.classify_record(record)
    logger.info("Chunk processed", extra=outcome.model_dump(mode="json"))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=classify_record, processor=processor, context=context
        )
    )
