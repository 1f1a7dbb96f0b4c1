"""JobStore against moto: a job's life, and counts that never double."""

from __future__ import annotations

from typing import Any

from review_pipeline.dal import keys
from review_pipeline.dal.jobs import ChunkCounts, JobStore, new_job
from review_pipeline.models import JobStatus


def _processing_job(table: Any, job_id: str = "job-1", chunks: int = 2, rejected: int = 0) -> JobStore:
    jobs = JobStore(table)
    jobs.create(new_job(job_id, "bucket", f"incoming/{job_id}.jsonl", "v1"))
    jobs.mark_processing(job_id, total=10, rejected=rejected, chunks_total=chunks)
    return jobs


def test_given_an_existing_job_when_created_again_then_it_is_not_replaced(table: Any) -> None:
    jobs = JobStore(table)
    assert jobs.create(new_job("job-1", "bucket", "incoming/a.jsonl", "v1"))

    assert not jobs.create(new_job("job-1", "bucket", "incoming/a.jsonl", "v1"))

    job = jobs.get("job-1")
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.source_key == "incoming/a.jsonl"


def test_given_a_redelivered_chunk_when_recorded_twice_then_it_counts_once(table: Any) -> None:
    jobs = _processing_job(table)

    first = jobs.record_chunk("job-1", 0, ChunkCounts(positive=3, negative=2, model_version="m1"))
    second = jobs.record_chunk("job-1", 0, ChunkCounts(positive=3, negative=2, model_version="m1"))

    job = jobs.get("job-1")
    assert (first, second) == (True, False)
    assert job is not None
    assert (job.counts.classified, job.counts.positive, job.counts.negative) == (5, 3, 2)
    assert job.chunks_done == 1
    assert job.model_version == "m1"


def test_given_all_chunks_counted_when_finishing_then_exactly_one_caller_closes_the_job(table: Any) -> None:
    jobs = _processing_job(table, chunks=2)
    jobs.record_chunk("job-1", 0, ChunkCounts(positive=5, negative=0, model_version="m1"))
    assert jobs.finish_if_done("job-1") is None  # one chunk still outstanding

    jobs.record_chunk("job-1", 1, ChunkCounts(positive=0, negative=5, model_version="m1"))

    assert jobs.finish_if_done("job-1") is JobStatus.COMPLETED
    assert jobs.finish_if_done("job-1") is None
    job = jobs.get("job-1")
    assert job is not None
    assert job.finished_at is not None


def test_given_rejected_rows_when_the_job_finishes_then_it_completes_with_errors(table: Any) -> None:
    jobs = _processing_job(table, chunks=1, rejected=2)
    jobs.record_chunk("job-1", 0, ChunkCounts(positive=4, negative=4, model_version="m1"))

    assert jobs.finish_if_done("job-1") is JobStatus.COMPLETED_WITH_ERRORS


def test_given_inference_counted_first_when_preprocess_marks_processing_then_rejections_add_up(
    table: Any,
) -> None:
    # Chunks can be classified before preprocess records the file's totals: nothing may be overwritten.
    jobs = JobStore(table)
    jobs.create(new_job("job-1", "bucket", "incoming/a.jsonl", None))
    jobs.record_chunk("job-1", 0, ChunkCounts(positive=1, negative=1, model_version="m1", rejected=1))

    assert jobs.mark_processing("job-1", total=5, rejected=2, chunks_total=1)
    assert not jobs.mark_processing("job-1", total=5, rejected=2, chunks_total=1)

    job = jobs.get("job-1")
    assert job is not None
    assert job.counts.rejected == 3
    assert job.counts.total == 5
    assert jobs.finish_if_done("job-1") is JobStatus.COMPLETED_WITH_ERRORS


def test_given_a_failed_file_when_failing_the_job_then_the_error_is_kept(table: Any) -> None:
    jobs = JobStore(table)
    jobs.create(new_job("job-1", "bucket", "incoming/a.xml", None))

    jobs.fail("job-1", "incoming/a.xml: unsupported file type '.xml'")

    job = jobs.get("job-1")
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.error == "incoming/a.xml: unsupported file type '.xml'"
    assert jobs.finish_if_done("job-1") is None


def test_given_jobs_when_listing_then_newest_first_page_by_page_and_by_source(table: Any) -> None:
    jobs = JobStore(table)
    for index in range(3):
        jobs.create(new_job(f"job-{index}", "bucket", f"incoming/{index % 2}.jsonl", None))

    first = jobs.list(limit=2)
    second = jobs.list(limit=2, cursor=first.cursor)
    by_source = jobs.list(limit=10, source_key="incoming/0.jsonl")

    assert [j.job_id for j in first.items + second.items] == ["job-2", "job-1", "job-0"]
    assert second.cursor is None
    assert sorted(j.job_id for j in by_source.items) == ["job-0", "job-2"]
    assert jobs.list(limit=10, source_key="incoming/none.jsonl").items == []


def test_given_uncertain_reviews_when_a_chunk_is_recorded_twice_then_they_count_once(table: Any) -> None:
    jobs = _processing_job(table, chunks=2)
    counts = ChunkCounts(positive=3, negative=2, uncertain=2, model_version="m1")

    jobs.record_chunk("job-1", 0, counts)
    jobs.record_chunk("job-1", 0, counts)
    jobs.record_chunk("job-1", 1, ChunkCounts(positive=1, negative=0, uncertain=1, model_version="m1"))

    job = jobs.get("job-1")
    assert job is not None
    assert (job.counts.classified, job.counts.uncertain) == (6, 3)


def test_given_a_job_created_before_the_uncertain_count_when_a_chunk_is_recorded_then_it_starts_at_zero(
    table: Any,
) -> None:
    # A job still running across the deploy that added the count has no counts.uncertain in its item.
    jobs = _processing_job(table)
    table.update_item(
        Key={"pk": keys.job_pk("job-1"), "sk": keys.JOB_SK}, UpdateExpression="REMOVE counts.uncertain"
    )

    assert jobs.record_chunk("job-1", 0, ChunkCounts(positive=2, negative=2, uncertain=1, model_version="m1"))

    job = jobs.get("job-1")
    assert job is not None
    assert (job.counts.classified, job.counts.uncertain) == (4, 1)
