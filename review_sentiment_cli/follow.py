"""Follow the jobs of uploaded files until each ends, with a live progress bar per job."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from review_sentiment_cli.api import ApiClient
from review_sentiment_cli.uploads import Upload

FINAL_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"})
SUCCESSFUL_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS"})
POLL_SECONDS = 1.0


@dataclass
class FollowedJob:
    """One upload and, once the pipeline has made it, its job (as the API last showed it)."""

    upload: Upload
    job: dict[str, Any] | None = None
    task: TaskID | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return str(self.job["status"]) if self.job else "NO JOB"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def summary(self) -> dict[str, Any]:
        """What `--json` prints for this upload."""
        job = self.job or {}
        return {
            "job_id": job.get("job_id"),
            "source_key": self.upload.key,
            "status": self.status,
            "counts": job.get("counts"),
            "error": job.get("error"),
            "trace_id": job.get("trace_id") or self.upload.trace_id,
        }


def all_succeeded(followed: list[FollowedJob]) -> bool:
    return all(item.status in SUCCESSFUL_STATUSES for item in followed)


def job_progress(*, disable: bool, console: Any = None) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )


def _refresh(api: ApiClient, item: FollowedJob) -> None:
    if item.job is None:
        new = [
            j for j in api.jobs(source_key=item.upload.key) if j["job_id"] not in item.upload.earlier_job_ids
        ]
        item.job = new[0] if new else None  # newest first
    else:
        item.job = api.job(item.job["job_id"])


def follow_jobs(
    api: ApiClient,
    uploads: list[Upload],
    progress: Progress,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FollowedJob]:
    """Poll until every upload's job is final or the timeout passes; rows done = classified + rejected."""
    followed = [FollowedJob(upload) for upload in uploads]
    for item in followed:
        item.task = progress.add_task(item.upload.key, total=None, status="waiting for its job")
    deadline = time.monotonic() + timeout_seconds
    while True:
        for item in followed:
            if item.is_final:
                continue
            _refresh(api, item)
            if item.job is not None and item.task is not None:
                counts = item.job["counts"]
                progress.update(
                    item.task,
                    total=counts["total"] or None,
                    completed=counts["classified"] + counts["rejected"],
                    status=item.status,
                )
        if all(item.is_final for item in followed) or time.monotonic() > deadline:
            return followed
        sleep(POLL_SECONDS)
