"""Only CloudFront gets in: the emulator's public URL adds the origin header as CloudFront does, and a request
straight to the origin (the execute-api URL's stand-in) is refused, whatever header it guesses."""

from __future__ import annotations

import pytest
import requests

from local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]


def test_a_request_through_cloudfront_is_answered(stack: LocalStack) -> None:
    assert stack.info is not None

    response = requests.get(f"{stack.info.api_url}/jobs", timeout=30)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("guess", [None, "", "not-the-secret"], ids=["no-header", "empty", "guessed"])
@pytest.mark.parametrize("route", ["/health", "/jobs", "/openapi.json"])
def test_a_request_straight_to_the_origin_is_refused(
    stack: LocalStack, route: str, guess: str | None
) -> None:
    assert stack.info is not None
    headers = {} if guess is None else {"X-Origin-Verify": guess}

    response = requests.get(f"{stack.info.origin_url}{route}", headers=headers, timeout=30)

    assert response.status_code == 403
    assert "CloudFront" in response.json()["message"]


def test_predict_straight_to_the_origin_is_refused(stack: LocalStack) -> None:
    assert stack.info is not None

    response = requests.post(
        f"{stack.info.origin_url}/predict",
        json={"reviews": [{"id": "a", "text": "A wonderful film."}]},
        timeout=30,
    )

    assert response.status_code == 403
