"""Trace headers in the emulator, as AWS passes them: the X-Amzn-Trace-Id of an upload (PutObject, or the
calls of a multipart upload) becomes the AWSTraceHeader of its S3 notification's SQS message; SQS takes a
SendMessage(Batch)'s HTTP header unless a message has its own AWSTraceHeader system attribute; the function
gets each record's AWSTraceHeader, and each invocation a trace of its own (_X_AMZN_TRACE_ID)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import unquote_plus

import pytest

from local.pollers import lambda_sqs_record
from local.stack import LocalStack
from local.xray import new_trace_header
from review_pipeline.trace_context import trace_root

UPLOAD_HEADER = "Root=1-67a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
OTHER_HEADER = "Root=1-67a1b2c3-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=1"


def eventually[T](probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while (answer := probe()) is None:
        assert time.monotonic() < deadline, f"not reached within {timeout} s"
        time.sleep(0.2)
    return answer


def with_trace_header(client: Any, header: str) -> Any:
    """The client sends `X-Amzn-Trace-Id: header` on every request, as an X-Ray-instrumented caller does."""
    client.meta.events.register(
        f"before-call.{client.meta.service_model.endpoint_prefix}",
        lambda params, **_: params["headers"].__setitem__("X-Amzn-Trace-Id", header),
    )
    return client


def seen_record(stack: LocalStack, key: str) -> dict[str, Any] | None:
    """The SQS record (and its invocation's trace) the tiny worker stored for the notification of `key`."""
    assert stack.info is not None
    s3 = stack.client("s3")
    for item in s3.list_objects_v2(Bucket=stack.info.bucket, Prefix="seen/").get("Contents", []):
        record: dict[str, Any] = json.loads(
            s3.get_object(Bucket=stack.info.bucket, Key=item["Key"])["Body"].read()
        )
        notified = json.loads(record["body"]).get("Records", [])
        if any(unquote_plus(r["s3"]["object"]["key"]) == key for r in notified):
            return record
    return None


def test_a_new_trace_header_is_a_valid_new_root_each_time() -> None:
    first, second = new_trace_header(), new_trace_header()
    assert None not in {trace_root(first), trace_root(second)}
    assert trace_root(first) != trace_root(second)
    assert first.endswith(";Sampled=1")
    assert ";Parent=" in first


def test_the_lambda_record_keeps_the_messages_trace_header() -> None:
    message = {
        "MessageId": "m",
        "ReceiptHandle": "r",
        "Body": "{}",
        "Attributes": {"AWSTraceHeader": UPLOAD_HEADER},
    }
    assert (
        lambda_sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")["attributes"][
            "AWSTraceHeader"
        ]
        == UPLOAD_HEADER
    )
    del message["Attributes"]
    assert "AWSTraceHeader" not in lambda_sqs_record(message, "arn", "us-east-1")["attributes"]


def test_an_uploads_trace_header_reaches_the_function_on_its_notification(tiny_stack: LocalStack) -> None:
    assert tiny_stack.info is not None
    bucket = tiny_stack.info.bucket
    # Given a file put with a trace header, a file put in parts with one, and a file put without any
    traced = with_trace_header(tiny_stack.client("s3"), UPLOAD_HEADER)
    traced.put_object(Bucket=bucket, Key="incoming/traced.jsonl", Body=b"{}")
    upload_id = traced.create_multipart_upload(Bucket=bucket, Key="incoming/parts.jsonl")["UploadId"]
    part = traced.upload_part(
        Bucket=bucket, Key="incoming/parts.jsonl", UploadId=upload_id, PartNumber=1, Body=b"{}"
    )
    traced.complete_multipart_upload(
        Bucket=bucket,
        Key="incoming/parts.jsonl",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    tiny_stack.client("s3").put_object(Bucket=bucket, Key="incoming/plain.jsonl", Body=b"{}")

    # When the poller has delivered their notifications to the function
    keys = [f"incoming/{name}.jsonl" for name in ("traced", "parts", "plain")]
    records = {key: eventually(partial(seen_record, tiny_stack, key)) for key in keys}

    # Then the traced uploads' records carry their header as AWSTraceHeader, the other none
    assert records["incoming/traced.jsonl"]["attributes"]["AWSTraceHeader"] == UPLOAD_HEADER
    assert records["incoming/parts.jsonl"]["attributes"]["AWSTraceHeader"] == UPLOAD_HEADER
    assert "AWSTraceHeader" not in records["incoming/plain.jsonl"]["attributes"]
    # And the invocations ran in traces of their own, as Lambda's do (X-Ray links them to the records' traces)
    for record in records.values():
        assert trace_root(record["invocation_trace"]) not in {None, trace_root(UPLOAD_HEADER)}


def stored_record(stack: LocalStack, message_id: str) -> dict[str, Any] | None:
    """The SQS record the tiny worker stored for message `message_id` (None before it ran)."""
    assert stack.info is not None
    s3 = stack.client("s3")
    try:
        found = s3.get_object(Bucket=stack.info.bucket, Key=f"seen/{message_id}")
    except s3.exceptions.NoSuchKey:
        return None
    return dict(json.loads(found["Body"].read()))


def test_each_invocation_gets_a_trace_of_its_own(tiny_stack: LocalStack) -> None:
    sqs = tiny_stack.client("sqs")
    invocation_traces = []
    for body in ("first", "second"):  # one after the other: two invocations
        message_id = sqs.send_message(QueueUrl=tiny_stack.queue_urls["WorkQueue"], MessageBody=body)[
            "MessageId"
        ]
        record = eventually(partial(stored_record, tiny_stack, message_id))
        invocation_traces.append(trace_root(record["invocation_trace"]))
    assert None not in invocation_traces
    assert invocation_traces[0] != invocation_traces[1]


@pytest.mark.parametrize(
    ("system_attribute", "expected"),
    [(None, UPLOAD_HEADER), (OTHER_HEADER, OTHER_HEADER)],
    ids=["the HTTP header", "the system attribute wins"],
)
def test_sqs_keeps_a_messages_trace_header_as_sqs_does(
    tiny_stack: LocalStack, system_attribute: str | None, expected: str
) -> None:
    # Given a caller whose requests carry a trace header (as botocore's do inside a traced Lambda function)
    sqs = with_trace_header(tiny_stack.client("sqs"), UPLOAD_HEADER)
    queue = tiny_stack.queue_urls["WorkDeadLetterQueue"]  # no poller takes from it
    attributes = {"AWSTraceHeader": {"StringValue": system_attribute, "DataType": "String"}}
    extra = {"MessageSystemAttributes": attributes} if system_attribute else {}
    # When it sends one message, and a batch of two
    sqs.send_message(QueueUrl=queue, MessageBody="one", **extra)
    sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(n), "MessageBody": "batched", **extra} for n in range(2)]
    )
    # Then each carries the system attribute when it had one, else the request's header
    received = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"]
    )
    assert [m["Attributes"]["AWSTraceHeader"] for m in received["Messages"]] == [expected] * 3
    sqs.delete_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(received["Messages"])
        ],
    )
