"""Where `review-sentiment results` writes: a file (gzip-compressed when its name ends in .gz) or stdout.

Once a job is exported, its results/<job_id>/ object is downloaded through the short-lived URL the API hands
out, streamed chunk by chunk; until then the rows are paged from the API and written in the pipeline's own
format (review_pipeline.export_rows), so both give the same file.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import requests

from review_pipeline.export_rows import ExportFormat

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
DOWNLOAD_TIMEOUT_SECONDS = 60


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


def _recode(chunks: Iterable[bytes], source_gzip: bool, target_gzip: bool) -> Iterator[bytes]:
    """The bytes of the object, gzip-compressed or decompressed on the fly to match the output's name."""
    if source_gzip == target_gzip:
        yield from chunks
        return
    if source_gzip:
        decompressor = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
        for chunk in chunks:
            yield decompressor.decompress(chunk)
        yield decompressor.flush()
        return
    compressor = zlib.compressobj(wbits=31)
    for chunk in chunks:
        yield compressor.compress(chunk)
    yield compressor.flush()


def download_export(url: str, export_format: ExportFormat, output: Path | None) -> int | None:
    """Stream the pipeline's export object to the output; how many rows its metadata says it holds."""
    with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        response.raise_for_status()
        target = None if output is None or str(output) == "-" else output  # None: standard output
        target_gzip = target is not None and target.name.endswith(".gz")
        chunks = _recode(response.iter_content(DOWNLOAD_CHUNK_BYTES), export_format == "jsonl", target_gzip)
        if target is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
        rows = response.headers.get("x-amz-meta-rows")
    return int(rows) if rows and rows.isdigit() else None
