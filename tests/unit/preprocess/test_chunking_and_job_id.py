"""Chunks, job ids and which S3 events are uploads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from review_pipeline.chunking import chunk_body, chunk_key, chunked
from review_pipeline.logic.uploads import (
    JOB_ID_HEX_CHARS,
    UploadedObject,
    job_id_for,
    uploaded_object,
)
from review_pipeline.models import ReviewRecord
from review_pipeline.sqs_records import S3Notification, S3TestEvent

EVENTS = Path(__file__).resolve().parents[3] / "events"


def records(count: int) -> list[ReviewRecord]:
    return [ReviewRecord(review_id=f"r{n}", row=n, text=f"review {n}") for n in range(1, count + 1)]


def test_chunks_hold_chunk_size_records_in_file_order() -> None:
    chunks = list(chunked(records(7), chunk_size=3))
    assert [(index, [r.row for r in batch]) for index, batch in chunks] == [
        (0, [1, 2, 3]),
        (1, [4, 5, 6]),
        (2, [7]),
    ]


def test_no_records_means_no_chunks() -> None:
    assert list(chunked([], chunk_size=3)) == []


def test_chunk_key_is_deterministic_and_sorts_in_order() -> None:
    assert chunk_key("processed/", "abc", 7) == "processed/abc/chunk-00007.jsonl"
    assert sorted(chunk_key("processed/", "abc", n) for n in (10, 9, 100)) == [
        chunk_key("processed/", "abc", n) for n in (9, 10, 100)
    ]


def test_chunk_body_is_json_lines_of_review_records_that_read_back() -> None:
    original = [*records(2), ReviewRecord(review_id="u", row=3, text="naïve\nline two", rating=9)]
    body = chunk_body(original)
    lines = body.decode("utf-8").splitlines()
    assert len(lines) == 3
    assert body.endswith(b"\n")
    assert [ReviewRecord.model_validate_json(line) for line in lines] == original


def upload(**changes: Any) -> UploadedObject:
    base: dict[str, Any] = {"bucket": "b", "key": "incoming/x.jsonl", "etag": "e1", "sequencer": "s1"}
    return UploadedObject(**{**base, **changes})


def test_job_id_is_a_short_stable_hash_of_the_upload() -> None:
    first = job_id_for(upload())
    assert first == job_id_for(upload())  # a redelivered event names the same job
    assert len(first) == JOB_ID_HEX_CHARS
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    "changes",
    [
        {"bucket": "other"},
        {"key": "incoming/y.jsonl"},
        {"sequencer": "s2"},
        {"etag": "e2"},
        {"version_id": "v1"},
    ],
)
def test_a_different_upload_gets_a_different_job(changes: dict[str, Any]) -> None:
    assert job_id_for(upload(**changes)) != job_id_for(upload())


def test_version_id_identifies_the_upload_when_present() -> None:
    # Two events for the same version (e.g. S3 delivering twice) name one job even if sequencers differ
    assert job_id_for(upload(version_id="v1", sequencer="s1")) == job_id_for(
        upload(version_id="v1", sequencer="s9")
    )


def notification_from(event_file: str) -> S3Notification:
    body = json.loads((EVENTS / event_file).read_text())["Records"][0]["body"]
    return S3Notification.model_validate_json(body)


def test_sample_put_event_names_an_upload() -> None:
    notification = notification_from("preprocess_s3_put.json")
    assert not isinstance(notification.root, S3TestEvent)
    found = uploaded_object(notification.root.Records[0], "incoming/")
    assert found is not None
    assert (found.bucket, found.key) == ("review-sentiment-local", "incoming/sample.jsonl")
    assert found.uploaded_at == "2025-01-15T10:00:00.000Z"  # the event's eventTime, as the job stores times


def test_upload_time_is_not_part_of_the_uploads_identity() -> None:
    # Given the same upload named by two events at different times (S3 redelivering one is the same event)
    first, second = (
        upload(uploaded_at="2025-01-15T10:00:00.000Z"),
        upload(uploaded_at="2025-01-15T10:05:00.000Z"),
    )
    # Then both are one job
    assert job_id_for(first) == job_id_for(second)


def test_sample_test_event_parses_as_s3_test_event() -> None:
    assert isinstance(notification_from("preprocess_s3_test_event.json").root, S3TestEvent)


def record_with(key: str, event_name: str = "ObjectCreated:Put") -> Any:
    notification = notification_from("preprocess_s3_put.json")
    assert not isinstance(notification.root, S3TestEvent)
    record = notification.root.Records[0]
    assert record.s3.object is not None
    return record.model_copy(
        update={
            "eventName": event_name,
            "s3": record.s3.model_copy(update={"object": record.s3.object.model_copy(update={"key": key})}),
        }
    )


def test_event_key_is_url_decoded() -> None:
    found = uploaded_object(record_with("incoming/my+reviews+%28v2%29.jsonl"), "incoming/")
    assert found is not None
    assert found.key == "incoming/my reviews (v2).jsonl"


@pytest.mark.parametrize(
    ("key", "event_name"),
    [
        ("processed/abc/chunk-00000.jsonl", "ObjectCreated:Put"),  # outside incoming/
        ("incoming/folder/", "ObjectCreated:Put"),  # console "create folder" marker
        ("incoming/x.jsonl", "ObjectRemoved:Delete"),  # not an upload
    ],
)
def test_records_that_are_not_uploads_under_the_prefix_are_skipped(key: str, event_name: str) -> None:
    assert uploaded_object(record_with(key, event_name), "incoming/") is None
