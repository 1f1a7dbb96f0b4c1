"""ExportFunction: writes a finished job's every row to results/<job_id>/ (see logic/export.py).

Each ExportQueue message names one finished job (or the next part of a big job's export), parsed by the batch
processor of review_pipeline/sqs_records.py and handed to the `JobExporter` built on first use by `service()`.
A failed export is reported in batchItemFailures, retried, and after maxReceiveCount dead-lettered (with an
alarm); the job's results stay queryable through the API meanwhile.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer

from review_pipeline.tracing import LazyXRayProvider

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.logic.export import JobExporter
    from review_pipeline.sqs_records import ExportQueueRecord

logger = Logger()
tracer = Tracer(provider=LazyXRayProvider(), auto_patch=False)  # X-Ray loads on first use


@cache
def service() -> JobExporter:
    """The service of this execution environment, built on the first message (not at import)."""
    from review_pipeline.logic.export import JobExporter
    from review_pipeline.settings import load_settings

    tracer.patch()  # before the service creates its clients, so that their calls are traced
    return JobExporter.from_settings(load_settings())


@tracer.capture_method
def export_record(record: ExportQueueRecord) -> None:
    # Logs the outcome with the job's id and source_key; a big job's next part goes back on the queue
    service().export(record.body.job_id, record.body.continuation)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from review_pipeline.sqs_records import export_processor

    return dict(
        process_partial_response(
            event=event, record_handler=export_record, processor=export_processor(), context=context
        )
    )
