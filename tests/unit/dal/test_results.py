"""ResultStore and cursors against moto."""

from __future__ import annotations

from typing import Any

import pytest

from review_pipeline.dal.pagination import CursorCodec, InvalidCursorError
from review_pipeline.dal.results import ResultStore, result_item
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


def test_given_a_result_when_stored_then_the_item_keeps_its_job_only_in_the_key_and_reads_back_whole(
    table: Any,
) -> None:
    store = ResultStore(table)
    store.put_results([_result(1, "positive", 0.91)])
    table.put_item(Item={**result_item(_result(2, "negative", 0.12)), "job_id": "job-1"})  # stored before

    item = table.get_item(Key={"pk": "JOB#job-1", "sk": result_item(_result(1, "positive", 0.91))["sk"]})[
        "Item"
    ]
    assert "job_id" not in item
    assert store.results_of_rows("job-1", [1, 2]) == [
        _result(1, "positive", 0.91),
        _result(2, "negative", 0.12),
    ]
    assert list(store.iter_results("job-1")) == store.list_results("job-1", limit=10).items


def test_given_a_writer_when_batches_are_written_then_every_result_is_stored_by_the_end_of_the_block(
    table: Any,
) -> None:
    store = ResultStore(table)

    with store.writing(expiration=2_000_000_000) as writer:
        writer.write([_result(row, "positive", 0.9) for row in range(1, 31)])
        writer.write([_result(row, "negative", 0.1) for row in range(31, 41)])

    assert writer.written == 40
    stored = store.list_results("job-1", limit=100).items
    assert [r.row for r in stored] == list(range(1, 41))
    item = table.get_item(Key={"pk": "JOB#job-1", "sk": result_item(_result(40, "negative", 0.1))["sk"]})
    assert item["Item"]["expiration"] == 2_000_000_000


def test_given_a_write_that_fails_when_the_block_ends_then_its_error_is_raised(table: Any) -> None:
    store = ResultStore(table)
    broken = _result(1, "positive", 0.9).model_copy(update={"review_id": "x" * 500_000})  # over 400 KB

    with pytest.raises(Exception, match="size"), store.writing() as writer:
        writer.write([broken])

    assert store.list_results("job-1", limit=10).items == []


def test_given_the_caller_fails_when_the_block_ends_then_started_writes_finish_and_its_error_is_raised(
    table: Any,
) -> None:
    store = ResultStore(table)

    def classify_then_fail() -> None:
        with store.writing() as writer:
            writer.write([_result(row, "positive", 0.9) for row in range(1, 11)])
            raise RuntimeError("endpoint down")

    with pytest.raises(RuntimeError, match="endpoint down"):
        classify_then_fail()

    # What was handed to the writer before the failure is stored (idempotent: a retry writes it again)
    assert [r.row for r in store.list_results("job-1", limit=100).items] == list(range(1, 11))


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


CODEC = CursorCodec(b"k" * 32)
RESULTS = CursorCodec.listing("results", "job-1", None)
KEY = {"pk": "JOB#job-1", "sk": "RESULT#0000000001"}


def _forged(payload: dict[str, str]) -> str:
    """A well-formed cursor for `payload`, signed with another key."""
    cursor = CursorCodec(b"x" * 32).encode(payload, RESULTS)
    assert cursor is not None
    return cursor


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor!", "bm90IGpzb24", "bm90IGpzb24.AAAA", _forged(KEY), _forged({"other": "x"})],
)
def test_given_a_forged_cursor_when_decoding_then_it_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError, match="cursor is not valid"):
        CODEC.decode(cursor, RESULTS, {"pk", "sk"})


def test_given_a_cursor_with_one_character_changed_when_decoding_then_it_is_refused() -> None:
    cursor = CODEC.encode(KEY, RESULTS)
    assert cursor is not None
    payload, _, tag = cursor.partition(".")
    tampered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + tag

    with pytest.raises(InvalidCursorError):
        CODEC.decode(tampered, RESULTS, {"pk", "sk"})


@pytest.mark.parametrize(
    "other_listing",
    [
        CursorCodec.listing("results", "job-1", "positive"),  # same job, another filter
        CursorCodec.listing("results", "job-2", None),  # another job
        CursorCodec.listing("rejected", "job-1"),  # another list of the same job
        CursorCodec.listing("jobs", None),
    ],
)
def test_given_a_cursor_of_one_listing_when_replayed_on_another_then_it_is_refused(
    other_listing: str,
) -> None:
    cursor = CODEC.encode(KEY, RESULTS)

    with pytest.raises(InvalidCursorError, match="same listing"):
        CODEC.decode(cursor, other_listing, {"pk", "sk"})


def test_given_a_key_when_encoded_then_it_decodes_to_the_same_key_on_the_same_listing() -> None:
    assert CODEC.decode(CODEC.encode(KEY, RESULTS), RESULTS, {"pk", "sk"}) == KEY
    assert CODEC.encode(None, RESULTS) is None


def test_given_a_short_key_when_building_a_codec_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CursorCodec(b"short")


def test_given_the_uncertain_flag_when_stored_then_it_reads_back_and_an_absent_one_stays_none(
    table: Any,
) -> None:
    store = ResultStore(table)
    flagged = _result(1, "positive", 0.55).model_copy(update={"uncertain": True})
    clear = _result(2, "negative", 0.02).model_copy(update={"uncertain": False})
    unflagged = _result(3, "positive", 0.8)  # a model without the band: the flag is not guessed

    store.put_results([flagged, clear, unflagged])

    assert result_item(flagged)["uncertain"] is True
    assert "uncertain" not in result_item(unflagged)
    assert [r.uncertain for r in store.list_results("job-1", limit=10).items] == [True, False, None]
    assert [r.uncertain for r in store.results_of_rows("job-1", [1, 2, 3])] == [True, False, None]


def test_given_a_review_read_whole_when_stored_then_truncated_false_costs_no_attribute(table: Any) -> None:
    store = ResultStore(table)
    whole = _result(1, "positive", 0.9)
    cut = _result(2, "negative", 0.1).model_copy(update={"truncated": True, "original_chars": 45_000})

    store.put_results([whole, cut])

    assert "truncated" not in result_item(whole)
    assert result_item(cut)["truncated"] is True
    stored = store.list_results("job-1", limit=10).items
    assert [(r.truncated, r.original_chars) for r in stored] == [(False, None), (True, 45_000)]
    assert stored[0] == whole
