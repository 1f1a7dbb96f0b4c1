"""moto's S3 with large objects on disk and streamed: what keeps the emulator small during a 1 GB upload.

moto 5.2 keeps an object in a SpooledTemporaryFile, in memory up to MOTO_S3_DEFAULT_KEY_BUFFER_SIZE (5 MB less
1 KB by default) and on disk above. Three things made a large upload cost gigabytes of the emulator's memory:
- CompleteMultipartUpload joins the parts in a bytearray, copies them again for the checksum, then once more
  into bytes before it stores them: about three times the object in memory at once;
- GetObject reads the whole object into memory for every request, a Range request too, before slicing it;
- every processed/ chunk (about 0.7 MB) stays in memory under the default buffer size.
Here, in this process only (the emulator's moto server):
- the buffer size is SPOOL_BYTES, so objects above it live in temporary files;
- CompleteMultipartUpload joins the parts into a temporary file one part at a time (etag, part checks and
  checksums as moto computes them; moto's own join is kept where a checksum cannot be built part by part);
- GetObject of an object above STREAM_ABOVE_BYTES answers with an `ObjectBody` that reads its range from the
  file a megabyte at a time while the response is sent (`local.moto_server` sends it outside its lock).
And one answer as S3 gives it: UploadPart to an upload that is gone (completed or aborted) is NoSuchUpload,
where moto fails with a KeyError (the export function tells a finished export from a lost one by it).
"""

from __future__ import annotations

import binascii
import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from moto.core.compat import HAS_CRT
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML, NoSuchUpload
from moto.s3.models import FakeKey, FakeMultipart, S3Backend
from moto.s3.responses import S3Response
from moto.s3.utils import compute_checksum
from moto.settings import S3_UPLOAD_PART_MIN_SIZE

SPOOL_BYTES = 256 * 1024
STREAM_ABOVE_BYTES = 8 * 1024 * 1024
READ_BYTES = 1024 * 1024
_installed = threading.Lock()
_local = threading.local()  # per request thread: a joined upload waiting for put_object; a GET being served
_ORIGINAL_COMPLETE = FakeMultipart.complete
_ORIGINAL_UPLOAD_PART = S3Backend.upload_part
_ORIGINAL_PUT = S3Backend.put_object
_ORIGINAL_GET = S3Response._key_response_get
_ORIGINAL_VALUE: property = FakeKey.__dict__["value"]


class ObjectBody:
    """Bytes [start, stop) of a stored object, read from its file a megabyte at a time when iterated.

    It is what moto's GetObject gets for `key.value`: len() and slicing (a Range request) need no read.
    """

    def __init__(self, key: FakeKey, start: int = 0, stop: int | None = None) -> None:
        self._key = key
        self._start = start
        self._stop = key.size if stop is None else min(stop, key.size)

    def __len__(self) -> int:
        return max(0, self._stop - self._start)

    def __getitem__(self, window: slice) -> ObjectBody:
        if not isinstance(window, slice) or window.step not in (None, 1):
            raise TypeError("an ObjectBody is sliced by a contiguous range only")
        start, stop, _ = window.indices(len(self))
        return ObjectBody(self._key, self._start + start, self._start + max(start, stop))

    def __iter__(self) -> Iterator[bytes]:
        position = self._start
        while position < self._stop:
            with self._key.lock:
                buffer = self._key._value_buffer
                buffer.seek(position)
                chunk = buffer.read(min(READ_BYTES, self._stop - position))
            if not chunk:
                return
            position += len(chunk)
            yield chunk


def take_streamed() -> bool:
    """Whether the request this thread just handled answers with an ObjectBody (then: send it unlocked)."""
    streamed = getattr(_local, "streamed", False)
    _local.streamed = False
    return bool(streamed)


def _value(self: FakeKey) -> Any:
    if getattr(_local, "serving_get", False) and self.size > STREAM_ABOVE_BYTES:
        _local.streamed = True
        return ObjectBody(self)
    return _ORIGINAL_VALUE.fget(self) if _ORIGINAL_VALUE.fget else b""


def _key_response_get(self: S3Response, *args: Any, **kwargs: Any) -> Any:
    _local.serving_get = True
    try:
        return _ORIGINAL_GET(self, *args, **kwargs)
    finally:
        _local.serving_get = False


class _PartChecksums:
    """moto's MultipartChecksumBuilder, fed one part at a time (moto keeps the whole object for a full-object
    checksum): None where moto's checksum cannot be built that way (awscrt or crc32c installed)."""

    def __init__(self, algorithm: str | None, checksum_type: str | None) -> None:
        self.algorithm = algorithm or "CRC64NVME"
        self.type = checksum_type or ("FULL_OBJECT" if self.algorithm == "CRC64NVME" else "COMPOSITE")
        self.parts = 0
        self._composite = bytearray()
        self._crc = 0
        self._hash = hashlib.sha1(usedforsecurity=False) if self.algorithm == "SHA1" else hashlib.sha256()

    @staticmethod
    def supported() -> bool:
        # Without them moto computes CRC32C and CRC64NVME as CRC32, which zlib continues part by part.
        return not HAS_CRT and importlib.util.find_spec("crc32c") is None

    def add(self, part: bytes) -> None:
        self.parts += 1
        if self.type == "COMPOSITE":
            self._composite.extend(compute_checksum(part, self.algorithm, encode_base64=False))
        elif self.algorithm in {"CRC32", "CRC32C", "CRC64NVME"}:
            self._crc = binascii.crc32(part, self._crc)
        else:
            self._hash.update(part)

    def build(self) -> tuple[str, str, int]:
        if self.type == "COMPOSITE":
            return self.type, compute_checksum(bytes(self._composite), self.algorithm).decode(), self.parts
        if self.algorithm in {"CRC32", "CRC32C", "CRC64NVME"}:
            digest = self._crc.to_bytes(4, "big")
        else:
            digest = self._hash.digest()
        return self.type, binascii.b2a_base64(digest, newline=False).decode(), 1


def _complete(self: FakeMultipart, body: Any) -> tuple[bytes, str, tuple[str, str, int] | None]:
    """FakeMultipart.complete, joining the parts in a temporary file; put_object then takes that file."""
    if not _PartChecksums.supported():
        return _ORIGINAL_COMPLETE(self, body)
    checksums = _PartChecksums(
        self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type")
    )
    joined = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (the stored key owns it)
    md5s = bytearray()
    size, last = 0, None
    for number, etag in body:
        part = self.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        data = part.value  # one part in memory at a time
        joined.write(data)
        checksums.add(data)
        size, last = size + len(data), part
    if last is None:
        raise MalformedXML()
    _local.joined = (joined, size)
    etag = f"{hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()}-{checksums.parts}"
    return b"", etag, checksums.build()


def _put_object(
    self: S3Backend, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any
) -> Any:
    joined = getattr(_local, "joined", None)
    if joined is None:
        return _ORIGINAL_PUT(self, bucket_name, key_name, value, *args, **kwargs)
    _local.joined = None
    buffer, size = joined
    key = _ORIGINAL_PUT(self, bucket_name, key_name, b"", *args, **kwargs)
    with key.lock:
        key._value_buffer.close()
        key._value_buffer = buffer
        key.contentsize = size
    return key


def upload_part(self: S3Backend, bucket_name: str, multipart_id: str, part_id: int, value: bytes) -> FakeKey:
    """moto's UploadPart, with S3's NoSuchUpload for an upload that is gone."""
    if multipart_id not in self.get_bucket(bucket_name).multiparts:
        raise NoSuchUpload(upload_id=multipart_id)
    return _ORIGINAL_UPLOAD_PART(self, bucket_name, multipart_id, part_id, value)


def install() -> None:
    """Apply the changes above to moto in this process (idempotent)."""
    with _installed:
        os.environ["MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"] = str(SPOOL_BYTES)
        FakeMultipart.complete = _complete  # type: ignore[method-assign]
        S3Backend.upload_part = upload_part  # type: ignore[method-assign]
        S3Backend.put_object = _put_object  # type: ignore[method-assign]
        S3Response._key_response_get = _key_response_get  # type: ignore[method-assign]
        FakeKey.value = property(_value, _ORIGINAL_VALUE.fset)  # type: ignore[method-assign,assignment]
