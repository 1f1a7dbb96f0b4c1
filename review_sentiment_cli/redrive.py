"""Move dead-lettered messages back to the queue they came from, so the pipeline tries them again.

On AWS, SQS does it itself (StartMessageMoveTask: server-side, at a rate it manages). moto does not implement
that action, so against the local emulator (or with --via receive-send) the CLI moves them: receive a batch,
send it to the source queue with its attributes and its trace (AWSTraceHeader), delete only what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RedriveMethod = Literal["move-task", "receive-send"]
BATCH = 10  # SQS's maximum per receive, send and delete call
WAIT_SECONDS = 1


class NoSourceQueueError(LookupError):
    """A dead-letter queue no queue redrives to (nothing to move its messages back to)."""


@dataclass(frozen=True)
class RedriveOutcome:
    dead_letter_queue_url: str
    source_queue_url: str
    method: RedriveMethod
    moved: int | None  # None: an asynchronous move task was started
    task_handle: str | None = None


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def source_queue_of(sqs: Any, dead_letter_queue_url: str) -> str:
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dead_letter_queue_url).get("queueUrls", [])
    if len(sources) != 1:
        raise NoSourceQueueError(
            f"{dead_letter_queue_url} is the dead-letter queue of {len(sources)} queues, expected exactly one"
        )
    return str(sources[0])


def _trace_of(message: dict[str, Any]) -> dict[str, Any]:
    """The message's X-Ray trace header as SendMessageBatch's system attribute (none without one)."""
    header = message.get("Attributes", {}).get("AWSTraceHeader")
    return (
        {"MessageSystemAttributes": {"AWSTraceHeader": {"StringValue": header, "DataType": "String"}}}
        if header
        else {}
    )


def _move_batch(sqs: Any, dead_letter_queue_url: str, source_queue_url: str) -> int:
    messages = sqs.receive_message(
        QueueUrl=dead_letter_queue_url,
        MaxNumberOfMessages=BATCH,
        WaitTimeSeconds=WAIT_SECONDS,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["AWSTraceHeader"],
    ).get("Messages", [])
    if not messages:
        return 0
    entries = [
        {"Id": str(index), "MessageBody": m["Body"]}
        | ({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})
        | _trace_of(m)
        for index, m in enumerate(messages)
    ]
    sent = sqs.send_message_batch(QueueUrl=source_queue_url, Entries=entries).get("Successful", [])
    done = [messages[int(entry["Id"])] for entry in sent]
    if done:
        sqs.delete_message_batch(
            QueueUrl=dead_letter_queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    return len(done)


def redrive(sqs: Any, dead_letter_queue_url: str, method: RedriveMethod) -> RedriveOutcome:
    source = source_queue_of(sqs, dead_letter_queue_url)
    if method == "move-task":
        handle = sqs.start_message_move_task(SourceArn=queue_arn(sqs, dead_letter_queue_url))["TaskHandle"]
        return RedriveOutcome(dead_letter_queue_url, source, method, moved=None, task_handle=str(handle))
    moved = 0
    while batch := _move_batch(sqs, dead_letter_queue_url, source):
        moved += batch
    return RedriveOutcome(dead_letter_queue_url, source, method, moved=moved)
