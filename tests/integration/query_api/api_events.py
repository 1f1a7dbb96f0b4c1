"""The events/api_*.json files as QueryApiFunction's tests send them, and how a test calls the handler."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.handlers import lambda_context

EVENTS_DIR = Path(__file__).resolve().parents[3] / "events"
# The job every events/api_*.json file names (the `event_job` fixture seeds it).
JOB_ID = json.loads((EVENTS_DIR / "api_get_job.json").read_text())["pathParameters"]["job_id"]


def api_event(
    name: str, *, path: str | None = None, query: dict[str, str] | None = None, body: str | None = None
) -> dict[str, Any]:
    """An events/ file, optionally sent to another path, with other query parameters or another body."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    event = copy.deepcopy(event)
    if path is not None:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{key}={value}" for key, value in query.items())
    if body is not None:
        event["body"] = body
    return event


def call(handler: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
    response = handler.lambda_handler(event, lambda_context("QueryApiFunction"))
    headers = {key.lower(): value for key, value in response.get("headers", {}).items()}
    body = response["body"]
    if headers.get("content-type", "").startswith("application/json"):
        return response["statusCode"], json.loads(body), headers
    return response["statusCode"], body, headers
