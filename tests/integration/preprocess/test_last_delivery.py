"""PreprocessFunction on an upload's last delivery: an unexpected AWS error fails the job, not hides it.

The uploads are real moto objects the function cannot read: one behind a bucket policy that denies
s3:GetObject on a folder of incoming/ (moto answers with a bare 403 where S3 says AccessDenied), one in the
GLACIER storage class (InvalidObjectState). MAX_RECEIVE_COUNT is the template's IngestMaxReceiveCount default.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import load_template
from review_pipeline.dal.jobs import JobStore
from review_pipeline.models import JobStatus
from tests.integration.preprocess.conftest import Pipeline

MAX_RECEIVE_COUNT = int(load_template()["Parameters"]["IngestMaxReceiveCount"]["Default"])
LOCKED_KEY = "incoming/locked/reviews.jsonl"
ROWS = b'{"id": "a", "text": "A great film."}\n{"id": "b", "text": "A dull film."}\n'


@pytest.fixture
def last_delivery_pipeline(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVE_COUNT))
    return pipeline


def deny_reading_locked_folder(pipeline: Pipeline) -> None:
    """A bucket policy that denies everyone s3:GetObject on incoming/locked/ (a policy change gone wrong)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyReadingUploads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{pipeline.bucket}/incoming/locked/*",
            }
        ],
    }
    pipeline.s3.put_bucket_policy(Bucket=pipeline.bucket, Policy=json.dumps(policy))


def on_delivery(event: dict[str, Any], receive_count: int) -> dict[str, Any]:
    """The event with every record on its `receive_count`th delivery."""
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return event


def test_given_an_unreadable_upload_when_not_on_its_last_delivery_then_it_is_retried_and_stays_pending(
    last_delivery_pipeline: Pipeline,
) -> None:
    pipeline = last_delivery_pipeline
    # Given a good upload and one the function is denied reading, in one batch, on an early delivery
    good = pipeline.upload("incoming/good.jsonl", ROWS)
    locked = pipeline.upload(LOCKED_KEY, ROWS)
    deny_reading_locked_folder(pipeline)
    event = on_delivery(pipeline.event_for(good, locked), MAX_RECEIVE_COUNT - 1)

    # When the batch is handled
    response = pipeline.invoke(event)

    # Then only the locked upload is reported, so SQS delivers it again, and its job waits as PENDING
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert pipeline.job_of(LOCKED_KEY).status is JobStatus.PENDING
    assert pipeline.job_of("incoming/good.jsonl").status is JobStatus.PROCESSING


def test_given_an_upload_denied_by_the_bucket_policy_when_its_last_delivery_fails_then_the_job_fails(
    last_delivery_pipeline: Pipeline,
) -> None:
    pipeline = last_delivery_pipeline
    # Given an upload the function is denied reading
    locked = pipeline.upload(LOCKED_KEY, ROWS)
    deny_reading_locked_folder(pipeline)

    # When its notification fails on the last delivery before the dead-letter queue
    response = pipeline.invoke(on_delivery(pipeline.event_for(locked), MAX_RECEIVE_COUNT))

    # Then the message is settled (not dead-lettered) and the job is FAILED with what happened and what to do
    assert response == {"batchItemFailures": []}
    job = pipeline.job_of(LOCKED_KEY)
    assert job.status is JobStatus.FAILED
    assert job.finished_at is not None
    assert job.error == (
        f"could not process {LOCKED_KEY} after {MAX_RECEIVE_COUNT} attempts (403: Forbidden); access was "
        "denied: check the bucket policy (and the KMS key, if any) lets the PreprocessFunction read "
        "incoming/ and write processed/ and rejected/, then upload the file again"
    )
    assert pipeline.keys_under("processed/") == []
    assert pipeline.queued_messages() == []


def test_given_a_job_failed_on_its_last_delivery_when_the_file_is_uploaded_again_then_a_new_job_runs(
    last_delivery_pipeline: Pipeline,
) -> None:
    pipeline = last_delivery_pipeline
    # Given a job FAILED on its last delivery (its idempotency record stores that outcome)
    locked = pipeline.upload(LOCKED_KEY, ROWS)
    deny_reading_locked_folder(pipeline)
    event = on_delivery(pipeline.event_for({**locked, "sequencer": "0001"}), MAX_RECEIVE_COUNT)
    pipeline.invoke(event)
    failed = pipeline.job_of(LOCKED_KEY)
    assert failed.status is JobStatus.FAILED

    # When the policy is fixed and the same notification arrives again, Then it changes nothing
    pipeline.s3.delete_bucket_policy(Bucket=pipeline.bucket)
    assert pipeline.invoke(on_delivery(event, 1)) == {"batchItemFailures": []}
    assert pipeline.job_of(LOCKED_KEY) == failed
    # When the same file is uploaded again (a new upload: new version or etag, and a new event sequencer)
    again = pipeline.upload(LOCKED_KEY, ROWS)
    response = pipeline.invoke(on_delivery(pipeline.event_for({**again, "sequencer": "0002"}), 1))

    # Then it is a new job, processed as usual, and the failed one keeps its error
    assert response == {"batchItemFailures": []}
    jobs = JobStore(pipeline.table).list(limit=10, source_key=LOCKED_KEY).items
    assert sorted((job.job_id == failed.job_id, job.status) for job in jobs) == [
        (False, JobStatus.PROCESSING),
        (True, JobStatus.FAILED),
    ]
    [new] = [job for job in jobs if job.job_id != failed.job_id]
    assert (new.counts.total, new.chunks_total) == (2, 1)
    assert len(pipeline.queued_messages()) == 1


def test_given_an_archived_upload_when_its_last_delivery_fails_then_the_job_says_to_upload_it_again(
    last_delivery_pipeline: Pipeline,
) -> None:
    pipeline = last_delivery_pipeline
    # Given an upload in the GLACIER storage class (GetObject refuses it until it is restored)
    response = pipeline.s3.put_object(
        Bucket=pipeline.bucket, Key="incoming/archived.jsonl", Body=ROWS, StorageClass="GLACIER"
    )
    archived = {"key": "incoming/archived.jsonl", "size": len(ROWS), "eTag": response["ETag"].strip('"')}

    # When its last delivery fails
    result = pipeline.invoke(on_delivery(pipeline.event_for(archived), MAX_RECEIVE_COUNT))

    # Then the job is FAILED naming the error and the way out
    assert result == {"batchItemFailures": []}
    job = pipeline.job_of("incoming/archived.jsonl")
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith(
        f"could not process incoming/archived.jsonl after {MAX_RECEIVE_COUNT} attempts (InvalidObjectState: "
    )
    assert job.error.endswith("upload it again with the STANDARD storage class")
