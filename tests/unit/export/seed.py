"""A finished job as the pipeline leaves it, for the export tests (unit and handler)."""

from __future__ import annotations

from typing import Any

import pytest

from local import moto_s3
from review_pipeline.dal.jobs import ChunkCounts, JobStore, new_job
from review_pipeline.dal.results import ResultStore
from review_pipeline.models import RejectedRow, ReviewResult

REJECTED_ROWS = (3, 7)
RESULT_ROWS = (1, 2, 4, 5, 6, 8, 9)


def seed_finished_job(
    table: Any,
    bucket: str,
    job_id: str,
    *,
    store_rows: tuple[int, ...] = RESULT_ROWS,
    jobs: JobStore | None = None,
) -> None:
    """A job of 9 rows, 7 classified and 2 rejected, closed as COMPLETED_WITH_ERRORS by its one chunk.

    `store_rows` are the rows whose results are stored (fewer than RESULT_ROWS: the counts say more);
    `jobs` is the store that closes the job (default: one that asks for no export).
    """
    jobs, results = jobs or JobStore(table), ResultStore(table)
    jobs.create(new_job(job_id, bucket, "incoming/reviews.jsonl", "v1"))
    jobs.mark_processing(job_id, total=9, rejected=len(REJECTED_ROWS), chunks_total=1)
    results.put_rejected(
        job_id, [RejectedRow(row=r, reason=f"row {r}: text is empty") for r in REJECTED_ROWS]
    )
    results.put_results(
        ReviewResult(
            job_id=job_id,
            review_id=f"id-{row}",
            row=row,
            label="positive" if row % 2 else "negative",
            score=0.9 if row % 2 else 0.1,
            uncertain=False,
            model_version="m-1",
            given_label=1 if row == 1 else None,  # the file labelled its first review only
        )
        for row in store_rows
    )
    positive = sum(row % 2 for row in RESULT_ROWS)
    jobs.record_chunk(
        job_id, 0, ChunkCounts(positive=positive, negative=len(RESULT_ROWS) - positive, model_version="m-1")
    )
    assert jobs.finish_if_done(job_id) is not None


def allow_small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let moto join multipart parts of a few bytes (S3 wants 5 MiB, but for the last): parts of a few rows
    stand for parts of a million. moto checks it, and so does the emulator's completion (local/moto_s3.py),
    which takes over moto's in any process that has run the emulator. And UploadPart answers as S3 does."""
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setattr("local.moto_s3.S3_UPLOAD_PART_MIN_SIZE", 1)
    # And UploadPart to a finished upload answers NoSuchUpload, as S3 and the emulator do (moto: a KeyError)
    monkeypatch.setattr("moto.s3.models.S3Backend.upload_part", moto_s3.upload_part)
