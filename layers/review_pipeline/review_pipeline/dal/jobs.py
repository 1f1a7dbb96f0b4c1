"""Job records: created by preprocess, counted by inference, read by the query API.

Counting is exactly-once by construction: each chunk's counts are added in the same DynamoDB transaction
that creates the chunk's marker item, conditioned on the marker not existing. A redelivered chunk fails
the condition and adds nothing. The final status is set by a conditional update that only one caller wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from review_pipeline.dal import keys
from review_pipeline.dal.exports import EXPORTABLE
from review_pipeline.dal.pagination import CursorCodec, Page
from review_pipeline.models import InputSummary, Job, JobCounts, JobStatus, StalledNote, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb.service_resource import Table

_JOB_ATTRIBUTES = set(Job.model_fields)


class JobNotFoundError(LookupError):
    """No job has this id (a chunk names an unknown job, or an id asked for over the API)."""

    def __init__(self, job_id: str, message: str | None = None) -> None:
        super().__init__(message or f"No job with id {job_id!r}")
        self.job_id = job_id


@dataclass(frozen=True)
class ChunkCounts:
    """What one chunk adds to its job: reviews classified (by label) and rejected, and the model used."""

    positive: int
    negative: int
    model_version: str
    rejected: int = 0  # reviews of the chunk that were not classified (too large to send, or given up)
    uncertain: int = 0  # classified reviews the model flagged uncertain (a subset of positive + negative)

    @property
    def classified(self) -> int:
        return self.positive + self.negative


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def _conditional_write(write: Callable[[], object]) -> bool:
    """Run a conditional write; False when its condition did not hold (someone already did this step)."""
    try:
        write()
    except ClientError as error:
        if _is_condition_failure(error):
            return False
        raise
    return True


def _to_job(item: dict[str, Any]) -> Job:
    data = {k: v for k, v in item.items() if k in _JOB_ATTRIBUTES}
    data["counts"] = {k: int(v) for k, v in item.get("counts", {}).items()}
    for number in ("chunks_total", "chunks_done"):
        data[number] = int(item.get(number, 0))
    if "input" in item:
        data["input"] = {
            k: int(v) if k.endswith(("_count", "_read")) else v for k, v in item["input"].items()
        }
    return Job.model_validate(data)


class JobStore:
    """Jobs in the pipeline table."""

    def __init__(
        self,
        table: Table,
        on_finished: Callable[[str], None] | None = None,
        cursors: CursorCodec | None = None,
    ) -> None:
        """`on_finished(job_id)` runs when a job is closed COMPLETED(_WITH_ERRORS): it asks for its export.

        It also runs when a call finds the job already closed (a redelivered message whose first delivery
        closed the job, then failed before asking): asking twice is harmless, exports are idempotent.
        `cursors` signs the cursors of `list` (the query API passes the deployment's key).
        """
        self._table = table
        self._on_finished = on_finished
        self._cursors = cursors or CursorCodec.ephemeral()

    # -- preprocess -------------------------------------------------------------------------------------
    def create(self, job: Job) -> bool:
        """Store a new PENDING job; False when a job with this id already exists (a redelivered event)."""
        item = {
            **job.model_dump(exclude_none=True, mode="json"),
            "pk": keys.job_pk(job.job_id),
            "sk": keys.JOB_SK,
            keys.JOBS_BY_CREATED.pk: keys.ALL_JOBS_PK,
            keys.JOBS_BY_CREATED.sk: keys.created_sk(job.created_at, job.job_id),
            keys.JOBS_BY_SOURCE.pk: keys.source_pk(job.source_key),
            keys.JOBS_BY_SOURCE.sk: keys.created_sk(job.created_at, job.job_id),
        }
        return _conditional_write(
            partial(self._table.put_item, Item=item, ConditionExpression="attribute_not_exists(pk)")
        )

    def mark_processing(self, job_id: str, total: int, rejected: int, chunks_total: int) -> bool:
        """Every chunk is queued: record the file's counts, once; False if the job had already moved on.

        Inference may already be adding to counts.rejected (reviews the endpoint could not take),
        so the file's own rejections are added, not set; the PENDING condition makes a repeated call
        add nothing.
        """
        return _conditional_write(
            partial(
                self._table.update_item,
                Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
                UpdateExpression=(
                    "SET #status = :processing, counts.#total = :total, "
                    "counts.rejected = counts.rejected + :rejected, chunks_total = :chunks, updated_at = :now"
                ),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#total": "total"},
                ExpressionAttributeValues={
                    ":processing": JobStatus.PROCESSING.value,
                    ":pending": JobStatus.PENDING.value,
                    ":total": total,
                    ":rejected": rejected,
                    ":chunks": chunks_total,
                    ":now": utc_now(),
                },
            )
        )

    def fail(self, job_id: str, error: str) -> None:
        """The file could not be processed: FAILED with a message the uploader can act on.

        The job must exist (a missing job is an error, raised); whatever its status, it becomes FAILED.
        """
        self._table.update_item(**_fail_update(job_id, error, condition="attribute_exists(pk)"))

    def fail_if_pending(self, job_id: str, error: str) -> bool:
        """FAILED with the message only while the job is PENDING; False (nothing changed) once its chunks are
        queued (PROCESSING or later), since those chunks will finish it."""
        update = _fail_update(job_id, error, condition="#status = :pending")
        update["ExpressionAttributeValues"][":pending"] = JobStatus.PENDING.value
        return _conditional_write(partial(self._table.update_item, **update))

    def record_input(self, job_id: str, summary: InputSummary) -> None:
        """What reading the file found (format, encodings, skipped archive members), for the uploader."""
        self._table.update_item(
            Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
            UpdateExpression="SET #input = :input",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#input": "input"},
            ExpressionAttributeValues={":input": summary.model_dump(mode="json")},
        )

    def mark_stalled(self, job_id: str, note: StalledNote) -> bool:
        """Note that a message of this unfinished job is dead-lettered; False if noted already or finished.

        A marker item (pk STALLED) lists the marked jobs, so the watcher can clear a mark once its messages
        have left the dead-letter queues, whichever tool redrove them.
        """
        marked = _conditional_write(
            partial(
                self._table.update_item,
                Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
                UpdateExpression="SET stalled = :note",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(stalled) "
                "AND #status IN (:pending, :processing)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":note": note.model_dump(),
                    ":pending": JobStatus.PENDING.value,
                    ":processing": JobStatus.PROCESSING.value,
                },
            )
        )
        if marked:
            self._table.put_item(Item={"pk": keys.STALLED_PK, "sk": job_id})
        return marked

    def stalled_job_ids(self) -> set[str]:
        """The jobs marked stalled (a handful at most: one item each in one partition)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": keys.STALLED_PK},
        }
        found: set[str] = set()
        while True:
            response = self._table.query(**query)
            found |= {str(item["sk"]) for item in response.get("Items", [])}
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def clear_stalled(self, job_id: str) -> None:
        """The job's dead-lettered work has left the dead-letter queues: it is no longer stalled."""
        _conditional_write(
            partial(
                self._table.update_item,
                Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
                UpdateExpression="REMOVE stalled",
                ConditionExpression="attribute_exists(pk)",
            )
        )
        self._table.delete_item(Key={"pk": keys.STALLED_PK, "sk": job_id})

    # -- inference --------------------------------------------------------------------------------------
    def record_chunk(self, job_id: str, chunk_index: int, counts: ChunkCounts) -> bool:
        """Add one chunk's counts exactly once; False when this chunk was already counted.

        One transaction: the chunk's marker is created (only if absent) and its counts are added to the job.
        """
        now = utc_now()
        items = [
            _chunk_marker_put(self._table.name, job_id, chunk_index, counts, now),
            _counts_update(self._table.name, job_id, counts, now),
        ]
        # The resource's client serializes plain Python values, as the Table methods do.
        client = self._table.meta.client
        return _conditional_write(partial(client.transact_write_items, TransactItems=items))

    def is_chunk_recorded(self, job_id: str, chunk_index: int) -> bool:
        """Whether this chunk's counts are already in the job (a redelivered message needs no new work)."""
        response = self._table.get_item(
            Key={"pk": keys.job_pk(job_id), "sk": keys.chunk_sk(chunk_index)},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response

    def finish_if_done(self, job_id: str) -> JobStatus | None:
        """Close the job once the file is fully queued and every chunk is counted; the status it got, if any.

        Both preprocess (after queueing) and inference (after each chunk) call this; the condition
        lets exactly one of them win, whichever comes last.
        """
        job = self.get(job_id)
        if job is not None and job.status in EXPORTABLE and self._on_finished is not None:
            self._on_finished(job_id)
        if job is None or job.status != JobStatus.PROCESSING or job.chunks_done < job.chunks_total:
            return None
        final = JobStatus.COMPLETED_WITH_ERRORS if job.counts.rejected else JobStatus.COMPLETED
        now = utc_now()
        closed = _conditional_write(
            partial(
                self._table.update_item,
                Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
                UpdateExpression="SET #status = :final, updated_at = :now, finished_at = :now",
                ConditionExpression="#status = :processing AND chunks_done = chunks_total",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":final": final.value,
                    ":processing": JobStatus.PROCESSING.value,
                    ":now": now,
                },
            )
        )
        if closed and self._on_finished is not None:
            self._on_finished(job_id)
        return final if closed else None

    # -- query ------------------------------------------------------------------------------------------
    def require(self, job_id: str, message: str | None = None) -> Job:
        """The job; JobNotFoundError (with `message`, if given) when there is none."""
        job = self.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id, message)
        return job

    def get(self, job_id: str) -> Job | None:
        response = self._table.get_item(
            Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK}, ConsistentRead=True
        )
        item = response.get("Item")
        return _to_job(item) if item else None

    def list(self, limit: int, cursor: str | None = None, source_key: str | None = None) -> Page[Job]:
        """Jobs newest first, optionally only those of one uploaded object key."""
        if source_key is None:
            index, pk_value = keys.JOBS_BY_CREATED, keys.ALL_JOBS_PK
        else:
            index, pk_value = keys.JOBS_BY_SOURCE, keys.source_pk(source_key)
        query: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": index.pk},
            "ExpressionAttributeValues": {":pk": pk_value},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        listing = CursorCodec.listing("jobs", source_key)
        start = self._cursors.decode(cursor, listing, {"pk", "sk", index.pk, index.sk})
        if start:
            query["ExclusiveStartKey"] = start
        response = self._table.query(**query)
        return Page[Job](
            items=[_to_job(item) for item in response.get("Items", [])],
            cursor=self._cursors.encode(response.get("LastEvaluatedKey"), listing),
        )


def new_job(
    job_id: str,
    bucket: str,
    key: str,
    version: str | None,
    trace_id: str | None = None,
    uploaded_at: str | None = None,
) -> Job:
    now = utc_now()
    return Job(
        job_id=job_id,
        source_bucket=bucket,
        source_key=key,
        source_version=version,
        status=JobStatus.PENDING,
        counts=JobCounts(),
        uploaded_at=uploaded_at,
        created_at=now,
        updated_at=now,
        trace_id=trace_id,
    )


def _fail_update(job_id: str, error: str, condition: str) -> dict[str, Any]:
    """The update_item arguments that make a job FAILED with `error`, when `condition` holds."""
    return {
        "Key": {"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
        "UpdateExpression": "SET #status = :failed, #error = :error, updated_at = :now, finished_at = :now",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
        "ExpressionAttributeValues": {
            ":failed": JobStatus.FAILED.value,
            ":error": error[:1000],
            ":now": utc_now(),
        },
    }


def _chunk_marker_put(table_name: str, job_id: str, chunk_index: int, counts: ChunkCounts, now: str) -> Any:
    """Creates the chunk's CHUNK#<n> marker; fails the transaction if a delivery before counted the chunk."""
    item = {"pk": keys.job_pk(job_id), "sk": keys.chunk_sk(chunk_index), "classified": counts.classified}
    return {
        "Put": {
            "TableName": table_name,
            "Item": {**item, "recorded_at": now},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _counts_update(table_name: str, job_id: str, counts: ChunkCounts, now: str) -> Any:
    """Adds the chunk's counts to its job's (SET a = a + :n: ADD works on top-level attributes only, and
    counts is a map created with the job). counts.uncertain starts from 0 when absent: a job created before
    the count existed (still running across a deploy) has none in its map."""
    added = ("classified", "positive", "negative", "rejected")
    sums = ", ".join(f"counts.{name} = counts.{name} + :{name}" for name in added)
    sums += ", counts.uncertain = if_not_exists(counts.uncertain, :zero) + :uncertain"
    return {
        "Update": {
            "TableName": table_name,
            "Key": {"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
            "UpdateExpression": f"SET {sums}, chunks_done = chunks_done + :one, model_version = :version, "
            "updated_at = :now",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {
                **{f":{name}": getattr(counts, name) for name in (*added, "uncertain")},
                ":zero": 0,
                ":one": 1,
                ":version": counts.model_version,
                ":now": now,
            },
        }
    }
