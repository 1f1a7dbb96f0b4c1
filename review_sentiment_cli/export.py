"""Every row of a job as CSV or JSON lines: its results and its rejected rows, in file order, streamed.

One row format for both: `row, id, label, score, model_version, reason` (a result has no reason, a rejected
row only a reason). Rows are written as they arrive, so a million-row job needs no more memory than a page.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

EXPORT_FIELDS = ("row", "id", "label", "score", "model_version", "reason")
ExportFormat = Literal["csv", "jsonl"]


def result_row(review: dict[str, Any]) -> dict[str, Any]:
    """A result as the API serves it (ReviewView) in the export's format."""
    return {
        "row": review["row"],
        "id": review["review_id"],
        "label": review["label"],
        "score": review["score"],
        "model_version": review["model_version"],
        "reason": None,
    }


def rejected_row(rejected: dict[str, Any]) -> dict[str, Any]:
    empty = dict.fromkeys(EXPORT_FIELDS)
    return {**empty, "row": rejected["row"], "reason": rejected["reason"]}


def job_rows(
    results: Iterable[dict[str, Any]], rejected: Iterable[dict[str, Any]] | None
) -> Iterator[dict[str, Any]]:
    """Results and rejected rows merged by row number (each stream is already in file order)."""
    streams: list[Iterator[dict[str, Any]]] = [map(result_row, results)]
    if rejected is not None:
        streams.append(map(rejected_row, rejected))
    return heapq.merge(*streams, key=lambda r: int(r["row"]))


def write_rows(rows: Iterable[dict[str, Any]], out: IO[str], export_format: ExportFormat) -> int:
    """Write every row; answers how many."""
    written = 0
    if export_format == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            written += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    return written


@contextmanager
def open_output(path: Path | None) -> Iterator[IO[str]]:
    """The file to write (gzip-compressed when its name ends in .gz), or stdout for None / '-'."""
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as compressed:
            yield compressed
    else:
        with path.open("w", encoding="utf-8", newline="") as plain:
            yield plain
