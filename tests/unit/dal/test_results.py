"""ResultStore and cursors against moto."""

from __future__ import annotations

from typing import Any

import pytest

from review_pipeline.dal.pagination import InvalidCursorError, decode_cursor, encode_cursor
from review_pipeline.dal.results import ResultStore
from review_pipeline.models import RejectedRow, ReviewResult, Sentiment


def _result(row: int, label: Sentiment, score: float) -> ReviewResult:
    return ReviewResult(
        job_id="job-1", review_id=f"r{row}", row=row, label=label, score=score, model_version="m1", rating=7
    )


def test_given_results_when_written_twice_then_each_review_is_stored_once(table: Any) -> None:
    store = ResultStore(table)
    results = [_result(1, "positive", 0.91), _result(2, "negative", 0.12)]

    store.put_results(results)
    store.put_results(results)

    page = store.list_results("job-1", limit=10)
    assert [(r.review_id, r.label, r.score, r.rating) for r in page.items] == [
        ("r1", "positive", 0.91, 7),
        ("r2", "negative", 0.12, 7),
    ]
    assert page.cursor is None


def test_given_many_results_when_paging_by_sentiment_then_pages_join_up_in_file_order(table: Any) -> None:
    store = ResultStore(table)
    store.put_results(_result(row, "negative" if row % 3 == 0 else "positive", 0.5) for row in range(1, 31))

    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = store.list_results("job-1", limit=4, cursor=cursor, sentiment="negative")
        seen.extend(r.row for r in page.items)
        cursor = page.cursor
        if cursor is None:
            break

    assert seen == list(range(3, 31, 3))


def test_given_a_rare_sentiment_when_paging_then_pages_are_filled_and_resume_after_the_last_served_row(
    table: Any,
) -> None:
    """One sentiment is a filter over the job's rows: a page gathers its items over several queries."""
    store = ResultStore(table)
    positives = {2, 3, 4, 5, 6, 17, 18}
    store.put_results(
        _result(row, "positive" if row in positives else "negative", 0.5) for row in range(1, 21)
    )

    pages = [store.list_results("job-1", limit=3, sentiment="positive")]
    while pages[-1].cursor is not None:
        pages.append(store.list_results("job-1", limit=3, cursor=pages[-1].cursor, sentiment="positive"))

    assert [r.row for r in pages[0].items] == [2, 3, 4]  # filled from two queries (rows 1-3, 4-6), cut at 3
    assert [r.row for r in pages[1].items] == [5, 6]  # resumed after row 4; four queries, then a short page
    assert [r.row for page in pages for r in page.items] == sorted(positives)
    assert all(len(page.items) <= 3 for page in pages)
    assert all(r.label == "positive" for page in pages for r in page.items)


def test_given_rejected_rows_when_listed_then_reasons_come_back_in_row_order(table: Any) -> None:
    store = ResultStore(table)
    store.put_rejected(
        "job-1", [RejectedRow(row=9, reason="b"), RejectedRow(row=2, reason="a", raw_excerpt="{")]
    )

    page = store.list_rejected("job-1", limit=10)

    assert [(r.row, r.reason, r.raw_excerpt) for r in page.items] == [(2, "a", "{"), (9, "b", "")]


@pytest.mark.parametrize("cursor", ["not-base64!", "bm90IGpzb24", encode_cursor({"other": "x"})])
def test_given_a_forged_cursor_when_decoding_then_it_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError, match="cursor is not valid"):
        decode_cursor(cursor, {"pk", "sk"})


def test_given_a_key_when_encoded_then_it_decodes_to_the_same_key() -> None:
    key = {"pk": "JOB#a", "sk": "RESULT#0000000001"}

    assert decode_cursor(encode_cursor(key), {"pk", "sk"}) == key
    assert encode_cursor(None) is None
