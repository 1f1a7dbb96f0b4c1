"""What a handler printed to stdout, split as CloudWatch reads it: Powertools log lines and EMF records."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


def emf_records(out: str) -> list[dict[str, Any]]:
    """The EMF metric records among the lines printed to stdout."""
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [record for record in records if "_aws" in record]


def metric_values(metrics: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], Any]]:
    """(dimensions, value) of every EMF record that holds metric `name`."""
    found = []
    for record in metrics:
        names = {m["Name"] for d in record["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        if name in names:
            dimension_names = {
                n for d in record["_aws"]["CloudWatchMetrics"] for s in d["Dimensions"] for n in s
            }
            found.append(({n: record[n] for n in dimension_names}, record[name]))
    return found


@contextmanager
def log_lines(logger: Logger) -> Iterator[list[dict[str, Any]]]:
    """The JSON lines a Powertools logger (and its children) writes meanwhile; parsed when the block ends."""
    handler = logger.registered_handler
    buffer = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        handler.setStream(previous)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines())
