"""The bodies the HTTP API answers and accepts; the routes declare them, so the OpenAPI document describes
every answer. `ReviewView` shows a stored `ReviewResult`: its fields are a subset of the result's (a unit test
holds them together), so a field added to results is shown by adding it here too.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from review_pipeline.export_rows import label_word
from review_pipeline.models import (
    Explanation,
    InputSummary,
    Job,
    JobStatus,
    Prediction,
    RejectedRow,
    ReviewResult,
    Sentiment,
    StalledNote,
)

MAX_PREDICT_REVIEWS = 100
MAX_PREDICT_TEXT_CHARS = 20_000


UNCERTAIN_DESCRIPTION = (
    "True when the score lies in the model's uncertain band (see uncertain_band of POST /predict), where "
    "validation predictions were right too rarely to trust the label; null when the model that classified "
    "the review does not flag uncertain scores."
)


class PageView[T](BaseModel):
    """One page of a list; each list is a named subclass, so the OpenAPI document names its schema."""

    items: list[T]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class HealthView(BaseModel):
    status: Literal["ok"] = "ok"
    service: str = Field(description="What answers here.")
    time: str = Field(description="Server time, ISO-8601 UTC.")


class JobCountsView(BaseModel):
    total: int = Field(description="Data rows read from the uploaded file.")
    classified: int = Field(description="Rows classified so far.")
    rejected: int = Field(description="Rows that could not be classified; see /jobs/{job_id}/rejected.")
    positive: int
    negative: int
    uncertain: int = Field(
        description="Classified rows whose score lies in the model's uncertain band (part of positive and "
        "negative, not beside them); 0 when the model does not flag uncertain scores."
    )


class JobView(BaseModel):
    job_id: str
    source_key: str = Field(description="S3 key of the uploaded file.")
    status: JobStatus
    counts: JobCountsView
    model_version: str | None = Field(description="Model version that classified the reviews.")
    uploaded_at: str | None = Field(
        default=None,
        description="When S3 says the file was uploaded (its event's time; created_at minus this is the wait "
        "in the ingest queue). Null for jobs created before it was recorded.",
    )
    created_at: str = Field(description="When the preprocess function began the job.")
    updated_at: str
    finished_at: str | None
    error: str | None = Field(description="Why the job failed, when it did.")
    input: InputSummary | None = Field(
        default=None, description="Format and encoding of the file; archive members skipped, and why."
    )
    stalled: StalledNote | None = Field(
        default=None, description="When STALLED: which dead-letter queue holds its work, why, how to redrive."
    )
    trace_id: str | None = Field(
        default=None,
        description="AWS X-Ray trace id of the upload (its X-Amzn-Trace-Id, or the preprocess function's own "
        "trace when the upload had none): the trace every message of the job carries; open it in the X-Ray "
        "console to see the functions' traces linked to it. Null for jobs created before it was recorded.",
    )

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(
            {
                **job.model_dump(include=set(cls.model_fields) - {"counts", "input", "stalled"}),
                "input": job.input,
                "stalled": job.stalled if job.stalled and not job.status.is_final else None,
                "status": JobStatus.STALLED if job.stalled and not job.status.is_final else job.status,
                "counts": job.counts.model_dump(),
            }
        )


class JobList(PageView[JobView]):
    """A page of jobs."""


class ReviewView(BaseModel):
    review_id: str
    row: int = Field(description="1-based data row in the uploaded file.")
    label: Sentiment
    score: float = Field(description="P(positive), calibrated.")
    uncertain: bool | None = Field(description=UNCERTAIN_DESCRIPTION)
    text_excerpt: str = Field(description="Up to 120 characters of the cleaned text.")
    movie_id: str | None
    rating: int | None
    model_version: str
    truncated: bool = Field(
        default=False, description="Classified on a cut of an over-long review (its first 2/3 and last 1/3)."
    )
    original_chars: int | None = Field(
        default=None, description="The cleaned review's length, when truncated."
    )
    given_label: Sentiment | None = Field(
        default=None,
        description="The label the uploaded file gave the review (a `label` field or column, or an aclImdb "
        "pos/neg folder); null when it gave none.",
    )

    @classmethod
    def of(cls, result: ReviewResult) -> ReviewView:
        fields = result.model_dump(include=set(cls.model_fields))
        return cls.model_validate({**fields, "given_label": label_word(result.given_label)})


class ReviewList(PageView[ReviewView]):
    """A page of reviews."""


class RejectedView(BaseModel):
    row: int = Field(description="1-based data row in the uploaded file.")
    reason: str = Field(description="Why the row was not classified, and what to fix.")
    raw_excerpt: str = Field(description="The start of the row as uploaded.")

    @classmethod
    def of(cls, rejected: RejectedRow) -> RejectedView:
        return cls.model_validate(rejected.model_dump())


class RejectedList(PageView[RejectedView]):
    """A page of rejecteds."""


class PredictReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256, description="Your id for the review; echoed back.")
    text: str = Field(min_length=1, max_length=MAX_PREDICT_TEXT_CHARS)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviews: list[PredictReview] = Field(min_length=1, max_length=MAX_PREDICT_REVIEWS)
    # Strict: the schema says boolean, so 0, 1 or "true" are refused rather than read as one.
    explain: StrictBool = Field(default=False, description="Also return the n-grams that weighed most.")

    @field_validator("reviews")
    @classmethod
    def _unique_ids(cls, reviews: list[PredictReview]) -> list[PredictReview]:
        repeats = Counter(review.id for review in reviews)
        duplicates = sorted(review_id for review_id, count in repeats.items() if count > 1)
        if duplicates:
            raise ValueError(f"review ids must be unique; repeated: {', '.join(duplicates[:5])}")
        return reviews


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    model_version: str
    uncertain_band: tuple[float, float] | None = Field(
        description="[low, high]: a prediction whose score lies in it (inclusive) is `uncertain`; chosen on "
        "validation. Null when the model does not flag uncertain scores."
    )


class ExplanationView(BaseModel):
    positive: list[Explanation] = Field(
        description="The n-grams of the text that pushed the score most toward positive, strongest first."
    )
    negative: list[Explanation] = Field(
        description="The n-grams of the text that pushed the score most toward negative, strongest first."
    )


class ReviewExplanation(BaseModel):
    """A stored result explained now by the current model, beside what was stored when the job ran."""

    job_id: str
    review_id: str
    row: int = Field(description="1-based data row in the uploaded file.")
    label: Sentiment = Field(description="The current model's label for the review's full text.")
    score: float = Field(description="The current model's P(positive), calibrated.")
    uncertain: bool | None = Field(description=f"The current model's flag. {UNCERTAIN_DESCRIPTION}")
    model_version: str = Field(description="The model that answered now.")
    stored_label: Sentiment = Field(description="The label stored when the job ran.")
    stored_score: float = Field(description="The P(positive) stored when the job ran.")
    stored_uncertain: bool | None = Field(
        description="The uncertain flag stored when the job ran; null when that model did not flag uncertain "
        "scores, or the result was stored before the flag was recorded."
    )
    stored_model_version: str = Field(
        description="The model that classified the review when the job ran; when it differs from "
        "model_version, the model has changed since, and label and score may differ from the stored ones."
    )
    explanation: ExplanationView = Field(
        description="The current model's reasons: each n-gram's weight is its contribution to the "
        "calibrated log-odds of positive (> 0 toward positive, < 0 toward negative)."
    )


class ExportLink(BaseModel):
    job_id: str
    format: Literal["csv", "jsonl"]
    url: str = Field(
        description="Presigned GET URL of results/<job_id>/results.csv or .jsonl.gz (gzip); short-lived."
    )
    expires_in: int = Field(description="Seconds the URL stays valid.")
    rows: int = Field(description="Rows in the file: every row of the upload, results and rejected rows.")


class ErrorDetail(BaseModel):
    location: str = Field(description="Where the problem is, e.g. query.limit or body.reviews.0.text.")
    message: str


class ErrorBody(BaseModel):
    """Every error answer: a sentence for a human, and details when there are several problems."""

    message: str
    errors: list[ErrorDetail] | None = None
