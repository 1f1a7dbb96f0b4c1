"""CSV and TSV with a header row: a text column, optionally id, movie_id, rating, label.

The text column is the first of TEXT_FIELDS (text, review, review_text, content, body, comment) the header
names; its cells come out as `text`. Quoted cells may hold the delimiter and newlines (RFC 4180, as
spreadsheets write them; TSV as Excel writes it). A row whose cell count differs from the header's is rejected
on its own; an empty line is not a row. Header names are matched without regard to case or surrounding spaces.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from review_pipeline.models import TEXT_FIELDS
from review_pipeline.readers.byte_lines import iter_text_lines
from review_pipeline.readers.errors import FileFormatError, ParsedRow, RowError

_DELIMITER_NAMES = {",": "comma", "\t": "tab"}


def read_csv_rows(
    binary: io.BufferedIOBase, source: str, max_line_bytes: int, delimiter: str = ","
) -> Iterator[ParsedRow | RowError]:
    lines = _checked_lines(binary, source, max_line_bytes)
    dialect = csv.excel_tab if delimiter == "\t" else csv.excel
    reader = csv.reader(lines, dialect, strict=False)
    header = _read_header(reader, source, delimiter)
    row = 0
    while True:
        first_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader resumes with the next line; this row is reported and the rest still counts.
            row += 1
            yield RowError(row, f"line {first_line}: unreadable CSV ({error})", "")
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip() and len(header) > 1):
            continue  # an empty line is not a row
        row += 1
        raw = _as_csv_line(cells, dialect)
        if len(cells) != len(header):
            yield RowError(
                row,
                f"line {first_line}: {len(cells)} cells but the header has {len(header)} columns "
                f"(a {_DELIMITER_NAMES[delimiter]} inside a value needs double quotes around the value)",
                raw,
            )
            continue
        yield ParsedRow(row, dict(zip(header, cells, strict=True)), raw)


def _checked_lines(binary: io.BufferedIOBase, source: str, max_line_bytes: int) -> Iterator[str]:
    for line in iter_text_lines(binary, source, max_line_bytes):
        if line.text is None:
            # A CSV line cannot be skipped safely: it may end inside a quoted cell and shift every row after
            # it.
            raise FileFormatError(
                f"{source}: line {line.number} is {line.size:,} bytes, longer than the "
                f"{max_line_bytes:,} bytes "
                "a row may have (is a closing double quote missing?); fix it and upload the file again"
            )
        yield line.text


def _read_header(reader: Iterator[list[str]], source: str, delimiter: str) -> list[str]:
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                header = [cell.strip().lower() for cell in cells]
                break
        else:
            raise FileFormatError(f"{source}: the file is empty; upload a CSV with a header line and reviews")
    except csv.Error as error:
        raise FileFormatError(f"{source}: the header line is not valid CSV ({error})") from error
    text_column = next((name for name in TEXT_FIELDS if name in header), None)
    if text_column is None:
        found = ", ".join(repr(name) for name in header[:10]) + (", ..." if len(header) > 10 else "")
        wanted = ", ".join(repr(name) for name in TEXT_FIELDS)
        raise FileFormatError(
            f"{source}: the header has no text column (one of {wanted}; found {found}); the first line must "
            f"name the columns, for example: {delimiter.join(('id', 'text', 'rating'))}"
        )
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise FileFormatError(
            f"{source}: the CSV header names {', '.join(repr(n) for n in duplicates)} more than once; "
            "give each column a distinct name"
        )
    if text_column != "text":
        header = ["text" if name == text_column else name for name in header]
    return header


def _as_csv_line(cells: list[str], dialect: type[csv.Dialect]) -> str:
    out = io.StringIO()
    csv.writer(out, dialect, lineterminator="").writerow(cells)
    return out.getvalue()
