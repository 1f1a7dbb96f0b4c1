"""A job's results and rejected rows become one file in file order, as CSV or JSON lines."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

from review_pipeline.export_rows import EXPORT_FIELDS, CsvRowWriter, JsonLinesRowWriter, job_rows, write_rows
from review_sentiment_cli.export import open_output


def review(row: int, label: str = "positive", **fields: object) -> dict[str, object]:
    """A result as GET /jobs/{job_id}/reviews serves it (without `uncertain`, as an API before it did)."""
    return {
        **fields,
        "review_id": f"r{row}",
        "row": row,
        "label": label,
        "score": 0.9,
        "text_excerpt": "Fine.",
        "movie_id": None,
        "rating": None,
        "model_version": "m1",
    }


def rejected(row: int) -> dict[str, object]:
    return {"row": row, "reason": f"row {row}: text is empty", "raw_excerpt": "{}"}


def test_results_and_rejected_rows_interleave_by_row_number() -> None:
    # Given results of rows 1, 2, 5 and rejected rows 3, 4 (each stream in file order, as the API pages them)
    rows = job_rows(iter([review(1), review(2), review(5)]), iter([rejected(3), rejected(4)]))
    # When they are written as CSV
    out = io.StringIO()
    written = write_rows(rows, CsvRowWriter(out))
    # Then every row is there once, in file order, with a reason only on the rejected ones
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == 5
    assert tuple(table[0]) == EXPORT_FIELDS
    assert [int(r["row"]) for r in table] == [1, 2, 3, 4, 5]
    assert table[0] == {
        "row": "1",
        "id": "r1",
        "label": "positive",
        "score": "0.9",
        "model_version": "m1",
        "reason": "",
        "uncertain": "",
        "given_label": "",
    }
    assert table[2]["reason"] == "row 3: text is empty"
    assert table[2]["id"] == table[2]["label"] == ""


def test_json_lines_keep_types_and_nulls(tmp_path: Path) -> None:
    # Given a result and a rejected row, written to a .jsonl.gz file
    path = tmp_path / "out" / "job.jsonl.gz"
    with open_output(path) as out:
        write_rows(job_rows([review(2, "negative")], [rejected(1)]), JsonLinesRowWriter(out))
    # Then the file is gzip JSON lines with numbers as numbers and nulls for what a row does not have
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    assert lines == [
        {
            "row": 1,
            "id": None,
            "label": None,
            "score": None,
            "model_version": None,
            "reason": "row 1: text is empty",
            "uncertain": None,
            "given_label": None,
        },
        {
            "row": 2,
            "id": "r2",
            "label": "negative",
            "score": 0.9,
            "model_version": "m1",
            "reason": None,
            "uncertain": None,
            "given_label": None,
        },
    ]


def test_without_rejected_rows_only_results_are_written() -> None:
    # Given a sentiment filter (rejected rows have no sentiment, so none are asked for)
    out = io.StringIO()
    # When only results are exported
    written = write_rows(
        job_rows([review(1, "negative"), review(3, "negative")], None), JsonLinesRowWriter(out)
    )
    # Then only those rows are in the file
    assert written == 2
    assert [json.loads(line)["row"] for line in out.getvalue().splitlines()] == [1, 3]


def test_one_pass_writes_both_formats_alike() -> None:
    # Given a CSV and a JSON lines writer fed from one stream of rows
    csv_out, jsonl_out = io.StringIO(), io.StringIO()
    # When the rows are written once
    written = write_rows(
        job_rows([review(1), review(2)], [rejected(3)]), CsvRowWriter(csv_out), JsonLinesRowWriter(jsonl_out)
    )
    # Then both files hold the same rows
    table = list(csv.DictReader(io.StringIO(csv_out.getvalue())))
    lines = [json.loads(line) for line in jsonl_out.getvalue().splitlines()]
    assert written == len(table) == len(lines) == 3
    assert [int(r["row"]) for r in table] == [line["row"] for line in lines] == [1, 2, 3]
    assert table[2]["reason"] == lines[2]["reason"]


def test_the_uncertain_flag_reads_true_false_or_empty_after_the_first_columns() -> None:
    # Given results flagged uncertain, not uncertain, one from a model without the flag, a rejected row
    rows = [review(1, uncertain=True), review(2, "negative", uncertain=False), review(3)]
    csv_out, jsonl_out = io.StringIO(), io.StringIO()
    # When they are written as CSV and JSON lines
    write_rows(job_rows(rows, [rejected(4)]), CsvRowWriter(csv_out), JsonLinesRowWriter(jsonl_out))
    # Then the columns readers already know keep their places (new ones come last), and the flag reads the
    # same in both files
    header, *lines = csv_out.getvalue().splitlines()
    assert header == "row,id,label,score,model_version,reason,uncertain,given_label"
    assert EXPORT_FIELDS[:7] == ("row", "id", "label", "score", "model_version", "reason", "uncertain")
    assert [line.split(",")[6] for line in lines] == ["true", "false", "", ""]
    assert [json.loads(line)["uncertain"] for line in jsonl_out.getvalue().splitlines()] == [
        True,
        False,
        None,
        None,
    ]


def test_the_files_own_label_is_the_last_column_whether_stored_as_a_number_or_served_as_a_word() -> None:
    # Given results as the export function reads them (the file's label stored as 1, 0 or absent; DynamoDB
    # numbers come back as Decimal) and as the API serves them (the word, or null), and a rejected row
    stored = [review(1, given_label=1), review(2, given_label=Decimal(0)), review(3, given_label=None)]
    served = [review(5, given_label="positive"), review(6, given_label="negative"), review(7)]
    csv_out, jsonl_out = io.StringIO(), io.StringIO()
    # When they are written as CSV and JSON lines
    write_rows(job_rows(stored + served, [rejected(4)]), CsvRowWriter(csv_out), JsonLinesRowWriter(jsonl_out))
    # Then both spell it as the API spells labels, empty (null) where the file gave none
    table = list(csv.DictReader(io.StringIO(csv_out.getvalue())))
    expected = ["positive", "negative", None, None, "positive", "negative", None]
    assert EXPORT_FIELDS[-1] == "given_label"
    assert [r["given_label"] for r in table] == [e or "" for e in expected]
    assert [json.loads(line)["given_label"] for line in jsonl_out.getvalue().splitlines()] == expected
