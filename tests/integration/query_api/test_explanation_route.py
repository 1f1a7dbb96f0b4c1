"""GET /jobs/{job_id}/reviews/{row}/explanation through QueryApiFunction's handler, on moto and the model.

Driven by events/api_review_explanation.json (row 2 of the events' job: a clearly negative review).
"""

from __future__ import annotations

import json
from types import ModuleType

from tests.endpoint_server import SentimentEndpointServer
from tests.integration.query_api.api_events import api_event, call

EXPLANATION_EVENT = "api_review_explanation"
NEGATIVE_WORDS = {"boring", "dull", "worst", "waste", "awful", "terrible"}


def _explanation_path(job_id: str, row: int | str) -> str:
    return f"/jobs/{job_id}/reviews/{row}/explanation"


def test_given_the_explanation_event_when_invoked_then_the_real_models_ngrams_with_weights(
    handler: ModuleType, event_job: str
) -> None:
    # Given the events' job, whose row 2 reads "Boring, dull and far too long: the worst film this year."
    # When the explanation event is invoked
    status, body, headers = call(handler, api_event(EXPLANATION_EVENT))

    # Then the current model explains it, beside what was stored
    assert status == 200, body
    assert isinstance(body, dict)
    assert headers["content-type"].startswith("application/json")
    assert set(body) == {
        "job_id", "review_id", "row", "label", "score", "uncertain", "model_version",
        "stored_label", "stored_score", "stored_uncertain", "stored_model_version", "explanation",
    }  # fmt: skip
    assert (body["job_id"], body["review_id"], body["row"]) == (event_job, "review-2", 2)
    assert body["label"] == body["stored_label"] == "negative"
    assert body["model_version"] == body["stored_model_version"]
    assert abs(body["score"] - body["stored_score"]) < 1e-6
    assert body["uncertain"] is body["stored_uncertain"] is False  # a clearly negative review
    negative = body["explanation"]["negative"]
    assert negative
    assert all(set(item) == {"ngram", "weight"} for item in negative)
    assert all(item["weight"] < 0 for item in negative)
    assert {word for item in negative[:3] for word in item["ngram"].split()} & NEGATIVE_WORDS
    assert all(item["weight"] > 0 for item in body["explanation"]["positive"])


def test_given_a_positive_review_of_the_second_chunk_when_explained_then_the_real_models_positive_ngrams_lead(
    handler: ModuleType, event_job: str
) -> None:
    # Given the events' job, whose row 5 (the first of its second chunk) reads
    # "The best thing I have seen in ages, simply great."
    # When it is explained
    status, body, _ = call(handler, api_event(EXPLANATION_EVENT, path=_explanation_path(event_job, 5)))

    # Then the shipped model calls it positive, as when it was stored, and "best" or "great" leads
    assert status == 200, body
    assert isinstance(body, dict)
    assert (body["review_id"], body["row"]) == ("review-5", 5)
    assert body["label"] == body["stored_label"] == "positive"
    positive = body["explanation"]["positive"]
    assert positive
    assert {word for item in positive[:3] for word in item["ngram"].split()} & {"best", "great"}


def test_given_an_unknown_job_when_explained_then_404_naming_it(handler: ModuleType, event_job: str) -> None:
    status, body, _ = call(handler, api_event(EXPLANATION_EVENT, path=_explanation_path("nope", 2)))

    assert status == 404
    assert body == {"message": "No job with id 'nope'; list jobs with GET /jobs.", "job_id": "nope"}


def test_given_a_rejected_row_when_explained_then_404_saying_so_and_pointing_to_rejected(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event(EXPLANATION_EVENT, path=_explanation_path(event_job, 7)))

    assert status == 404
    assert isinstance(body, dict)
    assert body["job_id"] == event_job
    assert body["row"] == 7
    assert body["message"] == (
        f"Row 7 of job {event_job!r} was rejected, so it has no result to explain "
        f"(text: the review is empty); see GET /jobs/{event_job}/rejected."
    )


def test_given_row_zero_when_explained_then_422_on_the_row(handler: ModuleType, event_job: str) -> None:
    status, body, _ = call(handler, api_event(EXPLANATION_EVENT, path=_explanation_path(event_job, 0)))

    assert status == 422
    assert isinstance(body, dict)
    assert [error["location"] for error in body["errors"]] == ["path.row"]
    assert body["message"].startswith("The request is not valid (path.row: input should be greater than")


def test_given_a_row_that_is_not_a_number_when_explained_then_422(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event(EXPLANATION_EVENT, path=_explanation_path(event_job, "two")))

    assert status == 422
    assert isinstance(body, dict)
    assert [error["location"] for error in body["errors"]] == ["path.row"]


def test_given_the_model_fails_when_explained_then_502_with_what_happened(
    handler: ModuleType, event_job: str, sentiment_endpoint: SentimentEndpointServer
) -> None:
    sentiment_endpoint.fail_next(424, "ModelError", "model crashed")

    status, body, _ = call(handler, api_event(EXPLANATION_EVENT))

    assert status == 502
    assert isinstance(body, dict)
    assert body["code"] == "ModelError"
    assert body["message"].startswith("The sentiment model could not answer:")


def test_given_the_openapi_document_then_the_explanation_route_is_described_completely(
    handler: ModuleType,
) -> None:
    status, body, _ = call(handler, api_event("api_openapi"))

    assert status == 200
    document = body if isinstance(body, dict) else json.loads(body)
    operation = document["paths"]["/jobs/{job_id}/reviews/{row}/explanation"]["get"]
    assert "model has changed since" in operation["description"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"job_id", "row"}
    row = next(parameter for parameter in operation["parameters"] if parameter["name"] == "row")
    assert row["schema"]["type"] == "integer"
    assert row["schema"]["minimum"] == 1
    assert set(operation["responses"]) == {"200", "401", "403", "404", "413", "422", "500", "502"}
    schema_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert set(schema["properties"]) == {
        "job_id", "review_id", "row", "label", "score", "uncertain", "model_version",
        "stored_label", "stored_score", "stored_uncertain", "stored_model_version", "explanation",
    }  # fmt: skip
    assert "stored_model_version" in schema["required"]
