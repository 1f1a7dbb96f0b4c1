"""Client of the SageMaker sentiment endpoint: the wire contract, request splitting and error translation.

Wire contract (ContentType and Accept application/json):
    request  {"instances": [{"id": "r1", "text": "..."}], "explain": false}
    response {"predictions": [{"id": "r1", "label": "positive", "score": 0.97, "uncertain": false,
                               ["explanation": {...}]}],
              "model_version": "...", "uncertain_band": [0.25, 0.75]}

"uncertain" and "uncertain_band" are optional: a model that does not flag uncertain scores (one trained before
the band existed) leaves them out, and they are None here, never guessed from the score.

One `predict()` sends as many reviews per InvokeEndpoint call as the payload limit allows, measured on the
exact bytes that are sent. A review that cannot fit in a request even on its own is reported back for that
review (`EndpointAnswer.too_large`) instead of failing the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from review_pipeline.models import Prediction

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

JSON_CONTENT_TYPE = "application/json"
# The model's own input_fn refuses more instances than this in one request (model/serving/inference.py).
MAX_INSTANCES_PER_CALL = 10_000
# Adaptive mode adds client-side rate limiting on top of retries, so a throttled serverless endpoint is
# backed off from instead of hammered; the last attempt's error still reaches us as EndpointError.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
)


class EndpointInstance(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    text: str


class EndpointRequest(BaseModel):
    instances: list[EndpointInstance]
    explain: bool = False


class EndpointResponse(BaseModel):
    predictions: list[Prediction]
    model_version: str
    uncertain_band: tuple[float, float] | None = None


class EndpointError(Exception):
    """The endpoint could not classify a request; the message says what happened and what to do."""

    def __init__(self, message: str, *, code: str = "EndpointError", retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class TooLargeReview:
    """A review whose request alone would exceed the payload limit: it was not sent."""

    id: str
    size_bytes: int
    limit_bytes: int

    @property
    def reason(self) -> str:
        return (
            f"review is too long for the sentiment endpoint: a request with it alone is "
            f"{self.size_bytes} bytes, "
            f"the limit is {self.limit_bytes} bytes; shorten the text"
        )


@dataclass
class EndpointAnswer:
    """What one predict() produced: predictions in request order, the model version, and what was not sent."""

    predictions: list[Prediction]
    model_version: str
    too_large: list[TooLargeReview] = field(default_factory=list)
    # The model's uncertain band (scores inside it are flagged `uncertain`); None from a model without one.
    uncertain_band: tuple[float, float] | None = None
    # One entry per InvokeEndpoint call, for the EndpointLatency / EndpointCalls metrics.
    call_latencies_ms: list[float] = field(default_factory=list)


def add_endpoint_metrics(metrics: Metrics, answer: EndpointAnswer) -> None:
    """EndpointLatency per InvokeEndpoint call and EndpointCalls, for every function that asks the model."""
    for latency in answer.call_latencies_ms:
        metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency)
    metrics.add_metric(name="EndpointCalls", unit=MetricUnit.Count, value=len(answer.call_latencies_ms))


def _json_bytes(model: BaseModel) -> bytes:
    """The exact body sent: compact JSON, UTF-8 (pydantic does not escape non-ASCII)."""
    return model.model_dump_json().encode("utf-8")


def plan_requests(
    instances: Sequence[EndpointInstance],
    explain: bool,
    max_payload_bytes: int,
    max_instances: int = MAX_INSTANCES_PER_CALL,
    first_max_instances: int | None = None,
) -> tuple[list[list[EndpointInstance]], list[TooLargeReview]]:
    """Pack instances, in order, into as few requests as fit under max_payload_bytes and max_instances each
    (the first request at most `first_max_instances`, when given).

    The size of a request is the size of its envelope plus each instance's JSON plus one comma between
    instances, which is exactly what `EndpointRequest.model_dump_json()` produces.
    """
    envelope = len(_json_bytes(EndpointRequest(instances=[], explain=explain)))
    per_call = min(max_instances, MAX_INSTANCES_PER_CALL)
    first_call = min(first_max_instances or per_call, per_call)
    batches: list[list[EndpointInstance]] = []
    too_large: list[TooLargeReview] = []
    current: list[EndpointInstance] = []
    current_size = envelope
    for instance in instances:
        size = len(_json_bytes(instance))
        alone = envelope + size
        if alone > max_payload_bytes:
            too_large.append(TooLargeReview(id=instance.id, size_bytes=alone, limit_bytes=max_payload_bytes))
            continue
        separator = 1 if current else 0
        full = len(current) >= (per_call if batches else first_call)
        if current and (current_size + separator + size > max_payload_bytes or full):
            batches.append(current)
            current, current_size, separator = [], envelope, 0
        current.append(instance)
        current_size += separator + size
    if current:
        batches.append(current)
    return batches, too_large


def check_response(sent: Sequence[EndpointInstance], body: bytes) -> EndpointResponse:
    """Parse an answer and make sure it answers exactly the reviews that were sent, no more, no fewer."""
    try:
        response = EndpointResponse.model_validate_json(body)
    except ValidationError as error:
        raise EndpointError(
            f"the sentiment endpoint answered something that is not a prediction response: "
            f"{error.error_count()} problem(s), first: {error.errors()[0]['msg']} at "
            f"{'.'.join(str(part) for part in error.errors()[0]['loc']) or 'the top level'}",
            code="InvalidResponse",
        ) from error
    sent_ids = [instance.id for instance in sent]
    answered_ids = [prediction.id for prediction in response.predictions]
    if len(answered_ids) != len(sent_ids) or sorted(answered_ids) != sorted(sent_ids):
        missing = sorted(set(sent_ids) - set(answered_ids))
        unexpected = sorted(set(answered_ids) - set(sent_ids))
        raise EndpointError(
            f"the sentiment endpoint answered {len(answered_ids)} predictions for {len(sent_ids)} reviews "
            f"(missing ids: {missing[:5]}, unexpected ids: {unexpected[:5]}); the model and this client "
            "disagree on the wire contract",
            code="MismatchedResponse",
        )
    return response


def _client_error(error: ClientError, endpoint_name: str) -> EndpointError:
    details: Mapping[str, Any] = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", "")).strip()
    if code == "ModelError":
        original_status = error.response.get("OriginalStatusCode", "?")
        original = str(error.response.get("OriginalMessage", message)).strip()
        return EndpointError(
            f"the sentiment model on endpoint {endpoint_name!r} failed with status {original_status}: "
            f"{original[:500]}",
            code=code,
        )
    if code in {"ThrottlingException", "TooManyRequestsException"}:
        return EndpointError(
            f"the sentiment endpoint {endpoint_name!r} is throttling requests (still after retries); "
            "raise EndpointMaxConcurrency if this persists",
            code=code,
            retryable=True,
        )
    if code in {
        "ServiceUnavailable",
        "InternalFailure",
        "ModelNotReadyException",
        "InternalDependencyException",
    }:
        return EndpointError(
            f"the sentiment endpoint {endpoint_name!r} is not available right now ({code}: {message[:300]})",
            code=code,
            retryable=True,
        )
    if code == "ValidationError":
        return EndpointError(
            f"SageMaker refused the request to endpoint {endpoint_name!r}: {message[:500]} "
            "(check ENDPOINT_NAME and that the endpoint is InService)",
            code=code,
        )
    return EndpointError(
        f"calling the sentiment endpoint {endpoint_name!r} failed ({code}: {message[:500]})", code=code
    )


class SentimentEndpoint:
    """Classifies reviews through SageMaker InvokeEndpoint."""

    def __init__(
        self,
        endpoint_name: str,
        max_payload_bytes: int,
        client: SageMakerRuntimeClient | None = None,
    ) -> None:
        if not endpoint_name:
            raise ValueError("ENDPOINT_NAME is empty: the sentiment endpoint is not configured")
        self.endpoint_name = endpoint_name
        self.max_payload_bytes = max_payload_bytes
        # No endpoint_url: botocore honours AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, which the local emulator sets.
        self._client = client or boto3.client("sagemaker-runtime", config=RETRY_CONFIG)

    def predict(self, reviews: Sequence[tuple[str, str]], explain: bool = False) -> EndpointAnswer:
        """Predictions for (id, text) pairs, in the order given; ids must be unique within one call."""
        ids = [review_id for review_id, _ in reviews]
        by_id: dict[str, Prediction] = {}
        answer = EndpointAnswer(predictions=[], model_version="")
        for part in self.predict_parts(reviews, explain):
            by_id.update((prediction.id, prediction) for prediction in part.predictions)
            answer.model_version = part.model_version or answer.model_version
            answer.uncertain_band = part.uncertain_band or answer.uncertain_band
            answer.too_large += part.too_large
            answer.call_latencies_ms += part.call_latencies_ms
        answer.predictions = [by_id[review_id] for review_id in ids if review_id in by_id]
        return answer

    def predict_parts(
        self,
        reviews: Sequence[tuple[str, str]],
        explain: bool = False,
        max_per_call: int = MAX_INSTANCES_PER_CALL,
        first_call: int | None = None,
    ) -> Iterator[EndpointAnswer]:
        """The same predictions one InvokeEndpoint call (at most `max_per_call` reviews, the first at most
        `first_call`) at a time, as each call answers: a caller can store one call's results while the next
        is scored, and a small first call gives it something to store sooner. The first part carries
        every review that is too large (and may hold no prediction when none fits); each part has one call's
        latency."""
        instances = [EndpointInstance(id=review_id, text=text) for review_id, text in reviews]
        if len({instance.id for instance in instances}) != len(instances):
            raise ValueError("review ids must be unique within one predict() call")
        batches, too_large = plan_requests(
            instances, explain, self.max_payload_bytes, max_per_call, first_max_instances=first_call
        )
        if too_large and not batches:
            yield EndpointAnswer(predictions=[], model_version="", too_large=too_large)
        for number, batch in enumerate(batches):
            started = time.perf_counter()
            response = self._invoke(EndpointRequest(instances=batch, explain=explain), batch)
            yield EndpointAnswer(
                predictions=list(response.predictions),
                model_version=response.model_version,
                too_large=too_large if number == 0 else [],
                call_latencies_ms=[(time.perf_counter() - started) * 1000.0],
                uncertain_band=response.uncertain_band,
            )

    def _invoke(self, request: EndpointRequest, sent: Sequence[EndpointInstance]) -> EndpointResponse:
        try:
            answer = self._client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType=JSON_CONTENT_TYPE,
                Accept=JSON_CONTENT_TYPE,
                Body=_json_bytes(request),
            )
            body = answer["Body"].read()
        except ClientError as error:
            raise _client_error(error, self.endpoint_name) from error
        except BotoCoreError as error:
            raise EndpointError(
                f"could not reach the sentiment endpoint {self.endpoint_name!r}: {error}",
                code=type(error).__name__,
                retryable=True,
            ) from error
        return check_response(sent, body)
