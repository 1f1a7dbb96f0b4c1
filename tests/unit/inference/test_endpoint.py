"""SentimentEndpoint: payload splitting, answer checking and error translation, on the small model."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config

from review_pipeline.endpoint import (
    EndpointError,
    EndpointInstance,
    EndpointRequest,
    SentimentEndpoint,
    check_response,
    plan_requests,
)
from tests.conftest import ENDPOINT_NAME
from tests.staged_endpoint import StagedEndpoint


def _instances(count: int, text_chars: int = 50) -> list[EndpointInstance]:
    return [EndpointInstance(id=f"r{i}", text="é" * text_chars) for i in range(count)]


# ------------------------------------------------------------------------------------------------ splitting
def test_given_reviews_over_the_limit_when_planning_then_every_request_fits_and_order_is_kept() -> None:
    instances = _instances(40)  # "é" is two bytes in UTF-8: sizes are measured in bytes, not characters
    limit = 1_000

    batches, too_large = plan_requests(instances, explain=False, max_payload_bytes=limit)

    sizes = [len(EndpointRequest(instances=batch).model_dump_json().encode()) for batch in batches]
    assert too_large == []
    assert len(batches) > 1
    assert all(size <= limit for size in sizes)
    assert [i.id for batch in batches for i in batch] == [i.id for i in instances]


def test_given_a_request_that_fits_exactly_when_planning_then_it_is_one_request() -> None:
    instances = _instances(5)
    exact = len(EndpointRequest(instances=instances, explain=True).model_dump_json().encode())

    fits, _ = plan_requests(instances, explain=True, max_payload_bytes=exact)
    one_byte_short, _ = plan_requests(instances, explain=True, max_payload_bytes=exact - 1)

    assert [len(batch) for batch in fits] == [5]
    assert [len(batch) for batch in one_byte_short] == [4, 1]


def test_given_a_first_call_limit_when_planning_then_only_the_first_request_is_smaller() -> None:
    instances = _instances(23)

    batches, too_large = plan_requests(
        instances, explain=False, max_payload_bytes=1_000_000, max_instances=10, first_max_instances=3
    )
    above_the_limit, _ = plan_requests(
        instances, explain=False, max_payload_bytes=1_000_000, max_instances=10, first_max_instances=50
    )

    assert too_large == []
    assert [len(batch) for batch in batches] == [3, 10, 10]
    assert [i.id for batch in batches for i in batch] == [i.id for i in instances]
    assert [len(batch) for batch in above_the_limit] == [10, 10, 3]  # never more than max_instances


def test_given_one_review_larger_than_the_limit_when_planning_then_only_it_is_reported() -> None:
    instances = [*_instances(3), EndpointInstance(id="huge", text="x" * 5_000), *_instances(2)]

    batches, too_large = plan_requests(instances, explain=False, max_payload_bytes=2_000)

    assert [review.id for review in too_large] == ["huge"]
    assert too_large[0].size_bytes > 2_000
    assert "2000 bytes" in too_large[0].reason
    assert "huge" not in [i.id for batch in batches for i in batch]
    assert sum(len(batch) for batch in batches) == 5


# ------------------------------------------------------------------------------------------------ checking
def test_given_an_answer_for_other_ids_when_checked_then_the_error_names_them() -> None:
    sent = [EndpointInstance(id="a", text="t"), EndpointInstance(id="b", text="t")]
    body = json.dumps(
        {
            "predictions": [
                {"id": "a", "label": "positive", "score": 0.9},
                {"id": "c", "label": "negative", "score": 0.1},
            ],
            "model_version": "m1",
        }
    ).encode()

    with pytest.raises(EndpointError) as raised:
        check_response(sent, body)

    assert raised.value.code == "MismatchedResponse"
    assert "missing ids: ['b']" in str(raised.value)
    assert "unexpected ids: ['c']" in str(raised.value)


def test_given_fewer_predictions_than_reviews_when_checked_then_it_is_an_error() -> None:
    sent = [EndpointInstance(id="a", text="t"), EndpointInstance(id="b", text="t")]
    body = b'{"predictions": [{"id": "a", "label": "positive", "score": 0.9}], "model_version": "m1"}'

    with pytest.raises(EndpointError, match="answered 1 predictions for 2 reviews"):
        check_response(sent, body)


def test_given_an_answer_that_breaks_the_contract_when_checked_then_the_error_says_where() -> None:
    sent = [EndpointInstance(id="a", text="t")]
    body = b'{"predictions": [{"id": "a", "label": "maybe", "score": 0.9}], "model_version": "m1"}'

    with pytest.raises(EndpointError, match=r"not a prediction response.*predictions\.0\.label") as raised:
        check_response(sent, body)

    assert raised.value.code == "InvalidResponse"


def test_given_an_answer_with_the_uncertain_flag_when_checked_then_the_flags_and_the_band_are_read() -> None:
    sent = [EndpointInstance(id="a", text="t"), EndpointInstance(id="b", text="t")]
    body = json.dumps(
        {
            "predictions": [
                {"id": "a", "label": "positive", "score": 0.97, "uncertain": False},
                {"id": "b", "label": "positive", "score": 0.55, "uncertain": True},
            ],
            "model_version": "m2",
            "uncertain_band": [0.27, 0.73],
        }
    ).encode()

    response = check_response(sent, body)

    assert [(p.id, p.uncertain) for p in response.predictions] == [("a", False), ("b", True)]
    assert response.uncertain_band == (0.27, 0.73)


def test_given_an_older_model_without_the_flag_when_checked_then_uncertain_is_none_not_guessed() -> None:
    sent = [EndpointInstance(id="a", text="t")]
    body = b'{"predictions": [{"id": "a", "label": "positive", "score": 0.5}], "model_version": "m1"}'

    response = check_response(sent, body)

    assert response.predictions[0].uncertain is None
    assert response.uncertain_band is None


# ------------------------------------------------------------------------------------------------ calls
def test_given_many_reviews_when_predicting_then_calls_are_split_and_answers_keep_request_order(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    reviews = [(f"r{i}", f"review number {i}: a great film" if i % 2 else "an awful film") for i in range(30)]
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=1_000)

    answer = endpoint.predict(reviews)

    assert [p.id for p in answer.predictions] == [review_id for review_id, _ in reviews]
    assert len(sentiment_endpoint.invocations) == len(answer.call_latencies_ms) > 1
    assert all(len(call.body) <= 1_000 for call in sentiment_endpoint.invocations)
    assert all(call.endpoint_name == ENDPOINT_NAME for call in sentiment_endpoint.invocations)
    assert all(call.content_type == "application/json" for call in sentiment_endpoint.invocations)
    assert answer.model_version
    assert {p.label for p in answer.predictions} <= {"positive", "negative"}
    # The model flags scores inside its band; every answer carries the flag and the band
    assert answer.uncertain_band is not None
    low, high = answer.uncertain_band
    assert all(p.uncertain == (low <= p.score <= high) for p in answer.predictions)


def test_given_many_reviews_when_predicting_in_parts_then_each_call_is_a_part_as_it_answers(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    reviews = [(f"r{i}", f"review {i}: a great film") for i in range(30)] + [("huge", "great " * 500)]
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=1_000)
    parts = endpoint.predict_parts(reviews)

    first = next(parts)
    # The first part is there after one call, before the others are made
    assert len(sentiment_endpoint.invocations) == 1
    rest = list(parts)

    assert len(sentiment_endpoint.invocations) == 1 + len(rest) > 1
    answered = [p.id for part in (first, *rest) for p in part.predictions]
    assert answered == [review_id for review_id, _ in reviews[:-1]]
    assert [review.id for review in first.too_large] == ["huge"]
    assert all(part.too_large == [] and len(part.call_latencies_ms) == 1 for part in rest)
    assert all(part.model_version == first.model_version for part in rest)


def test_given_only_too_large_reviews_when_predicting_in_parts_then_one_part_says_so_without_a_call(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=1_000)

    [part] = endpoint.predict_parts([("huge", "great " * 500)])

    assert sentiment_endpoint.invocations == []
    assert (part.predictions, part.call_latencies_ms) == ([], [])
    assert [review.id for review in part.too_large] == ["huge"]


def test_given_explain_when_predicting_then_the_request_asks_for_it_and_explanations_come_back(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=4_000_000)

    answer = endpoint.predict([("r1", "a great film")], explain=True)

    assert json.loads(sentiment_endpoint.invocations[0].body)["explain"] is True
    assert answer.predictions[0].explanation is not None


def test_given_a_review_too_large_when_predicting_then_the_others_are_still_classified(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=1_000)

    answer = endpoint.predict([("small", "a great film"), ("huge", "great " * 500)])

    assert [p.id for p in answer.predictions] == ["small"]
    assert [review.id for review in answer.too_large] == ["huge"]


def test_given_repeated_ids_when_predicting_then_it_is_refused_before_any_call(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=4_000_000)

    with pytest.raises(ValueError, match="unique"):
        endpoint.predict([("a", "one"), ("a", "two")])

    assert sentiment_endpoint.invocations == []


def _endpoint_without_retries() -> SentimentEndpoint:
    client = boto3.client(
        "sagemaker-runtime", config=Config(retries={"mode": "standard", "total_max_attempts": 1})
    )
    return SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=4_000_000, client=client)


def test_given_the_model_fails_when_predicting_then_endpoint_error_carries_the_models_message(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    sentiment_endpoint.fail_next(424, "ModelError", "instances[0].text must be a non-empty string")

    with pytest.raises(EndpointError) as raised:
        _endpoint_without_retries().predict([("a", "text")])

    assert raised.value.code == "ModelError"
    assert "failed with status 400" in str(raised.value)
    assert "instances[0].text must be a non-empty string" in str(raised.value)
    assert not raised.value.retryable


def test_given_throttling_when_predicting_then_endpoint_error_is_retryable_and_says_so(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    sentiment_endpoint.fail_next(400, "ThrottlingException", "Rate exceeded")

    with pytest.raises(EndpointError, match="throttling") as raised:
        _endpoint_without_retries().predict([("a", "text")])

    assert raised.value.retryable


def test_given_an_unknown_endpoint_when_predicting_then_endpoint_error_names_it(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    sentiment_endpoint.fail_next(400, "ValidationError", "Endpoint sentiment-test of account 1 not found.")

    with pytest.raises(EndpointError, match="check ENDPOINT_NAME") as raised:
        _endpoint_without_retries().predict([("a", "text")])

    assert raised.value.code == "ValidationError"
    assert ENDPOINT_NAME in str(raised.value)


def test_given_a_transient_failure_when_predicting_then_adaptive_retries_recover(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    sentiment_endpoint.fail_next(503, "ServiceUnavailable", "try later")
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=4_000_000)

    answer = endpoint.predict([("a", "a great film")])

    assert [p.id for p in answer.predictions] == ["a"]
    assert len(sentiment_endpoint.invocations) == 2


def test_given_a_model_that_drops_a_prediction_when_predicting_then_it_is_an_endpoint_error(
    aws: None, sentiment_endpoint: StagedEndpoint
) -> None:
    def drop_last(answer: dict[str, object]) -> dict[str, object]:
        predictions = answer["predictions"]
        assert isinstance(predictions, list)
        return {**answer, "predictions": predictions[:-1]}

    sentiment_endpoint.answer_rewriter = drop_last
    endpoint = SentimentEndpoint(ENDPOINT_NAME, max_payload_bytes=4_000_000)

    with pytest.raises(EndpointError, match="answered 1 predictions for 2 reviews"):
        endpoint.predict([("a", "good"), ("b", "bad")])


def test_given_no_endpoint_name_when_building_the_client_then_the_setting_is_named() -> None:
    with pytest.raises(ValueError, match="ENDPOINT_NAME"):
        SentimentEndpoint("", max_payload_bytes=4_000_000)
