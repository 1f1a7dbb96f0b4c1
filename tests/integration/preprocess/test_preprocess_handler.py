"""PreprocessFunction on moto: chunks, claim checks, job counts, rejected rows, failures, redelivery."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from review_pipeline.dal import keys
from review_pipeline.dal.jobs import JobStore
from review_pipeline.logic import preprocess
from review_pipeline.models import JobStatus
from review_pipeline.sqs_records import S3Notification, S3TestEvent
from tests.conftest import REGION
from tests.handlers import handler_for
from tests.integration.preprocess.conftest import Pipeline

EVENTS = Path(__file__).resolve().parents[3] / "events"


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def good_rows(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"id": f"r{n}", "text": f"Review number {n}<br />It was fine.", "rating": 7}
        for n in range(start, start + count)
    ]


# 120 good rows (CHUNK_SIZE is 50 in pipeline_env: 3 chunks) and 4 bad ones, interleaved
MIXED_ROWS = [
    *good_rows(60),
    {"id": "bad-rating", "text": "x", "rating": 11},
    {"id": "r5", "text": "duplicate of row 5"},
    {"id": "empty", "text": "<br /><br />"},
    *good_rows(60, start=61),
]


def test_jsonl_upload_becomes_chunks_messages_job_and_rejections(pipeline: Pipeline) -> None:
    # Given a JSON-lines file with 120 valid rows, 3 invalid rows and one broken line
    body = jsonl(MIXED_ROWS) + b'{"text": "broken\n'
    obj = pipeline.upload("incoming/reviews.jsonl", body)

    # When the S3 notification is delivered
    response = pipeline.invoke(pipeline.event_for(obj))

    # Then the message succeeded
    assert response == {"batchItemFailures": []}
    job = pipeline.job_of("incoming/reviews.jsonl")
    # And the job counts every row once: 124 read, 4 rejected, 3 chunks to classify
    assert job.status == JobStatus.PROCESSING
    assert (job.counts.total, job.counts.rejected, job.chunks_total, job.chunks_done) == (124, 4, 3, 0)
    assert job.source_bucket == pipeline.bucket
    # And it was uploaded when its S3 event says (the sample event's eventTime), before the job began
    assert job.uploaded_at == "2025-01-15T10:00:00.000Z" < job.created_at
    # And the chunks hold the valid reviews, cleaned, in file order
    chunk_keys = pipeline.keys_under(f"processed/{job.job_id}/")
    assert chunk_keys == [f"processed/{job.job_id}/chunk-{n:05d}.jsonl" for n in range(3)]
    chunks = [pipeline.read_jsonl(key) for key in chunk_keys]
    assert [len(chunk) for chunk in chunks] == [50, 50, 20]
    assert chunks[0][0] == {
        "review_id": "r1",
        "row": 1,
        "text": "Review number 1\nIt was fine.",
        "movie_id": None,
        "rating": 7,
        "truncated": False,
        "original_chars": None,
        "given_label": None,
    }
    assert [record["row"] for chunk in chunks for record in chunk] == [*range(1, 61), *range(64, 124)]
    # And one claim check per chunk is on the inference queue
    messages = pipeline.queued_messages()
    assert [(m.job_id, m.bucket, m.key, m.chunk_index, m.review_count) for m in messages] == [
        (job.job_id, pipeline.bucket, chunk_keys[0], 0, 50),
        (job.job_id, pipeline.bucket, chunk_keys[1], 1, 50),
        (job.job_id, pipeline.bucket, chunk_keys[2], 2, 20),
    ]
    # And every rejected row is kept with its reason: in S3 with the raw row, in the table with an excerpt
    expected_reasons = [
        (61, "rating: must be between 1 and 10 (got 11)"),
        (62, "duplicate id 'r5' (first seen on row 5)"),
        (63, "text is empty after removing HTML and whitespace"),
        (124, "line 124: invalid JSON (Unterminated string starting at column 10)"),
    ]
    rejected_file = pipeline.read_jsonl(f"rejected/{job.job_id}/rejected.jsonl")
    assert [(r["row"], r["reason"]) for r in rejected_file] == expected_reasons
    assert json.loads(rejected_file[0]["raw"]) == {"id": "bad-rating", "text": "x", "rating": 11}
    in_table = pipeline.rejected_in_table(job.job_id)
    assert [(r.row, r.reason) for r in in_table] == expected_reasons
    assert in_table[3].raw_excerpt == '{"text": "broken'


def test_gzipped_csv_upload_is_processed(pipeline: Pipeline) -> None:
    # Given a gzipped CSV with a quoted multi-line review and a row with too many cells
    csv_body = (
        b"id,text,rating,label\n"
        b'c1,"Loved it, truly.\nBest of the year.",10,positive\n'
        b"c2,Dull,2,neg\n"
        b"c3,too,many,cells,here\n"
    )
    obj = pipeline.upload("incoming/batch 7.csv.gz", csv_body, gzipped=True)

    # When delivered (the key has a space, so the event carries it URL-encoded)
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}

    # Then two reviews are queued in one chunk and the bad row is rejected
    job = pipeline.job_of("incoming/batch 7.csv.gz")
    assert (job.status, job.counts.total, job.counts.rejected, job.chunks_total) == (
        JobStatus.PROCESSING,
        3,
        1,
        1,
    )
    [chunk] = [pipeline.read_jsonl(key) for key in pipeline.keys_under(f"processed/{job.job_id}/")]
    assert [(r["review_id"], r["text"], r["rating"], r["given_label"]) for r in chunk] == [
        ("c1", "Loved it, truly.\nBest of the year.", 10, 1),
        ("c2", "Dull", 2, 0),
    ]
    assert len(pipeline.queued_messages()) == 1


def test_file_with_only_invalid_rows_finishes_at_once(pipeline: Pipeline) -> None:
    # Given a file in which no row is valid
    obj = pipeline.upload("incoming/bad.jsonl", jsonl([{"text": ""}, {"rating": 3}]))
    # When delivered
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    # Then there is nothing to classify: the job is finished, with errors, and nothing is queued
    job = pipeline.job_of("incoming/bad.jsonl")
    assert (job.status, job.counts.total, job.counts.rejected, job.chunks_total) == (
        JobStatus.COMPLETED_WITH_ERRORS,
        2,
        2,
        0,
    )
    assert job.finished_at is not None
    assert pipeline.queued_messages() == []
    assert len(pipeline.rejected_in_table(job.job_id)) == 2


@pytest.mark.parametrize(
    ("key", "body", "error"),
    [
        (
            "incoming/reviews.jsonl.gz",
            b'{"text": "not compressed"}\n',
            "incoming/reviews.jsonl.gz: the name ends in .gz but the content is not gzip",
        ),
        (
            "incoming/reviews.xml",
            b"<reviews/>",
            "incoming/reviews.xml: unsupported file type '.xml'; upload .jsonl/.ndjson, .json, .csv, .tsv",
        ),
        ("incoming/reviews.csv", b"id,title\n1,hi\n", "incoming/reviews.csv: the header has no text column"),
        ("incoming/binary.csv", b"\x00\x01garbage", "incoming/binary.csv: the file holds binary data"),
        ("incoming/empty.jsonl", b"\n\n", "incoming/empty.jsonl: the file has no reviews"),
    ],
)
def test_unreadable_file_fails_its_job_with_a_clear_error_and_is_not_retried(
    pipeline: Pipeline, key: str, body: bytes, error: str
) -> None:
    # Given a file that cannot be read as reviews
    obj = pipeline.upload(key, body)
    # When delivered
    response = pipeline.invoke(pipeline.event_for(obj))
    # Then the message is consumed (a retry would fail the same way) and the job says why
    assert response == {"batchItemFailures": []}
    job = pipeline.job_of(key)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error.startswith(error)
    assert job.finished_at is not None
    assert pipeline.keys_under("processed/") == []
    assert pipeline.queued_messages() == []


def test_file_broken_halfway_leaves_no_chunks_behind(pipeline: Pipeline) -> None:
    # Given 120 good lines (enough for 2 full chunks) and then gzip data that is cut off
    obj = pipeline.upload("incoming/cut.jsonl.gz", gzip.compress(jsonl(good_rows(400)))[:-200])
    # When delivered
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    # Then the job failed saying what is wrong, and the chunks written before it were removed
    job = pipeline.job_of("incoming/cut.jsonl.gz")
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert "the gzip data is truncated" in job.error
    assert pipeline.keys_under("processed/") == []
    assert pipeline.queued_messages() == []


def test_legacy_8bit_text_is_read_as_cp1252_and_the_job_says_so(pipeline: Pipeline) -> None:
    # Given 120 good UTF-8 lines and then one line of cp1252 text ('café' with 0xE9)
    obj = pipeline.upload(
        "incoming/latin1.jsonl", jsonl(good_rows(120)) + b'{"id": "c", "text": "caf\xe9"}\n'
    )
    # When delivered
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    # Then every row is read, the last one as cp1252 says, and the job records the fallback
    job = pipeline.job_of("incoming/latin1.jsonl")
    assert (job.status, job.counts.total, job.counts.rejected) == (JobStatus.PROCESSING, 121, 0)
    assert job.input is not None
    assert (job.input.format, job.input.encoding) == (
        "JSON lines",
        "utf-8; not UTF-8, read as cp1252 (legacy 8-bit text): 1 byte(s)",
    )
    last_chunk = pipeline.read_jsonl(pipeline.keys_under(f"processed/{job.job_id}/")[-1])
    assert last_chunk[-1]["text"] == "caf\u00e9"


def test_object_deleted_before_it_is_read_fails_the_job(pipeline: Pipeline) -> None:
    obj = pipeline.upload("incoming/gone.jsonl", jsonl(good_rows(1)))
    pipeline.s3.delete_object(Bucket=pipeline.bucket, Key="incoming/gone.jsonl")
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    job = pipeline.job_of("incoming/gone.jsonl")
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert "no longer exists" in job.error


def test_redelivered_event_changes_nothing(pipeline: Pipeline) -> None:
    # Given a file processed once
    obj = pipeline.upload("incoming/reviews.jsonl", jsonl(MIXED_ROWS))
    event = pipeline.event_for(obj)
    pipeline.invoke(event)
    job_before = pipeline.job_of("incoming/reviews.jsonl")
    messages_before = pipeline.queued_messages()

    # When SQS delivers the same event again (the idempotency record answers), and again after that record
    # expired (the job record answers)
    assert pipeline.invoke(event) == {"batchItemFailures": []}
    idempotency_items = pipeline.table.scan(
        FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": "idempotency#"}
    )["Items"]
    assert len(idempotency_items) == 1
    for item in idempotency_items:
        pipeline.table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
    assert pipeline.invoke(event) == {"batchItemFailures": []}

    # Then there is still one job with the same counts, and no message was sent twice
    job_after = pipeline.job_of("incoming/reviews.jsonl")
    assert job_after.counts == job_before.counts
    assert job_after.chunks_total == job_before.chunks_total == 3
    assert len(messages_before) == 3
    assert pipeline.queued_messages() == []
    assert len(pipeline.rejected_in_table(job_after.job_id)) == 3


def test_same_key_uploaded_again_is_a_new_job(pipeline: Pipeline) -> None:
    # Given a key processed once, When a new version of it is uploaded (new etag and sequencer)
    first = pipeline.upload("incoming/daily.jsonl", jsonl(good_rows(2)))
    pipeline.invoke(pipeline.event_for({**first, "sequencer": "0001"}))
    second = pipeline.upload("incoming/daily.jsonl", jsonl(good_rows(3)))
    pipeline.invoke(pipeline.event_for({**second, "sequencer": "0002"}))
    # Then each upload has its own job
    jobs = JobStore(pipeline.table).list(limit=10, source_key="incoming/daily.jsonl").items
    assert sorted(job.counts.total for job in jobs) == [2, 3]


def test_attempt_that_stopped_midway_is_completed_by_the_retry(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first attempt that cannot queue its chunks (the inference queue does not exist)
    obj = pipeline.upload("incoming/retry.jsonl", jsonl(good_rows(70)))
    event = pipeline.event_for(obj)
    monkeypatch.setenv("INFERENCE_QUEUE_URL", pipeline.env["INFERENCE_QUEUE_URL"] + "-missing")
    pipeline.handler = handler_for("preprocess", monkeypatch)  # a new execution environment sees it

    # When it is handled, Then the invocation fails (the whole one-message batch failed: SQS redelivers it)
    with pytest.raises(BatchProcessingError):
        pipeline.invoke(event)
    # And the job is left PENDING, nothing queued
    assert pipeline.job_of("incoming/retry.jsonl").status == JobStatus.PENDING
    assert pipeline.queued_messages() == []

    # When the queue is back and SQS redelivers the message
    monkeypatch.setenv("INFERENCE_QUEUE_URL", pipeline.env["INFERENCE_QUEUE_URL"])
    pipeline.handler = handler_for("preprocess", monkeypatch)
    second = pipeline.invoke(event)

    # Then the file is processed once: 2 chunks, 2 messages, counts of 70
    assert second == {"batchItemFailures": []}
    job = pipeline.job_of("incoming/retry.jsonl")
    assert (job.status, job.counts.total, job.chunks_total) == (JobStatus.PROCESSING, 70, 2)
    assert len(pipeline.queued_messages()) == 2


def test_partial_batch_failure_reports_only_the_failed_messages(pipeline: Pipeline) -> None:
    # Given a batch of three: a good file, a file in a bucket that does not exist (an AWS error, retryable),
    # and a message whose body is not an S3 notification
    good = pipeline.upload("incoming/good.jsonl", jsonl(good_rows(3)))
    event = pipeline.event_for(good)
    elsewhere = pipeline.event_for({**good, "key": "incoming/elsewhere.jsonl"}, bucket="no-such-bucket")
    garbage = {**event["Records"][0], "messageId": "garbage", "body": "not json"}
    event["Records"] += [elsewhere["Records"][0], garbage]

    # When the batch is handled
    response = pipeline.invoke(event)

    # Then only the two failures are reported (SQS retries them, then the DLQ keeps them)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": elsewhere["Records"][0]["messageId"]},
            {"itemIdentifier": "garbage"},
        ]
    }
    # And the good file was processed, while the unreachable one waits for its retry
    assert pipeline.job_of("incoming/good.jsonl").status == JobStatus.PROCESSING
    assert pipeline.job_of("incoming/elsewhere.jsonl").status == JobStatus.PENDING
    assert len(pipeline.queued_messages()) == 1


def test_s3_test_event_is_consumed_without_a_job(pipeline: Pipeline) -> None:
    event = json.loads((EVENTS / "preprocess_s3_test_event.json").read_text())
    assert pipeline.invoke(event) == {"batchItemFailures": []}
    jobs = pipeline.table.query(
        IndexName=keys.JOBS_BY_CREATED.name,
        KeyConditionExpression=f"{keys.JOBS_BY_CREATED.pk} = :p",
        ExpressionAttributeValues={":p": "JOBS"},
    )["Items"]
    assert jobs == []


def test_key_outside_incoming_prefix_is_ignored(pipeline: Pipeline) -> None:
    obj = pipeline.upload("processed/someone/chunk-00000.jsonl", jsonl(good_rows(1)))
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    assert pipeline.table.scan()["Items"] == []


def test_versioned_upload_reads_the_version_named_by_the_event(pipeline: Pipeline) -> None:
    # Given a versioned bucket where the key was overwritten after the event's version was uploaded
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_versioning(Bucket=pipeline.bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=pipeline.bucket, Key="incoming/v.jsonl", Body=jsonl(good_rows(2)))
    s3.put_object(Bucket=pipeline.bucket, Key="incoming/v.jsonl", Body=jsonl(good_rows(5)))
    obj = {
        "key": "incoming/v.jsonl",
        "size": 1,
        "eTag": first["ETag"].strip('"'),
        "versionId": first["VersionId"],
    }
    # When the first version's event is delivered
    assert pipeline.invoke(pipeline.event_for(obj)) == {"batchItemFailures": []}
    # Then the job read that version (2 rows), and records it
    job = pipeline.job_of("incoming/v.jsonl")
    assert (job.counts.total, job.source_version) == (2, first["VersionId"])


def test_delivery_while_another_is_in_progress_is_retried_later_not_processed_twice(
    pipeline: Pipeline,
) -> None:
    # Given another invocation is working on the same upload right now (its idempotency record is IN_PROGRESS,
    # written through Powertools' own persistence layer exactly as the running invocation would have)
    obj = pipeline.upload("incoming/busy.jsonl", jsonl(good_rows(3)))
    event = pipeline.event_for(obj)
    notification = S3Notification.model_validate_json(event["Records"][0]["body"])
    assert not isinstance(notification.root, S3TestEvent)
    upload = preprocess.uploaded_object(notification.root.Records[0], "incoming/")
    assert upload is not None
    running = DynamoDBPersistenceLayer(
        table_name=pipeline.env["TABLE_NAME"], key_attr="pk", sort_key_attr="sk", expiry_attr="expiration"
    )
    running.configure(
        IdempotencyConfig(event_key_jmespath="[bucket, key, revision]"),
        function_name="review_pipeline.logic.preprocess._process_upload",
    )
    running.save_inprogress(data=upload.model_dump(mode="json"), remaining_time_in_millis=60_000)

    # When SQS delivers the event a second time meanwhile
    with pytest.raises(BatchProcessingError) as raised:
        pipeline.invoke(event)
    assert "IdempotencyAlreadyInProgressError" in str(raised.value)

    # Then this delivery did no work: no job, no chunk, no message (SQS will redeliver it later)
    assert JobStore(pipeline.table).list(limit=10, source_key="incoming/busy.jsonl").items == []
    assert pipeline.keys_under("processed/") == []
    assert pipeline.queued_messages() == []
