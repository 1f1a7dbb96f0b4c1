"""Jobs, chunks and results as the preprocess function leaves them, for inference and query tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.models import ChunkMessage, Job, ReviewRecord

if TYPE_CHECKING:
    from review_pipeline.logic.inference import ChunkClassifier

REVIEW_TEXTS = [
    "A wonderful film, the cast is excellent and I loved it.",
    "Boring, dull and far too long: the worst film this year.",
    "Great story and brilliant acting, I enjoyed every minute.",
    "An awful script and terrible dialogue, a waste of time.",
    "The best thing I have seen in ages, simply great.",
]


def chunk_records(first_row: int, count: int) -> list[ReviewRecord]:
    return [
        ReviewRecord(
            review_id=f"review-{row}",
            row=row,
            text=REVIEW_TEXTS[(row - 1) % len(REVIEW_TEXTS)],
            movie_id=f"tt{row:07d}",
            rating=9 if (row - 1) % 2 == 0 else 2,
            given_label=1 if (row - 1) % 2 == 0 else 0,
        )
        for row in range(first_row, first_row + count)
    ]


def put_chunk(bucket: str, job_id: str, chunk_index: int, records: list[ReviewRecord]) -> ChunkMessage:
    key = f"processed/{job_id}/chunk-{chunk_index:05d}.jsonl"
    body = "".join(record.model_dump_json() + "\n" for record in records).encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return ChunkMessage(
        job_id=job_id, bucket=bucket, key=key, chunk_index=chunk_index, review_count=len(records)
    )


def seed_processing_job(
    table: Any, bucket: str, job_id: str, chunk_sizes: list[int], rejected: int = 0
) -> list[ChunkMessage]:
    """A PROCESSING job whose chunks are in S3: the messages the inference queue would carry."""
    jobs = JobStore(table)
    jobs.create(new_job(job_id, bucket, f"incoming/{job_id}.jsonl", "v1"))
    messages = []
    row = 1
    for index, size in enumerate(chunk_sizes):
        messages.append(put_chunk(bucket, job_id, index, chunk_records(row, size)))
        row += size
    jobs.mark_processing(job_id, total=row - 1 + rejected, rejected=rejected, chunks_total=len(chunk_sizes))
    return messages


def stored_job(table: Any, job_id: str) -> Job:
    """The job record as it is now in the table (it must exist)."""
    job = JobStore(table).get(job_id)
    assert job is not None, f"no job {job_id!r} in the table"
    return job


def read_jsonl_object(bucket: str, key: str) -> list[dict[str, Any]]:
    """An S3 object of JSON lines (a chunk, or a rejected-rows file), one dict a line."""
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [json.loads(line) for line in body.splitlines()]


def deliver_then_crash_before_counting(
    classifier: ChunkClassifier, message: ChunkMessage, monkeypatch: pytest.MonkeyPatch, **classify_args: Any
) -> None:
    """A delivery that stores the chunk's results, then dies (a Lambda timeout) before counting them."""

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("Lambda timed out between the writes")

    with monkeypatch.context() as patch:
        patch.setattr(classifier.jobs, "record_chunk", crash)
        with pytest.raises(ConnectionError):
            classifier.classify(message, **classify_args)
