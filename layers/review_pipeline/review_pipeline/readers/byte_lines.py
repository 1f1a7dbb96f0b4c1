"""A binary stream (optionally gzip) read as UTF-8 text lines, with file-level problems as FileFormatError.

The readers get their bytes through readers.decoding.Utf8Stream, which has already turned any accepted
encoding into valid UTF-8.

Lines are split on b"\\n" in the byte stream before decoding: UTF-8 never uses that byte inside a character,
so a line is always whole characters, and U+2028 inside a JSON string does not split a row as str.splitlines()
would. Each line is read with a length limit, so one enormous line cannot exhaust the function's memory.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple, Protocol

from review_pipeline.readers.errors import FileFormatError

# Far above any review (MAX_TEXT_CHARS defaults to 20,000 characters, at most 4 bytes each, plus markup).
DEFAULT_MAX_LINE_BYTES = 1 << 20
_READ_SIZE = 1 << 18
# What a broken .gz raises; network errors from the underlying stream are deliberately not here (they retry).
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _ReadableAdapter(io.RawIOBase):
    """Lets io.BufferedReader (so gzip and readline) sit on anything with read(n), e.g. a StreamingBody."""

    def __init__(self, source: Readable) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class TextLine(NamedTuple):
    """One physical line; `text` is None when the line is longer than the limit (`size` says how long)."""

    number: int
    offset: int  # byte offset of the line's first byte (in the uncompressed stream for .gz)
    text: str | None
    size: int
    head: bytes  # the first bytes of the line, to show in a rejection


def open_binary(stream: BinaryIO | Readable, gzipped: bool, source: str) -> io.BufferedIOBase:
    """A buffered binary reader over the stream, decompressing on the fly when the key says .gz."""
    buffered = io.BufferedReader(_ReadableAdapter(stream), buffer_size=_READ_SIZE)
    if not gzipped:
        return buffered
    return _CheckedGzip(gzip.GzipFile(fileobj=buffered, mode="rb"), source)


class _CheckedGzip(io.BufferedIOBase):
    """GzipFile whose errors (not gzip, truncated, corrupt) become FileFormatError wherever they surface."""

    def __init__(self, inner: gzip.GzipFile, source: str) -> None:
        self._inner = inner
        self._source = source

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        try:
            return self._inner.read(-1 if size is None else size)
        except _GZIP_ERRORS as error:
            raise _gzip_error(self._source, error) from error

    def read1(self, size: int = -1, /) -> bytes:
        try:
            return self._inner.read1(size)
        except _GZIP_ERRORS as error:
            raise _gzip_error(self._source, error) from error

    def readline(self, size: int | None = -1, /) -> bytes:
        try:
            return self._inner.readline(-1 if size is None else size)
        except _GZIP_ERRORS as error:
            raise _gzip_error(self._source, error) from error

    def peek(self, size: int = 0, /) -> bytes:
        try:
            return self._inner.peek(size)
        except _GZIP_ERRORS as error:
            raise _gzip_error(self._source, error) from error


def _gzip_error(source: str, error: Exception) -> FileFormatError:
    if isinstance(error, gzip.BadGzipFile):
        return FileFormatError(
            f"{source}: the name ends in .gz but the content is not gzip ({error}); "
            "compress it with gzip or upload it without the .gz suffix"
        )
    if isinstance(error, EOFError):
        return FileFormatError(
            f"{source}: the gzip data is truncated ({error}); upload the complete file again"
        )
    return FileFormatError(
        f"{source}: the gzip data is corrupt ({error}); compress and upload the file again"
    )


def peek_start(binary: io.BufferedIOBase, size: int = 4096) -> bytes:
    """The first bytes of the stream without consuming them (as many as the buffer holds, up to `size`)."""
    peek = getattr(binary, "peek", None)
    return peek(size)[:size] if peek is not None else b""


def iter_text_lines(binary: io.BufferedIOBase, source: str, max_line_bytes: int) -> Iterator[TextLine]:
    """The stream's lines, decoded as UTF-8, line endings kept."""
    number = 0
    offset = 0
    while True:
        line = binary.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        size = len(line)
        if size > max_line_bytes and not line.endswith(b"\n"):
            head = line[:300]
            # Skip the rest of the over-long line without holding it.
            while line and not line.endswith(b"\n"):
                line = binary.readline(_READ_SIZE)
                size += len(line)
            yield TextLine(number, offset, None, size, head)
        else:
            yield TextLine(number, offset, decode_utf8(line, source, offset, number), size, line[:300])
        offset += size


def decode_utf8(data: bytes, source: str, offset: int, line_number: int | None = None) -> str:
    """Decode UTF-8, or say exactly where the first byte that is not UTF-8 sits."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"byte offset {offset + error.start}"
        if line_number is not None:
            where += f", line {line_number}"
        bad = data[error.start : error.start + 1].hex()
        raise FileFormatError(
            f"{source}: the file is not UTF-8 text (byte 0x{bad} at {where}); "
            "save it as UTF-8 (for example from a spreadsheet: 'CSV UTF-8') and upload it again"
        ) from error
