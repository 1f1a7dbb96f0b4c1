"""The one list of what can be uploaded: each format's suffixes, reader, and an example for the docs.

Dispatch (`detect_format`, `read_rows`), the message for an unsupported type, the demo's choice of sample
files and the README's table of formats all read FORMATS; a test checks that the README lists every entry. Row
formats may also be gzip-compressed (`.gz` after their suffix); archives hold files of the row formats.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from review_pipeline.readers.archives import read_tar, read_zip
from review_pipeline.readers.byte_lines import open_binary
from review_pipeline.readers.context import ReadContext, Rows
from review_pipeline.readers.csv_rows import read_csv_rows
from review_pipeline.readers.decoding import utf8_stream
from review_pipeline.readers.errors import FileFormatError
from review_pipeline.readers.json_array import json_document_shape, read_json_array_rows
from review_pipeline.readers.json_lines import read_json_lines_rows
from review_pipeline.readers.plain_text import read_text_file

GZIP_SUFFIX = ".gz"


def _json_lines(text: io.BufferedIOBase, context: ReadContext) -> Rows:
    return read_json_lines_rows(text, context.source, context.max_line_bytes)


def _json_document(text: io.BufferedIOBase, context: ReadContext) -> Rows:
    if json_document_shape(text) == "lines":
        return _json_lines(text, context)
    return read_json_array_rows(text, context.source, context.max_line_bytes)


def _csv(text: io.BufferedIOBase, context: ReadContext) -> Rows:
    return read_csv_rows(text, context.source, context.max_line_bytes)


def _tsv(text: io.BufferedIOBase, context: ReadContext) -> Rows:
    return read_csv_rows(text, context.source, context.max_line_bytes, delimiter="\t")


@dataclass(frozen=True)
class ReviewFormat:
    """One kind of upload. `archive` readers get the raw bytes; the others get the text as UTF-8."""

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[io.BufferedIOBase, ReadContext], Rows]
    example_name: str
    example: str
    note: str = ""
    archive: bool = False
    gzipped: bool = False  # the suffix itself says gzip (.tar.gz), not an added .gz

    @property
    def compressible(self) -> bool:
        """Whether `<suffix>.gz` is accepted too."""
        return not self.archive


FORMATS: tuple[ReviewFormat, ...] = (
    ReviewFormat(
        "JSON lines",
        (".jsonl", ".ndjson"),
        _json_lines,
        "reviews.jsonl",
        '{"id": "r1", "text": "Loved it.", "rating": 9}\n{"id": "r2", "text": "Dull.", "label": "neg"}',
    ),
    ReviewFormat(
        "JSON",
        (".json",),
        _json_document,
        "reviews.json",
        '{"reviews": [{"id": "r1", "text": "Loved it."}]}',
        "or a bare array `[{...}, ...]`, or JSON lines",
    ),
    ReviewFormat(
        "CSV",
        (".csv",),
        _csv,
        "reviews.csv",
        'id,Content,rating\nr1,"Loved it, truly.",9',
        "a header line; quoted cells may hold commas and line breaks",
    ),
    ReviewFormat(
        "TSV",
        (".tsv",),
        _tsv,
        "reviews.tsv",
        "id\treview\trating\nr1\tLoved it.\t9",
        "as CSV, tab-separated",
    ),
    ReviewFormat(
        "Text, one review per file",
        (".txt",),
        read_text_file,
        "123_9.txt",
        "Loved it.",
        "id 123 and rating 9 from the name `<id>_<rating>.txt`; label from a `pos/` or `neg/` folder",
    ),
    ReviewFormat(
        "Zip archive",
        (".zip",),
        read_zip,
        "reviews.zip",
        "2024/reviews.csv, 2025/reviews.jsonl.gz, pos/12_9.txt",
        "any of the files above, in any folders",
        archive=True,
    ),
    ReviewFormat(
        "Tar archive",
        (".tar",),
        read_tar,
        "reviews.tar",
        "2024/reviews.csv, 2025/reviews.jsonl.gz, pos/12_9.txt",
        "any of the files above, in any folders",
        archive=True,
    ),
    ReviewFormat(
        "Gzipped tar archive",
        (".tar.gz", ".tgz"),
        read_tar,
        "aclImdb_v1.tar.gz",
        "aclImdb/train/pos/0_9.txt, aclImdb/train/unsup/0_0.txt, ...",
        "the IMDb dataset as published; its other files are skipped and listed on the job",
        archive=True,
        gzipped=True,
    ),
)


@dataclass(frozen=True)
class FileFormat:
    """What a key's suffix says: the format, the suffix that matched, and whether the bytes are gzip."""

    format: ReviewFormat
    suffix: str
    gzipped: bool


def accepted_suffixes() -> tuple[str, ...]:
    """Every file ending we read, longest first: each format's suffixes, and the row formats' `.gz` forms."""
    suffixes = [suffix for form in FORMATS for suffix in form.suffixes]
    suffixes += [suffix + GZIP_SUFFIX for form in FORMATS if form.compressible for suffix in form.suffixes]
    return tuple(sorted(suffixes, key=len, reverse=True))


def detect_format(key: str) -> FileFormat:
    """The format of an uploaded object (or archive member), from its name; FileFormatError if unsupported."""
    name = key.rsplit("/", 1)[-1].lower()
    for form in FORMATS:
        for suffix in form.suffixes:
            if name.endswith(suffix):
                return FileFormat(form, suffix, form.gzipped)
            if form.compressible and name.endswith(suffix + GZIP_SUFFIX):
                return FileFormat(form, suffix, True)
    found = "." + name.rsplit(".", 1)[-1] if "." in name else None
    shown = f"'{found}'" if found else "none"
    raise FileFormatError(f"{key}: unsupported file type {shown}; {supported_formats_sentence()}")


def supported_formats_sentence() -> str:
    """e.g. 'upload .jsonl/.ndjson, .json, ... (the row formats optionally gzipped: reviews.jsonl.gz)'."""
    rows = ", ".join("/".join(form.suffixes) for form in FORMATS if not form.archive)
    archives = ", ".join("/".join(form.suffixes) for form in FORMATS if form.archive)
    return f"upload {rows}, optionally .gz (for example reviews.jsonl.gz), or an archive of them: {archives}"


def read_with(file_format: FileFormat, binary: io.BufferedIOBase, context: ReadContext) -> Rows:
    """Rows of a file whose format is known: archives read their own bytes, row formats read UTF-8 text."""
    opened = open_binary(binary, gzipped=file_format.gzipped, source=context.source)
    if file_format.format.archive:
        return file_format.format.read(opened, context)
    return file_format.format.read(utf8_stream(opened, context.source, context.report.encoding), context)
