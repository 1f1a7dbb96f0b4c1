"""JSON lines (.jsonl, .ndjson, and .json that is not an array): one JSON object per line.

A line that is not valid JSON, or not an object, is rejected on its own; the lines after it are still read.
Blank lines are skipped and are not rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from review_pipeline.readers.byte_lines import iter_text_lines
from review_pipeline.readers.errors import ParsedRow, RowError

_JSON_TYPE_NAMES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def json_type_name(value: object) -> str:
    return "null" if value is None else _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def read_json_lines_rows(
    binary: io.BufferedIOBase, source: str, max_line_bytes: int
) -> Iterator[ParsedRow | RowError]:
    row = 0
    for line in iter_text_lines(binary, source, max_line_bytes):
        if line.text is None:
            row += 1
            yield RowError(
                row,
                f"line {line.number}: the line is {line.size:,} bytes, "
                f"longer than the {max_line_bytes:,} bytes "
                "a row may have; split it or shorten the review",
                line.head.decode("utf-8", errors="replace"),
            )
            continue
        text = line.text.strip()
        if not text:
            continue
        row += 1
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield RowError(
                row,
                f"line {line.number}: invalid JSON ({error.msg.removesuffix(' at')} at column {error.colno})",
                text,
            )
            continue
        if not isinstance(value, dict):
            yield RowError(
                row,
                f'line {line.number}: expected a JSON object like {{"text": "..."}}, '
                f"got {json_type_name(value)}",
                text,
            )
            continue
        yield ParsedRow(row, value, text)
