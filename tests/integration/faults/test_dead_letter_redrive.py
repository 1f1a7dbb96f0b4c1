"""A chunk whose every delivery crashes its execution environment (a timeout, out of memory) ends in the
inference dead-letter queue: its job shows STALLED, `make redrive` (the CLI's redrive) sends it back, and the
job finishes COMPLETED with exact counts."""

from __future__ import annotations

import json
from typing import Any

from review_pipeline.dal.jobs import JobStore
from review_pipeline.logic.dead_letters import DeadLetterQueue, DeadLetterWatcher
from review_pipeline.logic.query import JobView
from review_pipeline.models import ChunkMessage, JobStatus
from review_sentiment_cli.redrive import redrive
from tests.integration.faults.conftest import MotoPipeline

KEY = "incoming/faults/stalled.jsonl"
REVIEWS = 45  # 3 chunks of 20, 20 and 5
MAX_RECEIVE_COUNT = 3


def dead_letter_queue(moto_pipeline: MotoPipeline) -> str:
    """A dead-letter queue for the inference queue, with the template's maxReceiveCount."""
    sqs = moto_pipeline.client("sqs")
    url: str = sqs.create_queue(QueueName="inference-faults-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"deadLetterTargetArn": arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    sqs.set_queue_attributes(
        QueueUrl=moto_pipeline.settings.inference_queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
    return url


def deliver_all(moto_pipeline: MotoPipeline, crashing_chunk: int | None) -> int:
    """Receive the inference queue's messages and hand each to an inference environment; a delivery of
    `crashing_chunk` crashes its environment (nothing returns, the message stays). How many arrived."""
    sqs, classifier = moto_pipeline.client("sqs"), moto_pipeline.inference_environment()
    url, arrived = moto_pipeline.settings.inference_queue_url, 0
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            arrived += 1
            chunk = ChunkMessage.model_validate_json(message["Body"])
            if chunk.chunk_index == crashing_chunk:
                continue  # the environment died: the message comes back after its visibility timeout
            classifier.classify(chunk, int(message["Attributes"]["ApproximateReceiveCount"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return arrived


def test_dead_lettered_chunk_shows_stalled_then_redrive_completes_the_job_with_exact_counts(
    moto_pipeline: MotoPipeline,
) -> None:
    dead_letters = dead_letter_queue(moto_pipeline)
    sqs = moto_pipeline.client("sqs")
    jobs = JobStore(moto_pipeline.table)
    watcher = DeadLetterWatcher(sqs, jobs, [DeadLetterQueue("inference", dead_letters)], "incoming/")
    rows = [
        {"id": f"r{n}", "text": f"Review {n}: {'loved' if n % 2 else 'hated'} it."} for n in range(REVIEWS)
    ]
    notification = moto_pipeline.upload(KEY, "".join(json.dumps(row) + "\n" for row in rows).encode())
    moto_pipeline.preprocess_environment().handle_notification(notification)

    # Given chunk 1 crashes its environment on every delivery, until SQS dead-letters it
    while deliver_all(moto_pipeline, crashing_chunk=1):
        pass
    dead: list[Any] = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0)[
        "Messages"
    ]
    assert [ChunkMessage.model_validate_json(m["Body"]).chunk_index for m in dead] == [1]

    # When the dead-letter watcher runs, Then the job shows STALLED with its two other chunks counted
    assert watcher.watch() == {"messages": 1, "jobs_marked": 1, "jobs_cleared": 0}
    [job] = moto_pipeline.jobs_of(KEY)
    assert JobView.of(job).status == JobStatus.STALLED
    assert (job.status, job.chunks_done, job.chunks_total, job.counts.classified) == (
        JobStatus.PROCESSING,
        2,
        3,
        25,
    )

    # When the dead-letter queue is redriven (make redrive) and the chunk delivered again, healthy
    outcome = redrive(sqs, dead_letters, "receive-send")
    assert (outcome.source_queue_url, outcome.moved) == (moto_pipeline.settings.inference_queue_url, 1)
    assert deliver_all(moto_pipeline, crashing_chunk=None) == 1

    # Then the job is COMPLETED with exact counts, each review stored once, and no longer stalled
    assert watcher.watch() == {"messages": 0, "jobs_marked": 0, "jobs_cleared": 1}
    [job] = moto_pipeline.jobs_of(KEY)
    assert (job.status, job.stalled, job.chunks_done) == (JobStatus.COMPLETED, None, 3)
    assert (job.counts.total, job.counts.classified, job.counts.rejected) == (REVIEWS, REVIEWS, 0)
    assert job.counts.total == job.counts.classified + job.counts.rejected
    results, rejected = moto_pipeline.stored_rows(job.job_id)
    assert (results, rejected) == (list(range(1, REVIEWS + 1)), [])
