"""The inference queue: one ChunkMessage (a claim check naming a processed/ chunk) per chunk, each
carrying the trace of the upload being handled (AWSTraceHeader, see trace_context.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import batched
from typing import TYPE_CHECKING

from review_pipeline.models import ChunkMessage
from review_pipeline.trace_context import trace_system_attributes

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

_BATCH_SIZE = 10  # SendMessageBatch accepts at most 10 entries
_ATTEMPTS = 4


class QueueSendError(Exception):
    """Some messages could not be sent after retrying; the caller should fail so the whole file is retried."""


class ChunkQueue:
    def __init__(self, sqs: SQSClient, queue_url: str, retry_delay_seconds: float = 0.2) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._retry_delay = retry_delay_seconds

    def send(self, messages: Sequence[ChunkMessage]) -> int:
        """Send every message, 10 per call; entries SQS reports as failed are retried. How many were sent."""
        for batch in batched(messages, _BATCH_SIZE, strict=False):
            self._send_batch(batch)
        return len(messages)

    def _send_batch(self, batch: Sequence[ChunkMessage]) -> None:
        trace = trace_system_attributes()
        pending: dict[str, SendMessageBatchRequestEntryTypeDef] = {
            str(position): {
                "Id": str(position),
                "MessageBody": message.model_dump_json(),
                **({"MessageSystemAttributes": trace} if trace else {}),
            }
            for position, message in enumerate(batch)
        }
        for attempt in range(1, _ATTEMPTS + 1):
            response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=list(pending.values()))
            failed = response.get("Failed", [])
            if not failed:
                return
            # A sender fault (e.g. a malformed entry) will fail the same way again; only retry the others.
            permanent = [entry for entry in failed if entry.get("SenderFault")]
            if permanent or attempt == _ATTEMPTS:
                details = "; ".join(
                    f"{entry.get('Code', '?')}: {entry.get('Message', '')}" for entry in (permanent or failed)
                )
                raise QueueSendError(f"{len(failed)} chunk message(s) could not be queued ({details})")
            pending = {entry["Id"]: pending[entry["Id"]] for entry in failed}
            time.sleep(self._retry_delay * 2 ** (attempt - 1))
