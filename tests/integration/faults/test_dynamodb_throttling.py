"""DynamoDB throttling and unprocessed batch items while a file goes through preprocess and inference: every
write is retried until it holds, and the job ends with exact counts (each review stored once)."""

from __future__ import annotations

import json

from review_pipeline.models import JobStatus
from tests.integration.faults.conftest import MotoPipeline
from tests.integration.faults.dynamodb_faults import ThrottledDynamoDB

KEY = "incoming/faults/throttled.jsonl"
GOOD, BAD = 60, 4  # 3 chunks of 20 reviews, and 4 rows without text


def test_throttled_and_partially_processed_writes_are_retried_and_counts_stay_exact(
    moto_pipeline: MotoPipeline,
) -> None:
    # Given a table that refuses the first attempt of every other write (ProvisionedThroughputExceeded and
    # Throttling in turn) and writes two thirds of every third batch, handing back the rest as unprocessed
    faults = ThrottledDynamoDB(moto_pipeline.url)
    splitter = moto_pipeline.preprocess_environment()
    classifier = moto_pipeline.inference_environment()
    clients = (
        splitter.jobs._table.meta.client,
        classifier.results._table.meta.client,
        classifier.results._writes._dynamodb(),  # the results' batch writes (dal/batch_writes.py)
    )
    for client in {id(c): c for c in clients}.values():
        faults.attach(client)
    rows = [
        {"id": f"r{n}", "text": f"Review {n}: {'great' if n % 3 else 'awful'} acting."} for n in range(GOOD)
    ]
    rows[10:10] = [{"id": f"blank{n}", "text": " "} for n in range(BAD)]
    notification = moto_pipeline.upload(KEY, "".join(json.dumps(row) + "\n" for row in rows).encode())

    # When the file is preprocessed and each of its chunks classified
    [outcome] = splitter.handle_notification(notification)
    chunks = moto_pipeline.queued_chunks()
    for chunk in chunks:
        classifier.classify(chunk)

    # Then every kind of fault happened
    assert faults.injected["ProvisionedThroughputExceededException"] > 0
    assert faults.injected["ThrottlingException"] > 0
    assert faults.injected["UnprocessedItems"] > 0
    # And the job is complete with exact counts: each row once, as a result or a rejected row
    assert (outcome.status, outcome.rows, outcome.rejected, len(chunks)) == ("queued", GOOD + BAD, BAD, 3)
    [job] = moto_pipeline.jobs_of(KEY)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert (job.counts.total, job.counts.classified, job.counts.rejected) == (GOOD + BAD, GOOD, BAD)
    assert job.counts.total == job.counts.classified + job.counts.rejected
    assert job.counts.positive + job.counts.negative == GOOD
    assert (job.chunks_done, job.chunks_total) == (3, 3)
    results, rejected = moto_pipeline.stored_rows(job.job_id)
    assert len(results) == len(set(results)) == GOOD
    assert rejected == list(range(11, 11 + BAD))
    assert sorted(results + rejected) == list(range(1, GOOD + BAD + 1))
