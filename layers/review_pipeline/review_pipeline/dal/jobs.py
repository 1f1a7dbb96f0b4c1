"""Job records: created by preprocess, counted by inference, read by the query API.

Counting is exactly-once by construction: each chunk's counts are added in the same DynamoDB transaction
that creates the chunk's marker item, conditioned on the marker not existing. A redelivered chunk fails
the condition and adds nothing. The final status is set by a conditional update that only one caller wins.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from review_pipeline.dal import keys
from review_pipeline.dal.pagination import Page, decode_cursor, encode_cursor
from review_pipeline.models import Job, JobCounts, JobStatus, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb.service_resource import Table

_JOB_ATTRIBUTES = set(Job.model_fields)


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
    return Job.model_validate(data)


class JobStore:
    """Jobs in the pipeline table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    # -- preprocess -------------------------------------------------------------------------------------
    def create(self, job: Job) -> bool:
        """Store a new PENDING job; False when a job with this id already exists (a redelivered event)."""
        item = {
            **job.model_dump(exclude_none=True, mode="json"),
            "pk": keys.job_pk(job.job_id),
            "sk": keys.JOB_SK,
            "gsi1_pk": keys.ALL_JOBS_PK,
            "gsi1_sk": keys.created_sk(job.created_at, job.job_id),
            "gsi2_pk": keys.source_pk(job.source_key),
            "gsi2_sk": keys.created_sk(job.created_at, job.job_id),
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

    def fail(self, job_id: str, error: str, *, only_if_pending: bool = False) -> bool:
        """The file could not be processed: FAILED with a message the uploader can act on.

        With `only_if_pending`, a job whose chunks are already queued (PROCESSING or later) is left alone and
        False is returned: its chunks will finish it.
        """
        condition = "attribute_exists(pk)"
        values = {":failed": JobStatus.FAILED.value, ":error": error[:1000], ":now": utc_now()}
        if only_if_pending:
            condition += " AND #status = :pending"
            values[":pending"] = JobStatus.PENDING.value
        write = partial(
            self._table.update_item,
            Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK},
            UpdateExpression="SET #status = :failed, #error = :error, updated_at = :now, finished_at = :now",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues=values,
        )
        if only_if_pending:
            return _conditional_write(write)
        write()  # without only_if_pending the condition is only that the job exists: a miss is an error
        return True

    # -- inference --------------------------------------------------------------------------------------
    def record_chunk(
        self,
        job_id: str,
        chunk_index: int,
        positive: int,
        negative: int,
        model_version: str,
        rejected: int = 0,
    ) -> bool:
        """Add one chunk's counts exactly once; False when this chunk was already counted.

        `rejected` counts reviews of the chunk the endpoint could not take (too large to send).
        """
        table_name = self._table.name
        job_pk = keys.job_pk(job_id)
        now = utc_now()
        # The resource's client serializes plain Python values, as the Table methods do.
        client = self._table.meta.client
        return _conditional_write(
            partial(
                client.transact_write_items,
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table_name,
                            "Item": {
                                "pk": job_pk,
                                "sk": keys.chunk_sk(chunk_index),
                                "classified": positive + negative,
                                "recorded_at": now,
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": table_name,
                            "Key": {"pk": job_pk, "sk": keys.JOB_SK},
                            # ADD works on top-level attributes only; counts is a map created with the job.
                            "UpdateExpression": (
                                "SET counts.classified = counts.classified + :classified, "
                                "counts.positive = counts.positive + :positive, "
                                "counts.negative = counts.negative + :negative, "
                                "counts.rejected = counts.rejected + :rejected, "
                                "chunks_done = chunks_done + :one, "
                                "model_version = :version, updated_at = :now"
                            ),
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {
                                ":classified": positive + negative,
                                ":positive": positive,
                                ":negative": negative,
                                ":rejected": rejected,
                                ":one": 1,
                                ":version": model_version,
                                ":now": now,
                            },
                        }
                    },
                ],
            )
        )

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
        return final if closed else None

    # -- query ------------------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        response = self._table.get_item(
            Key={"pk": keys.job_pk(job_id), "sk": keys.JOB_SK}, ConsistentRead=True
        )
        item = response.get("Item")
        return _to_job(item) if item else None

    def list(self, limit: int, cursor: str | None = None, source_key: str | None = None) -> Page[Job]:
        """Jobs newest first, optionally only those of one uploaded object key."""
        if source_key is None:
            index, pk_name, pk_value, sk_name = keys.JOBS_INDEX, "gsi1_pk", keys.ALL_JOBS_PK, "gsi1_sk"
        else:
            index, pk_name, pk_value, sk_name = (
                keys.SOURCE_INDEX,
                "gsi2_pk",
                keys.source_pk(source_key),
                "gsi2_sk",
            )
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": pk_name},
            "ExpressionAttributeValues": {":pk": pk_value},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"pk", "sk", pk_name, sk_name})
        if start:
            query["ExclusiveStartKey"] = start
        response = self._table.query(**query)
        return Page[Job](
            items=[_to_job(item) for item in response.get("Items", [])],
            cursor=encode_cursor(response.get("LastEvaluatedKey")),
        )


def new_job(job_id: str, bucket: str, key: str, version: str | None) -> Job:
    now = utc_now()
    return Job(
        job_id=job_id,
        source_bucket=bucket,
        source_key=key,
        source_version=version,
        status=JobStatus.PENDING,
        counts=JobCounts(),
        created_at=now,
        updated_at=now,
    )
