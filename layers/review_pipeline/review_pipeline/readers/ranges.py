"""Byte ranges of a JSON lines object, each read on its own: the lines that START in a range belong to it.

A piece [start, end) is read from byte start - 1 (from 0 for the first piece): everything up to and
including the first newline is the end of the previous piece's last line and is skipped (when that newline is
byte start - 1 itself, a line starts exactly at `start` and nothing is skipped); then every byte before `end`
is the piece's, and past `end` the piece reads on to finish its last line. So each line belongs to exactly one
piece wherever the cuts fall, and the pieces hold, in order, exactly the lines of the whole object.

Only formats whose records never hold a raw newline can be cut this way: JSON lines (a newline inside a JSON
string is written \\n). CSV and TSV may quote a line break inside a cell, and no byte position tells whether
it sits inside quotes, so they are never cut (nor is anything compressed, or UTF-16, whose newline is two
bytes): those are read whole, continued from checkpoints (logic/pieces.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from review_pipeline.readers.byte_lines import Readable
from review_pipeline.readers.formats import detect_format

_READ_SIZE = 1 << 18
_NEWLINE = b"\n"
# An object's first bytes that rule out cutting it: a UTF-16 byte-order mark, or NUL bytes (binary or UTF-16).
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def is_range_splittable(key: str, first_bytes: bytes) -> bool:
    """Whether the object can be cut into byte ranges: uncompressed JSON lines in UTF-8 (or cp1252) text."""
    file_format = detect_format(key)
    if file_format.gzipped or file_format.format.name != "JSON lines":
        return False
    return not first_bytes.startswith(_UTF16_BOMS) and b"\x00" not in first_bytes


def byte_ranges(size: int, piece_bytes: int, max_pieces: int) -> list[tuple[int, int]]:
    """[start, end) ranges of about `piece_bytes` covering `size` bytes, at most `max_pieces` of them."""
    count = min(max_pieces, max(1, -(-size // piece_bytes)))
    step = -(-size // count)
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def range_request_start(start: int) -> int:
    """The first byte a piece reads: one before its start, to see whether a line starts exactly there."""
    return max(0, start - 1)


class PieceLines(io.RawIOBase):
    """The bytes of the lines that start in [start, end), given the object read from range_request_start."""

    def __init__(self, body: BinaryIO | Readable, start: int, end: int) -> None:
        self._body = body
        self._start = start
        self._end = end
        self._blocks = self._lines()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = block
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _read(self) -> bytes:
        return self._body.read(_READ_SIZE)

    def _lines(self) -> Iterator[bytes]:
        position, data = 0, b""
        if self._start:
            position, data = self._skip_partial_line()
            if position < 0:
                return
        last = _NEWLINE
        while True:
            if not data:
                data = self._read()
                if not data:
                    return
            if position < self._end:
                taken = data[: self._end - position]
                position += len(taken)
                data = data[len(taken) :]
                last = taken[-1:]
                yield taken
                continue
            if last == _NEWLINE:
                return  # the piece's last line ended exactly at `end`
            newline = data.find(_NEWLINE)
            if newline >= 0:
                yield data[: newline + 1]
                return
            position += len(data)
            yield data
            data = b""

    def _skip_partial_line(self) -> tuple[int, bytes]:
        """(offset of the piece's first line start, the bytes from there); (-1, b"") when no line starts."""
        position = self._start - 1
        while True:
            block = self._read()
            if not block:
                return -1, b""
            newline = block.find(_NEWLINE)
            if newline >= 0:
                return position + newline + 1, block[newline + 1 :]
            position += len(block)
