"""What a reader is handed besides its bytes, and what reading an upload reports back to its job."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from review_pipeline.models import InputSummary
from review_pipeline.readers.decoding import EncodingReport
from review_pipeline.readers.errors import ParsedRow, RowError

Rows = Iterator[ParsedRow | RowError]
# An archive reader's way back to the registry: read this member (binary, its path in the archive).
MemberReader = Callable[[io.BufferedIOBase, str, "ReadContext"], Rows]

# How many skipped archive members a job lists by name (the count is always exact).
SKIPPED_LISTED = 20


@dataclass
class InputReport:
    """Filled in while an upload is read: its format, encodings, and archive members that were not reviews."""

    format: str = ""
    encoding: EncodingReport = field(default_factory=EncodingReport)
    members_read: int = 0
    skipped_count: int = 0
    skipped: list[str] = field(default_factory=list)  # "<member>: <why>", the first SKIPPED_LISTED

    def skip(self, member: str, why: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < SKIPPED_LISTED:
            self.skipped.append(f"{member}: {why}")

    def summary(self) -> InputSummary:
        """The report as the job keeps it."""
        return InputSummary(
            format=self.format,
            encoding=self.encoding.describe(),
            members_read=self.members_read,
            skipped_count=self.skipped_count,
            skipped=self.skipped,
        )

    def no_rows_message(self, key: str, formats: str) -> str:
        """Why a file yielded no row at all; for an archive, which members were skipped and why."""
        if self.skipped_count:
            shown = "; ".join(self.skipped[:3]) + ("; ..." if self.skipped_count > 3 else "")
            return (
                f"{key}: the archive holds no review files ({self.skipped_count} members skipped: {shown}); "
                f"{formats}"
            )
        return f"{key}: the file has no reviews (no data rows); upload a file with one review per row"


@dataclass(frozen=True)
class ReadContext:
    """`source` names the file in messages (the key, or `key!member`); `path` is its own path, whose name and
    folders a one-review .txt file takes its id, rating and label from."""

    source: str
    path: str
    max_line_bytes: int
    report: InputReport
    read_member: MemberReader | None = None
    in_archive: bool = False

    def for_member(self, member: str) -> ReadContext:
        return ReadContext(
            f"{self.source}!{member}", member, self.max_line_bytes, self.report, self.read_member, True
        )
