"""The duplicate-id check's memory: ids in a dict up to a threshold, then in SQLite under /tmp, alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from review_pipeline.logic.taken_ids import DEFAULT_IN_MEMORY, FILE_PREFIX, TakenIds
from review_pipeline.logic.validation import RowValidator
from review_pipeline.models import ReviewRecord
from review_pipeline.readers import ParsedRow, RowError
from review_pipeline.settings import Settings


def open_database_files(folder: Path) -> list[str]:
    """What this process holds open under `folder` (the unlinked database shows as '... (deleted)')."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor, closed since
        if target.startswith(str(folder)):
            held.append(target)
    return held


def test_given_more_ids_than_the_threshold_then_they_spill_to_sqlite_and_answer_the_same(
    tmp_path: Path,
) -> None:
    # Given a threshold of 10 ids and 95 ids taken (so 90 in the database, 5 in the dict)
    with TakenIds(in_memory=10, folder=str(tmp_path)) as taken:
        for number in range(95):
            assert taken.first_row(f"id-{number}") is None
            taken.add(f"id-{number}", number + 1)

        # Then every id names its first row, wherever it is held, and a free id is free
        assert taken.spilled
        assert len(taken) == 95
        assert [taken.first_row(f"id-{number}") for number in range(95)] == list(range(1, 96))
        assert taken.first_row("id-95") is None
        # And the database lives in the folder unlinked: held open, no file left to clean up
        assert list(tmp_path.iterdir()) == []
        assert [Path(target).name.startswith(FILE_PREFIX) for target in open_database_files(tmp_path)] == [
            True
        ]

    # When the check ends, Then the database is closed (its space goes back) and nothing is known
    assert open_database_files(tmp_path) == []
    assert not taken.spilled
    assert taken.first_row("id-1") is None


def test_given_few_ids_then_no_database_is_made(tmp_path: Path) -> None:
    with TakenIds(in_memory=100, folder=str(tmp_path)) as taken:
        taken.update({f"id-{number}": number for number in range(99)})
        assert (len(taken), taken.spilled, taken.first_row("id-98")) == (99, False, 98)
        assert open_database_files(tmp_path) == []


def test_the_settings_default_is_the_classes_default() -> None:
    settings = Settings.model_validate({"TABLE_NAME": "jobs", "BUCKET_NAME": "reviews"})
    assert settings.ids_in_memory == DEFAULT_IN_MEMORY


def rows() -> list[ParsedRow]:
    """Rows 1-40 with ids; duplicates of ids taken long before, just before, and of a rejected row."""
    fields: dict[int, dict[str, Any]] = {
        row: {"id": f"r{row}", "text": f"Review {row}"} for row in range(1, 41)
    }
    fields[5] = {"id": "r5", "text": "x", "rating": 99}  # rejected: r5 stays free
    fields[12] = {"id": "r1", "text": "again"}  # r1: moved to the database by then (threshold 3)
    fields[13] = {"id": "r11", "text": "again"}  # r11: still in the dict
    fields[20] = {"id": "r5", "text": "corrected"}  # the rejected row's id, now taken by row 20
    fields[39] = {"id": "r5", "text": "third"}
    fields[3] = {"text": "no id: row-3"}
    fields[40] = {"id": "row-3", "text": "clash"}  # an explicit id that row 3 was given
    return [ParsedRow(row, fields[row], f"line {row}") for row in range(1, 41)]


def checked_rows(in_memory: int, remembered: dict[str, int], folder: Path) -> list[ReviewRecord | RowError]:
    with TakenIds(in_memory, str(folder)) as taken:
        validator = RowValidator(max_text_chars=200, taken_ids=taken)
        validator.remember(remembered)
        return [validator.check(row) for row in rows()]


def test_given_a_tiny_threshold_then_validation_gives_the_same_rows_and_reasons_as_in_memory(
    tmp_path: Path,
) -> None:
    # Given ids remembered from an earlier invocation (one of them, r30, used again by row 30)
    remembered = {"earlier-1": 1, "earlier-2": 2, "r30": 7}

    # When the same rows are checked with every id in memory, and with 3 ids in memory (the rest in SQLite)
    in_memory = checked_rows(DEFAULT_IN_MEMORY, remembered, tmp_path)
    spilled = checked_rows(3, remembered, tmp_path)

    # Then the accepted rows and the rejected rows with their reasons are the same
    assert spilled == in_memory
    reasons = {row.row: row.reason for row in spilled if isinstance(row, RowError)}
    assert reasons == {
        5: "rating: must be between 1 and 10 (got 99)",
        12: "duplicate id 'r1' (first seen on row 1)",
        13: "duplicate id 'r11' (first seen on row 11)",
        30: "duplicate id 'r30' (first seen on row 7)",
        39: "duplicate id 'r5' (first seen on row 20)",
        40: "duplicate id 'row-3' (first seen on row 3)",
    }
    assert open_database_files(tmp_path) == []


_PEAK_OF_TAKING_IDS = """
import sys, tracemalloc
from review_pipeline.logic.taken_ids import TakenIds
ids, in_memory, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
tracemalloc.start()
with TakenIds(in_memory, folder) as taken:
    for number in range(ids):
        review_id = f"review-{number:09d}"
        if taken.first_row(review_id) is None:
            taken.add(review_id, number)
    assert len(taken) == ids
print(tracemalloc.get_traced_memory()[1])
"""


def test_given_many_ids_then_memory_is_bounded_by_the_threshold_not_the_count(tmp_path: Path) -> None:
    ids = 300_000

    # Given 300,000 ids checked and taken, held in a dict, and held 10,000 at a time before SQLite; each
    # measured in a fresh interpreter (tracemalloc counts every thread of a process: in the whole suite, other
    # tests' servers allocate meanwhile)
    def peak_bytes(in_memory: int) -> int:
        child = subprocess.run(  # our own interpreter and code
            [sys.executable, "-c", _PEAK_OF_TAKING_IDS, str(ids), str(in_memory), str(tmp_path)],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return int(child.stdout.strip())

    in_dict, spilled = peak_bytes(ids + 1), peak_bytes(10_000)

    # Then the dict's peak grows with the ids (over 20 MB), the spilled one stays a few MB (SQLite's own page
    # cache, outside Python's allocator, is bounded by its cache_size pragma)
    assert in_dict > 20_000_000
    assert spilled < 5_000_000
