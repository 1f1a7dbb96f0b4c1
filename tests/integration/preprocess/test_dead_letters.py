"""Stuck work says why: a message in a dead-letter queue marks its job STALLED with the reason and how to
redrive; the redrive sends it back and the job carries on with exact counts."""

from __future__ import annotations

import json
from typing import Any

import boto3

from review_pipeline.dal.jobs import JobStore
from review_pipeline.logic.dead_letters import REDRIVE_ADVICE, DeadLetterQueue, DeadLetterWatcher
from review_pipeline.logic.query import JobView
from review_pipeline.models import ChunkMessage, JobStatus
from tests.integration.preprocess.conftest import Pipeline
from tests.integration.preprocess.test_preprocess_handler import good_rows, jsonl

REGION = "us-east-1"


def queue(name: str) -> str:
    return str(boto3.client("sqs", region_name=REGION).create_queue(QueueName=name)["QueueUrl"])


def messages_in(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])


def test_dead_lettered_upload_marks_its_job_stalled_then_redrive_finishes_it_with_exact_counts(
    pipeline: Pipeline,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    ingest, ingest_dead = queue("ingest"), queue("ingest-dlq")
    jobs = JobStore(pipeline.table)
    watcher = DeadLetterWatcher(sqs, jobs, [DeadLetterQueue("ingest", ingest_dead)], "incoming/")
    # Given an upload whose S3 event failed every delivery (preprocess never created its job)
    obj = pipeline.upload("incoming/stuck.jsonl", jsonl(good_rows(70)) + b"not json\n")
    body = pipeline.event_for(obj)["Records"][0]["body"]
    sqs.send_message(QueueUrl=ingest_dead, MessageBody=body)

    # When the watcher runs (twice: a second look marks nothing again)
    first, second = watcher.watch(), watcher.watch()

    # Then the job exists and the API shows it STALLED, with the reason and how to redrive
    assert first == {"messages": 1, "jobs_marked": 1, "jobs_cleared": 0}
    assert second == {"messages": 1, "jobs_marked": 0, "jobs_cleared": 0}
    job = pipeline.job_of("incoming/stuck.jsonl")
    view = JobView.of(job)
    assert (job.status, view.status) == (JobStatus.PENDING, JobStatus.STALLED)
    assert view.stalled is not None
    assert view.stalled.reason.startswith(
        "a message of this job on the ingest queue failed on every delivery"
    )
    assert view.stalled.redrive == REDRIVE_ADVICE
    # And the message is still in the dead-letter queue (the watcher only peeks)
    assert len(messages_in(ingest_dead)) == 1

    # When it is redriven (by any tool: moved back to its source queue) and the watcher runs again
    [dead] = messages_in(ingest_dead)
    sqs.send_message(QueueUrl=ingest, MessageBody=dead["Body"])
    sqs.delete_message(QueueUrl=ingest_dead, ReceiptHandle=dead["ReceiptHandle"])
    assert watcher.watch() == {"messages": 0, "jobs_marked": 0, "jobs_cleared": 1}

    # Then the job is no longer stalled, and the source queue has the message
    assert pipeline.job_of("incoming/stuck.jsonl").stalled is None
    assert jobs.stalled_job_ids() == set()
    [redriven] = sqs.receive_message(QueueUrl=ingest, MaxNumberOfMessages=10).get("Messages", [])
    assert json.loads(redriven["Body"]) == json.loads(body)

    # And delivered again, the file is processed with exact counts: 71 rows = 70 queued + 1 rejected
    event = pipeline.event_for(obj)
    event["Records"][0]["body"] = redriven["Body"]
    assert pipeline.invoke(event) == {"batchItemFailures": []}
    job = pipeline.job_of("incoming/stuck.jsonl")
    assert (job.status, job.counts.total, job.counts.rejected, job.stalled) == (
        JobStatus.PROCESSING,
        71,
        1,
        None,
    )
    assert sum(message.review_count for message in pipeline.queued_messages()) == 70


def test_dead_lettered_chunk_marks_its_processing_job_and_a_finished_job_is_left_alone(
    pipeline: Pipeline,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    inference_dead = queue("inference-dlq")
    jobs = JobStore(pipeline.table)
    watcher = DeadLetterWatcher(sqs, jobs, [DeadLetterQueue("inference", inference_dead)], "incoming/")
    obj = pipeline.upload("incoming/chunks.jsonl", jsonl(good_rows(60)))
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    job = pipeline.job_of("incoming/chunks.jsonl")
    [chunk, *_] = pipeline.queued_messages()
    # Given one of its chunks dead-lettered, and a message naming a job that does not exist
    sqs.send_message(QueueUrl=inference_dead, MessageBody=chunk.model_dump_json())
    orphan = ChunkMessage(job_id="0" * 20, bucket="b", key="k", chunk_index=0, review_count=1)
    sqs.send_message(QueueUrl=inference_dead, MessageBody=orphan.model_dump_json())
    # When the watcher runs, Then only the real, unfinished job is marked
    assert watcher.watch() == {"messages": 2, "jobs_marked": 1, "jobs_cleared": 0}
    assert JobView.of(pipeline.job_of("incoming/chunks.jsonl")).status == JobStatus.STALLED
    assert job.status == JobStatus.PROCESSING
