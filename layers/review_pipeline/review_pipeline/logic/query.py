"""What the HTTP API does: jobs, their results and rejected rows, on-demand predictions and explanations.

`QueryService` is QueryApiFunction's service (built by `from_settings`, reached through the handler's getter);
it answers with the bodies of `api.models` and raises the errors of `api.errors`, which map them to statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from review_pipeline.api.errors import (
    ExportNotReadyError,
    ResultNotFoundError,
    ReviewTextUnavailableError,
    UnpredictableReviewsError,
)
from review_pipeline.api.models import (
    ErrorDetail,
    ExplanationView,
    ExportLink,
    HealthView,
    JobList,
    JobView,
    PredictRequest,
    PredictResponse,
    RejectedList,
    RejectedView,
    ReviewExplanation,
    ReviewList,
    ReviewView,
)
from review_pipeline.chunking import chunk_key
from review_pipeline.cleaning import clean_text
from review_pipeline.dal.chunks import ChunkReader, ChunkUnreadableError
from review_pipeline.dal.exports import EXPORTABLE, ExportObjects
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.pagination import CursorCodec
from review_pipeline.dal.results import ResultStore
from review_pipeline.endpoint import EndpointError, SentimentEndpoint, add_endpoint_metrics
from review_pipeline.models import Job, JobStatus, ReviewRecord, ReviewResult, Sentiment, utc_now

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from review_pipeline.export_rows import ExportFormat
    from review_pipeline.settings import Settings

logger = Logger(child=True)
tracer = Tracer()

# Long enough to start a download, short enough that a leaked link soon stops working.
EXPORT_URL_SECONDS = 300


@dataclass
class QueryService:
    jobs: JobStore
    results: ResultStore
    endpoint: SentimentEndpoint
    metrics: Metrics
    chunks: ChunkReader  # the full texts of results, for explanations (results keep an excerpt only)
    bucket_name: str  # where processed/ chunks are
    exports: ExportObjects  # finished jobs' results/<job_id>/ files
    processed_prefix: str = "processed/"
    # The largest request body taken (413 above it): what the sentiment endpoint takes in one request.
    max_request_bytes: int = 4_000_000

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics) -> QueryService:
        if settings.cursor_signing_key is None:
            raise ValueError("CURSOR_SIGNING_KEY is not set: the query API signs its page cursors with it")
        cursors = CursorCodec(settings.cursor_signing_key.get_secret_value().encode())
        table = boto3.resource("dynamodb").Table(settings.table_name)
        s3 = boto3.client("s3")
        return cls(
            jobs=JobStore(table, cursors=cursors),
            results=ResultStore(table, cursors=cursors),
            endpoint=SentimentEndpoint(settings.endpoint_name, settings.max_payload_bytes),
            metrics=metrics,
            chunks=ChunkReader(s3),
            bucket_name=settings.bucket_name,
            exports=ExportObjects(s3, settings.bucket_name),
            processed_prefix=settings.processed_prefix,
            max_request_bytes=settings.max_payload_bytes,
        )

    def health(self) -> HealthView:
        return HealthView(service="review-sentiment query API", time=utc_now())

    def list_jobs(self, limit: int, cursor: str | None, source_key: str | None) -> JobList:
        page = self.jobs.list(limit=limit, cursor=cursor, source_key=source_key)
        return JobList(items=[JobView.of(job) for job in page.items], cursor=page.cursor)

    def get_job(self, job_id: str) -> JobView:
        return JobView.of(self._job(job_id))

    def _job(self, job_id: str) -> Job:
        return self.jobs.require(job_id, f"No job with id {job_id!r}; list jobs with GET /jobs.")

    def list_reviews(
        self, job_id: str, sentiment: Sentiment | None, limit: int, cursor: str | None
    ) -> ReviewList:
        self._job(job_id)
        page = self.results.list_results(job_id, limit=limit, cursor=cursor, sentiment=sentiment)
        return ReviewList(items=[ReviewView.of(result) for result in page.items], cursor=page.cursor)

    def list_rejected(self, job_id: str, limit: int, cursor: str | None) -> RejectedList:
        self._job(job_id)
        page = self.results.list_rejected(job_id, limit=limit, cursor=cursor)
        return RejectedList(items=[RejectedView.of(row) for row in page.items], cursor=page.cursor)

    def export_link(self, job_id: str, export_format: ExportFormat) -> ExportLink:
        """A short-lived download URL of the job's export; 404 (with why) while there is none."""
        job = self._job(job_id)
        if job.status not in EXPORTABLE:
            reason = (
                f"Job {job_id!r} FAILED ({job.error}); a failed job has no rows to export."
                if job.status is JobStatus.FAILED
                else f"Job {job_id!r} is {job.status.value}; its export is written when it ends "
                f"(follow it with GET /jobs/{job_id})."
            )
            raise ExportNotReadyError(job_id, reason)
        rows = self.exports.rows(job_id, export_format)
        if rows is None:
            raise ExportNotReadyError(
                job_id,
                f"Job {job_id!r} ended at {job.finished_at}; its export is still being written. Try again in "
                f"a few seconds, or page its rows with GET /jobs/{job_id}/reviews and /rejected.",
            )
        url = self.exports.download_url(job_id, export_format, EXPORT_URL_SECONDS)
        return ExportLink(
            job_id=job_id, format=export_format, url=url, expires_in=EXPORT_URL_SECONDS, rows=rows
        )

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
        add_endpoint_metrics(self.metrics, answer)
        self.metrics.add_metric(
            name="PredictionsServed", unit=MetricUnit.Count, value=len(answer.predictions)
        )
        return PredictResponse(
            predictions=answer.predictions,
            model_version=answer.model_version,
            uncertain_band=answer.uncertain_band,
        )

    @tracer.capture_method
    def explain_review(self, job_id: str, row: int) -> ReviewExplanation:
        """The current model's explanation of a stored result, from the review's full text in its chunk."""
        job = self._job(job_id)
        stored = next(iter(self.results.results_of_rows(job_id, [row])), None)
        if stored is None:
            raise self._no_result(job, row)
        record = self._stored_record(job, stored)
        # The chunk's text was cleaned by preprocess, and the row is the id inference sent: the same request.
        answer = self.endpoint.predict([(str(record.row), record.text)], explain=True)
        add_endpoint_metrics(self.metrics, answer)
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
            uncertain=prediction.uncertain,
            model_version=answer.model_version,
            stored_label=stored.label,
            stored_score=stored.score,
            stored_uncertain=stored.uncertain,
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
