"""A .json file holding one top-level array of objects, parsed item by item as the bytes arrive.

The array is never held whole: the decoder keeps only the text of the item being parsed. An item that is not
an object is rejected on its own; broken JSON syntax cannot be resynchronised inside an array, so it fails the
file with the item number and position.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator

from review_pipeline.readers.byte_lines import peek_start
from review_pipeline.readers.errors import FileFormatError, ParsedRow, RowError
from review_pipeline.readers.json_lines import json_type_name

_READ_SIZE = 1 << 16
_WHITESPACE = " \t\r\n"


def looks_like_json_array(binary: io.BufferedIOBase, source: str) -> bool:
    """True when the first character that is not whitespace (after a BOM) is '['."""
    start = peek_start(binary).removeprefix(b"\xef\xbb\xbf").lstrip()
    return start.startswith(b"[")


class _ArrayText:
    """The decoded text of the stream, refilled on demand, with the consumed part dropped."""

    def __init__(self, binary: io.BufferedIOBase, source: str) -> None:
        self._binary = binary
        self._source = source
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._bytes_read = 0
        self.text = ""
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        """Append the next piece of the stream; False at the end."""
        if self.eof:
            return False
        data = self._binary.read(_READ_SIZE)
        try:
            piece = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            raise FileFormatError(
                f"{self._source}: the file is not UTF-8 text "
                f"(near byte offset {self._bytes_read + error.start}); "
                "save it as UTF-8 and upload it again"
            ) from error
        self._bytes_read += len(data)
        if not data:
            self.eof = True
        if self.pos > _READ_SIZE:
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += piece
        return bool(data)

    def decode_item(self, decoder: json.JSONDecoder, row: int, max_item_bytes: int) -> tuple[object, int]:
        """The JSON value starting at `pos` and where it ends, reading more of the stream as needed."""
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if not _may_be_cut_off(error, len(self.text)) or not self.fill():
                    raise _syntax_error(self._source, row, error.msg) from error
            else:
                # A number or literal ending exactly where the buffered text ends may go on in the next piece.
                if end < len(self.text) or not self.fill():
                    return value, end
            if len(self.text) - self.pos > max_item_bytes:
                raise FileFormatError(
                    f"{self._source}: item {row} of the JSON array is longer than {max_item_bytes:,} bytes; "
                    "shorten it and upload the file again"
                )

    def next_char(self) -> str:
        """The next character that is not whitespace, not consumed ('' at the end of the stream)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return ""


def read_json_array_rows(
    binary: io.BufferedIOBase, source: str, max_item_bytes: int
) -> Iterator[ParsedRow | RowError]:
    text = _ArrayText(binary, source)
    decoder = json.JSONDecoder()
    if text.next_char() != "[":
        raise FileFormatError(f"{source}: expected a JSON array or JSON lines")
    text.pos += 1
    row = 0
    while True:
        char = text.next_char()
        if char == "]" and row == 0:
            break
        if row:
            if char == "]":
                break
            if char != ",":
                raise _syntax_error(source, row, "expected ',' or ']' after the item")
            text.pos += 1
            text.next_char()
        row += 1
        value, end = text.decode_item(decoder, row, max_item_bytes)
        raw = text.text[text.pos : end]
        text.pos = end
        if isinstance(value, dict):
            yield ParsedRow(row, value, raw)
        else:
            yield RowError(
                row,
                f'item {row}: expected a JSON object like {{"text": "..."}}, got {json_type_name(value)}',
                raw,
            )
    text.pos += 1  # the closing ']'
    if text.next_char():
        raise FileFormatError(f"{source}: unexpected content after the closing ']' of the JSON array")


def _may_be_cut_off(error: json.JSONDecodeError, buffered: int) -> bool:
    """Whether the decoder failed only because the buffered text ends mid-item (more bytes may fix it)."""
    return error.pos >= buffered - 1 or error.msg.startswith("Unterminated string")


def _syntax_error(source: str, row: int, detail: str) -> FileFormatError:
    return FileFormatError(
        f"{source}: invalid JSON in item {row} of the array ({detail}); items before it were read, "
        "but a broken array cannot be read past the error: fix it and upload the file again"
    )
