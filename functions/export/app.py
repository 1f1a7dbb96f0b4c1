"""ExportFunction: writes a finished job's every row to results/<job_id>/ (see logic/export.py).

Each ExportQueue message names one finished job. A failed export is reported in batchItemFailures, retried,
and after maxReceiveCount dead-lettered (with an alarm); the job's results stay queryable through the API.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from review_pipeline.logic.export import ExportQueueRecord, JobExporter
from review_pipeline.settings import load_settings

logger = Logger()
tracer = Tracer()


@cache
def exporter() -> JobExporter:
    """Built on first use, once per execution environment (nothing is built at import)."""
    return JobExporter.from_settings(load_settings())


@tracer.capture_method
def export_record(record: ExportQueueRecord) -> None:
    outcome = exporter().export(record.body.job_id)
    logger.info(
        "Export processed",
        extra={
            "job_id": outcome.job_id,
            "status": outcome.status,
            "rows": outcome.rows,
            "detail": outcome.detail,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, model=ExportQueueRecord)
    return dict(
        process_partial_response(
            event=event, record_handler=export_record, processor=processor, context=context
        )
    )
