"""Chunk messages: batched by 10, entries SQS reports as failed are retried, persistent failures raise."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from review_pipeline.dal.queue import ChunkQueue, QueueSendError
from review_pipeline.models import ChunkMessage
from tests.conftest import REGION


def messages(count: int) -> list[ChunkMessage]:
    return [
        ChunkMessage(
            job_id="j", bucket="b", key=f"processed/j/chunk-{n:05d}.jsonl", chunk_index=n, review_count=5
        )
        for n in range(count)
    ]


def test_messages_are_sent_ten_per_call_and_arrive_intact(aws: None) -> None:
    # Given a queue in moto, When 23 chunk messages are sent
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="inference")["QueueUrl"]
    sent = ChunkQueue(sqs, url).send(messages(23))
    # Then all 23 are on the queue, each a ChunkMessage
    received: list[ChunkMessage] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received += [ChunkMessage.model_validate_json(m["Body"]) for m in batch]
    assert sent == 23
    assert sorted(m.chunk_index for m in received) == list(range(23))


def _failed(entry_id: str, sender_fault: bool) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": sender_fault, "Code": "InternalError", "Message": "try again"}


def test_entries_reported_failed_are_resent_alone() -> None:
    # Given SQS that fails entry 1 of a batch once (a documented partial failure, stubbed at the wire)
    sqs = boto3.client("sqs", region_name=REGION)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/inference"
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}],
                "Failed": [_failed("1", False)],
            },
            {"QueueUrl": url, "Entries": ANY},
        )
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "1", "MessageId": "m1", "MD5OfMessageBody": "x"}], "Failed": []},
            {"QueueUrl": url, "Entries": [{"Id": "1", "MessageBody": messages(2)[1].model_dump_json()}]},
        )
        # When two messages are sent, Then the failed one is retried by itself and nothing is raised
        assert ChunkQueue(sqs, url, retry_delay_seconds=0).send(messages(2)) == 2
        stub.assert_no_pending_responses()


def test_sender_fault_is_not_retried_and_raises() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/inference"
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": [_failed("0", True)]},
            {"QueueUrl": url, "Entries": ANY},
        )
        with pytest.raises(QueueSendError, match="1 chunk message"):
            ChunkQueue(sqs, url, retry_delay_seconds=0).send(messages(1))
