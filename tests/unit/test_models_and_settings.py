"""The records' validation rules and the settings' checks at cold start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from review_pipeline.logic.inference import to_results
from review_pipeline.models import (
    MAX_RAW_EXCERPT_CHARS,
    MAX_REASON_CHARS,
    MAX_TEXT_EXCERPT_CHARS,
    IncomingReview,
    InputSummary,
    Job,
    JobStatus,
    Prediction,
    RejectedRow,
    ReviewRecord,
    ReviewResult,
    iso_utc,
)
from review_pipeline.settings import Settings, load_settings


def test_given_a_csv_row_with_blank_cells_when_validated_then_blanks_mean_not_given() -> None:
    review = IncomingReview.from_row({"review": " Great film ", "id": "", "rating": "", "label": "pos"})

    assert (review.text, review.id, review.rating, review.label) == ("Great film", None, None, 1)


def test_given_a_numeric_id_when_validated_then_it_becomes_a_string() -> None:
    assert IncomingReview.from_row({"text": "ok", "id": 42}).id == "42"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"text": "ok", "rating": 11}, "rating"),
        ({"text": ""}, "text"),
        ({"id": "x"}, "text"),
        ({"text": "ok", "label": "maybe"}, "label"),
        ({"text": "ok", "id": True}, "id"),
    ],
)
def test_given_an_invalid_row_when_validated_then_the_error_names_the_field(row: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        IncomingReview.from_row(row)

    assert caught.value.errors()[0]["loc"][0] == field


def test_given_a_stored_job_when_loaded_then_status_is_the_enum() -> None:
    job = Job(
        job_id="j", source_bucket="b", source_key="k", status="COMPLETED", created_at="t", updated_at="t"
    )

    assert job.status is JobStatus.COMPLETED
    assert job.status.is_final


def test_given_the_template_environment_when_loaded_then_settings_are_typed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLE_NAME", "reviews")
    monkeypatch.setenv("BUCKET_NAME", "bucket")
    monkeypatch.setenv("CHUNK_SIZE", "250")

    settings = load_settings()

    assert (settings.table_name, settings.chunk_size, settings.incoming_prefix) == (
        "reviews",
        250,
        "incoming/",
    )


def test_given_a_missing_variable_when_loading_then_the_error_names_it() -> None:
    with pytest.raises(ValidationError, match="TABLE_NAME"):
        Settings.model_validate({"BUCKET_NAME": "bucket"})


def test_given_huge_free_text_when_stored_then_every_field_is_bounded_below_the_item_limit() -> None:
    # Given a rejection reason, a raw row, an excerpt and skipped-member notes of a megabyte each
    huge = "x" * 1_000_000
    rejected = RejectedRow(row=1, reason=huge, raw_excerpt=huge)
    result = ReviewResult(
        job_id="j", review_id="r", row=1, label="positive", score=0.9, model_version="m", text_excerpt=huge
    )
    summary = InputSummary(format="Zip archive", encoding="utf-8", skipped=[huge] * 20, skipped_count=20)
    # Then what the table keeps of each is cut, far below DynamoDB's 400 KB item limit, and says it was cut
    assert (len(rejected.reason), len(rejected.raw_excerpt)) == (MAX_REASON_CHARS, MAX_RAW_EXCERPT_CHARS)
    assert len(result.text_excerpt) == MAX_TEXT_EXCERPT_CHARS
    assert rejected.reason.endswith("…")
    assert len(summary.model_dump_json()) < 10_000


def test_given_a_truncated_record_when_classified_then_the_result_says_so() -> None:
    record = ReviewRecord(review_id="r", row=3, text="cut", truncated=True, original_chars=50_000)
    prediction = Prediction(id="r", label="positive", score=0.8)
    [result] = to_results("j", [record], {3: prediction}, "m1", chunk_index=0)
    assert (result.truncated, result.original_chars) == (True, 50_000)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2025, 1, 15, 10, 0, 0, 123456),  # S3 event times parse naive: UTC
        datetime(2025, 1, 15, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_given_an_event_time_when_written_then_it_reads_as_the_jobs_own_times(moment: datetime) -> None:
    assert iso_utc(moment) == "2025-01-15T10:00:00.123Z"
