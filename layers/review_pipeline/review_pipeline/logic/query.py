"""What the HTTP API answers: jobs, their results and rejected rows, on-demand predictions and explanations.

The models here are the API's response and request bodies; the handler declares them on its routes so the
OpenAPI document describes every answer. Errors are domain exceptions; the handler maps them to statuses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, field_validator

from review_pipeline.chunking import chunk_key
from review_pipeline.cleaning import clean_text
from review_pipeline.dal.chunks import ChunkReader, ChunkUnreadableError
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import EndpointAnswer, EndpointError, SentimentEndpoint
from review_pipeline.models import (
    Explanation,
    Job,
    JobStatus,
    Prediction,
    RejectedRow,
    ReviewRecord,
    ReviewResult,
    Sentiment,
    utc_now,
)

if TYPE_CHECKING:
    from review_pipeline.settings import Settings

logger = Logger(child=True)
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
    model_version: str = Field(description="The model that answered now.")
    stored_label: Sentiment = Field(description="The label stored when the job ran.")
    stored_score: float = Field(description="The P(positive) stored when the job ran.")
    stored_model_version: str = Field(
        description="The model that classified the review when the job ran; when it differs from "
        "model_version, the model has changed since, and label and score may differ from the stored ones."
    )
    explanation: ExplanationView = Field(
        description="The current model's reasons: each n-gram's weight is its contribution to the "
        "calibrated log-odds of positive (> 0 toward positive, < 0 toward negative)."
    )


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


class RowNotExplainableError(LookupError):
    """A row of a job cannot be explained; the message says why and where to look instead."""

    def __init__(self, job_id: str, row: int, message: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.row = row


class ResultNotFoundError(RowNotExplainableError):
    """The job has no result for the row: no such row, a rejected row, or not classified yet."""


class ReviewTextUnavailableError(RowNotExplainableError):
    """The result exists but the review's full text (its processed/ chunk) can no longer be read."""


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
    chunks: ChunkReader  # the full texts of results, for explanations (results keep an excerpt only)
    bucket_name: str  # where processed/ chunks are
    processed_prefix: str = "processed/"

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> QueryService:
        table = boto3.resource("dynamodb").Table(settings.table_name)
        return cls(
            jobs=JobStore(table),
            results=ResultStore(table),
            endpoint=SentimentEndpoint(settings.endpoint_name, settings.max_payload_bytes),
            metrics=metrics,
            chunks=ChunkReader(boto3.client("s3")),
            bucket_name=settings.bucket_name,
            processed_prefix=settings.processed_prefix,
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
        self._add_endpoint_metrics(answer)
        self.metrics.add_metric(
            name="PredictionsServed", unit=MetricUnit.Count, value=len(answer.predictions)
        )
        return PredictResponse(predictions=answer.predictions, model_version=answer.model_version)

    @tracer.capture_method
    def explain_review(self, job_id: str, row: int) -> ReviewExplanation:
        """The current model's explanation of a stored result, from the review's full text in its chunk."""
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        stored = next(iter(self.results.results_of_rows(job_id, [row])), None)
        if stored is None:
            raise self._no_result(job, row)
        record = self._stored_record(job, stored)
        # The chunk's text was cleaned by preprocess, and the row is the id inference sent: the same request.
        answer = self.endpoint.predict([(str(record.row), record.text)], explain=True)
        self._add_endpoint_metrics(answer)
        if answer.too_large:
            # Classified once, so only a lower MAX_PAYLOAD_BYTES since then can make it too large now.
            raise UnpredictableReviewsError(
                [ErrorDetail(location="path.row", message=answer.too_large[0].reason)]
            )
        prediction = answer.predictions[0]
        if prediction.explanation is None:
            raise EndpointError(
                "the sentiment endpoint answered without the explanation it was asked for; "
                "the model and this client disagree on the wire contract",
                code="MissingExplanation",
            )
        self.metrics.add_metric(name="ExplanationsServed", unit=MetricUnit.Count, value=1)
        return ReviewExplanation(
            job_id=job_id,
            review_id=stored.review_id,
            row=stored.row,
            label=prediction.label,
            score=prediction.score,
            model_version=answer.model_version,
            stored_label=stored.label,
            stored_score=stored.score,
            stored_model_version=stored.model_version,
            explanation=ExplanationView(
                positive=prediction.explanation.get("positive", []),
                negative=prediction.explanation.get("negative", []),
            ),
        )

    def _no_result(self, job: Job, row: int) -> ResultNotFoundError:
        """Why a row has no result, in words that point to where the row's fate is."""
        where = f"Row {row} of job {job.job_id!r}"
        rejected = self.results.rejected_of_row(job.job_id, row)
        if rejected is not None:
            message = (
                f"{where} was rejected, so it has no result to explain ({rejected.reason}); "
                f"see GET /jobs/{job.job_id}/rejected."
            )
        elif job.status == JobStatus.FAILED:
            message = f"{where} has no result: the job failed ({job.error}); see GET /jobs/{job.job_id}."
        elif not job.status.is_final:
            message = f"{where} has no result yet: the job is {job.status}; try again when it has finished."
        elif row > job.counts.total:
            message = (
                f"{where} does not exist: the file has {job.counts.total} data rows; "
                f"see GET /jobs/{job.job_id}/reviews."
            )
        else:
            message = (
                f"{where} has no result; see GET /jobs/{job.job_id}/reviews for its results and "
                f"GET /jobs/{job.job_id}/rejected for its rejected rows."
            )
        return ResultNotFoundError(job.job_id, row, message)

    def _stored_record(self, job: Job, result: ReviewResult) -> ReviewRecord:
        if result.chunk_index is not None:
            records = self._read_chunk(job.job_id, result.row, result.chunk_index)
            record = next((record for record in records if record.row == result.row), None)
        else:
            record = self._search_chunks(job, result.row)
        if record is None:
            raise ReviewTextUnavailableError(
                job.job_id,
                result.row,
                f"The text of row {result.row} of job {job.job_id!r} is no longer among the job's "
                "processed reviews, so it cannot be explained; upload the file again, or send its text "
                'to POST /predict with "explain": true.',
            )
        return record

    def _search_chunks(self, job: Job, row: int) -> ReviewRecord | None:
        """Find a row in the job's chunks, for results stored before their chunk_index was recorded.

        Chunks hold the rows in file order (chunk n's rows all come before chunk n+1's), so a binary search
        reads about log2(chunks) of them instead of all.
        """
        low, high = 0, job.chunks_total - 1
        while low <= high:
            middle = (low + high) // 2
            records = self._read_chunk(job.job_id, row, middle)
            if not records:
                return None
            if row < records[0].row:
                high = middle - 1
            elif row > records[-1].row:
                low = middle + 1
            else:
                return next((record for record in records if record.row == row), None)
        return None

    def _read_chunk(self, job_id: str, row: int, chunk_index: int) -> list[ReviewRecord]:
        try:
            return self.chunks.read(self.bucket_name, chunk_key(self.processed_prefix, job_id, chunk_index))
        except ChunkUnreadableError as error:
            # The bucket and the S3 error go to the log, not to the caller.
            logger.warning(
                "Chunk of a result unreadable; no explanation",
                extra={"job_id": job_id, "row": row, "chunk_index": chunk_index, "error": str(error)},
            )
            raise ReviewTextUnavailableError(
                job_id,
                row,
                f"The text of row {row} of job {job_id!r} could not be read from the bucket "
                f"(chunk {chunk_index} of the job's processed reviews), so it cannot be explained; "
                'upload the file again, or send its text to POST /predict with "explain": true.',
            ) from error

    def _add_endpoint_metrics(self, answer: EndpointAnswer) -> None:
        for latency in answer.call_latencies_ms:
            self.metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency)
        self.metrics.add_metric(
            name="EndpointCalls", unit=MetricUnit.Count, value=len(answer.call_latencies_ms)
        )
