"""Row validation: one sentence per problem, ids unique within a file, text cleaned and measured."""

from __future__ import annotations

from typing import Any

import pytest

from review_pipeline.cleaning import truncate_for_model
from review_pipeline.logic.validation import RowValidator
from review_pipeline.models import ReviewRecord
from review_pipeline.readers import ParsedRow, RowError


def check(
    fields: dict[str, Any], row: int = 1, validator: RowValidator | None = None
) -> ReviewRecord | RowError:
    return (validator or RowValidator(max_text_chars=200)).check(ParsedRow(row, fields, "raw line"))


def test_valid_row_becomes_a_cleaned_record_with_its_row_and_fields() -> None:
    record = check(
        {"id": "r1", "text": "Fine<br />film", "movie_id": "tt01", "rating": "8", "label": "pos"}, 4
    )
    assert record == ReviewRecord(
        review_id="r1", row=4, text="Fine\nfilm", movie_id="tt01", rating=8, given_label=1
    )


def test_row_without_id_gets_row_based_id_and_numeric_id_becomes_text() -> None:
    assert isinstance(without := check({"text": "x"}, row=12), ReviewRecord)
    assert without.review_id == "row-12"
    assert isinstance(numeric := check({"text": "x", "id": 77}), ReviewRecord)
    assert numeric.review_id == "77"


def test_numeric_movie_id_is_read_as_text() -> None:
    record = check({"text": "x", "movie_id": 1375666})
    assert isinstance(record, ReviewRecord)
    assert record.movie_id == "1375666"


def test_review_column_is_the_text() -> None:
    record = check({"review": "from the review column"})
    assert isinstance(record, ReviewRecord)
    assert record.text == "from the review column"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"text": "x", "rating": 11}, "rating: must be between 1 and 10 (got 11)"),
        ({"text": "x", "rating": "0"}, "rating: must be between 1 and 10 (got '0')"),
        ({"text": "x", "rating": "ten"}, "rating: must be a whole number (got 'ten')"),
        ({"text": "x", "rating": 7.5}, "rating: must be a whole number (got 7.5)"),
        (
            {"text": "x", "label": "maybe"},
            "label: must be one of 0, 1, positive, negative, pos or neg (got 'maybe')",
        ),
        ({"rating": 5}, "text: missing; every row needs a 'text' (or 'review') value"),
        ({"text": ["a"]}, "text: must be text (got a list)"),
        ({"text": "x", "id": True}, "id: must be a string or a number (got true)"),
        ({"text": "x", "id": "i" * 300}, "id: must be at most 256 characters (got 300)"),
        ({"text": "   "}, "text is empty after removing HTML and whitespace"),
        ({"text": "<br /><br />"}, "text is empty after removing HTML and whitespace"),
        (
            {"text": 5, "rating": 20},
            "text: must be text (got 5); rating: must be between 1 and 10 (got 20)",
        ),
    ],
)
def test_invalid_row_is_rejected_with_one_sentence_per_problem(fields: dict[str, Any], reason: str) -> None:
    kind = "empty_text" if reason.startswith("text is empty") else "invalid_field"
    assert check(fields, row=3) == RowError(3, reason, "raw line", kind)


def test_text_longer_than_the_limit_is_classified_on_its_head_and_tail_and_marked_truncated() -> None:
    validator = RowValidator(max_text_chars=100)
    # markup does not count: 100 characters of text survive cleaning, and are kept whole
    kept = check({"text": "<b>" + "x" * 100 + "</b>"}, validator=validator)
    assert isinstance(kept, ReviewRecord)
    assert (kept.text, kept.truncated, kept.original_chars) == ("x" * 100, False, None)
    # Given a cleaned text of 3,000 characters: a beginning, a long middle, and the verdict at its end
    long_text = "Opening scene. " + "middle " * 420 + "Verdict: superb."
    cut = check({"text": long_text}, row=2, validator=validator)
    # Then it is accepted, cut to the limit: the first two thirds and the last third, joined by the mark
    assert isinstance(cut, ReviewRecord)
    assert (cut.truncated, cut.original_chars) == (True, len(long_text))
    assert 90 <= len(cut.text) <= 100
    assert cut.text.startswith("Opening scene. middle")
    assert cut.text.endswith("Verdict: superb.")
    assert cut.text.count(" … ") == 1
    assert cut.text == truncate_for_model(long_text, 100)


def test_duplicate_id_is_rejected_and_names_the_first_row() -> None:
    # Given a validator that has accepted id r7 on row 3
    validator = RowValidator(max_text_chars=200)
    assert isinstance(check({"id": "r7", "text": "first"}, row=3, validator=validator), ReviewRecord)
    # When row 9 uses r7 again, Then it is rejected and never counts twice
    assert check({"id": "r7", "text": "again"}, row=9, validator=validator) == RowError(
        9, "duplicate id 'r7' (first seen on row 3)", "raw line", "duplicate_id"
    )


def test_explicit_id_clashing_with_a_generated_one_is_a_duplicate() -> None:
    validator = RowValidator(max_text_chars=200)
    check({"text": "no id"}, row=2, validator=validator)
    assert check({"id": "row-2", "text": "x"}, row=5, validator=validator) == RowError(
        5, "duplicate id 'row-2' (first seen on row 2)", "raw line", "duplicate_id"
    )


def test_rejected_row_does_not_claim_its_id() -> None:
    # Given row 1 with id r1 rejected for its rating, When row 2 (corrected) uses r1, Then row 2 is accepted
    validator = RowValidator(max_text_chars=200)
    assert isinstance(check({"id": "r1", "text": "x", "rating": 99}, row=1, validator=validator), RowError)
    assert isinstance(check({"id": "r1", "text": "x", "rating": 9}, row=2, validator=validator), ReviewRecord)
