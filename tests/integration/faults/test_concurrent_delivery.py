"""The same S3 event delivered to two execution environments at once (SQS is at-least-once, and S3 may send
an event twice): one job, each review classified once, exact counts."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from review_pipeline.logic.preprocess import FileOutcome, UploadSplitter
from review_pipeline.models import JobStatus
from review_pipeline.sqs_records import S3Notification
from tests.integration.faults.conftest import MotoPipeline

KEY = "incoming/faults/twice.jsonl"
GOOD, BAD = 45, 3  # 45 valid reviews (3 chunks of 20, 20, 5) and 3 rows without text


def review_file() -> bytes:
    rows = [
        {"id": f"r{n}", "text": f"Review {n}: a {'fine' if n % 2 else 'dull'} film."} for n in range(GOOD)
    ]
    rows += [{"id": f"empty{n}", "text": ""} for n in range(BAD)]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def deliver(environment: UploadSplitter, notification: S3Notification) -> list[FileOutcome] | Exception:
    """One delivery of the message; an exception is what the batch processor would report as a failure."""
    try:
        return environment.handle_notification(notification)
    except IdempotencyAlreadyInProgressError as in_progress:
        return in_progress


def deliver_together(
    environments: list[UploadSplitter], notification: S3Notification
) -> list[list[FileOutcome] | Exception]:
    """Deliver the message to every environment at the same moment. An environment that starts reading the
    file holds there until another delivery has returned: so the file is in progress in one environment
    while the other receives the same event, whichever wins the start."""
    start = threading.Barrier(len(environments), timeout=20)
    one_returned = threading.Event()

    def hold_the_read(**_: Any) -> None:
        one_returned.wait(timeout=10)

    def deliver_now(environment: UploadSplitter) -> list[FileOutcome] | Exception:
        environment.objects._s3.meta.events.register("before-send.s3.GetObject", hold_the_read)
        start.wait()
        try:
            return deliver(environment, notification)
        finally:
            one_returned.set()
            environment.objects._s3.meta.events.unregister("before-send.s3.GetObject", hold_the_read)

    with ThreadPoolExecutor(max_workers=len(environments)) as pool:
        return list(pool.map(deliver_now, environments))


def test_same_event_in_two_environments_at_once_makes_one_job_with_exact_counts(
    moto_pipeline: MotoPipeline,
) -> None:
    # Given an uploaded file and two PreprocessFunction environments, each with its own service and clients
    notification = moto_pipeline.upload(KEY, review_file())
    environments = [moto_pipeline.preprocess_environment() for _ in range(2)]

    # When the same S3 event reaches both while one of them is reading the file
    answers = deliver_together(environments, notification)
    assert sum(isinstance(answer, IdempotencyAlreadyInProgressError) for answer in answers) == 1
    # and a delivery that found the file in progress is delivered again (SQS redelivers a failed record)
    answers = [
        deliver(environment, notification) if isinstance(answer, Exception) else answer
        for environment, answer in zip(environments, answers, strict=True)
    ]

    # Then one environment queued the file, and the redelivery got that same outcome back (the idempotency
    # record's stored response), not a second run
    assert all(isinstance(answer, list) for answer in answers)
    [[first], [replayed]] = answers  # type: ignore[misc]  # lists, as asserted
    assert first == replayed
    assert (first.status, first.rows, first.rejected, first.chunks) == ("queued", GOOD + BAD, BAD, 3)
    # And one job, whose chunks were queued once each
    [job] = moto_pipeline.jobs_of(KEY)
    chunks = moto_pipeline.queued_chunks()
    assert [chunk.chunk_index for chunk in chunks] == [0, 1, 2]
    assert sum(chunk.review_count for chunk in chunks) == GOOD

    # When each chunk is classified (by one inference environment), Then the job ends with exact counts
    classifier = moto_pipeline.inference_environment()
    for chunk in chunks:
        classifier.classify(chunk)
    final = moto_pipeline.jobs_of(KEY)[0]
    assert final.job_id == job.job_id
    assert final.status == JobStatus.COMPLETED_WITH_ERRORS
    assert (final.counts.total, final.counts.classified, final.counts.rejected) == (GOOD + BAD, GOOD, BAD)
    assert final.counts.total == final.counts.classified + final.counts.rejected
    results, rejected = moto_pipeline.stored_rows(job.job_id)
    assert len(results) == len(set(results)) == GOOD
    assert len(rejected) == len(set(rejected)) == BAD
    assert sorted(results + rejected) == list(range(1, GOOD + BAD + 1))
