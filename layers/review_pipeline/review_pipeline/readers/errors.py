"""What the readers hand out: parsed rows, unparseable rows, and the error for an unreadable file."""

from __future__ import annotations

from typing import Any, NamedTuple


class FileFormatError(Exception):
    """The file as a whole cannot be read; the message names the file and says what to fix."""


class ParsedRow(NamedTuple):
    """A data row: its 1-based number among the file's data rows, its fields, the row as written, and (in an
    archive) the member it comes from, which a rejection names."""

    row: int
    fields: dict[str, Any]
    raw: str
    origin: str = ""


class RowError(NamedTuple):
    """A row that could not become a review, with the reason a user can act on and the row as written."""

    row: int
    reason: str
    raw: str
    kind: str = "unreadable_row"  # one of observability.REJECTION_KINDS; the readers' rows are unreadable
