"""Valid reviews grouped into chunks: the unit of work of the inference function.

Chunk names are deterministic (`processed/<job_id>/chunk-00000.jsonl`, ...): the same file processed
twice writes the same objects with the same content, so a retry overwrites rather than adds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import batched

from review_pipeline.models import ReviewRecord


def chunk_key(processed_prefix: str, job_id: str, chunk_index: int) -> str:
    return f"{processed_prefix}{job_id}/chunk-{chunk_index:05d}.jsonl"


def chunk_prefix(processed_prefix: str, job_id: str) -> str:
    return f"{processed_prefix}{job_id}/"


def chunked(
    records: Iterable[ReviewRecord], chunk_size: int
) -> Iterator[tuple[int, tuple[ReviewRecord, ...]]]:
    """(chunk index from 0, records) in file order; every chunk but the last holds exactly chunk_size."""
    return enumerate(batched(records, chunk_size, strict=False))


def chunk_body(records: Sequence[ReviewRecord]) -> bytes:
    """JSON lines of ReviewRecord, UTF-8, one record per line, newline-terminated."""
    return "".join(record.model_dump_json() + "\n" for record in records).encode("utf-8")
