"""What the HTTP API answers: jobs, their results and rejected rows, and on-demand predictions.

The models here are the API's response and request bodies; the handler declares them on its routes so the
OpenAPI document describes every answer. Errors are domain exceptions; the handler maps them to statuses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import boto3
from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, field_validator

from review_pipeline.cleaning import clean_text
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import SentimentEndpoint
from review_pipeline.models import Job, JobStatus, Prediction, RejectedRow, ReviewResult, Sentiment, utc_now

if TYPE_CHECKING:
    from review_pipeline.settings import Settings

tracer = Tracer()

MAX_PREDICT_REVIEWS = 100
MAX_PREDICT_TEXT_CHARS = 20_000


# ------------------------------------------------------------------------------------------------ bodies
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


class JobView(BaseModel):
    job_id: str
    source_key: str = Field(description="S3 key of the uploaded file.")
    status: JobStatus
    counts: JobCountsView
    model_version: str | None = Field(description="Model version that classified the reviews.")
    created_at: str
    updated_at: str
    finished_at: str | None
    error: str | None = Field(description="Why the job failed, when it did.")

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(
            {
                **job.model_dump(include=set(cls.model_fields) - {"counts"}),
                "counts": job.counts.model_dump(),
            }
        )


class JobList(BaseModel):
    items: list[JobView]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class ReviewView(BaseModel):
    review_id: str
    row: int = Field(description="1-based data row in the uploaded file.")
    label: Sentiment
    score: float = Field(description="P(positive), calibrated.")
    text_excerpt: str = Field(description="Up to 280 characters of the cleaned text.")
    movie_id: str | None
    rating: int | None
    model_version: str

    @classmethod
    def of(cls, result: ReviewResult) -> ReviewView:
        return cls.model_validate(result.model_dump(include=set(cls.model_fields)))


class ReviewList(BaseModel):
    items: list[ReviewView]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class RejectedView(BaseModel):
    row: int = Field(description="1-based data row in the uploaded file.")
    reason: str = Field(description="Why the row was not classified, and what to fix.")
    raw_excerpt: str = Field(description="The start of the row as uploaded.")

    @classmethod
    def of(cls, rejected: RejectedRow) -> RejectedView:
        return cls.model_validate(rejected.model_dump())


class RejectedList(BaseModel):
    items: list[RejectedView]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class PredictReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256, description="Your id for the review; echoed back.")
    text: str = Field(min_length=1, max_length=MAX_PREDICT_TEXT_CHARS)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviews: list[PredictReview] = Field(min_length=1, max_length=MAX_PREDICT_REVIEWS)
    explain: bool = Field(default=False, description="Also return the n-grams that weighed most.")

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


class ErrorDetail(BaseModel):
    location: str = Field(description="Where the problem is, e.g. query.limit or body.reviews.0.text.")
    message: str


class ErrorBody(BaseModel):
    """Every error answer: a sentence for a human, and details when there are several problems."""

    message: str
    errors: list[ErrorDetail] | None = None


# ------------------------------------------------------------------------------------------------ errors
class JobNotFoundError(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job with id {job_id!r}; list jobs with GET /jobs.")
        self.job_id = job_id


class UnpredictableReviewsError(ValueError):
    """Some reviews of a /predict request cannot be sent to the model; nothing was predicted."""

    def __init__(self, details: list[ErrorDetail]) -> None:
        super().__init__("Some reviews cannot be classified: " + "; ".join(d.message for d in details))
        self.details = details


def describe_validation_errors(errors: Sequence[Any]) -> ErrorBody:
    """pydantic/Powertools validation errors as a readable sentence plus one detail per problem.

    Only the location and pydantic's message are kept: the rejected input is not echoed back.
    """
    details = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ())) or "request"
        message = str(error.get("msg", "is not valid"))
        if error.get("type") == "extra_forbidden":
            message = "Unknown field: not part of the request schema (see /docs)"
        elif error.get("type") == "json_invalid":
            message = "Not valid JSON"
        details.append(ErrorDetail(location=location, message=message))
    summary = "; ".join(f"{detail.location}: {_lower_first(detail.message)}" for detail in details[:5])
    more = f"; and {len(details) - 5} more" if len(details) > 5 else ""
    return ErrorBody(message=f"The request is not valid ({summary}{more}).", errors=details)


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:]


# ------------------------------------------------------------------------------------------------ service
@dataclass
class QueryService:
    jobs: JobStore
    results: ResultStore
    endpoint: SentimentEndpoint
    metrics: Metrics

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> QueryService:
        table = boto3.resource("dynamodb").Table(settings.table_name)
        return cls(
            jobs=JobStore(table),
            results=ResultStore(table),
            endpoint=SentimentEndpoint(settings.endpoint_name, settings.max_payload_bytes),
            metrics=metrics,
        )

    def health(self) -> HealthView:
        return HealthView(service="review-sentiment query API", time=utc_now())

    def list_jobs(self, limit: int, cursor: str | None, source_key: str | None) -> JobList:
        page = self.jobs.list(limit=limit, cursor=cursor, source_key=source_key)
        return JobList(items=[JobView.of(job) for job in page.items], cursor=page.cursor)

    def get_job(self, job_id: str) -> JobView:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return JobView.of(job)

    def list_reviews(
        self, job_id: str, sentiment: Sentiment | None, limit: int, cursor: str | None
    ) -> ReviewList:
        self.get_job(job_id)
        page = self.results.list_results(job_id, limit=limit, cursor=cursor, sentiment=sentiment)
        return ReviewList(items=[ReviewView.of(result) for result in page.items], cursor=page.cursor)

    def list_rejected(self, job_id: str, limit: int, cursor: str | None) -> RejectedList:
        self.get_job(job_id)
        page = self.results.list_rejected(job_id, limit=limit, cursor=cursor)
        return RejectedList(items=[RejectedView.of(row) for row in page.items], cursor=page.cursor)

    @tracer.capture_method
    def predict(self, request: PredictRequest) -> PredictResponse:
        # Cleaned exactly as preprocess cleans uploaded files, so a review scores the same either way.
        cleaned = [(review.id, clean_text(review.text)) for review in request.reviews]
        empty = [
            ErrorDetail(
                location=f"body.reviews.{index}.text",
                message=f"review {review_id!r} has no text left after cleaning (markup and spaces only)",
            )
            for index, (review_id, text) in enumerate(cleaned)
            if not text
        ]
        if empty:
            raise UnpredictableReviewsError(empty)
        answer = self.endpoint.predict(cleaned, explain=request.explain)
        if answer.too_large:
            positions = {review.id: index for index, review in enumerate(request.reviews)}
            raise UnpredictableReviewsError(
                [
                    ErrorDetail(location=f"body.reviews.{positions[review.id]}.text", message=review.reason)
                    for review in answer.too_large
                ]
            )
        for latency in answer.call_latencies_ms:
            self.metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency)
        self.metrics.add_metric(
            name="EndpointCalls", unit=MetricUnit.Count, value=len(answer.call_latencies_ms)
        )
        self.metrics.add_metric(
            name="PredictionsServed", unit=MetricUnit.Count, value=len(answer.predictions)
        )
        return PredictResponse(predictions=answer.predictions, model_version=answer.model_version)
