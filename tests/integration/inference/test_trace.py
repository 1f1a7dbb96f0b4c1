"""The upload's X-Ray trace past the inference queue: the chunk messages' AWSTraceHeader is on every log line
of their classification (trace_id) and on the export message of the job they finish, and the export
function's lines carry it in turn; the invocations' own traces (xray_trace_id) stay theirs, as on Lambda."""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from review_pipeline.models import ChunkMessage
from tests.conftest import REGION
from tests.endpoint_server import SentimentEndpointServer
from tests.handlers import handler_for, lambda_context
from tests.integration.inference.test_inference_handler import EVENT
from tests.observability import log_lines
from tests.unit.inference.seed import seed_processing_job

JOB_ID = "traced-job"
UPLOAD_TRACE = "1-67a1b2c3-0123456789abcdef01234567"
UPLOAD_HEADER = f"Root={UPLOAD_TRACE};Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def handlers(
    pipeline_env: dict[str, str], sentiment_endpoint: SentimentEndpointServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, ModuleType]:
    return {name: handler_for(name, monkeypatch) for name in ("inference", "export")}


def traced(record: dict[str, Any], invocation_trace: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An SQS event of one record carrying the upload's trace, to an invocation with a trace of its own."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={invocation_trace};Parent=2222222222222222;Sampled=1")
    record = copy.deepcopy(record)
    record["attributes"]["AWSTraceHeader"] = UPLOAD_HEADER
    return {"Records": [record]}


def chunk_record(message: ChunkMessage) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(EVENT["Records"][0])
    record.update(messageId=f"chunk-{message.chunk_index}", body=message.model_dump_json())
    return record


def test_chunks_and_export_of_a_job_carry_the_uploads_trace(
    handlers: dict[str, ModuleType], pipeline_env: dict[str, str], table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job of two chunks whose messages carry the upload's trace header
    messages = seed_processing_job(table, pipeline_env["BUCKET_NAME"], JOB_ID, [3, 2])
    inference = handlers["inference"]

    # When each is classified by an invocation with a trace of its own
    with log_lines(inference.logger) as logs:
        for number, message in enumerate(messages):
            event = traced(chunk_record(message), f"1-67a1b2c4-00000000000000000000000{number}", monkeypatch)
            assert inference.lambda_handler(event, lambda_context("InferenceFunction")) == {
                "batchItemFailures": []
            }

    # Then every line of their work names the upload's trace beside the invocation's own
    assert logs
    assert {line["trace_id"] for line in logs} == {UPLOAD_TRACE}
    assert {line["xray_trace_id"] for line in logs} == {
        "1-67a1b2c4-000000000000000000000000",
        "1-67a1b2c4-000000000000000000000001",
    }
    # And the export message of the job the second chunk finished carries the upload's trace header
    sqs = boto3.client("sqs", region_name=REGION)
    [export] = sqs.receive_message(
        QueueUrl=pipeline_env["EXPORT_QUEUE_URL"], MessageSystemAttributeNames=["AWSTraceHeader"]
    )["Messages"]
    assert json.loads(export["Body"]) == {"job_id": JOB_ID}
    assert export["Attributes"]["AWSTraceHeader"] == UPLOAD_HEADER

    # When the export function handles that message (as Lambda hands it over: with its AWSTraceHeader)
    export_record = copy.deepcopy(EVENT["Records"][0]) | {"messageId": "export", "body": export["Body"]}
    with log_lines(handlers["export"].logger) as export_logs:
        handlers["export"].lambda_handler(
            traced(export_record, "1-67a1b2c5-111111111111111111111111", monkeypatch),
            lambda_context("ExportFunction"),
        )
    # Then its lines carry the upload's trace too
    assert [(line["message"], line["trace_id"]) for line in export_logs] == [
        ("Export processed", UPLOAD_TRACE)
    ]
