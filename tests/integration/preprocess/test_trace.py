"""The upload's X-Ray trace through the preprocess handler: the ingest message's AWSTraceHeader (S3 puts the
uploader's X-Amzn-Trace-Id there) becomes the job's trace_id, every chunk message's AWSTraceHeader and every
log line's trace_id; without one, the invocation's own trace (_X_AMZN_TRACE_ID) takes its place."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local import xray
from tests.conftest import REGION
from tests.integration.preprocess.conftest import Pipeline
from tests.observability import log_lines

UPLOAD_TRACE = "1-67a1b2c3-0123456789abcdef01234567"
UPLOAD_HEADER = f"Root={UPLOAD_TRACE};Parent=53995c3f42cd8ad8;Sampled=1"
INVOCATION_TRACE = "1-67a1b2c4-fedcba9876543210fedcba98"


@pytest.fixture(autouse=True)
def _moto_keeps_batch_system_attributes() -> None:
    xray.install()  # moto 5.2 drops SendMessageBatch's MessageSystemAttributes; SQS keeps them


def rows(count: int) -> bytes:
    return "".join(
        json.dumps({"id": f"r{n}", "text": f"Review {n}: a fine film."}) + "\n" for n in range(count)
    ).encode()


def chunk_trace_headers(pipeline: Pipeline) -> list[str | None]:
    sqs = boto3.client("sqs", region_name=REGION)
    headers: list[str | None] = []
    while batch := sqs.receive_message(
        QueueUrl=pipeline.env["INFERENCE_QUEUE_URL"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=300,
        MessageSystemAttributeNames=["AWSTraceHeader"],
    ).get("Messages", []):
        headers += [message.get("Attributes", {}).get("AWSTraceHeader") for message in batch]
    return headers


def event_with_trace(pipeline: Pipeline, uploaded: dict[str, Any], header: str | None) -> dict[str, Any]:
    event = pipeline.event_for(uploaded)
    if header is not None:
        event["Records"][0]["attributes"]["AWSTraceHeader"] = header
    return event


def test_the_uploads_trace_goes_to_the_job_every_chunk_message_and_every_log_line(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 120-review upload (3 chunks of 50) whose notification carries the uploader's trace header,
    # delivered to an invocation that has a trace of its own (as Lambda gives every SQS-triggered invocation)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={INVOCATION_TRACE};Parent=1111111111111111;Sampled=1")
    uploaded = pipeline.upload("incoming/traced.jsonl", rows(120))

    # When the handler processes the notification
    with log_lines(pipeline.handler.logger) as logs:
        pipeline.invoke(event_with_trace(pipeline, uploaded, UPLOAD_HEADER))

    # Then the job records the upload's trace, not the invocation's
    assert pipeline.job_of("incoming/traced.jsonl").trace_id == UPLOAD_TRACE
    # And each of its chunk messages carries the upload's trace header (so their consumers link to it)
    assert chunk_trace_headers(pipeline) == [UPLOAD_HEADER] * 3
    # And every line logged while the record was handled names that trace beside the invocation's own
    record_lines = [line for line in logs if "job_id" in line]
    assert record_lines, "the handler logged nothing about the job"
    for line in record_lines:
        assert (line["trace_id"], line["xray_trace_id"]) == (UPLOAD_TRACE, INVOCATION_TRACE), line
    # And the next lines do not inherit it
    with log_lines(pipeline.handler.logger) as after:
        pipeline.handler.logger.info("after the record")
    assert "trace_id" not in after[-1]


@pytest.mark.parametrize("header", [None, "Root=not-a-trace;Sampled=1"])
def test_an_upload_without_a_valid_trace_header_follows_the_invocations_trace(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, header: str | None
) -> None:
    # Given an upload made without a (valid) trace header, e.g. from the S3 console
    invocation_header = f"Root={INVOCATION_TRACE};Parent=1111111111111111;Sampled=1"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", invocation_header)
    uploaded = pipeline.upload("incoming/untraced.jsonl", rows(60))

    # When the handler processes its notification
    pipeline.invoke(event_with_trace(pipeline, uploaded, header))

    # Then the invocation's own trace becomes the upload's: on the job and on both chunk messages
    assert pipeline.job_of("incoming/untraced.jsonl").trace_id == INVOCATION_TRACE
    assert chunk_trace_headers(pipeline) == [invocation_header] * 2
