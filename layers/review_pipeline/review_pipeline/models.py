"""The pipeline's records, one pydantic model each, from an uploaded row to a stored result.

IncomingReview   one row of an uploaded file, as the user wrote it (validated, not yet cleaned)
ReviewRecord     a cleaned review with its place in the file: what a processed/ chunk holds
RejectedRow      a row that could not become a ReviewRecord, with the reason a user can act on
ChunkMessage     the claim check the preprocess function puts on the inference queue
PieceMessage     one piece of a big upload (or its continuation), put on the ingest queue by preprocess
ExportContinuation  the next part of a big job's export, put on the export queue by the export function
Prediction       one answer of the endpoint (wire contract, see endpoint.py)
ReviewResult     one classified review, as stored and as served by the API
Job              one uploaded file's journey: status, counts, model version, error
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

Sentiment = Literal["positive", "negative"]


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds; sorts lexically in time order."""
    return iso_utc(datetime.now(UTC))


def seconds_between(start: str, end: str) -> float:
    """Seconds from one stored time (utc_now, iso_utc) to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def iso_utc(moment: datetime) -> str:
    """A moment as utc_now writes it (a naive datetime is taken as UTC, as S3 event times are)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bound_text(value: Any, limit: int) -> Any:
    """A string cut to `limit` characters (ending in an ellipsis when cut): what the table may store of it."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    return value


def bounded(limit: int) -> BeforeValidator:
    """Annotation for a str field cut to `limit` characters on the way in."""
    return BeforeValidator(lambda value: bound_text(value, limit))


def _blank_to_none(value: Any) -> Any:
    """CSV cells are strings: an empty cell means 'not given', not an invalid value."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _label_to_int(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        mapping = {"1": 1, "pos": 1, "positive": 1, "0": 0, "neg": 0, "negative": 0}
        if word in mapping:
            return mapping[word]
    return value


def _id_to_str(value: Any) -> Any:
    if isinstance(value, bool):  # bool is an int subclass; an id of `true` is a mistake, not 1
        raise ValueError("must be a string or a number")
    if isinstance(value, int):
        return str(value)
    return value


# Where a row's review text may be, in order of preference (CSV/TSV headers match in any case).
TEXT_FIELDS = ("text", "review", "review_text", "content", "body", "comment")

OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]


class IncomingReview(BaseModel):
    """One row of an uploaded file. `text` may go by another name of TEXT_FIELDS; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    text: str = Field(min_length=1)
    id: Annotated[OptionalStr, BeforeValidator(_id_to_str)] = Field(default=None, max_length=256)
    movie_id: Annotated[OptionalStr, BeforeValidator(_id_to_str)] = Field(default=None, max_length=64)
    rating: Annotated[int | None, BeforeValidator(_blank_to_none)] = Field(default=None, ge=1, le=10)
    label: Annotated[
        Literal[0, 1] | None, BeforeValidator(_blank_to_none), BeforeValidator(_label_to_int)
    ] = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> IncomingReview:
        """Validate a parsed row; the text may be under any name of TEXT_FIELDS (the first present wins)."""
        if "text" not in row:
            name = next((name for name in TEXT_FIELDS if name in row), None)
            if name is not None:
                row = {**row, "text": row[name]}
        return cls.model_validate(row)


class ReviewRecord(BaseModel):
    """A cleaned review, ready for the model. `row` is the 1-based data row in the uploaded file."""

    review_id: str
    row: int = Field(ge=1)
    text: str = Field(min_length=1)
    movie_id: str | None = None
    rating: int | None = None
    given_label: Literal[0, 1] | None = None
    # An over-long review is classified on a cut of its text (cleaning.truncate_for_model); the full review
    # stays in the uploaded object.
    truncated: bool = False
    original_chars: int | None = None  # the cleaned text's length before the cut, when truncated


# Bounds on what one table item may hold of free text (DynamoDB caps an item at 400 KB): no row can make a
# write fail, whatever it holds.
MAX_REASON_CHARS = 2_000
MAX_RAW_EXCERPT_CHARS = 1_000
MAX_TEXT_EXCERPT_CHARS = 1_000


class RejectedRow(BaseModel):
    """A row that did not become a review, kept with its reason so nothing is lost."""

    row: int = Field(ge=1)
    reason: Annotated[str, bounded(MAX_REASON_CHARS)]
    raw_excerpt: Annotated[str, bounded(MAX_RAW_EXCERPT_CHARS)] = ""


class ChunkMessage(BaseModel):
    """Claim check: names a processed/ chunk in S3 instead of carrying its reviews (SQS caps at 256 KB)."""

    job_id: str
    bucket: str
    key: str
    chunk_index: int = Field(ge=0)
    review_count: int = Field(ge=0)
    # The uploaded file the chunk comes from, for the log lines of its classification (job_id + source_key).
    source_key: str | None = None


class PieceMessage(BaseModel):
    """An IngestQueue message naming one piece of an upload: the lines that start in bytes [start, end) of a
    JSON lines object cut into byte ranges, or (pieces == 1, end None) the whole object. `continuation` counts
    the invocations that carried the piece on from a checkpoint (logic/pieces.py)."""

    kind: Literal["piece"] = "piece"
    job_id: str
    bucket: str
    key: str
    version_id: str | None = None
    piece: int = Field(default=0, ge=0)
    pieces: int = Field(default=1, ge=1)
    start: int = Field(default=0, ge=0)
    end: int | None = Field(default=None, ge=0)
    continuation: int = Field(default=0, ge=0)


class ExportContinuation(BaseModel):
    """Where an export written in parts goes on (logic/export.py): the part to write next, the last row the
    parts before it hold (-1: none) and how many rows they hold, and each format's multipart upload."""

    part: int = Field(ge=1, le=10_000)  # S3 numbers a multipart upload's parts 1 to 10,000
    after_row: int = Field(ge=-1)
    rows_before: int = Field(ge=0)
    upload_ids: dict[Literal["csv", "jsonl"], str]


class Explanation(BaseModel):
    ngram: str
    weight: float


class Prediction(BaseModel):
    id: str
    label: Sentiment
    score: float = Field(ge=0.0, le=1.0, description="P(positive), calibrated")
    uncertain: bool | None = Field(
        default=None,
        description="True when the score lies in the model's uncertain band (where validation predictions "
        "were right too rarely to trust the label); null from a model that does not flag it.",
    )
    explanation: dict[Sentiment, list[Explanation]] | None = None


class ReviewResult(BaseModel):
    """One classified review of a job."""

    job_id: str
    review_id: str
    row: int
    label: Sentiment
    score: float
    model_version: str
    # The model's flag for a score inside its uncertain band; None from a model without one, and on results
    # stored before it was recorded.
    uncertain: bool | None = None
    text_excerpt: Annotated[str, bounded(MAX_TEXT_EXCERPT_CHARS)] = ""
    movie_id: str | None = None
    rating: int | None = None
    given_label: Literal[0, 1] | None = None
    truncated: bool = False  # classified on a cut of an over-long review (see ReviewRecord)
    original_chars: int | None = None
    # Which processed/ chunk holds the review's full text (the result keeps only an excerpt), so the text can
    # be read again, e.g. to explain the result. None on results stored before it was recorded.
    chunk_index: int | None = Field(default=None, ge=0)


class JobStatus(StrEnum):
    PENDING = "PENDING"  # the file is being read and split into chunks
    PROCESSING = "PROCESSING"  # every chunk is on the inference queue; results are arriving
    COMPLETED = "COMPLETED"  # every row classified
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"  # finished, and some rows were rejected
    FAILED = "FAILED"  # the file itself could not be read; `error` says why
    # Shown by the API, never stored: a message of the unfinished job sits in a dead-letter queue (`stalled`
    # says which, why, and how to redrive it); the stored status stays, so a redriven job carries on.
    STALLED = "STALLED"

    @property
    def is_final(self) -> bool:
        return self in {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED}


class JobCounts(BaseModel):
    total: int = 0  # data rows read from the file
    classified: int = 0
    rejected: int = 0
    positive: int = 0
    negative: int = 0
    uncertain: int = 0  # classified reviews the model flagged uncertain (counted with the chunk, once)


class InputSummary(BaseModel):
    """What reading the uploaded object found: its format, encodings, archive members that were not read."""

    format: str
    encoding: str = Field(description="e.g. utf-8, or utf-8 with how many bytes were read as cp1252")
    members_read: int = 0  # archives: members whose rows were read
    skipped_count: int = 0  # archives: members skipped (not review files, or unreadable)
    skipped: list[Annotated[str, bounded(300)]] = Field(
        default_factory=list, description="'<member>: <why>' for the first 20 skipped members"
    )


class StalledNote(BaseModel):
    """Why an unfinished job has stopped moving: a message of it reached a dead-letter queue."""

    queue: str  # which dead-letter queue holds the message
    reason: Annotated[str, bounded(MAX_REASON_CHARS)]
    redrive: str  # what to run to retry
    since: str


class Job(BaseModel):
    job_id: str
    source_bucket: str
    source_key: str
    source_version: str | None = None
    status: JobStatus
    counts: JobCounts = Field(default_factory=JobCounts)
    chunks_total: int = 0
    chunks_done: int = 0
    model_version: str | None = None
    uploaded_at: str | None = None  # the S3 event's time; None when the job began otherwise (a redrive test)
    created_at: str
    updated_at: str
    finished_at: str | None = None
    error: str | None = None
    input: InputSummary | None = None
    stalled: StalledNote | None = None
    trace_id: str | None = None  # the X-Ray trace the upload's messages carry (trace_context.py)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return JobStatus(value) if isinstance(value, str) else value
