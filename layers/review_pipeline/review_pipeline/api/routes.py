"""The routes of the HTTP API: exactly the HttpApi events of QueryApiFunction in template.yaml.

Each route is one call to the `QueryService` the handler puts in the resolver's context for the invocation
(`app.append_context(service=...)`). Every error answer is JSON `{"message": "<sentence>", ...}`: domain
errors get the status `api.errors.ERROR_STATUSES` gives them; the OpenAPI document is at /openapi.json and
Swagger UI at /docs.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from review_pipeline.api.errors import ERROR_STATUSES, describe_validation_errors, error_answer
from review_pipeline.api.models import (
    ErrorBody,
    ExportLink,
    HealthView,
    JobList,
    JobView,
    PredictRequest,
    PredictResponse,
    RejectedList,
    ReviewExplanation,
    ReviewList,
)
from review_pipeline.endpoint import EndpointError
from review_pipeline.export_rows import ExportFormat
from review_pipeline.models import Sentiment
from review_pipeline.origin import ORIGIN_VERIFY_HEADER

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    from review_pipeline.logic.query import QueryService
    from review_pipeline.origin import OriginVerifier

logger = Logger(child=True)
router = Router()


def _service() -> QueryService:
    service: QueryService = router.context["service"]
    return service


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


_BAD_REQUEST = _error("The request is not valid.")
_INVALID = _error("A parameter or the body is not valid; `errors` lists each problem.")
_NO_JOB = _error("No job with this id.")
_ENDPOINT_FAILED = _error("The sentiment model could not answer.")


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
Cursor = Annotated[str | None, Query(description="The cursor of the previous page.")]
JobId = Annotated[str, Path(min_length=1, max_length=128, description="The job's id.")]
Row = Annotated[int, Path(ge=1, description="1-based data row in the uploaded file, as the results list it.")]


# ------------------------------------------------------------------------------------------------ routes
@router.get("/health", summary="Liveness", responses={200: {"description": "The API answers."}})
def health() -> HealthView:
    return _service().health()


@router.get(
    "/jobs",
    summary="List jobs, newest first",
    responses={200: {"description": "A page of jobs."}, 400: _BAD_REQUEST, 422: _INVALID},
)
def list_jobs(
    limit: Limit = 20,
    cursor: Cursor = None,
    source_key: Annotated[str | None, Query(description="Only jobs of this uploaded S3 key.")] = None,
) -> JobList:
    return _service().list_jobs(limit=limit, cursor=cursor, source_key=source_key)


@router.get("/jobs/<job_id>", summary="One job", responses={200: {"description": "The job."}, 404: _NO_JOB})
def get_job(job_id: JobId) -> JobView:
    return _service().get_job(job_id)


@router.get(
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
    return _service().list_reviews(job_id, sentiment=sentiment, limit=limit, cursor=cursor)


@router.get(
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
    return _service().list_rejected(job_id, limit=limit, cursor=cursor)


@router.get(
    "/jobs/<job_id>/export",
    summary="Download every row of a finished job",
    description=(
        "A presigned URL, valid for a few minutes, of the job's export in the bucket: every row of the "
        "uploaded file in file order, results (`row, id, label, score, model_version`) and rejected rows "
        "(with their `reason`), as CSV or as gzip-compressed JSON lines. Written once when the job ends."
    ),
    responses={
        200: {"description": "The download URL and the number of rows."},
        404: _error(
            "No job with this id, or no export yet: the message says whether it is not finished, "
            "FAILED, or being written."
        ),
        422: _INVALID,
    },
)
def export_job(
    job_id: JobId,
    format: Annotated[ExportFormat, Query(description="csv, or jsonl (gzip-compressed JSON lines).")] = "csv",
) -> ExportLink:
    return _service().export_link(job_id, format)


@router.get(
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
    return _service().explain_review(job_id, row)


@router.post(
    "/predict",
    summary="Classify up to 100 reviews now",
    responses={
        200: {"description": "One prediction per review, in request order."},
        422: _INVALID,
        502: _ENDPOINT_FAILED,
    },
)
def predict(request: Annotated[PredictRequest, Body()]) -> PredictResponse:
    return _service().predict(request)


# ------------------------------------------------------------------------------------------------ errors
def _json(status: HTTPStatus, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status, content_types.APPLICATION_JSON, body)


@router.exception_handler(list(ERROR_STATUSES))
def domain_error(error: Exception) -> Response[dict[str, Any]]:
    if isinstance(error, EndpointError):
        logger.error("Sentiment endpoint failed", extra={"code": error.code, "error": str(error)})
    return _json(*error_answer(error))


@router.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    body = describe_validation_errors(error.errors())
    return _json(HTTPStatus.UNPROCESSABLE_ENTITY, body.model_dump(exclude_none=True))


@router.exception_handler(Exception)
def unexpected(_: Exception) -> Response[dict[str, Any]]:
    # Logged with the traceback; the caller only gets the request id to quote (no internals leak).
    logger.exception("Unhandled error")
    event: APIGatewayProxyEventV2 = router.current_event  # type: ignore[assignment]
    request_id = event.request_context.request_id
    message = f"Something went wrong on our side; quote request id {request_id} when reporting it."
    return _json(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": message, "request_id": request_id})


def require_cloudfront(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """403 for a request without CloudFront's X-Origin-Verify header (one sent to the execute-api URL)."""
    verifier: OriginVerifier | None = app.context.get("origin_verifier")
    if verifier is None or verifier.accepts(app.current_event.headers.get(ORIGIN_VERIFY_HEADER)):
        return next_middleware(app)
    logger.warning(
        "Request refused: it did not come through CloudFront", extra={"path": app.current_event.path}
    )
    message = (
        "This API answers through its CloudFront URL only (the stack's ApiUrl output), not at the "
        "execute-api URL."
    )
    return _json(HTTPStatus.FORBIDDEN, {"message": message})


# ------------------------------------------------------------------------------------------------ resolver
def build_app() -> APIGatewayHttpResolver:
    """The resolver of QueryApiFunction: these routes, the OpenAPI document, Swagger UI and the 404 answer."""
    app = APIGatewayHttpResolver(enable_validation=True)
    app.configure_openapi(
        title="Review Sentiment API",
        version="1.0.0",
        description=(
            "Jobs of uploaded review files, their classified reviews (each explainable on request) and "
            "rejected rows, and on-demand sentiment predictions from the same model. Lists are paged: pass "
            "back `cursor` for the next page."
        ),
    )
    app.enable_swagger(path="/docs")
    app.use(middlewares=[require_cloudfront])  # every route, the documentation included
    app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, app.get_openapi_json_schema())

    @app.not_found
    def unknown_route(_: NotFoundError) -> Response[dict[str, Any]]:
        event = app.current_event
        message = f"There is no route {event.http_method} {event.path}; see /docs for the routes of this API."
        return _json(HTTPStatus.NOT_FOUND, {"message": message})

    return app
