"""Byte ranges of a JSON lines object: wherever the cuts fall, the pieces hold exactly the object's lines."""

from __future__ import annotations

import io

import pytest

from review_pipeline.readers.ranges import (
    PieceLines,
    byte_ranges,
    is_range_splittable,
    range_request_start,
)

OBJECT = b'{"text": "one"}\n\n{"text": "two, longer"}\n{"text": "3"}\n' + b'{"text": "' + b"x" * 40 + b'"}'


def piece_bytes(data: bytes, start: int, end: int) -> bytes:
    body = io.BytesIO(data[range_request_start(start) :])
    return io.BufferedReader(PieceLines(body, start, end)).read()


@pytest.mark.parametrize("piece_size", [1, 2, 3, 7, 16, 17, 40, len(OBJECT) - 1, len(OBJECT), 1000])
def test_given_any_cut_when_the_pieces_are_read_then_together_they_are_the_object_once(
    piece_size: int,
) -> None:
    # Given the object cut into ranges of `piece_size` bytes (cuts inside lines, on newlines, after them)
    ranges = byte_ranges(len(OBJECT), piece_size, max_pieces=10_000)

    # When each range is read on its own
    pieces = [piece_bytes(OBJECT, start, end) for start, end in ranges]

    # Then, in order, they are the whole object, each line in exactly one piece, and only whole lines
    assert b"".join(pieces) == OBJECT
    for number, piece in enumerate(pieces):
        last_line = OBJECT.endswith(piece) and not any(pieces[number + 1 :])
        assert not piece or piece.endswith(b"\n") or last_line


def test_given_a_size_when_planned_then_ranges_cover_it_and_respect_the_piece_limit() -> None:
    assert byte_ranges(100, 30, max_pieces=10) == [(0, 25), (25, 50), (50, 75), (75, 100)]
    assert len(byte_ranges(10**6, 10, max_pieces=999)) == 999
    assert byte_ranges(5, 64, max_pieces=999) == [(0, 5)]


@pytest.mark.parametrize(
    ("key", "first_bytes", "splittable"),
    [
        ("incoming/a.jsonl", b'{"text": "x"}\n', True),
        ("incoming/a.ndjson", b'{"text": "x"}\n', True),
        ("incoming/a.jsonl.gz", b"\x1f\x8b", False),
        ("incoming/a.csv", b"id,text\n", False),
        ("incoming/a.tsv", b"id\ttext\n", False),
        ("incoming/a.json", b"[{}]", False),
        ("incoming/a.jsonl", b"\xff\xfe{\x00", False),
        ("incoming/a.jsonl", b"PK\x03\x04\x00\x00", False),
    ],
)
def test_only_uncompressed_utf8_json_lines_are_cut(key: str, first_bytes: bytes, splittable: bool) -> None:
    assert is_range_splittable(key, first_bytes) is splittable
