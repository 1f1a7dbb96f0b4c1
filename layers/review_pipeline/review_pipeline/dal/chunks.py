"""Reading processed/ chunks: JSON lines of ReviewRecord, written by the preprocess function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from review_pipeline.models import ReviewRecord

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ChunkUnreadableError(Exception):
    """A chunk named by an inference message is missing or is not JSON lines of reviews."""


class ChunkReader:
    """Reads one chunk object whole: a chunk is at most CHUNK_SIZE reviews, small enough for memory."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def read(self, bucket: str, key: str) -> list[ReviewRecord]:
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            raise ChunkUnreadableError(f"chunk s3://{bucket}/{key} could not be read ({code})") from error
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ChunkUnreadableError(f"chunk s3://{bucket}/{key} is not UTF-8 text") from error
        records: list[ReviewRecord] = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(ReviewRecord.model_validate_json(line))
            except ValidationError as error:
                raise ChunkUnreadableError(
                    f"chunk s3://{bucket}/{key} line {line_number} is not a review record: "
                    f"{error.errors()[0]['msg']}"
                ) from error
        return records
