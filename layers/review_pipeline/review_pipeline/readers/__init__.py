"""Readers: an uploaded review file, streamed, turned into rows one at a time.

`read_rows(stream, key)` picks the format from the key's suffix and yields, in file order, either
`ParsedRow(row, fields, raw)` (a data row as a dict, not yet validated) or `RowError(row, reason, raw)` (a row
that could not even be parsed; the rest of the file is still read). Problems that make the whole file
unreadable (unsupported type, not gzip, not UTF-8, CSV without a text column, broken JSON array) raise
`FileFormatError` with a message that names the file and says what to do.

The stream is any binary file object with `read(n)` (an S3 StreamingBody or a local file); it is read in
bounded pieces, never whole, so a file larger than the function's memory is fine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from review_pipeline.readers.byte_lines import DEFAULT_MAX_LINE_BYTES, open_binary
from review_pipeline.readers.csv_rows import read_csv_rows
from review_pipeline.readers.errors import FileFormatError, ParsedRow, RowError
from review_pipeline.readers.json_array import looks_like_json_array, read_json_array_rows
from review_pipeline.readers.json_lines import read_json_lines_rows

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "SUPPORTED_SUFFIXES",
    "FileFormat",
    "FileFormatError",
    "ParsedRow",
    "RowError",
    "detect_format",
    "read_rows",
]

SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv")


class FileFormat:
    """What a key's suffix says about its content."""

    __slots__ = ("gzipped", "suffix")

    def __init__(self, suffix: str, gzipped: bool) -> None:
        self.suffix = suffix
        self.gzipped = gzipped

    def __repr__(self) -> str:
        return f"FileFormat({self.suffix!r}, gzipped={self.gzipped})"


def detect_format(key: str) -> FileFormat:
    """The format of an uploaded object, from its key; FileFormatError for anything we cannot read."""
    name = key.rsplit("/", 1)[-1].lower()
    gzipped = name.endswith(".gz")
    base = name.removesuffix(".gz")
    for suffix in SUPPORTED_SUFFIXES:
        if base.endswith(suffix):
            return FileFormat(suffix, gzipped)
    found = "." + name.rsplit(".", 1)[-1] if "." in name else "(none)"
    shown = f"'{found}'" if found != "(none)" else "none"
    raise FileFormatError(
        f"{key}: unsupported file type {shown}; upload .jsonl, .csv or .json, optionally .gz"
        " (for example reviews.jsonl.gz)"
    )


def read_rows(
    stream: BinaryIO, key: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[ParsedRow | RowError]:
    """Every data row of the object `key`, in file order (see the module docstring)."""
    file_format = detect_format(key)
    binary = open_binary(stream, gzipped=file_format.gzipped, source=key)
    if file_format.suffix == ".csv":
        return read_csv_rows(binary, source=key, max_line_bytes=max_line_bytes)
    if file_format.suffix == ".json" and looks_like_json_array(binary, source=key):
        return read_json_array_rows(binary, source=key, max_item_bytes=max_line_bytes)
    return read_json_lines_rows(binary, source=key, max_line_bytes=max_line_bytes)
