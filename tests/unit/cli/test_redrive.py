"""Dead-lettered messages go back to the queue they came from (SQS in moto), attributes included."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local import xray
from review_sentiment_cli.redrive import NoSourceQueueError, redrive
from tests.conftest import REGION

TRACE_HEADER = "Root=1-67a1b2c3-0123456789abcdef01234567;Sampled=1"


@pytest.fixture
def queues(aws: None) -> tuple[Any, str, str]:
    """A source queue whose redrive policy names its dead-letter queue, as the template declares them."""
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    source = sqs.create_queue(QueueName="ingest", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return sqs, source, dlq


def test_receive_send_moves_every_message_back_with_its_attributes(queues: tuple[Any, str, str]) -> None:
    # Given 23 dead-lettered messages (more than one batch), one with a message attribute
    sqs, source, dlq = queues
    for index in range(23):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"message {index}")
    attribute = {"origin": {"DataType": "String", "StringValue": "s3"}}
    sqs.send_message(QueueUrl=dlq, MessageBody="with attribute", MessageAttributes=attribute)
    # (and one with a trace header: SendMessageBatch's system attributes are kept, as SQS keeps them)
    xray.install()
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE_HEADER}}
    sqs.send_message(QueueUrl=dlq, MessageBody="with trace", MessageSystemAttributes=trace)
    # When the CLI redrives the dead-letter queue itself
    outcome = redrive(sqs, dlq, "receive-send")
    # Then all of them are back on the source queue, once each, and the dead-letter queue is empty
    assert outcome.moved == 25
    assert outcome.source_queue_url == source
    bodies, attributes, traces = [], {}, {}
    while batch := sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60,
        MessageSystemAttributeNames=["AWSTraceHeader"],
    ).get("Messages", []):  # fmt: skip
        for message in batch:
            bodies.append(message["Body"])
            attributes[message["Body"]] = message.get("MessageAttributes")
            traces[message["Body"]] = message.get("Attributes", {}).get("AWSTraceHeader")
    assert sorted(bodies) == sorted([f"message {i}" for i in range(23)] + ["with attribute", "with trace"])
    assert attributes["with attribute"] == attribute
    assert {body: trace for body, trace in traces.items() if trace} == {"with trace": TRACE_HEADER}
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_queue_nobody_dead_letters_to_is_refused(queues: tuple[Any, str, str]) -> None:
    # Given a queue that is no queue's dead-letter queue
    sqs, source, _ = queues
    sqs.send_message(QueueUrl=source, MessageBody="stays")
    # When the CLI is asked to redrive it
    # Then it says why and moves nothing
    with pytest.raises(NoSourceQueueError, match="0 queues"):
        redrive(sqs, source, "receive-send")
    assert sqs.receive_message(QueueUrl=source)["Messages"][0]["Body"] == "stays"
