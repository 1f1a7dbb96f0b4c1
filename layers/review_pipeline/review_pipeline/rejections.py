"""Rejected rows as the lines of a rejected/ file, shared by preprocess and inference.

Line format (JSON lines, UTF-8): {"row": <1-based data row>, "reason": "<what to do>", "raw": "<the row>"}.
Preprocess writes `rejected/<job_id>/rejected.jsonl` (rows that did not become reviews, raw as uploaded);
inference writes `rejected/<job_id>/chunk-<n:05d>.jsonl` (reviews of chunk n that were not classified, raw is
the cleaned text). The table gets the same rows back one at a time, with the raw row cut to an excerpt.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from review_pipeline.models import RejectedRow

if TYPE_CHECKING:
    from review_pipeline.dal.objects import ObjectStore
    from review_pipeline.dal.results import ResultStore

REJECTED_CONTENT_TYPE = "application/x-ndjson"
# The table keeps the start of a rejected row (the file under rejected/ keeps all of it); the readers keep the
# same 300 characters of a line they cannot parse.
RAW_EXCERPT_CHARS = 300
# Rows stay in memory up to this size, then spill to /tmp, so a file of only bad rows cannot exhaust memory.
_SPOOL_BYTES = 8 << 20


def rejected_file_key(rejected_prefix: str, job_id: str, name: str) -> str:
    """rejected/<job_id>/<name>: where a job's rejected rows of one producer are written."""
    return f"{rejected_prefix}{job_id}/{name}"


class RejectedRowsFile:
    """Rejected rows of one job, kept as the lines of its rejected/ file until they are stored."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - see __exit__
        self.count = 0
        self.by_kind: Counter[str] = Counter()  # observability.REJECTION_KINDS -> rows

    def add(self, row: int, reason: str, raw: str, kind: str) -> None:
        line = {"row": row, "reason": reason, "raw": raw}
        self.file.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
        self.count += 1
        self.by_kind[kind] += 1

    def excerpts(self, raw_chars: int = RAW_EXCERPT_CHARS) -> Iterator[RejectedRow]:
        """The rows as the table keeps them: the raw row cut to `raw_chars` characters."""
        self.file.seek(0)
        for line in self.file:
            rejected = json.loads(line)
            yield RejectedRow(
                row=rejected["row"], reason=rejected["reason"], raw_excerpt=rejected["raw"][:raw_chars]
            )

    def store(
        self,
        job_id: str,
        *,
        results: ResultStore,
        objects: ObjectStore,
        bucket: str,
        key: str,
        expiration: int | None,
    ) -> None:
        """Store the rows, if any: each in the table (as an excerpt), and all of them as the file `key`."""
        if not self.count:
            return
        results.put_rejected(job_id, self.excerpts(), expiration=expiration)
        # Last: the S3 transfer manager closes the file it uploads.
        objects.put_file(bucket, key, self.file, REJECTED_CONTENT_TYPE)

    def __enter__(self) -> RejectedRowsFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.file.close()
