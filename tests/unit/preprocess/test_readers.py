"""Readers: every supported format, streamed; row-level problems rejected, file-level problems explained."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from review_pipeline.readers import (
    FileFormatError,
    InputReport,
    ParsedRow,
    RowError,
    detect_format,
    read_rows,
)


def rows_of(data: bytes, key: str, **options: int) -> list[ParsedRow | RowError]:
    return list(read_rows(io.BytesIO(data), key, **options))


def fields_of(rows: list[ParsedRow | RowError]) -> list[dict[str, object]]:
    return [row.fields for row in rows if isinstance(row, ParsedRow)]


class _TrickleStream:
    """Hands out a few bytes per read, as a network body may: rows must not depend on read sizes."""

    def __init__(self, data: bytes, piece: int = 7) -> None:
        self._data = io.BytesIO(data)
        self._piece = piece

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(self._piece, size) if size >= 0 else self._piece)


JSONL = b'{"id": "a", "text": "first"}\n{"id": "b", "text": "second", "rating": 7}\n'


# -- formats ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key", ["incoming/r.jsonl", "incoming/r.ndjson", "incoming/r.json", "incoming/R.JSONL"]
)
def test_json_lines_suffixes_yield_numbered_rows(key: str) -> None:
    # Given two JSON lines, When read under any JSON-lines suffix
    rows = rows_of(JSONL, key)
    # Then both rows come out numbered from 1, with their fields and the line as written
    assert rows == [
        ParsedRow(1, {"id": "a", "text": "first"}, '{"id": "a", "text": "first"}'),
        ParsedRow(
            2, {"id": "b", "text": "second", "rating": 7}, '{"id": "b", "text": "second", "rating": 7}'
        ),
    ]


def test_gzip_is_decompressed_while_streaming() -> None:
    # Given gzip data delivered a few bytes at a time
    stream = _TrickleStream(gzip.compress(JSONL))
    # When read as .jsonl.gz
    rows = list(read_rows(stream, "incoming/r.jsonl.gz"))  # type: ignore[arg-type]
    # Then it reads as the uncompressed file does
    assert fields_of(rows) == [{"id": "a", "text": "first"}, {"id": "b", "text": "second", "rating": 7}]


def test_local_file_object_is_accepted(tmp_path: Path) -> None:
    # Given a CSV file on disk
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"text,rating\ngood,9\n")
    # When read from the open file
    with path.open("rb") as handle:
        rows = list(read_rows(handle, "incoming/reviews.csv"))
    # Then its row comes out
    assert fields_of(rows) == [{"text": "good", "rating": "9"}]


def test_json_array_is_read_item_by_item_across_small_reads() -> None:
    # Given a top-level JSON array (with a number that straddles read boundaries) delivered 3 bytes at a time
    data = json.dumps([{"text": "one", "rating": 10}, {"text": "two", "movie_id": "tt1"}]).encode()
    rows = list(read_rows(_TrickleStream(data, piece=3), "incoming/r.json"))  # type: ignore[arg-type]
    # Then every item is a row, numbers intact
    assert fields_of(rows) == [{"text": "one", "rating": 10}, {"text": "two", "movie_id": "tt1"}]


def test_json_array_item_that_is_not_an_object_is_rejected_alone() -> None:
    rows = rows_of(b'[{"text": "a"}, 42, {"text": "c"}]', "incoming/r.json")
    assert [type(row).__name__ for row in rows] == ["ParsedRow", "RowError", "ParsedRow"]
    assert rows[1] == RowError(2, 'item 2: expected a JSON object like {"text": "..."}, got a number', "42")


def test_empty_json_array_has_no_rows() -> None:
    assert rows_of(b" [ ] ", "incoming/r.json") == []


def test_csv_with_quoted_commas_newlines_and_quotes() -> None:
    # Given a spreadsheet-style CSV: a cell with a comma, a newline and doubled quotes
    data = b'id,text,rating\nr1,"Loved it, really.\nSecond line with ""quotes""",9\nr2,plain,\n'
    rows = rows_of(data, "incoming/r.csv")
    # Then the quoted cell is one value, and a blank cell is an empty string (the model treats it as absent)
    assert fields_of(rows) == [
        {"id": "r1", "text": 'Loved it, really.\nSecond line with "quotes"', "rating": "9"},
        {"id": "r2", "text": "plain", "rating": ""},
    ]


def test_csv_header_is_matched_case_insensitively_and_review_column_is_accepted() -> None:
    rows = rows_of(b" ID , Review \n1,nice\n", "incoming/r.csv")
    assert fields_of(rows) == [{"id": "1", "text": "nice"}]


def test_csv_row_with_wrong_cell_count_is_rejected_with_its_line() -> None:
    # Given a row with an unquoted comma among good rows
    rows = rows_of(b"id,text\n1,good\n2,bad, unquoted\n3,fine\n", "incoming/r.csv")
    # Then only that row is rejected, with a reason that says how to fix it, and the rows after it still count
    assert fields_of(rows) == [{"id": "1", "text": "good"}, {"id": "3", "text": "fine"}]
    rejected = [row for row in rows if isinstance(row, RowError)]
    assert rejected == [
        RowError(
            2,
            "line 3: 3 cells but the header has 2 columns (a comma inside a value needs double quotes "
            "around the value)",
            "2,bad, unquoted",
        )
    ]


def test_blank_lines_are_not_rows() -> None:
    jsonl = rows_of(b'\n{"text": "a"}\n   \n\n{"text": "b"}\n\n', "incoming/r.jsonl")
    csv_rows = rows_of(b"id,text\n\n1,a\n\n2,b\n", "incoming/r.csv")
    assert [row.row for row in jsonl] == [1, 2]
    assert [row.row for row in csv_rows] == [1, 2]


def test_utf8_bom_is_ignored() -> None:
    assert fields_of(rows_of(b"\xef\xbb\xbftext\nok\n", "incoming/r.csv")) == [{"text": "ok"}]
    assert fields_of(rows_of(b'\xef\xbb\xbf{"text": "ok"}\n', "incoming/r.jsonl")) == [{"text": "ok"}]
    assert fields_of(rows_of(b'\xef\xbb\xbf[{"text": "ok"}]', "incoming/r.json")) == [{"text": "ok"}]


def test_unicode_line_separator_inside_a_json_string_does_not_split_the_row() -> None:
    rows = rows_of('{"text": "a\u2028b"}\n'.encode(), "incoming/r.jsonl")
    assert fields_of(rows) == [{"text": "a\u2028b"}]


# -- row-level problems --------------------------------------------------------------------------------------
def test_bad_json_lines_are_rejected_and_reading_continues() -> None:
    # Given a good line, a broken line, a line that is not an object, and another good line
    rows = rows_of(b'{"text": "a"}\n{"text": "b"\n["x"]\n{"text": "d"}\n', "incoming/r.jsonl")
    # Then the two bad lines are rejected with reasons, and both good lines are read
    assert fields_of(rows) == [{"text": "a"}, {"text": "d"}]
    assert [(row.row, row.reason) for row in rows if isinstance(row, RowError)] == [
        (2, "line 2: invalid JSON (Expecting ',' delimiter at column 13)"),
        (3, 'line 3: expected a JSON object like {"text": "..."}, got a list'),
    ]


def test_over_long_json_line_is_rejected_without_reading_it_whole() -> None:
    long_line = b'{"text": "' + b"x" * 5000 + b'"}\n'
    rows = rows_of(long_line + b'{"text": "short"}\n', "incoming/r.jsonl", max_line_bytes=1000)
    assert isinstance(rows[0], RowError)
    assert rows[0].reason.startswith("line 1: the line is 5,013 bytes, longer than the 1,000 bytes")
    assert len(rows[0].raw) <= 300
    assert rows[1] == ParsedRow(2, {"text": "short"}, '{"text": "short"}')


# -- file-level problems -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "incoming/x.xml",
            "incoming/x.xml: unsupported file type '.xml'; upload .jsonl/.ndjson, .json, .csv, .tsv, .txt, "
            "optionally .gz (for example reviews.jsonl.gz), or an archive of them: .zip, .tar, .tar.gz/.tgz",
        ),
        ("incoming/x.csv.rar", "incoming/x.csv.rar: unsupported file type '.rar'"),
        ("incoming/README", "incoming/README: unsupported file type none"),
    ],
)
def test_unsupported_extension_is_a_file_error(key: str, message: str) -> None:
    with pytest.raises(FileFormatError) as raised:
        detect_format(key)
    assert str(raised.value).startswith(message)


def test_detect_format_reads_gzip_suffix() -> None:
    detected = detect_format("incoming/2024/Reviews.CSV.gz")
    assert (detected.suffix, detected.gzipped) == (".csv", True)


def test_gz_name_with_plain_content_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match=r"ends in \.gz but the content is not gzip"):
        rows_of(JSONL, "incoming/r.jsonl.gz")


def test_truncated_gzip_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="gzip data is truncated"):
        rows_of(gzip.compress(JSONL * 50)[:-20], "incoming/r.jsonl.gz")


def test_csv_without_text_column_names_the_columns_it_found() -> None:
    with pytest.raises(FileFormatError) as raised:
        rows_of(b"id,title,stars\n1,x,3\n", "incoming/r.csv")
    assert str(raised.value) == (
        "incoming/r.csv: the header has no text column (one of 'text', 'review', 'review_text', 'content', "
        "'body', 'comment'; found 'id', 'title', 'stars'); the first line must name the columns, "
        "for example: id,text,rating"
    )


def test_empty_csv_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="the file is empty"):
        rows_of(b"", "incoming/r.csv")


def test_bytes_that_are_not_utf8_are_read_as_cp1252_and_counted() -> None:
    # Given cp1252 text on the second line (0xE9 is 'é', 0x93/0x94 are curly quotes; invalid as UTF-8 here)
    data = b'{"text": "ok"}\n{"text": "caf\xe9 \x93best\x94"}\n'
    report = InputReport()
    # When read
    rows = list(read_rows(io.BytesIO(data), "incoming/r.jsonl", report=report))
    # Then the row reads as cp1252 says, and the report states the fallback and how many bytes needed it
    assert fields_of(rows) == [{"text": "ok"}, {"text": "caf\u00e9 \u201cbest\u201d"}]
    assert report.encoding.describe() == "utf-8; not UTF-8, read as cp1252 (legacy 8-bit text): 3 byte(s)"


def test_broken_json_array_is_a_file_error_naming_the_item() -> None:
    with pytest.raises(FileFormatError, match=r"invalid JSON in item 2 of the array"):
        rows_of(b'[{"text": "a"}, {"text" "b"}]', "incoming/r.json")


def test_content_after_json_array_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="after the end of the JSON document"):
        rows_of(b'[{"text": "a"}] {"text": "b"}', "incoming/r.json")
