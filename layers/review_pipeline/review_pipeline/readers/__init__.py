"""Readers: an uploaded review file, streamed, turned into rows one at a time.

`read_rows(stream, key)` picks the format from the key's suffix (the registry in `formats.FORMATS`) and
yields, in file order, either `ParsedRow(row, fields, raw)` (a data row as a dict, not yet validated) or
`RowError(row, reason, raw)` (a row that could not even be parsed; the rest of the file is still read).
Problems that make the whole file unreadable (unsupported type, not gzip, binary data, CSV without a text
column, broken JSON document, not an archive) raise `FileFormatError` with a message that names the file and
says what to do. What reading found out (format, encodings, skipped archive members) goes into the
`InputReport` passed in.

The stream is any binary file object with `read(n)` (an S3 StreamingBody or a local file); it is read in
bounded pieces, never whole, so a file larger than the function's memory is fine (a zip that cannot seek is
spooled to /tmp, see `archives`).
"""

from __future__ import annotations

import io
from typing import BinaryIO

from review_pipeline.readers.byte_lines import DEFAULT_MAX_LINE_BYTES, Readable
from review_pipeline.readers.context import InputReport, ReadContext, Rows
from review_pipeline.readers.errors import FileFormatError, ParsedRow, RowError
from review_pipeline.readers.formats import (
    FORMATS,
    FileFormat,
    ReviewFormat,
    accepted_suffixes,
    detect_format,
    read_with,
    supported_formats_sentence,
)

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "FORMATS",
    "FileFormat",
    "FileFormatError",
    "InputReport",
    "ParsedRow",
    "ReviewFormat",
    "RowError",
    "accepted_suffixes",
    "detect_format",
    "read_rows",
    "supported_formats_sentence",
]


def read_rows(
    stream: BinaryIO | Readable,
    key: str,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    report: InputReport | None = None,
) -> Rows:
    """Every data row of the object `key`, in file order (see the module docstring)."""
    file_format = detect_format(key)
    report = report if report is not None else InputReport()
    report.format = file_format.format.name
    context = ReadContext(key, key, max_line_bytes, report, _read_member)
    return read_with(file_format, stream, context)  # type: ignore[arg-type]


def _read_member(member: io.BufferedIOBase, path: str, context: ReadContext) -> Rows:
    """An archive member's rows; an unsupported or archive member is FileFormatError (archives skip it)."""
    try:
        file_format = detect_format(path)
    except FileFormatError:
        found = path.rsplit("/", 1)[-1]
        raise FileFormatError(f"{context.source}: not a review file type ({found})") from None
    if file_format.format.archive:
        raise FileFormatError(
            f"{context.source}: an archive inside the archive is not read; upload it on its own"
        )
    return read_with(file_format, member, context)
