"""Every format of the registry: text files, archives (the IMDb dataset as published), TSV, JSON documents,
text columns, encodings and line endings; zero-byte and binary files under every accepted suffix."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile

import pytest

from review_pipeline.readers import (
    FORMATS,
    FileFormatError,
    InputReport,
    ParsedRow,
    RowError,
    accepted_suffixes,
    detect_format,
    read_rows,
)


def read(data: bytes, key: str, report: InputReport | None = None) -> list[ParsedRow | RowError]:
    return list(read_rows(io.BytesIO(data), key, report=report))


def fields_of(rows: list[ParsedRow | RowError]) -> list[dict[str, object]]:
    return [row.fields for row in rows if isinstance(row, ParsedRow)]


def tar_of(members: dict[str, bytes], compress: bool) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if compress else "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# The layout of aclImdb_v1.tar.gz as published, with a few reviews.
ACL_IMDB = {
    "aclImdb/README": b"Large Movie Review Dataset v1.0\n",
    "aclImdb/imdb.vocab": b"the\nand\n",
    "aclImdb/imdbEr.txt": b"0.0490972013402\n",
    "aclImdb/train/labeledBow.feat": b"9 0:9 1:1\n",
    "aclImdb/train/urls_pos.txt": b"http://www.imdb.com/title/tt0453418/usercomments\n",
    "aclImdb/train/pos/0_9.txt": b"Bromwell High is a cartoon comedy.<br /><br />Loved it.",
    "aclImdb/train/neg/0_3.txt": b"Story of a man who has unnatural feelings for a pig.",
    "aclImdb/train/unsup/0_0.txt": "I admit, the majority of films released before 1933 \u2026".encode(),
    "aclImdb/test/pos/0_10.txt": b"I went and saw this movie last night.",
}


# -- the registry -------------------------------------------------------------------------------------------
def test_every_accepted_suffix_dispatches_to_its_registry_entry() -> None:
    for form in FORMATS:
        for suffix in form.suffixes:
            detected = detect_format(f"incoming/Reviews{suffix.upper()}")
            assert detected.format is form
            if form.compressible:
                assert detect_format(f"incoming/r{suffix}.gz").gzipped
    assert ".tar.gz" in accepted_suffixes()
    assert ".jsonl.gz" in accepted_suffixes()
    assert ".zip.gz" not in accepted_suffixes()


def test_the_readme_lists_every_format_of_the_registry_with_its_example() -> None:
    from scripts.formats_doc import README, formats_table, section_of

    # Then the README's table of input formats is exactly what the registry generates
    assert section_of(README.read_text(encoding="utf-8")) == formats_table()
    for form in FORMATS:
        assert all(f"`{suffix}`" in formats_table() for suffix in form.suffixes)


# -- one review per .txt file --------------------------------------------------------------------------------
def test_txt_file_is_one_review_with_id_and_rating_from_its_name() -> None:
    rows = read(b"Loved it.\r\nTruly.\r\n", "incoming/batch/123_9.txt")
    assert fields_of(rows) == [{"id": "123", "rating": 9, "text": "Loved it.\r\nTruly.\r\n"}]
    assert fields_of(read(b"Meh.", "incoming/neg/my_review.txt")) == [
        {"id": "my_review", "label": 0, "text": "Meh."}
    ]


# -- archives -----------------------------------------------------------------------------------------------
def test_aclimdb_tar_gz_as_published_is_read_with_labels_and_metadata_skipped() -> None:
    # Given the IMDb dataset's layout as a .tar.gz
    report = InputReport()
    rows = read(tar_of(ACL_IMDB, compress=True), "incoming/aclImdb_v1.tar.gz", report)
    # Then each review file is a row: ids from the paths, ratings from the names, labels from pos/neg folders
    assert fields_of(rows) == [
        {
            "id": "aclImdb/train/pos/0",
            "rating": 9,
            "label": 1,
            "text": ACL_IMDB["aclImdb/train/pos/0_9.txt"].decode(),
        },
        {
            "id": "aclImdb/train/neg/0",
            "rating": 3,
            "label": 0,
            "text": ACL_IMDB["aclImdb/train/neg/0_3.txt"].decode(),
        },
        {"id": "aclImdb/train/unsup/0", "text": ACL_IMDB["aclImdb/train/unsup/0_0.txt"].decode()},
        {
            "id": "aclImdb/test/pos/0",
            "rating": 10,
            "label": 1,
            "text": ACL_IMDB["aclImdb/test/pos/0_10.txt"].decode(),
        },
    ]
    assert [row.row for row in rows] == [1, 2, 3, 4]
    # And the other members are skipped and reported, not rejected as rows
    assert (report.format, report.members_read, report.skipped_count) == ("Gzipped tar archive", 4, 5)
    assert report.skipped == [
        "aclImdb/README: dataset metadata (IMDb URLs, vocabulary or README), not reviews",
        "aclImdb/imdb.vocab: dataset metadata (IMDb URLs, vocabulary or README), not reviews",
        "aclImdb/imdbEr.txt: dataset metadata (IMDb URLs, vocabulary or README), not reviews",
        "aclImdb/train/labeledBow.feat: not a review file type (labeledBow.feat)",
        "aclImdb/train/urls_pos.txt: dataset metadata (IMDb URLs, vocabulary or README), not reviews",
    ]


def test_zip_and_tar_hold_any_supported_files_numbered_on_across_members() -> None:
    members = {
        "a/reviews.csv": b"id,text\nc1,one\nc2,two\n",
        "b/more.jsonl.gz": gzip.compress(b'{"id": "j1", "text": "three"}\n[1]\n'),
        "__MACOSX/._reviews.csv": b"\x00\x05\x16\x07",
        "nested.zip": zip_of({"x.txt": b"inner"}),
        "broken.json": b'[{"text": "four"}, {"text" "five"}]',
        "c/7_8.txt": b"six",
    }
    for key, data in (
        ("incoming/r.zip", zip_of(members)),
        ("incoming/r.tar", tar_of(members, compress=False)),
    ):
        report = InputReport()
        rows = read(data, key, report)
        assert [(row.row, type(row).__name__) for row in rows] == [
            (1, "ParsedRow"),
            (2, "ParsedRow"),
            (3, "ParsedRow"),
            (4, "RowError"),
            (5, "ParsedRow"),
            (6, "ParsedRow"),
        ]
        assert rows[3].reason.startswith("b/more.jsonl.gz: line 2: expected a JSON object")  # type: ignore[union-attr]
        assert fields_of(rows)[-1] == {"id": "c/7", "rating": 8, "text": "six"}
        # A broken member keeps the rows read before the error, and is reported with the reason
        assert report.skipped_count == 3
        assert report.skipped[0] == "__MACOSX/._reviews.csv: hidden or system file, not reviews"
        assert report.skipped[1].startswith("nested.zip: an archive inside the archive is not read")
        assert report.skipped[2].startswith("broken.json: invalid JSON in item 2 of the array")


# -- row formats ---------------------------------------------------------------------------------------------
def test_tsv_with_crlf_and_a_review_column() -> None:
    rows = read(b'ID\tReview\trating\r\n1\tGreat, truly.\t9\r\n2\t"Tab\tinside"\t\r\n', "incoming/r.tsv")
    assert fields_of(rows) == [
        {"id": "1", "text": "Great, truly.", "rating": "9"},
        {"id": "2", "text": "Tab\tinside", "rating": ""},
    ]


@pytest.mark.parametrize("column", ["text", "Review", "REVIEW_TEXT", "Content", "body", "Comment"])
def test_csv_text_column_is_found_case_insensitively(column: str) -> None:
    assert fields_of(read(f"id,{column}\r\n1,fine\r\n".encode(), "incoming/r.csv")) == [
        {"id": "1", "text": "fine"}
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"reviews": [{"text": "a"}, {"text": "b"}]},
        {
            "source": {"site": "x", "reviews": [1]},
            "count": 2,
            "reviews": [{"text": "a"}, {"text": "b"}],
            "end": None,
        },
        [{"text": "a"}, {"text": "b"}],
    ],
)
@pytest.mark.parametrize("indent", [None, 2])
def test_json_array_or_object_with_reviews_array(document: object, indent: int | None) -> None:
    data = json.dumps(document, indent=indent).encode()
    assert fields_of(read(data, "incoming/r.json")) == [{"text": "a"}, {"text": "b"}]


def test_json_object_without_reviews_array_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="has no 'reviews' array"):
        read(b'{\n "items": [{"text": "a"}]\n}', "incoming/r.json")


def test_json_file_of_json_lines_is_read_as_lines() -> None:
    assert fields_of(read(b'{"text": "a", "reviews": 3}\r\n{"text": "b"}\r\n', "incoming/r.json")) == [
        {"text": "a", "reviews": 3},
        {"text": "b"},
    ]


# -- encodings -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("encoding", "described"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8 (BOM)"), ("utf-16", "utf-16-le"), ("utf-16-be", "utf-16-be")],
)
@pytest.mark.parametrize("key", ["incoming/r.csv", "incoming/r.tsv", "incoming/r.jsonl", "incoming/r.json"])
def test_unicode_encodings_with_crlf(encoding: str, described: str, key: str) -> None:
    texts = ["Café crème", "naïve – “quoted” ☃"]
    if key.endswith(("csv", "tsv")):
        sep = "," if key.endswith("csv") else "\t"
        body = f"id{sep}text\r\n" + "".join(f'{i}{sep}"{t}"\r\n' for i, t in enumerate(texts))
    else:
        body = "".join(
            json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\r\n" for i, t in enumerate(texts)
        )
    data = body.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    report = InputReport()
    assert [row["text"] for row in fields_of(read(data, key, report))] == texts
    assert report.encoding.describe() == described


def test_cp1252_csv_is_read_with_the_stated_fallback() -> None:
    data = "id,text\r\n1,Caf\u00e9 \u2013 \u201cgreat\u201d \u20ac5\r\n".encode("cp1252")
    report = InputReport()
    assert fields_of(read(data, "incoming/legacy.csv", report)) == [
        {"id": "1", "text": "Caf\u00e9 \u2013 \u201cgreat\u201d \u20ac5"}
    ]
    assert report.encoding.fallback_bytes == 5
    assert report.encoding.describe() == "utf-8; not UTF-8, read as cp1252 (legacy 8-bit text): 5 byte(s)"


# -- empty and binary files under every suffix ---------------------------------------------------------------
# A zero-byte file of these types is a file error; of the others it has no rows (the job then fails as having
# no reviews), except .txt: one review with no text, which validation rejects with its reason.
_EMPTY_IS_A_FILE_ERROR = {".csv", ".tsv", ".zip", ".tar", ".tgz"}


@pytest.mark.parametrize("suffix", accepted_suffixes())
def test_zero_byte_file_has_no_rows_or_is_a_file_error(suffix: str) -> None:
    key = f"incoming/empty{suffix}"
    if suffix.removesuffix(".gz") in _EMPTY_IS_A_FILE_ERROR:
        with pytest.raises(FileFormatError, match=f"^{key}: "):
            read(b"", key)
    else:
        expected = [{"id": "empty", "text": ""}] if suffix.startswith(".txt") else []
        assert fields_of(read(b"", key)) == expected


@pytest.mark.parametrize("suffix", accepted_suffixes())
def test_binary_garbage_is_a_file_error_under_every_suffix(suffix: str) -> None:
    garbage = bytes(range(256)) + os.urandom(4096)
    with pytest.raises(FileFormatError) as raised:
        read(garbage, f"incoming/garbage{suffix}")
    assert str(raised.value).startswith(f"incoming/garbage{suffix}: ")
