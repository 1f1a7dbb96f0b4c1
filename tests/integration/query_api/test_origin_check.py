"""QueryApiFunction refuses what did not come through CloudFront: the handler, with the stack's origin secret
in Secrets Manager (moto), answers 403 to an event without the right X-Origin-Verify header."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.handlers import handler_for
from tests.integration.query_api.api_events import api_event, call

SECRET_VALUE = "cloudfront-says-hello-0123456789abcdef"


@pytest.fixture
def handler(pipeline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="origin-verify-test", SecretString=SECRET_VALUE)["ARN"]
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET_ARN", arn)
    return handler_for("query_api", monkeypatch)


def _with_header(name: str, value: str | None) -> dict[str, Any]:
    event = api_event(name)
    event["headers"] = {k: v for k, v in event.get("headers", {}).items() if k.lower() != "x-origin-verify"}
    if value is not None:
        event["headers"]["x-origin-verify"] = value
    return event


@pytest.mark.parametrize(
    "value", [None, "", "guess", SECRET_VALUE.upper()], ids=["none", "empty", "guess", "case"]
)
@pytest.mark.parametrize("route", ["api_health", "api_list_jobs", "api_predict"])
def test_without_cloudfronts_header_every_route_is_403(
    handler: ModuleType, route: str, value: str | None
) -> None:
    status, body, _ = call(handler, _with_header(route, value))

    assert status == 403
    assert isinstance(body, dict)
    assert "CloudFront" in body["message"]


def test_with_cloudfronts_header_the_route_answers(handler: ModuleType) -> None:
    status, body, _ = call(handler, _with_header("api_list_jobs", SECRET_VALUE))

    assert status == 200
    assert isinstance(body, dict)
    assert body["items"] == []
