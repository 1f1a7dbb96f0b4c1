"""Classified reviews and rejected rows of a job.

Writes are keyed by (job, row), so writing the same chunk twice leaves the same items: redelivery is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from review_pipeline.dal import keys
from review_pipeline.dal.batch_writes import BatchWrites
from review_pipeline.dal.pagination import CursorCodec, Page
from review_pipeline.models import RejectedRow, ReviewResult, Sentiment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_RESULT_FIELDS = set(ReviewResult.model_fields)
_BATCH_GET_KEYS = 100  # BatchGetItem reads at most 100 keys per call
_BATCH_GET_ATTEMPTS = 5
_REJECTED_FIELDS = set(RejectedRow.model_fields)
SECONDS_PER_DAY = 86_400
_FILTERED_QUERIES = 4  # queries one page of a single sentiment may take (each reads `limit` rows)


def expiration_after(ttl_days: int) -> int | None:
    """The TTL epoch of rows stored now and kept `ttl_days` days; None keeps them (RESULTS_TTL_DAYS=0)."""
    if not ttl_days:
        return None
    return int(time.time()) + ttl_days * SECONDS_PER_DAY


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers stay integers, the rest become floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def result_item(result: ReviewResult, expiration: int | None = None) -> dict[str, Any]:
    """The table item of a result: its fields and its keys (no index entry: see `list_results`).

    The job id is in `pk` already, so the item does not repeat it (42 bytes of every result's storage and
    reads); `result_of_item` puts it back, and the fields left at their defaults (`truncated: false` on
    nearly every review), which an attribute would spell out on every item for every write and read.
    """
    item: dict[str, Any] = {
        **result.model_dump(exclude_defaults=True, exclude={"score", "job_id"}),
        "score": Decimal(str(round(result.score, 6))),
        "pk": keys.job_pk(result.job_id),
        "sk": keys.result_sk(result.row),
    }
    if expiration:
        item["expiration"] = expiration
    return item


def result_of_item(item: dict[str, Any], job_id: str) -> ReviewResult:
    """The result a table item holds (items stored before `result_item` dropped `job_id` carry it too)."""
    return ReviewResult.model_validate(
        {**{k: _plain(v) for k, v in item.items() if k in _RESULT_FIELDS}, "job_id": job_id}
    )


class ResultStore:
    """Results and rejected rows in the pipeline table."""

    def __init__(self, table: Table, cursors: CursorCodec | None = None) -> None:
        """`cursors` signs the cursors of the list methods (the query API passes the deployment's key)."""
        self._table = table
        self._cursors = cursors or CursorCodec.ephemeral()
        self._writes = BatchWrites(table)

    def put_results(self, results: Iterable[ReviewResult], expiration: int | None = None) -> int:
        """Store results (batch writes, unprocessed items sent again: dal/batch_writes.py); how many."""
        return self._writes.put(result_item(result, expiration) for result in results)

    def writing(self, expiration: int | None = None) -> ResultWriter:
        """A writer that stores results in a thread of its own while the caller goes on (see ResultWriter)."""
        return ResultWriter(self, expiration)

    def put_rejected(self, job_id: str, rows: Iterable[RejectedRow], expiration: int | None = None) -> int:
        written = 0
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for rejected in rows:
                item: dict[str, Any] = {
                    **rejected.model_dump(),
                    "job_id": job_id,
                    "pk": keys.job_pk(job_id),
                    "sk": keys.rejected_sk(rejected.row),
                }
                if expiration:
                    item["expiration"] = expiration
                batch.put_item(Item=item)
                written += 1
        return written

    def results_of_rows(self, job_id: str, rows: Iterable[int]) -> list[ReviewResult]:
        """The stored results of these rows of a job (rows without a result are simply absent)."""
        client = self._table.meta.client  # the resource's client takes plain Python values, like the Table
        wanted = sorted(set(rows))
        found: list[ReviewResult] = []
        for start in range(0, len(wanted), _BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": [
                        {"pk": keys.job_pk(job_id), "sk": keys.result_sk(row)}
                        for row in wanted[start : start + _BATCH_GET_KEYS]
                    ],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(_BATCH_GET_ATTEMPTS):
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table.name, []):
                    found.append(result_of_item(item, job_id))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)  # DynamoDB hands back what it could not read when throttled
            if request:
                raise RuntimeError(
                    f"DynamoDB left result reads of job {job_id} unprocessed {_BATCH_GET_ATTEMPTS} times"
                )
        return sorted(found, key=lambda result: result.row)

    def rejected_of_row(self, job_id: str, row: int) -> RejectedRow | None:
        """The rejected row `row` of a job, or None when that row was not rejected."""
        item = self._table.get_item(Key={"pk": keys.job_pk(job_id), "sk": keys.rejected_sk(row)}).get("Item")
        if item is None:
            return None
        return RejectedRow.model_validate({k: _plain(v) for k, v in item.items() if k in _REJECTED_FIELDS})

    def list_results(
        self, job_id: str, limit: int, cursor: str | None = None, sentiment: Sentiment | None = None
    ) -> Page[ReviewResult]:
        """A job's results in file order, page by page, optionally of one sentiment only.

        One sentiment is a filter on the job's results, not an index: an index entry would cost a second write
        unit for every review stored (docs/benchmarks.md, "Cost per 1,000,000 reviews"). A filtered query
        reads, and pays for, the other sentiment's rows too, so the page is filled over a few queries.
        """
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": keys.job_pk(job_id), ":prefix": "RESULT#"},
        }
        listing = CursorCodec.listing("results", job_id, sentiment)
        if sentiment is None:
            items, next_cursor = self._query(query, limit, cursor, listing)
        else:
            query["FilterExpression"] = "#label = :label"
            query["ExpressionAttributeNames"] = {"#label": "label"}
            query["ExpressionAttributeValues"][":label"] = sentiment
            items, next_cursor = self._filtered_query(query, limit, cursor, listing)
        return Page[ReviewResult](
            items=[result_of_item(item, job_id) for item in items],
            cursor=next_cursor,
        )

    def _filtered_query(
        self, query: dict[str, Any], limit: int, cursor: str | None, listing: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` matching items in at most _FILTERED_QUERIES queries (a page may come back short)."""
        items: list[dict[str, Any]] = []
        for _ in range(_FILTERED_QUERIES):
            found, cursor = self._query(dict(query), limit, cursor, listing)
            items += found
            if len(items) >= limit:
                if len(items) > limit:  # resume right after the last item served
                    items = items[:limit]
                    cursor = self._cursors.encode({"pk": items[-1]["pk"], "sk": items[-1]["sk"]}, listing)
                break
            if cursor is None:
                break
        return items, cursor

    def list_rejected(self, job_id: str, limit: int, cursor: str | None = None) -> Page[RejectedRow]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": keys.job_pk(job_id), ":prefix": "REJECTED#"},
        }
        items, next_cursor = self._query(query, limit, cursor, CursorCodec.listing("rejected", job_id))
        return Page[RejectedRow](
            items=[
                RejectedRow.model_validate({k: v for k, v in i.items() if k in _REJECTED_FIELDS})
                for i in items
            ],
            cursor=next_cursor,
        )

    def _query(
        self, query: dict[str, Any], limit: int, cursor: str | None, listing: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a query on the table's own keys; the cursors are signed for `listing`."""
        start = self._cursors.decode(cursor, listing, {"pk", "sk"})
        if start:
            query["ExclusiveStartKey"] = start
        response = self._table.query(Limit=limit, **query)
        items = [{k: _plain(v) for k, v in item.items()} for item in response.get("Items", [])]
        return items, self._cursors.encode(response.get("LastEvaluatedKey"), listing)

    # -- whole-job streams (the export) ---------------------------------------------------------------------
    def iter_results(self, job_id: str, after_row: int = -1) -> Iterator[ReviewResult]:
        """Every result of a job after `after_row` in file order, one DynamoDB page (up to 1 MB) in memory at
        a time."""
        for item in self._all_of(job_id, keys.result_sk, after_row):
            yield result_of_item(item, job_id)

    def iter_rejected(self, job_id: str, after_row: int = -1) -> Iterator[RejectedRow]:
        for item in self._all_of(job_id, keys.rejected_sk, after_row):
            yield RejectedRow.model_validate({k: v for k, v in item.items() if k in _REJECTED_FIELDS})

    def _all_of(
        self, job_id: str, sort_key: Callable[[int], str], after_row: int
    ) -> Iterator[dict[str, Any]]:
        """Items keyed `sort_key(row)` for rows after `after_row`, in row order (the keys are zero-padded)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": keys.job_pk(job_id),
                ":first": sort_key(after_row + 1),
                ":last": sort_key(10**keys.ROW_DIGITS - 1),
            },
            # The job has just ended: read what its last writes wrote, not an older replica.
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**query)
            for item in response.get("Items", []):
                yield {k: _plain(v) for k, v in item.items()}
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class ResultWriter:
    """Stores batches of results in one background thread, in the order given, while the caller works.

    The inference function asks the endpoint for a chunk one call at a time; storing each call's results
    while the next call is scored overlaps two waits (the model and DynamoDB) that would otherwise add up.
    Leaving the `with` block waits for every write; a write that failed raises there (or at the next
    `write`), so nothing is counted before its results are stored. The table is used by that thread only
    until the block ends (a boto3 resource is not shared between threads at the same time).
    """

    def __init__(self, store: ResultStore, expiration: int | None) -> None:
        self._store = store
        self._expiration = expiration
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="result-writer")
        self._pending: list[Future[int]] = []
        self.written = 0

    def __enter__(self) -> ResultWriter:
        return self

    def write(self, results: Sequence[ReviewResult]) -> None:
        self._raise_failed()
        self._pending.append(self._pool.submit(self._store.put_results, results, self._expiration))

    def __exit__(self, *exc_info: object) -> None:
        try:
            # Even when the caller failed: no write may still be running once the block is left.
            wait(self._pending)
            if exc_info[0] is None:
                self._raise_failed()
        finally:
            self._pool.shutdown(wait=True)

    def _raise_failed(self) -> None:
        still_running = []
        for future in self._pending:
            if not future.done():
                still_running.append(future)
                continue
            self.written += future.result()  # raises the write's error
        self._pending = still_running
