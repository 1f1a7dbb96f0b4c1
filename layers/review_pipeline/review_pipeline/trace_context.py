"""One upload's X-Ray trace, carried from queue message to queue message, so its work can be found as one.

What AWS does (X-Ray developer guide: "Amazon S3 and AWS X-Ray", "Amazon SQS and AWS X-Ray", "Tracing
event-driven applications"): S3 passes the `X-Amzn-Trace-Id` header of the request that created an object to
the event notification's SQS message, where it is the `AWSTraceHeader` system attribute; a message sent with
`MessageSystemAttributes.AWSTraceHeader` keeps that header (it overrides the HTTP header the X-Ray SDK adds);
a Lambda function invoked by an SQS event source runs in a trace of its own (`_X_AMZN_TRACE_ID`, which
Powertools Logger writes as `xray_trace_id`), which X-Ray links to the traces of the batch's records.

So the upload's trace is what the messages carry: every record is handled inside `following_trace(its
AWSTraceHeader)`; the messages sent meanwhile (chunks, export) carry the same header, the job stores its
Root as `trace_id`, and every log line written meanwhile carries it as `trace_id`. A record without a valid
header (an upload made without one) follows the invocation's own trace, which then becomes the upload's.

X-Ray links an invocation's trace to at most 20 record traces a segment and 100 a trace, so a big job's
invocations are found by annotation instead: each record is handled inside a subsegment (`record_subsegment`)
annotated with `upload_trace_id`, then `job_id` and `source_key` once known (`annotate_record`), which the
filter expression `annotation.job_id = "<job_id>"` finds in every function's invocations.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger, Tracer

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"  # the invocation's own trace header, set by Lambda
TRACE_LOG_KEY = "trace_id"
_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")  # X-Ray: version 1, epoch seconds, 96 random bits
RECORD_SUBSEGMENT = "## sqs_record"
# X-Ray annotation values: at most 1,000 Unicode characters (X-Ray developer guide, "Add annotations and
# metadata to segments with the X-Ray SDK for Python"); keys are letters, digits and underscores (the SDK
# drops any other key).
ANNOTATION_VALUE_MAX = 1000
_followed: ContextVar[str | None] = ContextVar("followed_trace_header", default=None)
_record_entity: ContextVar[Any] = ContextVar("record_subsegment", default=None)


def trace_root(header: str | None) -> str | None:
    """The trace id of an X-Ray trace header ('Root=1-...;Parent=...;Sampled=1' -> '1-...'), None without."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "Root" and _TRACE_ID.fullmatch(value):
            return value
    return None


@contextmanager
def following_trace(header: str | None) -> Iterator[str | None]:
    """Inside, work belongs to the trace of `header` (a record's AWSTraceHeader) or, when it has no valid
    Root, to the invocation's own trace; log lines carry its id as `trace_id`. Yields the header followed."""
    followed = header if trace_root(header) else os.environ.get(TRACE_HEADER_ENV)
    root = trace_root(followed)
    token = _followed.set(followed if root else None)
    logger = Logger()  # the service's logger: every module's child logger writes through it
    if root:
        logger.append_keys(**{TRACE_LOG_KEY: root})
    try:
        yield followed if root else None
    finally:
        _followed.reset(token)
        if root:
            logger.remove_keys([TRACE_LOG_KEY])


def current_trace_header() -> str | None:
    """The trace header of the record being handled (see `following_trace`); None outside one."""
    return _followed.get()


def current_trace_id() -> str | None:
    """The trace id (Root) of the record being handled; None outside one."""
    return trace_root(_followed.get())


def trace_system_attributes() -> dict[str, Any]:
    """SendMessage(Batch)'s MessageSystemAttributes that make a message carry the current trace (or none)."""
    header = current_trace_header()
    return {"AWSTraceHeader": {"StringValue": header, "DataType": "String"}} if header else {}


def annotation_value(value: str) -> str:
    """`value` made fit for an X-Ray annotation: unprintable characters (control characters, which S3 keys
    may hold and nobody can type in a filter expression, and separators other than the space) become '?',
    and it is cut to X-Ray's 1,000 characters, keeping its start."""
    return "".join(c if c.isprintable() else "?" for c in value[:ANNOTATION_VALUE_MAX])


@contextmanager
def record_subsegment() -> Iterator[None]:
    """Inside, X-Ray records the work of one SQS record in a subsegment of the invocation's trace annotated
    with the trace it follows (`upload_trace_id`; see `following_trace`, entered first). No trace is
    recorded when tracing is off (the SDK hands out a dummy) or no segment is open (outside Lambda)."""
    with Tracer().provider.in_subsegment(name=RECORD_SUBSEGMENT) as subsegment:
        token = _record_entity.set(subsegment)
        try:
            annotate_record(upload_trace_id=current_trace_id() or "")
            yield
        finally:
            _record_entity.reset(token)


def annotate_record(**annotations: str) -> None:
    """Puts annotations (their values made safe, empty ones left out) on the subsegment of the record being
    handled; nothing outside one."""
    subsegment = _record_entity.get()
    if subsegment is None:
        return
    for key, value in annotations.items():
        if value:
            subsegment.put_annotation(key, annotation_value(value))
