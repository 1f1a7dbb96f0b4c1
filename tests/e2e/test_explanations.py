"""A stored result explained over HTTP: upload a file to the emulator, then ask why a row got its label."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e
Upload = Callable[[str, bytes | Path], str]

NEGATIVE_TEXT = "Boring, dull and far too long. The worst film I have seen this year, a total waste of time."
ROWS = [
    {"id": "p1", "text": "A wonderful, moving film. The cast is excellent and I loved every minute."},
    {"id": "n1", "text": NEGATIVE_TEXT},
    {"id": "e1", "text": ""},  # rejected: no text
]


def test_a_stored_result_is_explained_by_the_current_model_and_rejected_rows_point_to_rejected(
    api: Api, upload: Upload
) -> None:
    # Given a small file: a positive review, a clearly negative one, and a row without text
    body = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
    job = api.final_job(upload("explanations/three_rows.jsonl", body))
    job_id = job["job_id"]
    assert job["status"] == "COMPLETED_WITH_ERRORS", job

    # When the negative review's result is explained over HTTP
    explained = api.get(f"/jobs/{job_id}/reviews/2/explanation")

    # Then it carries the model's n-grams with their weights, a negative word leading the negative side
    assert (explained["job_id"], explained["review_id"], explained["row"]) == (job_id, "n1", 2)
    assert explained["label"] == explained["stored_label"] == "negative"
    assert explained["model_version"] == explained["stored_model_version"] == job["model_version"]
    negative = explained["explanation"]["negative"]
    assert negative
    assert all(item["weight"] < 0 for item in negative)
    assert {word for item in negative[:3] for word in item["ngram"].split()} & {
        "boring",
        "dull",
        "worst",
        "waste",
    }
    # And it is exactly what POST /predict explains for the same text, through the same endpoint
    response = api.http.post(
        f"{api.base_url}/predict",
        json={"reviews": [{"id": "n1", "text": NEGATIVE_TEXT}], "explain": True},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    on_demand = response.json()["predictions"][0]
    assert on_demand["explanation"] == explained["explanation"]
    assert on_demand["score"] == pytest.approx(explained["score"])

    # And the rejected row has no result: 404 saying so and where to look
    rejected = api.get(f"/jobs/{job_id}/reviews/3/explanation", expected=404)
    assert rejected["row"] == 3
    assert "was rejected" in rejected["message"]
    assert f"GET /jobs/{job_id}/rejected" in rejected["message"]
    # And an unknown job is 404, row 0 is 422
    assert "No job with id" in api.get("/jobs/no-such-job/reviews/1/explanation", expected=404)["message"]
    invalid = api.get(f"/jobs/{job_id}/reviews/0/explanation", expected=422)
    assert [error["location"] for error in invalid["errors"]] == ["path.row"]
