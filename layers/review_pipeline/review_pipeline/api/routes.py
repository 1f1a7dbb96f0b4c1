"""The routes of the HTTP API: exactly the HttpApi events of QueryApiFunction in template.yaml.

Each route is one call to the `QueryService` the handler puts in the resolver's context for the invocation
(`app.append_context(service=...)`). Every error answer is JSON `{"message": "<sentence>", ...}`: domain
errors get the status `api.errors.ERROR_STATUSES` gives them; the OpenAPI document is at /openapi.json and
Swagger UI at /docs.
"""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from review_pipeline.api.errors import ERROR_STATUSES, describe_validation_errors, error_answer
from review_pipeline.api.models import (
    ErrorBody,
    ErrorDetail,
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


_BAD_REQUEST = _error(
    "The cursor was not handed out by this listing (changed, or from another list or filter)."
)
_INVALID = _error("A parameter or the body is not valid; `errors` lists each problem.")
_NO_JOB = _error("No job with this id.")
_ENDPOINT_FAILED = _error("The sentiment model could not answer.")
# What any route may answer besides its own: a request that did not come through CloudFront, a body over the
# limit, and an unexpected failure.
_ANY_ROUTE: dict[int, OpenAPIResponse] = {
    403: _error("The request did not come through the API's CloudFront URL (no valid X-Origin-Verify)."),
    413: _error("The request body is larger than this API takes."),
    500: _error("Something failed on our side; `request_id` identifies the request."),
}


# API Gateway's JWT authorizer (AuthMode cognito or oidc) answers it on every route but /health.
_NO_TOKEN = _error("JWT auth is on and the request has no valid `Authorization: Bearer <token>`.")


def _responses(ok: str, *, public: bool = False, **errors: OpenAPIResponse) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: 200, its own errors (by status, as `e404=...`), those of any route, and
    the authorizer's 401 unless the route is public."""
    declared: dict[int, OpenAPIResponse] = {
        200: {"description": ok},
        **{int(k[1:]): v for k, v in errors.items()},
        **_ANY_ROUTE,
    }
    return declared if public else {**declared, 401: _NO_TOKEN}


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
Cursor = Annotated[str | None, Query(description="The cursor of the previous page.")]
JobId = Annotated[str, Path(min_length=1, max_length=128, description="The job's id.")]
Row = Annotated[int, Path(ge=1, description="1-based data row in the uploaded file, as the results list it.")]


# ------------------------------------------------------------------------------------------------ routes
@router.get("/health", summary="Liveness", responses=_responses("The API answers.", public=True))
def health() -> HealthView:
    return _service().health()


@router.get(
    "/jobs",
    summary="List jobs, newest first",
    responses=_responses("A page of jobs.", e400=_BAD_REQUEST, e422=_INVALID),
)
def list_jobs(
    limit: Limit = 20,
    cursor: Cursor = None,
    source_key: Annotated[str | None, Query(description="Only jobs of this uploaded S3 key.")] = None,
) -> JobList:
    return _service().list_jobs(limit=limit, cursor=cursor, source_key=source_key)


@router.get(
    "/jobs/<job_id>", summary="One job", responses=_responses("The job.", e404=_NO_JOB, e422=_INVALID)
)
def get_job(job_id: JobId) -> JobView:
    return _service().get_job(job_id)


@router.get(
    "/jobs/<job_id>/reviews",
    summary="A job's classified reviews, in file order",
    responses=_responses("A page of results.", e400=_BAD_REQUEST, e404=_NO_JOB, e422=_INVALID),
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
    responses=_responses("A page of rejected rows.", e400=_BAD_REQUEST, e404=_NO_JOB, e422=_INVALID),
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
    responses=_responses(
        "The download URL and the number of rows.",
        e404=_error(
            "No job with this id, or no export yet: the message says whether it is not finished, "
            "FAILED, or being written."
        ),
        e422=_INVALID,
    ),
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
    responses=_responses(
        "The current model's explanation, and the stored result.",
        e404=_error(
            "No job with this id, or no result for this row (e.g. a rejected row: see "
            "/jobs/{job_id}/rejected), or the review's text is no longer stored."
        ),
        e422=_INVALID,
        e502=_ENDPOINT_FAILED,
    ),
)
def explain_job_review(job_id: JobId, row: Row) -> ReviewExplanation:
    return _service().explain_review(job_id, row)


@router.post(
    "/predict",
    summary="Classify up to 100 reviews now",
    responses=_responses(
        "One prediction per review, in request order.",
        e415=_error("The body is not application/json."),
        e422=_INVALID,
        e502=_ENDPOINT_FAILED,
    ),
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


# ----------------------------------------------------------------------------------------------- origin guard
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


# ------------------------------------------------------------------------------------------------ body guard
def limit_body(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """413 for a body over the service's limit (checked once the request has been validated)."""
    event = app.current_event
    raw = event.body or ""
    size = (
        len(base64.b64decode(raw)) if event.is_base64_encoded else len(raw.encode("utf-8", "surrogatepass"))
    )
    limit = _service().max_request_bytes
    if size > limit:
        message = f"The request body has {size:,} bytes; this API takes at most {limit:,}."
        return _json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": message})
    return next_middleware(app)


@router.exception_handler([RequestUnsupportedContentType, ValueError])
def body_not_json(error: Exception) -> Response[dict[str, Any]]:
    """A body that is not JSON: Powertools refuses unknown types, and raises ValueError on a malformed form
    (e.g. multipart/form-data without a boundary). Only JSON is taken; any other ValueError is unexpected."""
    content_type = router.current_event.headers.get("content-type", "")
    if isinstance(error, RequestUnsupportedContentType) or (
        content_type and not content_type.startswith("application/json")
    ):
        message = f"The request body must be application/json, not {content_type}."
        return _json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"message": message})
    return unexpected(error)


@router.exception_handler(UnicodeDecodeError)
def body_not_utf8(_: UnicodeDecodeError) -> Response[dict[str, Any]]:
    """The validation reads the body as UTF-8 JSON: bytes that are not UTF-8 are the caller's mistake."""
    detail = ErrorDetail(location="body", message="Not UTF-8 text: send the JSON body encoded as UTF-8")
    answer = ErrorBody(message="The request is not valid (body: not UTF-8 text).", errors=[detail])
    return _json(HTTPStatus.UNPROCESSABLE_ENTITY, answer.model_dump(exclude_none=True))


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
    # Every route, the documentation included: the origin check first, then the body limit.
    app.use(middlewares=[require_cloudfront, limit_body])
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
