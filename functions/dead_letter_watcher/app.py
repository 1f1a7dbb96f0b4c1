"""DeadLetterWatcherFunction: every minute, marks the jobs whose messages sit in a dead-letter queue as
stalled, with the reason and how to redrive (see logic/dead_letters.py). It only peeks: the messages stay.

The `DeadLetterWatcher` is built on the first event by `service()`, not at import.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer

from review_pipeline.tracing import LazyXRayProvider

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from review_pipeline.logic.dead_letters import DeadLetterWatcher

logger = Logger()
tracer = Tracer(provider=LazyXRayProvider(), auto_patch=False)  # X-Ray loads on first use


@cache
def service() -> DeadLetterWatcher:
    """The service of this execution environment, built on the first event (not at import)."""
    from review_pipeline.logic.dead_letters import DeadLetterWatcher
    from review_pipeline.settings import load_settings

    tracer.patch()  # before the service creates its clients, so that their calls are traced
    return DeadLetterWatcher.from_settings(load_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    summary = service().watch()
    logger.info("Dead-letter queues looked at", extra=summary)
    return summary
