"""The export format of a job: every row of the uploaded file, as CSV or JSON lines, in file order.

One row shape for both: `row, id, label, score, model_version, reason, uncertain, given_label`; a result
has no reason, a rejected row only its reason. `uncertain` is the model's flag for a score inside its
uncertain band (true/false; empty or null when the model did not flag it, and on rejected rows).
`given_label` is the label the uploaded file gave the review (a `label` field or column, or an aclImdb
`pos`/`neg` folder), `positive` or `negative`, empty when it gave none: beside `label`, it shows where the
model and the file agree. Columns are added at the end, so the columns readers already knew keep their places.

The export the pipeline writes to S3 (results/<job_id>/) and the one the CLI writes while a job is not
exported yet both come from here, so they cannot drift. Standard library only: the CLI imports it without
the layer's dependencies.
"""

from __future__ import annotations

import csv
import heapq
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, Literal, Protocol

EXPORT_FIELDS = ("row", "id", "label", "score", "model_version", "reason", "uncertain", "given_label")
ExportFormat = Literal["csv", "jsonl"]
_LABEL_WORDS = {1: "positive", 0: "negative"}


def label_word(given: Any) -> str | None:
    """A file's own label as the API and the exports spell labels: stored as 1 or 0 (a number, from
    DynamoDB a Decimal), served as the word already; None when the file gave none."""
    if given is None or isinstance(given, str):
        return given
    return _LABEL_WORDS[int(given)]


def result_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """A stored or served result (it has review_id, row, label, score, model_version) as an export row.

    `uncertain` and `given_label` may be absent: results stored before they were recorded, or served by an
    API that predates them.
    """
    return {
        "row": result["row"],
        "id": result["review_id"],
        "label": result["label"],
        "score": result["score"],
        "model_version": result["model_version"],
        "reason": None,
        "uncertain": result.get("uncertain"),
        "given_label": label_word(result.get("given_label")),
    }


def rejected_row(rejected: Mapping[str, Any]) -> dict[str, Any]:
    return {**dict.fromkeys(EXPORT_FIELDS), "row": rejected["row"], "reason": rejected["reason"]}


def job_rows(
    results: Iterable[Mapping[str, Any]], rejected: Iterable[Mapping[str, Any]] | None
) -> Iterator[dict[str, Any]]:
    """Results and rejected rows merged by row number (each stream already in file order), lazily."""
    streams: list[Iterator[dict[str, Any]]] = [map(result_row, results)]
    if rejected is not None:
        streams.append(map(rejected_row, rejected))
    return heapq.merge(*streams, key=lambda r: int(r["row"]))


class RowWriter(Protocol):
    def write(self, row: Mapping[str, Any]) -> None: ...


def _csv_cell(value: Any) -> Any:
    """Missing values are empty cells; booleans are written as JSON writes them (true/false)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class CsvRowWriter:
    """A header, then one line per row; missing values are empty cells, booleans true/false."""

    def __init__(self, out: IO[str], header: bool = True) -> None:
        self._writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        if header:  # False: a later part of a file written in parts
            self._writer.writeheader()

    def write(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({key: _csv_cell(value) for key, value in row.items()})


class JsonLinesRowWriter:
    """One JSON object per line; missing values are null, numbers stay numbers."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, row: Mapping[str, Any]) -> None:
        self._out.write(json.dumps(row, ensure_ascii=False) + "\n")


def row_writer(out: IO[str], export_format: ExportFormat) -> RowWriter:
    return CsvRowWriter(out) if export_format == "csv" else JsonLinesRowWriter(out)


def write_rows(rows: Iterable[Mapping[str, Any]], *writers: RowWriter) -> int:
    """Write every row to every writer, in one pass; how many rows."""
    written = 0
    for row in rows:
        for writer in writers:
            writer.write(row)
        written += 1
    return written
