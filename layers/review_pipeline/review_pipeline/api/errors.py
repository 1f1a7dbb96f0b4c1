"""What the HTTP API answers when it cannot answer: the typed errors of the query service, and the one table
that maps every error the routes can meet to its HTTP status and its JSON body `{"message": ..., ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from review_pipeline.api.models import ErrorBody, ErrorDetail
from review_pipeline.dal.jobs import JobNotFoundError
from review_pipeline.dal.pagination import InvalidCursorError
from review_pipeline.endpoint import EndpointError


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


class ExportNotReadyError(LookupError):
    """The job has no export (yet): not finished, FAILED, or being written; the message says which."""

    def __init__(self, job_id: str, message: str) -> None:
        super().__init__(message)
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


# Every domain error a route can raise, and its status; the routes' one exception handler reads it.
ERROR_STATUSES: dict[type[Exception], HTTPStatus] = {
    InvalidCursorError: HTTPStatus.BAD_REQUEST,
    JobNotFoundError: HTTPStatus.NOT_FOUND,
    RowNotExplainableError: HTTPStatus.NOT_FOUND,
    ExportNotReadyError: HTTPStatus.NOT_FOUND,
    UnpredictableReviewsError: HTTPStatus.UNPROCESSABLE_ENTITY,
    EndpointError: HTTPStatus.BAD_GATEWAY,
}


def error_answer(error: Exception) -> tuple[HTTPStatus, dict[str, Any]]:
    """The status and JSON body of a domain error (one of ERROR_STATUSES)."""
    status = next(status for kind, status in ERROR_STATUSES.items() if isinstance(error, kind))
    body = ErrorBody(message=str(error))
    extra: dict[str, Any] = {}
    match error:
        case InvalidCursorError():
            body = ErrorBody(message=f"The {error}.")
        case JobNotFoundError() | ExportNotReadyError():
            extra = {"job_id": error.job_id}
        case RowNotExplainableError():
            extra = {"job_id": error.job_id, "row": error.row}
        case UnpredictableReviewsError():
            body = ErrorBody(message=str(error), errors=error.details)
        case EndpointError():
            advice = " Try again shortly." if error.retryable else ""
            body = ErrorBody(message=f"The sentiment model could not answer: {error}.{advice}")
            extra = {"code": error.code}
    return status, {**body.model_dump(exclude_none=True), **extra}
