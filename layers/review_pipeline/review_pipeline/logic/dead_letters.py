"""Stuck work says why: jobs whose messages sit in a dead-letter queue are marked, and can be redriven.

`DeadLetterWatcher.watch()` (the DeadLetterWatcherFunction, every minute) peeks at both dead-letter queues: it
receives messages with a visibility timeout of 0, so they stay in the queue, visible, for alarms, the console
and `make redrive`. For each message it finds the job (an ingest message is an S3 event: its job id is derived
as preprocess derives it, and a job that preprocess never got to create is created PENDING; an inference
message names its job) and marks the unfinished job `stalled`: which queue, how many deliveries, and how to
redrive. The API shows such a job as STALLED; its stored status is untouched, so the redriven work carries on.

`redrive()` (`make redrive`) moves every message of a dead-letter queue back to its source queue (send, then
delete: at least once, which the pipeline's idempotency makes exactly once) and clears the marks of their
jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from pydantic import ValidationError

from review_pipeline.dal.jobs import JobStore, new_job
from review_pipeline.logic.uploads import job_id_for, uploaded_object
from review_pipeline.models import ChunkMessage, PieceMessage, StalledNote, utc_now
from review_pipeline.sqs_records import IngestMessage, S3TestEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from review_pipeline.settings import Settings

logger = Logger(child=True)

REDRIVE_ADVICE = (
    "fix the cause (the function's log says what failed), then run `make redrive` (or 'Start DLQ redrive' "
    "on the dead-letter queue in the SQS console) to send the work back"
)
_PEEK_BATCHES = 20  # up to 200 messages a run; a message not seen this minute is seen in a later run


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str  # "ingest" or "inference": which source queue the messages came from
    url: str


def jobs_named_by(queue: str, body: str, incoming_prefix: str) -> list[tuple[str, Any]]:
    """(job id, the upload when the job may need creating) for each job a dead-lettered message names."""
    try:
        if queue == "inference":
            return [(ChunkMessage.model_validate_json(body).job_id, None)]
        event = IngestMessage.model_validate_json(body).root
    except ValidationError:
        return []
    if isinstance(event, PieceMessage):
        return [(event.job_id, None)]  # a piece of an upload, or its continuation: the job exists
    if isinstance(event, S3TestEvent):
        return []
    uploads = (uploaded_object(record, incoming_prefix) for record in event.Records)
    return [(job_id_for(upload), upload) for upload in uploads if upload is not None]


class DeadLetterWatcher:
    def __init__(
        self, sqs: SQSClient, jobs: JobStore, queues: list[DeadLetterQueue], incoming_prefix: str
    ) -> None:
        self._sqs = sqs
        self._jobs = jobs
        self._queues = queues
        self._incoming_prefix = incoming_prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> DeadLetterWatcher:
        """Clients get no endpoint_url: the local emulator sets AWS_ENDPOINT_URL, which boto3 honours."""
        sqs = boto3.client("sqs")
        jobs = JobStore(boto3.resource("dynamodb").Table(settings.table_name))
        queues = [
            DeadLetterQueue("ingest", settings.ingest_dead_letter_queue_url),
            DeadLetterQueue("inference", settings.inference_dead_letter_queue_url),
        ]
        return cls(sqs, jobs, [queue for queue in queues if queue.url], settings.incoming_prefix)

    def watch(self) -> dict[str, int]:
        """Mark the jobs of the messages now in the dead-letter queues, and clear the marks of jobs whose
        messages have left them (redriven by any tool); how many messages, new marks and cleared marks."""
        seen: set[str] = set()
        named: set[str] = set()
        marked = cleared = 0
        all_seen = True
        for queue in self._queues:
            in_queue = queue_length(self._sqs, queue.url)
            before = len(seen)
            for message in peek(self._sqs, queue.url):
                if message["MessageId"] in seen:
                    continue
                seen.add(message["MessageId"])
                jobs = jobs_named_by(queue.name, message["Body"], self._incoming_prefix)
                named |= {job_id for job_id, _ in jobs}
                marked += self._mark(queue, message, jobs)
            all_seen = all_seen and len(seen) - before >= in_queue
        if all_seen:  # only a full view of the queues tells which marks are stale
            for job_id in self._jobs.stalled_job_ids() - named:
                self._jobs.clear_stalled(job_id)
                cleared += 1
        return {"messages": len(seen), "jobs_marked": marked, "jobs_cleared": cleared}

    def _mark(self, queue: DeadLetterQueue, message: dict[str, Any], jobs: list[tuple[str, Any]]) -> int:
        deliveries = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
        marked = 0
        for job_id, upload in jobs:
            if upload is not None:  # preprocess may have failed before it created the job
                self._jobs.create(
                    new_job(
                        job_id, upload.bucket, upload.key, upload.version_id, uploaded_at=upload.uploaded_at
                    )
                )
            note = StalledNote(
                queue=f"{queue.name} dead-letter queue",
                reason=(
                    f"a message of this job on the {queue.name} queue failed on every delivery and was moved "
                    f"to the {queue.name} dead-letter queue (message {message['MessageId']}, "
                    f"{deliveries} receives so far)"
                ),
                redrive=REDRIVE_ADVICE,
                since=utc_now(),
            )
            if self._jobs.mark_stalled(job_id, note):
                marked += 1
                logger.warning("Job stalled: its message is in a dead-letter queue", extra={"job_id": job_id})
        return marked


def queue_length(sqs: SQSClient, queue_url: str) -> int:
    """Messages in the queue, visible or not (approximate, as SQS counts)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def peek(sqs: SQSClient, queue_url: str, batches: int = _PEEK_BATCHES) -> Iterator[dict[str, Any]]:
    """Messages of the queue, received with visibility timeout 0: they stay visible in the queue."""
    for _ in range(batches):
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return
        yield from messages
