"""A finished job's export objects in the bucket: where they are, whether they exist, a link to download one.

results/<job_id>/results.csv and results/<job_id>/results.jsonl.gz, written by the export function
(logic/export.py) and handed out by the API as short-lived presigned URLs. Also the export queue, on which
the function that closes a job asks for its export.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import ClientError

from review_pipeline.export_rows import ExportFormat
from review_pipeline.models import JobStatus
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

    def request(self, job_id: str) -> None:
        """Queue the job's export, in the trace of the upload being handled (its chunk's AWSTraceHeader)."""
        trace = trace_system_attributes()
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps({"job_id": job_id}),
            **({"MessageSystemAttributes": trace} if trace else {}),
        )
