"""Stand-ins for Lambda's SQS event source mappings.

Per `Type: SQS` event of the template, a poller receives up to BatchSize messages (SQS hands out at most 10
per call), builds the Lambda SQS event, invokes the function and deletes what succeeded:
- with ReportBatchItemFailures, every record not named in `batchItemFailures` (an invalid response fails all);
- without it, every record when the invocation succeeded;
- when the invocation failed (error, timeout), none.
What is not deleted reappears after the queue's visibility timeout; after the queue's maxReceiveCount moto
moves it to the dead-letter queue on the next receive, as SQS does with a RedrivePolicy.
Per `Type: Schedule` event, a scheduler invokes the function at its rate, as an EventBridge rule does.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.function_host import Invocation
from local.functions import ScheduleEventSource, SqsEventSource, schedule_event_sources

logger = logging.getLogger("local.pollers")
SQS_MAX_MESSAGES = 10


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda passes to a function for an SQS message."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            # The message's trace (its sender's); the invocation itself gets a new one (local/xray.py).
            **({"AWSTraceHeader": attributes["AWSTraceHeader"]} if "AWSTraceHeader" in attributes else {}),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def records_to_delete(
    records: list[dict[str, Any]], invocation: Invocation, report_failures: bool
) -> list[str]:
    """messageIds to delete after an invocation, by Lambda's rules for SQS event sources."""
    if not invocation.ok:
        return []
    every_id = [record["messageId"] for record in records]
    if not report_failures:
        return every_id
    payload = invocation.payload if isinstance(invocation.payload, dict) else {}
    failures = payload.get("batchItemFailures") or []
    failed_ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in every_id:
            return []  # Lambda treats a malformed partial-batch response as a failure of the whole batch
        failed_ids.add(identifier)
    return [message_id for message_id in every_id if message_id not in failed_ids]


class Scheduler:
    """Invokes a function on its `Type: Schedule` rate, like an EventBridge rule (`every_seconds` may be
    shortened, e.g. by tests, so a once-a-minute function runs every second)."""

    def __init__(
        self,
        source: ScheduleEventSource,
        invoke: Callable[[dict[str, Any]], Invocation],
        every_seconds: float,
    ) -> None:
        self.source = source
        self._invoke = invoke
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{source.function_id}", daemon=True)
        self.stats = PollerStats()  # batches and records: invocations; failed: failed invocations

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.fire()

    def fire(self) -> Invocation:
        """Invoke the function now with the rule's Scheduled Event, as at each tick of its rate."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [f"rule/{self.source.function_id}{self.source.event_name}"],
            "detail": {},
        }
        invocation = self._invoke(event)
        self.stats.batches += 1
        self.stats.records += 1
        if not invocation.ok:
            self.stats.failed += 1
            logger.warning("scheduled %s failed: %s", self.source.function_id, invocation.error_message[:300])
        return invocation


def start_schedulers(
    template: dict[str, Any], pools: Mapping[str, Any], every_seconds: float | None = None
) -> list[Scheduler]:
    """A started scheduler per `Type: Schedule` event (every `every_seconds` when given, else its rate)."""
    schedulers = []
    for source in schedule_event_sources(template):
        scheduler = Scheduler(source, pools[source.function_id].invoke, every_seconds or source.every_seconds)
        scheduler.start()
        schedulers.append(scheduler)
    return schedulers


class SqsPoller:
    """Worker threads that drain one queue into one function, like an event source mapping."""

    def __init__(
        self,
        source: SqsEventSource,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        invoke: Callable[[dict[str, Any]], Invocation],
        concurrency: int = 1,
        wait_seconds: int = 1,
    ) -> None:
        self.source = source
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        self._invoke = invoke
        self._concurrency = max(1, concurrency)
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stats_lock = threading.Lock()
        self.stats = PollerStats()

    def start(self) -> None:
        for number in range(self._concurrency):
            thread = threading.Thread(
                target=self._run, name=f"poller-{self.source.function_id}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.source.batch_size and not self._stop.is_set():
            wanted = min(SQS_MAX_MESSAGES, self.source.batch_size - len(messages))
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=0 if messages else self._wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if len(received) < wanted:
                break
        return messages

    def poll_once(self) -> int:
        """One receive-invoke-delete round; how many records it handled."""
        messages = self._receive()
        if not messages:
            return 0
        records = [lambda_sqs_record(message, self._queue_arn, self._region) for message in messages]
        invocation = self._invoke({"Records": records})
        to_delete = set(records_to_delete(records, invocation, self.source.report_batch_item_failures))
        receipts = {message["MessageId"]: message["ReceiptHandle"] for message in messages}
        entries = [
            {"Id": str(index), "ReceiptHandle": receipts[message_id]}
            for index, message_id in enumerate(sorted(to_delete))
        ]
        for start in range(0, len(entries), SQS_MAX_MESSAGES):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url, Entries=entries[start : start + SQS_MAX_MESSAGES]
            )
        with self._stats_lock:
            self.stats.batches += 1
            self.stats.records += len(records)
            self.stats.deleted += len(to_delete)
            self.stats.failed += len(records) - len(to_delete)
            if not invocation.ok:
                self.stats.errors.append(f"{invocation.error_type}: {invocation.error_message}"[:500])
        if not invocation.ok:
            logger.warning(
                "%s failed a batch of %d: %s: %s",
                self.source.function_id, len(records), invocation.error_type, invocation.error_message[:300],
            )  # fmt: skip
        return len(records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a poller must survive a moto hiccup, as the managed poller does
                if self._stop.is_set():
                    return
                logger.exception("poller of %s: receive/delete failed", self.source.function_id)
                self._stop.wait(1.0)
