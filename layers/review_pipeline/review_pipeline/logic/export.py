"""A finished job's full export: every row of its file, written once to the bucket as CSV and gzip JSON lines.

results/<job_id>/results.csv and results/<job_id>/results.jsonl.gz hold the job's results and rejected rows
in file order (review_pipeline.export_rows). The rows stream from two DynamoDB queries into files under /tmp
(a page in memory at a time), then go up to S3. The export is a pure function of the stored rows: a retry
rewrites the same objects, byte for byte (the gzip header carries no timestamp). A row count that does not
match the job's counts raises, so the message is retried rather than an incomplete file published.

A job of more than `part_rows` rows (EXPORT_PART_ROWS, 1,000,000) is written in parts, one invocation each,
so that no export outgrows the function's 15 minutes or its /tmp: the first invocation starts a multipart
upload of each file; every invocation writes the next `part_rows` rows as one part of each (more if its gzip
part is still under S3's 5 MiB minimum; the CSV header in part 1 only; each JSON lines part is a gzip member
of its own, which gzip readers join) and queues the next part on the export queue (ExportContinuation: the
last row written, the rows so far, the uploads); the last one completes both uploads. Where a part ends
depends on the rows only, so a retried or duplicated message writes the same part again, byte for byte; a
duplicate that comes after the end finds the uploads completed and stops.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import boto3
from aws_lambda_powertools import Logger

from review_pipeline.dal.exports import (
    EXPORT_PREFIX,
    EXPORTABLE,
    ROWS_METADATA,
    ExportRequests,
    ExportUploads,
    export_key,
)
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.export_rows import CsvRowWriter, ExportFormat, JsonLinesRowWriter, job_rows
from review_pipeline.models import ExportContinuation, Job
from review_pipeline.observability import job_log_keys
from review_pipeline.settings import Settings

logger = Logger(child=True)

CONTENT_TYPES: dict[ExportFormat, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# JSON lines first, CSV last: the API answers 404 for a format until its object exists.
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
# S3 joins parts of at least 5 MiB (all but the last). A gzip JSON lines part of results reaches it at about
# 440,000 rows (12 bytes a row); one of rejected rows, which compress better, can need more.
S3_MIN_PART_BYTES = 5 * 2**20


class ExportIncompleteError(RuntimeError):
    """Fewer or more rows than the job's counts: not published; the message is retried."""


@dataclass(frozen=True)
class ExportOutcome:
    job_id: str
    status: Literal["exported", "continued", "skipped"]
    rows: int = 0  # written so far (all of them once "exported")
    detail: str = ""


@dataclass
class JobExporter:
    """Writes a finished job's export; `jobs` has get(job_id), `results` iter_results and iter_rejected,
    `requests` queues the next part of an export in parts (ExportRequests)."""

    jobs: Any
    results: Any
    s3: Any
    bucket_name: str
    prefix: str = EXPORT_PREFIX
    work_dir: Path | None = None  # default: the system's temporary folder (/tmp on Lambda)
    part_rows: int = 1_000_000
    min_part_bytes: int = S3_MIN_PART_BYTES
    requests: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JobExporter:
        table = boto3.resource("dynamodb").Table(settings.table_name)
        queue = (
            ExportRequests(boto3.client("sqs"), settings.export_queue_url)
            if settings.export_queue_url
            else None
        )
        return cls(
            jobs=JobStore(table),
            results=ResultStore(table),
            s3=boto3.client("s3"),
            bucket_name=settings.bucket_name,
            part_rows=settings.export_part_rows,
            min_part_bytes=S3_MIN_PART_BYTES,
            requests=queue,
        )

    def export(self, job_id: str, continuation: ExportContinuation | None = None) -> ExportOutcome:
        """Export the job (or the part `continuation` names); every log line meanwhile carries its id and its
        uploaded file's key."""
        job: Job | None = self.jobs.get(job_id)
        with job_log_keys(job_id, job.source_key if job else ""):
            outcome = self._export(job_id, job, continuation)
            logger.info("Export processed", extra=vars(outcome))
        return outcome

    def _export(self, job_id: str, job: Job | None, continuation: ExportContinuation | None) -> ExportOutcome:
        if job is None:
            return ExportOutcome(job_id, "skipped", detail="no such job")
        if job.status not in EXPORTABLE:
            return ExportOutcome(job_id, "skipped", detail=f"job is {job.status.value}, not finished")
        expected = job.counts.classified + job.counts.rejected
        if continuation is None and expected <= self.part_rows:
            return self._export_whole(job, expected)
        return self._export_part(job, expected, continuation or self._start(job_id, expected))

    def _export_whole(self, job: Job, expected: int) -> ExportOutcome:
        with tempfile.TemporaryDirectory(dir=self.work_dir) as folder:
            paths = _part_paths(Path(folder))
            written, _ = _write(self._rows(job.job_id, -1), paths)
            _check_total(job, written, expected, complete=True)
            for export_format in FORMATS:
                self._upload(paths[export_format], job.job_id, export_format, written)
        return ExportOutcome(job.job_id, "exported", rows=written)

    @cached_property
    def _uploads(self) -> ExportUploads:
        return ExportUploads(self.s3, self.bucket_name, self.prefix)

    def _start(self, job_id: str, expected: int) -> ExportContinuation:
        ids = {fmt: self._uploads.start(job_id, fmt, expected, CONTENT_TYPES[fmt]) for fmt in FORMATS}
        return ExportContinuation(part=1, after_row=-1, rows_before=0, upload_ids=ids)

    def _export_part(self, job: Job, expected: int, state: ExportContinuation) -> ExportOutcome:
        """Write the next part_rows rows after state.after_row (more while the gzip part is under
        min_part_bytes) as part state.part of both uploads; then queue the next part, or complete the uploads
        after the last one."""
        rows = self._rows(job.job_id, state.after_row)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as folder:
            paths = _part_paths(Path(folder))
            limit = (self.part_rows, self.min_part_bytes)
            written, last_row = _write(rows, paths, header=state.part == 1, part=limit)
            more = next(rows, None) is not None
            total = state.rows_before + written
            _check_total(job, total, expected, complete=not more)
            for export_format in FORMATS:
                upload_id = state.upload_ids[export_format]
                if not self._uploads.put_part(
                    job.job_id, export_format, upload_id, state.part, paths[export_format]
                ):
                    return ExportOutcome(job.job_id, "skipped", total, "export already completed")
        if more:
            self._queue_next(job.job_id, state, last_row, total)
            return ExportOutcome(job.job_id, "continued", total, f"part {state.part} written")
        for export_format in FORMATS:
            self._uploads.complete(job.job_id, export_format, state.upload_ids[export_format])
        return ExportOutcome(
            job.job_id, "exported", total, f"in {state.part} {'part' if state.part == 1 else 'parts'}"
        )

    def _queue_next(self, job_id: str, state: ExportContinuation, last_row: int, total: int) -> None:
        if self.requests is None:
            raise RuntimeError(
                "the export function has no EXPORT_QUEUE_URL to queue an export's next part on"
            )
        following = ExportContinuation(
            part=state.part + 1, after_row=last_row, rows_before=total, upload_ids=state.upload_ids
        )
        self.requests.request(job_id, following)

    def _rows(self, job_id: str, after_row: int) -> Iterator[dict[str, Any]]:
        return job_rows(
            (r.model_dump() for r in self.results.iter_results(job_id, after_row)),
            (r.model_dump() for r in self.results.iter_rejected(job_id, after_row)),
        )

    def _upload(self, path: Path, job_id: str, export_format: ExportFormat, rows: int) -> None:
        self.s3.upload_file(
            str(path),
            self.bucket_name,
            export_key(job_id, export_format, self.prefix),
            ExtraArgs={"ContentType": CONTENT_TYPES[export_format], "Metadata": {ROWS_METADATA: str(rows)}},
        )


def _part_paths(folder: Path) -> dict[ExportFormat, Path]:
    return {"csv": folder / "results.csv", "jsonl": folder / "results.jsonl.gz"}


def _write(
    rows: Iterator[dict[str, Any]],
    paths: dict[ExportFormat, Path],
    header: bool = True,
    part: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Rows into both files (the JSON lines as one gzip member): every row, or with `part` = (rows, bytes)
    until the files hold at least that many rows and the compressed one that many bytes (the CSV is always
    the bigger). How many rows were written, and the last one's row number (-1: none)."""
    written, last_row = 0, -1
    with (
        paths["csv"].open("w", encoding="utf-8", newline="") as csv_out,
        paths["jsonl"].open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        io.TextIOWrapper(compressed, encoding="utf-8", newline="") as jsonl_out,
    ):
        csv_rows, jsonl_rows = CsvRowWriter(csv_out, header), JsonLinesRowWriter(jsonl_out)
        for row in rows:
            csv_rows.write(row)
            jsonl_rows.write(row)
            written, last_row = written + 1, int(row["row"])
            # raw.tell() lags what is still buffered: the finished member is at least this big.
            if part is not None and written >= part[0] and raw.tell() >= part[1]:
                break
    return written, last_row


def _check_total(job: Job, rows: int, expected: int, complete: bool) -> None:
    """Raise when the rows written so far exceed the job's counts, or, once complete, differ from them."""
    if rows > expected or (complete and rows != expected):
        raise ExportIncompleteError(
            f"job {job.job_id}: {rows} rows stored{'' if complete else ' so far'}, its counts say {expected} "
            f"({job.counts.classified} classified + {job.counts.rejected} rejected)"
        )
