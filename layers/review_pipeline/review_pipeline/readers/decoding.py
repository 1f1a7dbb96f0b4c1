"""Any text encoding we accept, turned into one: a stream of valid UTF-8 bytes, so every reader sees UTF-8.

The encoding is chosen per file (per member of an archive), from its first bytes:
- a byte-order mark says UTF-8 (the mark is dropped) or UTF-16 little/big endian (transcoded to UTF-8);
- otherwise the bytes are read as UTF-8, and the stated fallback for legacy 8-bit text applies: any byte that
  is not part of valid UTF-8 is read as Windows-1252 (cp1252, what Excel and Notepad write on Western Windows
  systems; its five unassigned bytes are read as Latin-1). How many bytes needed it is recorded on the job. A
  NUL byte near the start of a file without a BOM means binary data (or UTF-16 without a BOM), not text: that
  is a FileFormatError, not a file of garbage rows.
"""

from __future__ import annotations

import codecs
import io
import threading
from dataclasses import dataclass, field

from review_pipeline.readers.errors import FileFormatError

_READ_SIZE = 1 << 18
_SNIFF_BYTES = 8192
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
FALLBACK_ENCODING = "cp1252"
_CP1252_UNASSIGNED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
_CP1252_CHARS = [
    chr(byte) if byte in _CP1252_UNASSIGNED else bytes([byte]).decode(FALLBACK_ENCODING)
    for byte in range(256)
]
_FALLBACK_HANDLER = "review-pipeline-cp1252"
_fallback_bytes = threading.local()


def _read_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """codecs error handler: the bytes that are not UTF-8, read as cp1252 (and counted for this thread)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    _fallback_bytes.count = getattr(_fallback_bytes, "count", 0) + len(bad)
    return "".join(_CP1252_CHARS[byte] for byte in bad), error.end


codecs.register_error(_FALLBACK_HANDLER, _read_as_cp1252)


@dataclass
class EncodingReport:
    """What the decoding of one upload found: each encoding seen, and how many bytes needed the fallback."""

    encodings: set[str] = field(default_factory=set)
    fallback_bytes: int = 0

    def describe(self) -> str:
        """e.g. 'utf-8' or 'utf-8; not UTF-8, read as cp1252 (legacy 8-bit text): 12 byte(s)'."""
        shown = ", ".join(sorted(self.encodings)) or "utf-8"
        if self.fallback_bytes:
            fallback = f"not UTF-8, read as {FALLBACK_ENCODING} (legacy 8-bit text)"
            shown += f"; {fallback}: {self.fallback_bytes:,} byte(s)"
        return shown


class Utf8Stream(io.RawIOBase):
    """Valid UTF-8 bytes decoded from `binary` in its detected encoding (see the module docstring)."""

    def __init__(self, binary: io.BufferedIOBase, source: str, report: EncodingReport) -> None:
        self._binary = binary
        self._report = report
        self._pending = b""
        self._done = False
        encoding = _detect(binary, source)
        report.encodings.add(encoding)
        codec = {"utf-8 (BOM)": "utf-8-sig"}.get(encoding, encoding)
        errors = _FALLBACK_HANDLER if codec.startswith("utf-8") else "strict"
        self._decoder = codecs.getincrementaldecoder(codec)(errors=errors)
        self._source = source
        self._bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = self._next_block()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next_block(self) -> bytes:
        data = self._binary.read(_READ_SIZE)
        self._done = not data
        before = getattr(_fallback_bytes, "count", 0)
        try:
            text = self._decoder.decode(data, final=self._done)
        except UnicodeDecodeError as error:  # only UTF-16 decodes strictly
            raise FileFormatError(
                f"{self._source}: the UTF-16 text is broken near byte offset "
                f"{self._bytes_read + error.start} "
                f"({error.reason}); save it again as UTF-8 and upload it again"
            ) from error
        self._report.fallback_bytes += getattr(_fallback_bytes, "count", 0) - before
        self._bytes_read += len(data)
        return text.encode("utf-8")


def _detect(binary: io.BufferedIOBase, source: str) -> str:
    start = binary.peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if hasattr(binary, "peek") else b""
    if start.startswith(_UTF8_BOM):
        return "utf-8 (BOM)"
    for bom, encoding in _UTF16_BOMS.items():
        if start.startswith(bom):
            binary.read(len(bom))
            return encoding
    if b"\x00" in start:
        raise FileFormatError(
            f"{source}: the file holds binary data (NUL bytes), not text; upload review text as UTF-8 "
            "(UTF-16 needs its byte-order mark), or check that the file name says what the file is"
        )
    return "utf-8"


def utf8_stream(binary: io.BufferedIOBase, source: str, report: EncodingReport) -> io.BufferedReader:
    """A buffered reader (readline, peek) over the stream's text as UTF-8 bytes."""
    return io.BufferedReader(Utf8Stream(binary, source, report), buffer_size=_READ_SIZE)
