"""Where `review-sentiment results` writes: a file (gzip-compressed when its name ends in .gz) or stdout.

The rows and their format are the pipeline's own (review_pipeline.export_rows), so the CLI's file matches the
export the pipeline writes to results/<job_id>/ in the bucket.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


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
