"""The API's bodies cannot drift from what is stored: ReviewView shows ReviewResult's own fields."""

from __future__ import annotations

import pytest

from review_pipeline.api.models import RejectedView, ReviewView
from review_pipeline.models import RejectedRow, ReviewResult, Sentiment


def test_every_review_view_field_is_a_result_field_of_the_same_type() -> None:
    # Given the result the pipeline stores and the view the API answers with
    stored = ReviewResult.model_fields
    shown = ReviewView.model_fields

    # Then each field the API shows is one the result has, with the same type (a rename or a retype of a
    # result field fails here, not silently in a response), but for the file's own label: stored as 1 or 0,
    # shown as the API spells labels
    assert set(shown) <= set(stored), (
        f"ReviewView shows fields results do not have: {set(shown) - set(stored)}"
    )
    spelled = {"given_label"}
    assert {name: shown[name].annotation for name in set(shown) - spelled} == {
        name: stored[name].annotation for name in set(shown) - spelled
    }
    assert shown["given_label"].annotation == Sentiment | None


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

    assert view.model_dump() == {
        **result.model_dump(include=set(ReviewView.model_fields)),
        "given_label": "positive",
    }


@pytest.mark.parametrize(("given", "shown"), [(1, "positive"), (0, "negative"), (None, None)])
def test_the_files_own_label_is_shown_as_a_label_word_or_null(given: int | None, shown: str | None) -> None:
    # Given a result whose file labelled it positive (1), negative (0) or not at all
    fields = {"job_id": "job-1", "review_id": "r-1", "row": 1, "label": "negative", "score": 0.2}
    result = ReviewResult.model_validate({**fields, "model_version": "m1", "given_label": given})
    # Then the API shows that label as it spells its own

    assert ReviewView.of(result).given_label == shown


def test_every_rejected_view_field_is_a_rejected_row_field() -> None:
    assert set(RejectedView.model_fields) == set(RejectedRow.model_fields)
