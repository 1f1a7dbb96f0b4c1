"""QueryApiFunction's handler, invoked with the events/api_*.json files against moto and a live endpoint."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest

from local.template import load_template
from tests.endpoint_server import SentimentEndpointServer
from tests.integration.query_api.api_events import api_event, call


# ------------------------------------------------------------------------------------------------ routes
def test_given_the_health_event_when_invoked_then_ok(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_health"))

    assert status == 200
    assert isinstance(body, dict)
    assert body["status"] == "ok"


def test_given_the_list_jobs_event_when_invoked_then_the_job_is_listed(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event("api_list_jobs"))

    assert status == 200
    assert isinstance(body, dict)
    assert [job["job_id"] for job in body["items"]] == [event_job]
    assert body["cursor"] is None


def test_given_the_get_job_event_when_invoked_then_the_job_has_its_counts(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event("api_get_job"))

    assert status == 200
    assert isinstance(body, dict)
    assert body["job_id"] == event_job
    assert body["status"] == "COMPLETED_WITH_ERRORS"
    assert body["counts"]["classified"] == 6
    assert body["counts"]["rejected"] == 2
    assert body["counts"]["total"] == 8
    assert body["counts"]["positive"] + body["counts"]["negative"] == 6
    assert body["counts"]["uncertain"] == 0  # the seeded reviews are all clearly positive or negative
    assert body["model_version"]
    assert set(body) == {
        "job_id", "source_key", "status", "counts", "model_version",
        "uploaded_at", "created_at", "updated_at", "finished_at", "error", "input", "stalled", "trace_id",
    }  # fmt: skip


def test_given_the_job_reviews_event_when_invoked_then_positive_reviews_with_every_field(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event("api_job_reviews"))

    assert status == 200
    assert isinstance(body, dict)
    assert body["items"]
    assert all(item["label"] == "positive" for item in body["items"])
    assert set(body["items"][0]) == {
        "review_id", "row", "label", "score", "uncertain", "text_excerpt", "movie_id", "rating",
        "model_version", "truncated", "original_chars", "given_label",
    }  # fmt: skip


def test_given_a_page_size_when_listing_reviews_then_the_cursor_leads_to_the_rest(
    handler: ModuleType, event_job: str
) -> None:
    _, first, _ = call(handler, api_event("api_job_reviews", query={"limit": "4"}))
    assert isinstance(first, dict)
    _, second, _ = call(
        handler, api_event("api_job_reviews", query={"limit": "4", "cursor": first["cursor"]})
    )

    assert isinstance(second, dict)
    assert [item["row"] for item in first["items"] + second["items"]] == [1, 2, 3, 4, 5, 6]
    assert second["cursor"] is None


def test_given_the_job_rejected_event_when_invoked_then_rows_and_reasons(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event("api_job_rejected"))

    assert status == 200
    assert body == {
        "items": [
            {"row": 7, "reason": "text: the review is empty", "raw_excerpt": '{"text": ""}'},
            {"row": 8, "reason": "rating: must be between 1 and 10", "raw_excerpt": '{"rating": 11}'},
        ],
        "cursor": None,
    }


def test_given_the_predict_event_when_invoked_then_one_prediction_per_review(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_predict"))

    assert status == 200
    assert isinstance(body, dict)
    assert [(p["id"], p["label"]) for p in body["predictions"]] == [("r1", "positive"), ("r2", "negative")]
    assert all(0.0 <= p["score"] <= 1.0 for p in body["predictions"])
    assert body["model_version"]


def test_given_a_clear_and_a_bland_review_when_predicted_then_only_the_bland_one_is_uncertain(
    handler: ModuleType,
) -> None:
    # "It was a movie." scores 0.05 with the shipped model: outside its band, so a bland text of our choosing
    request = {
        "reviews": [
            {
                "id": "clear",
                "text": "An absolutely wonderful, moving film with brilliant acting. I loved it.",
            },
            {"id": "bland", "text": "The film was released in 2004."},
        ]
    }

    status, body, _ = call(handler, api_event("api_predict", body=json.dumps(request)))

    assert status == 200
    assert isinstance(body, dict)
    low, high = body["uncertain_band"]
    assert 0.0 < low < 0.5 < high < 1.0
    clear, bland = body["predictions"]
    assert (clear["label"], clear["uncertain"]) == ("positive", False)
    assert clear["score"] > high
    assert bland["uncertain"] is True
    assert low <= bland["score"] <= high


def test_given_explain_when_predicting_then_predictions_carry_explanations(handler: ModuleType) -> None:
    request = {"reviews": [{"id": "r1", "text": "A great film, wonderful acting."}], "explain": True}

    status, body, _ = call(handler, api_event("api_predict", body=json.dumps(request)))

    assert status == 200
    assert isinstance(body, dict)
    assert set(body["predictions"][0]["explanation"]) == {"positive", "negative"}


def test_given_the_openapi_event_when_invoked_then_every_route_of_the_template_is_documented(
    handler: ModuleType,
) -> None:
    status, body, headers = call(handler, api_event("api_openapi"))

    template_routes = {
        (event["Properties"]["Method"].lower(), event["Properties"]["Path"])
        for event in load_template()["Resources"]["QueryApiFunction"]["Properties"]["Events"].values()
    }
    documented = template_routes - {("get", "/openapi.json"), ("get", "/docs")}
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert isinstance(body, dict)
    assert body["info"]["title"] == "Review Sentiment API"
    assert {(method, path) for path, ops in body["paths"].items() for method in ops} == documented
    assert "ErrorBody" in body["components"]["schemas"]
    assert "JobView" in body["components"]["schemas"]
    get_job_responses = body["paths"]["/jobs/{job_id}"]["get"]["responses"]
    assert set(get_job_responses) >= {"200", "404", "422"}


def test_given_the_docs_path_when_invoked_then_swagger_ui_is_served(handler: ModuleType) -> None:
    status, body, headers = call(handler, api_event("api_openapi", path="/docs"))

    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert isinstance(body, str)
    assert "swagger" in body.lower()
    assert "Review Sentiment API" in body


# ------------------------------------------------------------------------------------------------ errors
def test_given_an_unknown_job_when_read_then_404_with_a_sentence(handler: ModuleType) -> None:
    for name, path in [
        ("api_get_job", "/jobs/unknown-job"),
        ("api_job_reviews", "/jobs/unknown-job/reviews"),
        ("api_job_rejected", "/jobs/unknown-job/rejected"),
    ]:
        event = api_event(name, path=path)
        event["pathParameters"] = {"job_id": "unknown-job"}

        status, body, _ = call(handler, event)

        assert status == 404
        assert body == {
            "message": "No job with id 'unknown-job'; list jobs with GET /jobs.",
            "job_id": "unknown-job",
        }


def test_given_an_unknown_route_when_invoked_then_404_names_it(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_health", path="/nowhere"))

    assert status == 404
    assert body == {"message": "There is no route GET /nowhere; see /docs for the routes of this API."}


def test_given_a_limit_out_of_range_when_listing_then_422_says_which_and_why(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_list_jobs", query={"limit": "500"}))

    assert status == 422
    assert body == {
        "message": "The request is not valid (query.limit: input should be less than or equal to 100).",
        "errors": [{"location": "query.limit", "message": "Input should be less than or equal to 100"}],
    }


def test_given_an_unknown_sentiment_when_listing_reviews_then_422(
    handler: ModuleType, event_job: str
) -> None:
    status, body, _ = call(handler, api_event("api_job_reviews", query={"sentiment": "neutral"}))

    assert status == 422
    assert isinstance(body, dict)
    assert body["errors"][0]["location"] == "query.sentiment"
    assert "'positive' or 'negative'" in body["message"]


def test_given_a_forged_cursor_when_listing_then_400_says_what_to_do(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_list_jobs", query={"cursor": "eyJwayI6MX0"}))

    assert status == 400
    assert body == {
        "message": "The cursor is not valid: pass back the cursor of the previous page of the same listing."
    }


@pytest.mark.parametrize(
    ("replayed_on", "query"),
    [
        ("api_list_jobs", {}),  # another list (the 500: a results key sent to the jobs index)
        ("api_job_reviews", {"sentiment": "positive"}),  # the same job's results, another filter
        ("api_job_rejected", {}),  # the same job, its rejected rows
    ],
)
def test_given_a_cursor_of_the_results_listing_when_replayed_elsewhere_then_400(
    handler: ModuleType, event_job: str, replayed_on: str, query: dict[str, str]
) -> None:
    _, first, _ = call(handler, api_event("api_job_reviews", query={"limit": "2"}))
    assert isinstance(first, dict)
    assert first["cursor"]

    status, body, _ = call(handler, api_event(replayed_on, query={**query, "cursor": first["cursor"]}))

    assert status == 400
    assert isinstance(body, dict)
    assert "same listing" in body["message"]


def test_given_a_predict_body_without_reviews_when_invoked_then_422_names_the_field(
    handler: ModuleType,
) -> None:
    status, body, _ = call(handler, api_event("api_predict", body=json.dumps({"explain": True})))

    assert status == 422
    assert body == {
        "message": "The request is not valid (body.reviews: field required).",
        "errors": [{"location": "body.reviews", "message": "Field required"}],
    }


def test_given_a_predict_body_that_is_not_json_when_invoked_then_422(handler: ModuleType) -> None:
    status, body, _ = call(handler, api_event("api_predict", body="{not json"))

    assert status == 422
    assert isinstance(body, dict)
    assert body["message"].startswith("The request is not valid (")
    assert "not valid JSON" in body["message"]


def test_given_a_body_over_the_limit_when_predicting_then_413_says_the_limit(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_PAYLOAD_BYTES", "1000")  # read when the service is built, on the first request
    body = json.dumps({"reviews": [{"id": "a", "text": "long " * 300}]})

    status, answer, _ = call(handler, api_event("api_predict", body=body))

    assert status == 413
    assert answer == {"message": f"The request body has {len(body):,} bytes; this API takes at most 1,000."}


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data"])  # the latter without boundary
def test_given_a_body_that_is_not_json_typed_when_predicting_then_415_not_500(
    handler: ModuleType, content_type: str
) -> None:
    event = api_event("api_predict")
    event["headers"]["content-type"] = content_type

    status, answer, _ = call(handler, event)

    assert status == 415
    assert answer == {"message": f"The request body must be application/json, not {content_type}."}


def test_given_a_body_that_is_not_utf8_when_predicting_then_422_not_500(handler: ModuleType) -> None:
    event = api_event("api_predict", body=base64.b64encode(b"\xff\xfe{").decode())
    event["isBase64Encoded"] = True

    status, answer, _ = call(handler, event)

    assert status == 422
    assert answer == {
        "message": "The request is not valid (body: not UTF-8 text).",
        "errors": [{"location": "body", "message": "Not UTF-8 text: send the JSON body encoded as UTF-8"}],
    }


def test_given_a_review_with_no_text_after_cleaning_when_predicting_then_422_points_at_it(
    handler: ModuleType,
) -> None:
    request = {"reviews": [{"id": "r1", "text": "fine"}, {"id": "r2", "text": "<br /><br />"}]}

    status, body, _ = call(handler, api_event("api_predict", body=json.dumps(request)))

    assert status == 422
    assert isinstance(body, dict)
    assert body["errors"] == [
        {
            "location": "body.reviews.1.text",
            "message": "review 'r2' has no text left after cleaning (markup and spaces only)",
        }
    ]


def test_given_the_model_fails_when_predicting_then_502_with_what_happened(
    handler: ModuleType, sentiment_endpoint: SentimentEndpointServer
) -> None:
    sentiment_endpoint.fail_next(424, "ModelError", "model crashed")

    status, body, _ = call(handler, api_event("api_predict"))

    assert status == 502
    assert isinstance(body, dict)
    assert body["code"] == "ModelError"
    assert body["message"].startswith("The sentiment model could not answer:")
    assert "model crashed" in body["message"]


def test_given_an_unexpected_failure_when_invoked_then_500_without_internals(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret table name reviews-test")

    monkeypatch.setattr(handler.service(), "list_jobs", broken)

    status, body, _ = call(handler, api_event("api_list_jobs"))

    assert status == 500
    assert isinstance(body, dict)
    assert "secret" not in json.dumps(body)
    assert body["request_id"] == "Xy1Abc02IAMEYA="
    assert "quote request id Xy1Abc02IAMEYA=" in body["message"]
