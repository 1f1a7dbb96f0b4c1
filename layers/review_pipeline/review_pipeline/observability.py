"""What the pipeline tells CloudWatch about a job beyond plain counts: the keys on every log line, rejected
rows by reason, reviews per batch and each finished job's positive share (the drift alarm's metric).

Metric names are the template's contract: PositiveShareDriftAlarm reads JobPositiveShare (dimension service),
the dashboard shows the rest. Rejected rows carry a `reason` dimension with one of REJECTION_KINDS, a short
fixed vocabulary (the full sentence stays in the rejected row itself), so the number of metrics stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from review_pipeline.trace_context import annotate_record

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from review_pipeline.models import Job

JOB_LOG_KEYS = ("job_id", "source_key")
# Why a row became a rejected row instead of a result (RowError.kind, RejectedRowsFile.add(kind=...)).
REJECTION_KINDS = frozenset(
    {
        "unreadable_row",  # the reader could not parse the line (bad JSON, CSV, not an object...)
        "invalid_field",  # a field has the wrong type or range, or text is missing
        "duplicate_id",  # the id was used by an earlier row of the file
        "empty_text",  # nothing left after removing HTML and whitespace
        "too_large_for_endpoint",  # one review alone exceeds the endpoint's payload limit
        "not_classified",  # the endpoint failed on every delivery of its chunk
    }
)


@contextmanager
def job_log_keys(job_id: str, source_key: str) -> Iterator[None]:
    """Every log line written inside carries the job's id and the uploaded key it comes from.

    The keys go on the service's own logger (the handler's; this one shares its handler and formatter), which
    every module's child logger writes through, so they are on the lines of all of them. Powertools keeps
    appended keys for the life of the execution environment: they are removed on the way out, so the next
    message's lines never carry this job's. Inside an SQS record's subsegment, they become its X-Ray
    annotations too, so `annotation.job_id = "<job_id>"` finds the invocation.
    """
    annotate_record(job_id=job_id, source_key=source_key)
    logger = Logger()
    logger.append_keys(job_id=job_id, source_key=source_key)
    try:
        yield
    finally:
        logger.remove_keys(list(JOB_LOG_KEYS))


def add_rejected_row_metrics(metrics: Metrics, rejected_by_kind: Mapping[str, int]) -> None:
    """RejectedRows, one metric per reason kind (a dimension of its own, so it is a metric of its own)."""
    for kind, count in sorted(rejected_by_kind.items()):
        if kind not in REJECTION_KINDS:
            raise ValueError(f"rejection kind {kind!r} is not one of {sorted(REJECTION_KINDS)}")
        with single_metric(
            name="RejectedRows",
            unit=MetricUnit.Count,
            value=count,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="reason", value=kind)


def add_batch_size_metric(metrics: Metrics, reviews: int) -> None:
    """BatchSize: the reviews one inference invocation classifies (its chunk)."""
    metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=reviews)


def add_positive_share_metric(metrics: Metrics, job: Job) -> None:
    """JobPositiveShare of a finished job: positive / classified, 0..1 (none if nothing was classified)."""
    classified = job.counts.positive + job.counts.negative
    if classified:
        metrics.add_metric(
            name="JobPositiveShare", unit=MetricUnit.NoUnit, value=job.counts.positive / classified
        )
