"""The duplicate-id benchmark's steps on a few ids, and its table."""

from __future__ import annotations

from bench.duplicate_ids import check, measure, resume, review_id, to_markdown


def test_the_ids_are_distinct_and_uuid_shaped() -> None:
    ids = [review_id(number) for number in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(identifier) == 36 and identifier.count("-") == 4 for identifier in ids)


def test_given_more_ids_than_held_in_memory_then_both_steps_spill_and_say_how_big_the_database_is() -> None:
    # Given 5,000 ids and 1,000 held in memory, When they are checked, and read back from id files
    checked, resumed = check(5_000, in_memory=1_000), resume(5_000, in_memory=1_000)

    # Then both took CPU time and put the ids in a database of tens of bytes an id; all in memory: no database
    for figures in (checked, resumed):
        assert figures["cpu_s"] > 0
        assert 20 < figures["database_bytes"] / 5_000 < 200
        assert figures["peak_mb"] >= figures["start_mb"] > 0
    assert check(5_000, in_memory=5_001)["database_bytes"] == 0


def test_a_child_process_reports_one_line_of_the_table() -> None:
    # Given a figure measured in a fresh process, as the benchmark does
    figure = measure("check", 2_000, "dict")

    # When the table is made, Then it has its line: 2,000 ids checked in a dict, with no /tmp
    markdown = to_markdown(
        {"command": "python -m bench.duplicate_ids", "date": "d", "machine": "m", "runs": [figure]}
    )
    assert "| 2,000 | check | dict |" in markdown
    assert markdown.splitlines()[0] == "## Duplicate-id check at 10 million ids"
    assert "| - | - |" in markdown


def test_the_largest_count_measured_both_ways_is_said_in_a_sentence() -> None:
    # Given the four figures of 1,000 ids (made up: this is about the sentence, not the figures)
    runs = [
        {"step": step, "mode": mode, "count": 1_000, "cpu_s": cpu, "peak_mb": peak, "start_mb": 15.0}
        for step, mode, cpu, peak in [
            ("check", "dict", 0.002, 150.0),
            ("check", "spilled", 0.008, 80.0),
            ("resume", "dict", 0.002, 200.0),
            ("resume", "spilled", 0.004, 120.0),
        ]
    ]

    markdown = to_markdown({"command": "c", "date": "d", "machine": "m", "runs": runs})

    assert (
        "At 1,000 ids the check peaks at 80 MB spilled against 150 MB in a dict (the preprocess function has "
        "1,024 MB), for 8.0 µs of CPU an id against 2.0; a continued invocation reads them back in 0 s of "
        "CPU (120 MB at most, an id file at a time)."
    ) in " ".join(markdown.split())  # wrapped at the document's width


def test_the_preprocess_figures_get_a_line_each_with_how_many_ids_were_held() -> None:
    figures = [
        {"mode": "dict", "size_mb": 100.0, "reviews": 71_249, "mb_per_cpu_s": 25.5, "cpu_s": 3.9},
        {"mode": "spilled", "size_mb": 100.0, "reviews": 71_249, "mb_per_cpu_s": 19.7, "cpu_s": 5.1},
    ]

    markdown = to_markdown({"command": "c", "date": "d", "machine": "m", "runs": [], "preprocess": figures})

    assert "`python -m bench.preprocess --sizes 100 [--ids-in-memory 10000]`" in " ".join(markdown.split())
    assert "| 100 MB | 71,249 | all | **25.5** | 3.9 |" in markdown
    assert "| 100 MB | 71,249 | 10,000, the rest in SQLite | **19.7** | 5.1 |" in markdown
