"""One upload's X-Ray work found by annotation, past X-Ray's link limits: the real X-Ray SDK records each SQS
record's subsegment in the preprocess, inference and export invocations, annotated with the upload's trace,
job id and file, and sends it as it sends it to the X-Ray daemon on Lambda (UDP, here a local socket).

The SDK runs as on Lambda: LAMBDA_TASK_ROOT set, each invocation's trace in _X_AMZN_TRACE_ID, the SDK
enabled; the pipeline runs against moto, one function's output queue feeding the next function's event."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Tracer
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from aws_xray_sdk.core.lambda_launcher import LambdaContext

from local import xray
from review_pipeline.trace_context import RECORD_SUBSEGMENT, annotation_value
from tests.conftest import REGION
from tests.endpoint_server import SentimentEndpointServer
from tests.handlers import FUNCTIONS_DIR, handler_for, lambda_context, load_handler
from tests.integration.inference.test_inference_handler import EVENT
from tests.integration.preprocess.conftest import Pipeline
from tests.integration.preprocess.test_trace import event_with_trace, rows

UPLOAD_TRACE = "1-67a1b2c3-0123456789abcdef01234567"
UPLOAD_HEADER = f"Root={UPLOAD_TRACE};Parent=53995c3f42cd8ad8;Sampled=1"
SOURCE_KEY = "incoming/annotated reviews.jsonl"


class XRayDaemonSocket:
    """A UDP socket on 127.0.0.1 where the SDK's UDPEmitter sends what it would send to the X-Ray daemon."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    def documents(self) -> list[dict[str, Any]]:
        """The segment documents received so far (each datagram: the daemon's header line, then the JSON)."""
        received = []
        try:
            while True:
                header, _, document = self.socket.recv(65535).decode("utf-8").partition("\n")
                assert json.loads(header) == {"format": "json", "version": 1}
                received.append(json.loads(document))
        except TimeoutError:
            return received


@pytest.fixture
def xray_daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[XRayDaemonSocket]:
    """The X-Ray SDK as on Lambda (enabled, Lambda's context), emitting to a local socket."""
    # The handlers' tracers are made while tracing is off, so their service getters patch no library: a
    # patched botocore would stay patched for the tests that follow and send its own trace header.
    for name in ("preprocess", "inference", "export"):
        load_handler(name)
    daemon = XRayDaemonSocket()
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(FUNCTIONS_DIR))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setitem(Tracer._config, "disabled", False)  # Powertools keeps the first Tracer's choice
    monkeypatch.setattr(xray_recorder, "context", LambdaContext())
    monkeypatch.setattr(xray_recorder, "emitter", UDPEmitter(daemon.address))
    monkeypatch.setattr(xray_recorder, "streaming_threshold", 0)  # as Powertools configures it
    enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    try:
        yield daemon
    finally:
        global_sdk_config.set_sdk_enabled(enabled)
        daemon.socket.close()


def invoked_as(trace_number: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """Lambda's trace of a new invocation (each SQS-triggered invocation has one); returns its id."""
    trace_id = f"1-67a1b2c4-{trace_number:024x}"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={trace_id};Parent={trace_number:016x};Sampled=1")
    return trace_id


def queued_records(queue_url: str) -> list[dict[str, Any]]:
    """The queue's messages as Lambda's SQS event source hands them over: with their AWSTraceHeader."""
    sqs = boto3.client("sqs", region_name=REGION)
    records = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"]
    ).get("Messages", []):
        for message in batch:
            record: dict[str, Any] = copy.deepcopy(EVENT["Records"][0])
            record.update(messageId=message["MessageId"], body=message["Body"])
            record["attributes"]["AWSTraceHeader"] = message["Attributes"]["AWSTraceHeader"]
            records.append(record)
    return records


def record_annotations(documents: list[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    """The annotations of each record subsegment the invocation of `trace_id` sent."""
    return [
        document.get("annotations", {})
        for document in documents
        if document["trace_id"] == trace_id and document["name"] == RECORD_SUBSEGMENT
    ]


def test_every_invocation_of_one_upload_is_annotated_with_its_trace_job_and_file(
    pipeline: Pipeline,
    sentiment_endpoint: SentimentEndpointServer,
    xray_daemon: XRayDaemonSocket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a 60-review upload (2 chunks) whose notification carries the uploader's trace header
    xray.install()  # moto 5.2 drops SendMessageBatch's MessageSystemAttributes; SQS keeps them
    uploaded = pipeline.upload(SOURCE_KEY, rows(60))
    handlers = {name: handler_for(name, monkeypatch) for name in ("inference", "export")}

    # When the preprocess, inference and export functions each handle their messages, one invocation each
    invocations = {"preprocess": [invoked_as(1, monkeypatch)]}
    pipeline.invoke(event_with_trace(pipeline, uploaded, UPLOAD_HEADER))
    invocations["inference"] = []
    for number, record in enumerate(queued_records(pipeline.env["INFERENCE_QUEUE_URL"]), start=2):
        invocations["inference"].append(invoked_as(number, monkeypatch))
        result = handlers["inference"].lambda_handler({"Records": [record]}, lambda_context("inference"))
        assert result == {"batchItemFailures": []}
    [export_record] = queued_records(pipeline.env["EXPORT_QUEUE_URL"])
    invocations["export"] = [invoked_as(9, monkeypatch)]
    handlers["export"].lambda_handler({"Records": [export_record]}, lambda_context("export"))

    # Then each invocation's trace holds one record subsegment annotated with the upload's trace, job, file
    documents = xray_daemon.documents()
    job = pipeline.job_of(SOURCE_KEY)
    assert job.trace_id == UPLOAD_TRACE
    expected = {"upload_trace_id": UPLOAD_TRACE, "job_id": job.job_id, "source_key": SOURCE_KEY}
    assert len(invocations["inference"]) == 2
    for function, trace_ids in invocations.items():
        for trace_id in trace_ids:
            assert record_annotations(documents, trace_id) == [expected], function
    # And no review text went into any document sent (annotations, metadata or captured responses)
    sent = json.dumps(documents)
    assert "a fine film" not in sent


def test_annotation_values_are_made_safe_for_x_ray() -> None:
    # Given S3 keys X-Ray would refuse or a filter expression could not match as they are
    long_key = "incoming/" + "x" * 1200
    # Then control characters become '?' and a value is cut to X-Ray's 1,000 characters, keeping its start
    assert annotation_value("incoming/line\nbreak\tname.csv") == "incoming/line?break?name.csv"
    assert annotation_value(long_key) == long_key[:1000]
    assert annotation_value("incoming/ünïcode café.csv") == "incoming/ünïcode café.csv"
