"""A finished job's full export: every row of its file, written once to the bucket as CSV and gzip JSON lines.

results/<job_id>/results.csv and results/<job_id>/results.jsonl.gz hold the job's results and rejected rows
in file order (review_pipeline.export_rows). The rows stream from two DynamoDB queries into files under /tmp
(a page in memory at a time; a million rows is about 100 MB of CSV, within Lambda's ephemeral storage), then
go up as managed (multipart) uploads. The export is a pure function of the stored rows: a retry rewrites the
same objects, byte for byte (the gzip header carries no timestamp). A row count that does not match the job's
counts raises, so the message is retried rather than an incomplete file published.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
from aws_lambda_powertools import Logger

from review_pipeline.dal.exports import EXPORT_PREFIX, EXPORTABLE, ROWS_METADATA, export_key
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.export_rows import CsvRowWriter, ExportFormat, JsonLinesRowWriter, job_rows, write_rows
from review_pipeline.models import Job
from review_pipeline.observability import job_log_keys
from review_pipeline.settings import Settings

logger = Logger(child=True)

CONTENT_TYPES: dict[ExportFormat, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ExportIncompleteError(RuntimeError):
    """Fewer or more rows than the job's counts: not published; the message is retried."""


@dataclass(frozen=True)
class ExportOutcome:
    job_id: str
    status: Literal["exported", "skipped"]
    rows: int = 0
    detail: str = ""


@dataclass
class JobExporter:
    """Writes a finished job's export; `jobs` has get(job_id), `results` iter_results and iter_rejected."""

    jobs: Any
    results: Any
    s3: Any
    bucket_name: str
    prefix: str = EXPORT_PREFIX
    work_dir: Path | None = None  # default: the system's temporary folder (/tmp on Lambda)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobExporter:
        table = boto3.resource("dynamodb").Table(settings.table_name)
        return cls(
            jobs=JobStore(table),
            results=ResultStore(table),
            s3=boto3.client("s3"),
            bucket_name=settings.bucket_name,
        )

    def export(self, job_id: str) -> ExportOutcome:
        """Export the job; every log line meanwhile carries its id and its uploaded file's key."""
        job: Job | None = self.jobs.get(job_id)
        with job_log_keys(job_id, job.source_key if job else ""):
            outcome = self._export(job_id, job)
            logger.info("Export processed", extra=vars(outcome))
        return outcome

    def _export(self, job_id: str, job: Job | None) -> ExportOutcome:
        if job is None:
            return ExportOutcome(job_id, "skipped", detail="no such job")
        if job.status not in EXPORTABLE:
            return ExportOutcome(job_id, "skipped", detail=f"job is {job.status.value}, not finished")
        expected = job.counts.classified + job.counts.rejected
        with tempfile.TemporaryDirectory(dir=self.work_dir) as folder:
            csv_path, jsonl_path = Path(folder) / "results.csv", Path(folder) / "results.jsonl.gz"
            written = self._write_files(job_id, csv_path, jsonl_path)
            if written != expected:
                raise ExportIncompleteError(
                    f"job {job_id}: {written} rows stored, its counts say {expected} "
                    f"({job.counts.classified} classified + {job.counts.rejected} rejected)"
                )
            # JSON lines first, CSV last: the API answers 404 for a format until its object exists.
            self._upload(jsonl_path, job_id, "jsonl", written)
            self._upload(csv_path, job_id, "csv", written)
        return ExportOutcome(job_id, "exported", rows=written)

    def _write_files(self, job_id: str, csv_path: Path, jsonl_path: Path) -> int:
        rows = job_rows(
            (r.model_dump() for r in self.results.iter_results(job_id)),
            (r.model_dump() for r in self.results.iter_rejected(job_id)),
        )
        with (
            csv_path.open("w", encoding="utf-8", newline="") as csv_out,
            jsonl_path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
            io.TextIOWrapper(compressed, encoding="utf-8", newline="") as jsonl_out,
        ):
            return write_rows(rows, CsvRowWriter(csv_out), JsonLinesRowWriter(jsonl_out))

    def _upload(self, path: Path, job_id: str, export_format: ExportFormat, rows: int) -> None:
        self.s3.upload_file(
            str(path),
            self.bucket_name,
            export_key(job_id, export_format, self.prefix),
            ExtraArgs={"ContentType": CONTENT_TYPES[export_format], "Metadata": {ROWS_METADATA: str(rows)}},
        )
