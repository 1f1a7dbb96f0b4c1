"""A .json document: a top-level array of objects, or an object whose `reviews` member is that array, parsed
item by item as the bytes arrive.

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
REVIEWS_KEY = "reviews"


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


def json_document_shape(binary: io.BufferedIOBase) -> str:
    """'array', 'object' (an object holding a `reviews` array) or 'lines' (JSON lines), from the first bytes.

    A first line that is a whole JSON object without a `reviews` list is the first row of JSON lines; an
    object that spans lines, or holds a `reviews` list, is a document.
    """
    start = peek_start(binary, 1 << 16).removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"["):
        return "array"
    if not start.startswith(b"{"):
        return "lines"
    first_line = start.split(b"\n", 1)[0]
    try:
        value = json.loads(first_line)
    except ValueError:
        return "object"
    return "object" if isinstance(value, dict) and isinstance(value.get(REVIEWS_KEY), list) else "lines"


def read_json_array_rows(
    binary: io.BufferedIOBase, source: str, max_item_bytes: int
) -> Iterator[ParsedRow | RowError]:
    """The items of a top-level array, or of the `reviews` array of a top-level object."""
    text = _ArrayText(binary, source)
    decoder = json.JSONDecoder()
    first = text.next_char()
    if first == "[":
        yield from _array_items(text, decoder, source, max_item_bytes)
    elif first == "{":
        yield from _object_reviews(text, decoder, source, max_item_bytes)
    else:
        raise FileFormatError(
            f"{source}: expected a JSON array, an object with a 'reviews' array, or JSON lines"
        )
    if text.next_char():
        raise FileFormatError(f"{source}: unexpected content after the end of the JSON document")


def _object_reviews(
    text: _ArrayText, decoder: json.JSONDecoder, source: str, max_item_bytes: int
) -> Iterator[ParsedRow | RowError]:
    """The `reviews` array of the object starting at `pos`; other members are parsed and passed over."""
    text.pos += 1
    found = False
    members = 0
    while (char := text.next_char()) != "}":
        if members:
            if char != ",":
                raise _syntax_error(source, 0, "expected ',' or '}' after a member of the object")
            text.pos += 1
            text.next_char()
        members += 1
        name, text.pos = text.decode_item(decoder, 0, max_item_bytes)
        if not isinstance(name, str) or text.next_char() != ":":
            raise _syntax_error(source, 0, "expected a member name and ':' in the object")
        text.pos += 1
        if name == REVIEWS_KEY and text.next_char() == "[":
            yield from _array_items(text, decoder, source, max_item_bytes)
            found = True
        else:
            text.next_char()
            _, text.pos = text.decode_item(decoder, 0, max_item_bytes)
    text.pos += 1  # the closing '}'
    if not found:
        raise FileFormatError(
            f"{source}: the JSON object has no '{REVIEWS_KEY}' array; upload an array of reviews, "
            f'an object like {{"{REVIEWS_KEY}": [{{"text": "..."}}]}}, or one JSON object per line'
        )


def _array_items(
    text: _ArrayText, decoder: json.JSONDecoder, source: str, max_item_bytes: int
) -> Iterator[ParsedRow | RowError]:
    """The items of the array whose '[' is at `pos`; leaves `pos` after its closing ']'."""
    text.pos += 1
    row = 0
    while True:
        char = text.next_char()
        if char == "]":
            break
        if row:
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


def _may_be_cut_off(error: json.JSONDecodeError, buffered: int) -> bool:
    """Whether the decoder failed only because the buffered text ends mid-item (more bytes may fix it)."""
    return error.pos >= buffered - 1 or error.msg.startswith("Unterminated string")


def _syntax_error(source: str, row: int, detail: str) -> FileFormatError:
    where = f"item {row} of the array" if row else "the object around the array"
    return FileFormatError(
        f"{source}: invalid JSON in {where} ({detail}); items before it were read, "
        "but a broken array cannot be read past the error: fix it and upload the file again"
    )
