"""QueryApiFunction: the HTTP API over jobs, results, explanations and predictions (see logic/query.py).

Routes are exactly the HttpApi events of QueryApiFunction in template.yaml. Every error answer is JSON
`{"message": "<sentence>", ...}`; the OpenAPI document is at /openapi.json and Swagger UI at /docs.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from review_pipeline.dal.pagination import InvalidCursorError
from review_pipeline.endpoint import EndpointError
from review_pipeline.logic.query import (
    ErrorBody,
    HealthView,
    JobList,
    JobNotFoundError,
    JobView,
    PredictRequest,
    PredictResponse,
    QueryService,
    RejectedList,
    ReviewExplanation,
    ReviewList,
    RowNotExplainableError,
    UnpredictableReviewsError,
    describe_validation_errors,
)
from review_pipeline.models import Sentiment
from review_pipeline.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
service = QueryService.from_settings(load_settings(), metrics)

app = APIGatewayHttpResolver(enable_validation=True)
app.configure_openapi(
    title="Review Sentiment API",
    version="1.0.0",
    description=(
        "Jobs of uploaded review files, their classified reviews (each explainable on request) and rejected "
        "rows, and on-demand sentiment predictions from the same model. Lists are paged: pass back `cursor` "
        "for the next page."
    ),
)
app.enable_swagger(path="/docs")

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
Cursor = Annotated[str | None, Query(description="The cursor of the previous page.")]
JobId = Annotated[str, Path(min_length=1, max_length=128, description="The job's id.")]
Row = Annotated[int, Path(ge=1, description="1-based data row in the uploaded file, as the results list it.")]


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


_BAD_REQUEST = _error("The request is not valid.")
_INVALID = _error("A parameter or the body is not valid; `errors` lists each problem.")
_NO_JOB = _error("No job with this id.")
_ENDPOINT_FAILED = _error("The sentiment model could not answer.")


# ------------------------------------------------------------------------------------------------ routes
@app.get("/health", summary="Liveness", responses={200: {"description": "The API answers."}})
def health() -> HealthView:
    return service.health()


@app.get(
    "/jobs",
    summary="List jobs, newest first",
    responses={200: {"description": "A page of jobs."}, 400: _BAD_REQUEST, 422: _INVALID},
)
def list_jobs(
    limit: Limit = 20,
    cursor: Cursor = None,
    source_key: Annotated[str | None, Query(description="Only jobs of this uploaded S3 key.")] = None,
) -> JobList:
    return service.list_jobs(limit=limit, cursor=cursor, source_key=source_key)


@app.get("/jobs/<job_id>", summary="One job", responses={200: {"description": "The job."}, 404: _NO_JOB})
def get_job(job_id: JobId) -> JobView:
    return service.get_job(job_id)


@app.get(
    "/jobs/<job_id>/reviews",
    summary="A job's classified reviews, in file order",
    responses={200: {"description": "A page of results."}, 400: _BAD_REQUEST, 404: _NO_JOB, 422: _INVALID},
)
def list_job_reviews(
    job_id: JobId,
    sentiment: Annotated[Sentiment | None, Query(description="Only reviews of this sentiment.")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ReviewList:
    return service.list_reviews(job_id, sentiment=sentiment, limit=limit, cursor=cursor)


@app.get(
    "/jobs/<job_id>/rejected",
    summary="A job's rejected rows, with the reason for each",
    responses={
        200: {"description": "A page of rejected rows."},
        400: _BAD_REQUEST,
        404: _NO_JOB,
        422: _INVALID,
    },
)
def list_job_rejected(job_id: JobId, limit: Limit = 20, cursor: Cursor = None) -> RejectedList:
    return service.list_rejected(job_id, limit=limit, cursor=cursor)


@app.get(
    "/jobs/<job_id>/reviews/<row>/explanation",
    summary="Explain a stored result with the current model",
    description=(
        "Reads the review's full text again and asks the sentiment endpoint, as it is now, for the label, "
        "score and the n-grams that pushed the review most toward positive and toward negative. The answer "
        "also carries what was stored when the job ran (`stored_label`, `stored_score`, "
        "`stored_model_version`): when `model_version` differs from `stored_model_version`, the model has "
        "changed since, and the explanation is the new model's."
    ),
    responses={
        200: {"description": "The current model's explanation, and the stored result."},
        404: _error(
            "No job with this id, or no result for this row (e.g. a rejected row: see "
            "/jobs/{job_id}/rejected), or the review's text is no longer stored."
        ),
        422: _INVALID,
        502: _ENDPOINT_FAILED,
    },
)
def explain_job_review(job_id: JobId, row: Row) -> ReviewExplanation:
    return service.explain_review(job_id, row)


@app.post(
    "/predict",
    summary="Classify up to 100 reviews now",
    responses={
        200: {"description": "One prediction per review, in request order."},
        422: _INVALID,
        502: _ENDPOINT_FAILED,
    },
)
def predict(request: Annotated[PredictRequest, Body()]) -> PredictResponse:
    return service.predict(request)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, app.get_openapi_json_schema())


# ------------------------------------------------------------------------------------------------ errors
def _json_error(status: HTTPStatus, body: ErrorBody, **extra: Any) -> Response[dict[str, Any]]:
    return Response(status, content_types.APPLICATION_JSON, {**body.model_dump(exclude_none=True), **extra})


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    return _json_error(HTTPStatus.UNPROCESSABLE_ENTITY, describe_validation_errors(error.errors()))


@app.exception_handler(UnpredictableReviewsError)
def unpredictable_reviews(error: UnpredictableReviewsError) -> Response[dict[str, Any]]:
    return _json_error(HTTPStatus.UNPROCESSABLE_ENTITY, ErrorBody(message=str(error), errors=error.details))


@app.exception_handler(InvalidCursorError)
def invalid_cursor(error: InvalidCursorError) -> Response[dict[str, Any]]:
    return _json_error(HTTPStatus.BAD_REQUEST, ErrorBody(message=f"The {error}."))


@app.exception_handler(JobNotFoundError)
def unknown_job(error: JobNotFoundError) -> Response[dict[str, Any]]:
    return _json_error(HTTPStatus.NOT_FOUND, ErrorBody(message=str(error)), job_id=error.job_id)


@app.exception_handler(RowNotExplainableError)
def row_not_explainable(error: RowNotExplainableError) -> Response[dict[str, Any]]:
    return _json_error(
        HTTPStatus.NOT_FOUND, ErrorBody(message=str(error)), job_id=error.job_id, row=error.row
    )


@app.not_found
def unknown_route(_: NotFoundError) -> Response[dict[str, Any]]:
    event = app.current_event
    message = f"There is no route {event.http_method} {event.path}; see /docs for the routes of this API."
    return _json_error(HTTPStatus.NOT_FOUND, ErrorBody(message=message))


@app.exception_handler(EndpointError)
def endpoint_failed(error: EndpointError) -> Response[dict[str, Any]]:
    logger.error("Sentiment endpoint failed", extra={"code": error.code, "error": str(error)})
    advice = " Try again shortly." if error.retryable else ""
    message = f"The sentiment model could not answer: {error}.{advice}"
    return _json_error(HTTPStatus.BAD_GATEWAY, ErrorBody(message=message), code=error.code)


@app.exception_handler(Exception)
def unexpected(_: Exception) -> Response[dict[str, Any]]:
    # Logged with the traceback; the caller only gets the request id to quote (no internals leak).
    logger.exception("Unhandled error")
    request_id = app.current_event.request_context.request_id
    message = f"Something went wrong on our side; quote request id {request_id} when reporting it."
    return _json_error(HTTPStatus.INTERNAL_SERVER_ERROR, ErrorBody(message=message), request_id=request_id)


# ------------------------------------------------------------------------------------------------ entry
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
