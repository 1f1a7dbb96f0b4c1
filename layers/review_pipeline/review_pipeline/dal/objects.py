"""S3 objects of the pipeline: uploaded files (streamed), processed/ chunks and rejected/ rows (written)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per call


class ObjectMissingError(Exception):
    """The uploaded object (or the version the event named) no longer exists."""


class ObjectStore:
    """Reads and writes the pipeline's objects; knows nothing about their content."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def open(self, bucket: str, key: str, version_id: str | None = None, first_byte: int = 0) -> Any:
        """The object's body from `first_byte` on as a stream (botocore StreamingBody); read it in pieces."""
        return self._get(bucket, key, version_id, f"bytes={first_byte}-" if first_byte else None)["Body"]

    def sniff(
        self, bucket: str, key: str, version_id: str | None = None, size: int = 4096
    ) -> tuple[int, bytes]:
        """The object's size and its first `size` bytes (what says whether it can be cut into byte ranges)."""
        try:
            response = self._get(bucket, key, version_id, f"bytes=0-{size - 1}")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"InvalidRange", "416"}:
                return 0, b""  # an empty object has no byte 0
            raise
        first = response["Body"].read()
        content_range = str(response.get("ContentRange") or "")
        return (int(content_range.rsplit("/", 1)[1]) if "/" in content_range else len(first)), first

    def _get(self, bucket: str, key: str, version_id: str | None, byte_range: str | None) -> Any:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        if byte_range:
            request["Range"] = byte_range
        try:
            return self._s3.get_object(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING_CODES:
                version = f" (version {version_id})" if version_id else ""
                raise ObjectMissingError(
                    f"{key}{version} no longer exists in bucket {bucket}; it was deleted or replaced "
                    "before it could be read: upload it again"
                ) from error
            raise

    def read_bytes(self, bucket: str, key: str) -> bytes:
        """A small object of the pipeline's own, whole."""
        return bytes(self._get(bucket, key, None, None)["Body"].read())

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def put_file(self, bucket: str, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Upload from a file object (multipart when large), without holding it in memory."""
        fileobj.seek(0)
        self._s3.upload_fileobj(fileobj, bucket, key, ExtraArgs={"ContentType": content_type})

    def delete(self, bucket: str, keys: Iterable[str]) -> None:
        pending = list(keys)
        for start in range(0, len(pending), _DELETE_BATCH):
            batch = pending[start : start + _DELETE_BATCH]
            self._s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
