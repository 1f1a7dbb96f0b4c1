"""A finished job's export objects in the bucket: where they are, whether they exist, a link to download one.

results/<job_id>/results.csv and results/<job_id>/results.jsonl.gz, written by the export function
(logic/export.py) and handed out by the API as short-lived presigned URLs. Also the export queue, on which
the function that closes a job asks for its export (and the export function for a big export's next part),
and the multipart uploads that join such an export's parts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from review_pipeline.export_rows import ExportFormat
from review_pipeline.models import ExportContinuation, JobStatus
from review_pipeline.trace_context import trace_system_attributes

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from review_pipeline.settings import Settings

EXPORT_PREFIX: Final = "results/"
EXPORTABLE: Final = frozenset({JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS})
EXPORT_FILE_NAMES: Final[dict[ExportFormat, str]] = {"csv": "results.csv", "jsonl": "results.jsonl.gz"}
# The number of rows each export object holds, in its S3 metadata (x-amz-meta-rows).
ROWS_METADATA: Final = "rows"


def export_key(job_id: str, export_format: ExportFormat, prefix: str = EXPORT_PREFIX) -> str:
    return f"{prefix}{job_id}/{EXPORT_FILE_NAMES[export_format]}"


class ExportObjects:
    def __init__(self, s3: S3Client, bucket: str, prefix: str = EXPORT_PREFIX) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def rows(self, job_id: str, export_format: ExportFormat) -> int | None:
        """How many rows the export object holds, or None while it does not exist."""
        try:
            head = self._s3.head_object(
                Bucket=self._bucket, Key=export_key(job_id, export_format, self._prefix)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head.get("Metadata", {}).get(ROWS_METADATA, "0"))

    def download_url(self, job_id: str, export_format: ExportFormat, expires_in: int) -> str:
        """A presigned GET URL, saved under the job's name by a browser."""
        key = export_key(job_id, export_format, self._prefix)
        file_name = f"{job_id}-{EXPORT_FILE_NAMES[export_format]}"
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
            },
            ExpiresIn=expires_in,
        )


def export_requester(settings: Settings, session: Any = None) -> Callable[[str], None] | None:
    """What a JobStore calls when it closes a job: send its id to the export queue (None: no queue set)."""
    if not settings.export_queue_url:
        return None
    sqs = (session or boto3.session.Session()).client("sqs")
    return ExportRequests(sqs, settings.export_queue_url).request


class ExportRequests:
    """The export queue: a job's id, sent by whichever function closes the job."""

    def __init__(self, sqs: SQSClient | Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def request(self, job_id: str, continuation: ExportContinuation | None = None) -> None:
        """Queue the job's export (or its next part), in the trace of the work being handled (its message's
        AWSTraceHeader)."""
        body: dict[str, Any] = {"job_id": job_id}
        if continuation is not None:
            body["continuation"] = continuation.model_dump(mode="json")
        trace = trace_system_attributes()
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(body),
            **({"MessageSystemAttributes": trace} if trace else {}),
        )


class ExportUploadGoneError(RuntimeError):
    """A multipart export's upload no longer exists and its object was never completed."""


class ExportUploads(ExportObjects):
    """The multipart uploads of an export written in parts: one part per invocation, completed at the end."""

    def start(self, job_id: str, export_format: ExportFormat, rows: int, content_type: str) -> str:
        """A new multipart upload of the export object (its metadata says `rows`); its UploadId."""
        created = self._s3.create_multipart_upload(
            Bucket=self._bucket,
            Key=export_key(job_id, export_format, self._prefix),
            ContentType=content_type,
            Metadata={ROWS_METADATA: str(rows)},
        )
        return created["UploadId"]

    def put_part(
        self, job_id: str, export_format: ExportFormat, upload_id: str, part: int, path: Path
    ) -> bool:
        """Upload (or upload again: the same part number replaces it) one part from a file; False when the
        upload was already completed (a duplicate message finished the export first)."""
        key = export_key(job_id, export_format, self._prefix)
        with path.open("rb") as body:
            try:
                self._s3.upload_part(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=part, Body=body
                )
            except ClientError as error:
                return self._already_completed(error, job_id, export_format)
        return True

    def complete(self, job_id: str, export_format: ExportFormat, upload_id: str) -> None:
        """Join every uploaded part into the export object (a second completion finds it done)."""
        key = export_key(job_id, export_format, self._prefix)
        paginator = self._s3.get_paginator("list_parts")
        try:
            parts = [
                {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
                for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=upload_id)
                for part in page.get("Parts", [])
            ]
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except ClientError as error:
            self._already_completed(error, job_id, export_format)

    def _already_completed(self, error: ClientError, job_id: str, export_format: ExportFormat) -> bool:
        """False for NoSuchUpload when the object exists (completed); raises otherwise."""
        if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise error
        if self.rows(job_id, export_format) is None:
            raise ExportUploadGoneError(
                f"the multipart upload of job {job_id}'s {export_format} export is gone (the bucket aborts "
                'incomplete uploads after 7 days): send {"job_id": "' + job_id + '"} to the export '
                "queue to export the job again"
            ) from error
        return False
