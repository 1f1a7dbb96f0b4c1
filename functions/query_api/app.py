"""QueryApiFunction: the HTTP API over jobs, results, explanations and predictions.

The routes are `review_pipeline.api.routes` (exactly the HttpApi events of QueryApiFunction in template.yaml);
what they do is `logic.query.QueryService`, built on first use by `service()` and handed to the routes in
the resolver's context. Every error answer is JSON `{"message": "<sentence>", ...}`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

from review_pipeline.api.routes import build_app
from review_pipeline.settings import load_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.logic.query import QueryService

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = build_app()  # the routing table only: no client, no setting


@cache
def service() -> QueryService:
    """The service of this execution environment, built on the first request (not at import)."""
    from review_pipeline.logic.query import QueryService  # boto3 and the endpoint client: first request only

    return QueryService.from_settings(load_settings(), metrics)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app.append_context(service=service())
    return app.resolve(event, context)
