"""An upload as its S3 event names it, its job id, and what to tell its uploader when it keeps failing."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from pydantic import BaseModel, computed_field

from review_pipeline.models import iso_utc
from review_pipeline.retries import describe_error, error_code

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parser.models import S3RecordModel

logger = Logger(child=True)

JOB_ID_HEX_CHARS = 20
# Codes of errors a policy or permission causes (moto answers a bucket policy's deny with a bare 403).
_ACCESS_CODES = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "403"}


class UploadedObject(BaseModel):
    """One upload, as the event names it (key URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    # When S3 says the object was created (the event's eventTime): the job's clock starts here, before any
    # queue wait. Not part of the upload's identity (job id, idempotency key): a redelivery carries the same.
    uploaded_at: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def revision(self) -> str:
        """What tells this upload of the key from another: its version, else its etag and event sequencer."""
        if self.version_id:
            return f"version:{self.version_id}"
        return f"etag:{self.etag or ''}:{self.sequencer or ''}"


def job_id_for(upload: UploadedObject) -> str:
    """Deterministic job id: the same upload (even delivered twice) always gets the same id."""
    identity = "\n".join((upload.bucket, upload.key, upload.revision))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:JOB_ID_HEX_CHARS]


def uploaded_object(record: S3RecordModel, incoming_prefix: str) -> UploadedObject | None:
    """The upload an S3 record names, or None (logged) when the record is not a file to process."""
    s3_object = record.s3.object
    where = {"bucket": record.s3.bucket.name, "event_name": record.eventName}
    if s3_object is None or not record.eventName.startswith("ObjectCreated"):
        logger.info("Ignoring S3 event: not an upload", extra=where)
        return None
    key = unquote_plus(s3_object.key)  # S3 event keys are URL-encoded, with '+' for spaces
    where["key"] = key
    if not key.startswith(incoming_prefix):
        logger.info(f"Ignoring S3 event: key is outside {incoming_prefix}", extra=where)
        return None
    if key.endswith("/"):
        logger.info("Ignoring S3 event: folder marker, not a file", extra=where)
        return None
    return UploadedObject(
        bucket=record.s3.bucket.name,
        key=key,
        version_id=s3_object.versionId,
        etag=s3_object.eTag,
        sequencer=s3_object.sequencer,
        uploaded_at=iso_utc(record.eventTime),
    )


def give_up_message(key: str, error: Exception, attempts: int) -> str:
    """What failed, how often, and what the uploader (or the operator) can do about it."""
    code = error_code(error)
    if code in _ACCESS_CODES:
        advice = (
            "access was denied: check the bucket policy (and the KMS key, if any) lets the "
            "PreprocessFunction read incoming/ and write processed/ and rejected/, then upload the file again"
        )
    elif code == "InvalidObjectState":
        advice = (
            "the object is archived (e.g. the GLACIER storage class): upload it again with the STANDARD "
            "storage class"
        )
    else:
        advice = "upload the file again; if it keeps failing, the PreprocessFunction logs have the details"
    return f"could not process {key} after {attempts} attempts ({describe_error(error)}); {advice}"
