"""The API's bodies cannot drift from what is stored: ReviewView shows ReviewResult's own fields."""

from __future__ import annotations

from review_pipeline.api.models import RejectedView, ReviewView
from review_pipeline.models import RejectedRow, ReviewResult


def test_every_review_view_field_is_a_result_field_of_the_same_type() -> None:
    # Given the result the pipeline stores and the view the API answers with
    stored = ReviewResult.model_fields
    shown = ReviewView.model_fields

    # Then each field the API shows is one the result has, with the same type (a rename or a retype of a
    # result field fails here, not silently in a response)
    assert set(shown) <= set(stored), (
        f"ReviewView shows fields results do not have: {set(shown) - set(stored)}"
    )
    assert {name: shown[name].annotation for name in shown} == {
        name: stored[name].annotation for name in shown
    }


def test_a_result_is_shown_with_every_value_it_shares_with_the_view() -> None:
    result = ReviewResult(
        job_id="job-1",
        review_id="r-7",
        row=7,
        label="positive",
        score=0.91,
        model_version="m1",
        text_excerpt="A fine film.",
        movie_id="tt1",
        rating=9,
        given_label=1,
        chunk_index=0,
    )

    view = ReviewView.of(result)

    assert view.model_dump() == result.model_dump(include=set(ReviewView.model_fields))


def test_every_rejected_view_field_is_a_rejected_row_field() -> None:
    assert set(RejectedView.model_fields) == set(RejectedRow.model_fields)
