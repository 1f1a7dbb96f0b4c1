"""QueryService and the API's bodies: paging, unknown jobs, cursors, predictions and readable errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from review_pipeline.api.errors import UnpredictableReviewsError, describe_validation_errors
from review_pipeline.api.models import JobView, PredictRequest
from review_pipeline.dal.jobs import JobNotFoundError, JobStore, new_job
from review_pipeline.dal.pagination import InvalidCursorError
from review_pipeline.logic.query import QueryService
from tests.staged_endpoint import StagedEndpoint


def test_given_jobs_when_listed_then_newest_first_page_by_page(service: QueryService, table: Any) -> None:
    jobs = JobStore(table)
    for number in range(3):
        job = new_job(f"job-{number}", "bucket", f"incoming/{number}.csv", None)
        jobs.create(job.model_copy(update={"created_at": f"2026-01-0{number + 1}T00:00:00.000Z"}))

    first = service.list_jobs(limit=2, cursor=None, source_key=None)
    second = service.list_jobs(limit=2, cursor=first.cursor, source_key=None)

    assert [job.job_id for job in first.items] == ["job-2", "job-1"]
    assert first.cursor is not None
    assert [job.job_id for job in second.items] == ["job-0"]


def test_given_jobs_of_several_files_when_filtered_by_source_then_only_that_file(
    service: QueryService, table: Any
) -> None:
    jobs = JobStore(table)
    jobs.create(new_job("a", "bucket", "incoming/a.csv", None))
    jobs.create(new_job("b", "bucket", "incoming/b.csv", None))

    page = service.list_jobs(limit=20, cursor=None, source_key="incoming/b.csv")

    assert [job.job_id for job in page.items] == ["b"]


def test_given_a_cursor_this_api_did_not_hand_out_when_listing_then_it_is_refused(
    service: QueryService,
) -> None:
    with pytest.raises(InvalidCursorError, match="pass back the cursor"):
        service.list_jobs(limit=20, cursor="not-a-cursor!", source_key=None)


def test_given_an_unknown_job_when_read_then_not_found_names_it(service: QueryService) -> None:
    with pytest.raises(JobNotFoundError, match="No job with id 'nope'"):
        service.get_job("nope")
    with pytest.raises(JobNotFoundError):
        service.list_reviews("nope", sentiment=None, limit=5, cursor=None)
    with pytest.raises(JobNotFoundError):
        service.list_rejected("nope", limit=5, cursor=None)


def test_given_a_classified_job_when_read_then_the_view_has_its_counts(
    service: QueryService, classified_job: str
) -> None:
    view = service.get_job(classified_job)

    assert view.status == "COMPLETED"
    assert view.counts.classified == 7 == view.counts.positive + view.counts.negative
    assert view.model_version
    assert set(json.loads(view.model_dump_json())) == {
        "job_id", "source_key", "status", "counts", "model_version",
        "uploaded_at", "created_at", "updated_at", "finished_at", "error", "input", "stalled", "trace_id",
    }  # fmt: skip


def test_given_a_classified_job_when_its_reviews_are_paged_then_every_review_comes_once_in_file_order(
    service: QueryService, classified_job: str
) -> None:
    rows: list[int] = []
    cursor = None
    while True:
        page = service.list_reviews(classified_job, sentiment=None, limit=3, cursor=cursor)
        rows += [review.row for review in page.items]
        cursor = page.cursor
        if cursor is None:
            break

    assert rows == [1, 2, 3, 4, 5, 6, 7]


def test_given_a_sentiment_filter_when_listing_reviews_then_only_that_sentiment(
    service: QueryService, classified_job: str
) -> None:
    job = service.get_job(classified_job)

    negatives = service.list_reviews(classified_job, sentiment="negative", limit=100, cursor=None)

    assert len(negatives.items) == job.counts.negative
    assert all(review.label == "negative" for review in negatives.items)


def test_given_a_job_view_when_built_from_a_job_then_internal_fields_stay_out() -> None:
    job = new_job("j", "my-bucket", "incoming/x.csv", "v1")

    view = JobView.of(job)

    dumped = view.model_dump()
    assert "source_bucket" not in dumped
    assert "chunks_total" not in dumped
    assert dumped["counts"] == {
        "total": 0, "classified": 0, "rejected": 0, "positive": 0, "negative": 0, "uncertain": 0,
    }  # fmt: skip


def test_given_reviews_with_markup_when_predicted_then_the_model_sees_the_cleaned_text(
    service: QueryService, sentiment_endpoint: StagedEndpoint
) -> None:
    request = PredictRequest.model_validate(
        {"reviews": [{"id": "r1", "text": "Loved it.<br /><br />A  great &amp; moving film."}]}
    )

    answer = service.predict(request)

    sent = json.loads(sentiment_endpoint.invocations[0].body)
    assert sent["instances"] == [{"id": "r1", "text": "Loved it.\n\nA great & moving film."}]
    assert [p.id for p in answer.predictions] == ["r1"]
    assert answer.model_version


def test_given_a_review_with_only_markup_when_predicted_then_it_is_refused_without_calling_the_model(
    service: QueryService, sentiment_endpoint: StagedEndpoint
) -> None:
    request = PredictRequest.model_validate(
        {"reviews": [{"id": "ok", "text": "fine"}, {"id": "e", "text": "<br/>"}]}
    )

    with pytest.raises(UnpredictableReviewsError) as raised:
        service.predict(request)

    assert raised.value.details[0].location == "body.reviews.1.text"
    assert "'e' has no text left after cleaning" in raised.value.details[0].message
    assert sentiment_endpoint.invocations == []


def test_given_repeated_ids_when_a_predict_request_is_validated_then_it_names_them() -> None:
    with pytest.raises(ValidationError, match="repeated: a"):
        PredictRequest.model_validate({"reviews": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]})


def test_given_too_many_reviews_when_a_predict_request_is_validated_then_it_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most 100"):
        PredictRequest.model_validate({"reviews": [{"id": str(i), "text": "x"} for i in range(101)]})


def test_given_validation_errors_when_described_then_one_sentence_and_one_detail_each() -> None:
    errors = [
        {
            "loc": ("query", "limit"),
            "msg": "Input should be less than or equal to 100",
            "type": "less_than_equal",
        },
        {"loc": ("body", "reviews"), "msg": "Field required", "type": "missing"},
        {"loc": ("body", "extra"), "msg": "Extra inputs are not permitted", "type": "extra_forbidden"},
    ]

    body = describe_validation_errors(errors)

    assert body.message == (
        "The request is not valid (query.limit: input should be less than or equal to 100; "
        "body.reviews: field required; "
        "body.extra: unknown field: not part of the request schema (see /docs))."
    )
    assert body.errors is not None
    assert [detail.location for detail in body.errors] == ["query.limit", "body.reviews", "body.extra"]
