"""QueryApiFunction: the HTTP API over jobs, results, explanations and predictions.

The routes are `review_pipeline.api.routes` (exactly the HttpApi events of QueryApiFunction in template.yaml);
what they do is `logic.query.QueryService`, built on first use by `service()` and handed to the routes in the
resolver's context, with `origin_verifier()`, which refuses (403) what did not come through CloudFront. Every
error answer is JSON `{"message": "<sentence>", ...}`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

from review_pipeline.tracing import LazyXRayProvider

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.logic.query import QueryService
    from review_pipeline.origin import OriginVerifier

logger = Logger()
tracer = Tracer(provider=LazyXRayProvider(), auto_patch=False)  # X-Ray loads on first use
metrics = Metrics()


@cache
def service() -> QueryService:
    """The service of this execution environment, built on the first request (not at import)."""
    # Imported here, not at the top: the service's modules (boto3, pydantic models) are most of a cold start.
    from review_pipeline.logic.query import QueryService
    from review_pipeline.settings import load_settings

    tracer.patch()  # before the service creates its clients, so that their calls are traced
    return QueryService.from_settings(load_settings(), metrics)


@cache
def origin_verifier() -> OriginVerifier | None:
    """Checks CloudFront's X-Origin-Verify header against the stack's secret (None: no secret configured)."""
    from review_pipeline.origin import OriginVerifier
    from review_pipeline.settings import load_settings

    secret_arn = load_settings().origin_verify_secret_arn
    return OriginVerifier.from_secret(secret_arn) if secret_arn else None


@cache
def resolver() -> APIGatewayHttpResolver:
    """The routing table (routes, OpenAPI document, error answers), built on the first request."""
    from review_pipeline.api.routes import build_app

    return build_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app = resolver()
    app.append_context(service=service(), origin_verifier=origin_verifier())
    return app.resolve(event, context)
