"""`make demo`: the whole pipeline on the local emulator with the shipped model and the sample files.

Starts the emulator, uploads every sample file under incoming/, shows progress until every job is final (or
the deadline passes), prints a summary per file read through the HTTP API as a user would, then stops
everything.
Exit status 0 when every job finished as expected, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from local.stack import LocalStack, StackInfo, stop_on_sigterm
from local.template import PROJECT_ROOT

SAMPLES_DIR = PROJECT_ROOT / "samples"
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".jsonl.gz", ".json.gz", ".csv.gz")
FINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}
EXCERPT_CHARS = 90


@dataclass
class FileReport:
    key: str
    job: dict[str, Any] | None = None
    most_negative: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.job["status"]) if self.job else "NO JOB"

    @property
    def expected_status(self) -> str:
        return "COMPLETED_WITH_ERRORS" if "imperfect" in self.key else "COMPLETED"


def sample_files(folder: Path = SAMPLES_DIR) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(DATA_SUFFIXES))


class Api:
    """The HTTP API, used as any client would (plain HTTP, JSON)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._session = requests.Session()

    def get(self, path: str, **params: Any) -> Any:
        response = self._session.get(f"{self.base_url}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def job_of(self, key: str) -> dict[str, Any] | None:
        items = self.get("/jobs", source_key=key, limit=1)["items"]
        return items[0] if items else None

    def all_items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, limit=100, **params, **({"cursor": cursor} if cursor else {}))
            items.extend(page["items"])
            cursor = page.get("cursor")
            if not cursor:
                return items


def upload(stack: LocalStack, files: list[Path]) -> list[str]:
    assert stack.info is not None
    s3 = stack.client("s3")
    keys = []
    for path in files:
        key = f"{stack.info.incoming_prefix}{path.name}"
        s3.upload_file(str(path), stack.info.bucket, key)
        keys.append(key)
        print(f"  uploaded {path.relative_to(PROJECT_ROOT)} -> s3://{stack.info.bucket}/{key}")
    return keys


def wait_for_jobs(api: Api, keys: list[str], deadline_seconds: float) -> dict[str, dict[str, Any] | None]:
    started = time.monotonic()
    jobs: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
    while True:
        for key in keys:
            job = jobs[key]
            if job is None or job["status"] not in FINAL:
                jobs[key] = api.job_of(key)
        known = [job for job in jobs.values() if job]
        done = sum(job["status"] in FINAL for job in known)
        classified = sum(job["counts"]["classified"] for job in known)
        total = sum(job["counts"]["total"] for job in known)
        elapsed = time.monotonic() - started
        progress = f"jobs done {done}/{len(keys)}, reviews classified {classified}/{total or '?'}"
        print(f"  [{elapsed:5.1f} s] {progress}")
        if done == len(keys) or elapsed > deadline_seconds:
            return jobs
        time.sleep(1.5)


def build_reports(api: Api, jobs: dict[str, dict[str, Any] | None]) -> list[FileReport]:
    reports = []
    for key, job in jobs.items():
        report = FileReport(key=key, job=job)
        if job and job["status"] in FINAL:
            negatives = api.all_items(f"/jobs/{job['job_id']}/reviews", sentiment="negative")
            report.most_negative = sorted(negatives, key=lambda r: r["score"])[:3]
            if job["counts"]["rejected"]:
                report.rejected = api.all_items(f"/jobs/{job['job_id']}/rejected")
        reports.append(report)
    return reports


def _excerpt(text: str, width: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_summary(reports: list[FileReport]) -> None:
    print("\nSummary")
    header = f"  {'file':<34} {'status':<22} {'total':>5} {'classified':>10} {'rejected':>8} {'positive':>8}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for report in reports:
        counts = report.job["counts"] if report.job else {}
        classified = counts.get("classified", 0)
        share = f"{counts.get('positive', 0) / classified:.0%}" if classified else "-"
        name = report.key.rsplit("/", 1)[-1]
        print(
            f"  {name:<34} {report.status:<22} {counts.get('total', 0):>5} {classified:>10} "
            f"{counts.get('rejected', 0):>8} {share:>8}"
        )
    for report in reports:
        name = report.key.rsplit("/", 1)[-1]
        print(f"\n  {name}: {report.status}")
        if report.job and report.job.get("error"):
            print(f"    error: {report.job['error']}")
        if report.most_negative:
            print("    three most negative reviews (lowest P(positive)):")
            for review in report.most_negative:
                print(
                    f"      {review['score']:.3f}  row {review['row']:>3}  {_excerpt(review['text_excerpt'])}"
                )
        if report.rejected:
            print(
                f"    rejected rows ({len(report.rejected)}), with reasons (a deliberately imperfect file):"
            )
            for row in report.rejected:
                print(f"      row {row['row']:>3}: {row['reason']}")


def print_how_to(info: StackInfo, reports: list[FileReport]) -> None:
    job_id = next((r.job["job_id"] for r in reports if r.job), "<job_id>")
    print(
        f"\nHTTP API: {info.api_url}  (OpenAPI: {info.api_url}/openapi.json, Swagger UI: {info.api_url}/docs)"
    )
    print("Examples (they stop working when this demo exits; `make local` keeps the emulator running):")
    print(f"  curl -s '{info.api_url}/jobs'")
    print(f"  curl -s '{info.api_url}/jobs/{job_id}/reviews?sentiment=negative&limit=5'")
    print(f"  curl -s '{info.api_url}/jobs/{job_id}/rejected'")
    print(
        f"  curl -s -X POST '{info.api_url}/predict' -H 'content-type: application/json' "
        """-d '{"reviews": [{"id": "1", "text": "A moving, beautifully acted film."}], "explain": true}'"""
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument("--samples", type=Path, default=SAMPLES_DIR, help="folder of review files to upload")
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds to wait for every job")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    files = sample_files(args.samples)
    if not files:
        print(f"no review files in {args.samples}", file=sys.stderr)
        return 1
    print("Starting the local emulator (moto, SageMaker-compatible endpoint, function hosts, HTTP API)...")
    with LocalStack() as stack:
        assert stack.info is not None
        api = Api(stack.info.api_url)
        print(f"Uploading {len(files)} sample files:")
        keys = upload(stack, files)
        print("Waiting for the pipeline:")
        jobs = wait_for_jobs(api, keys, args.deadline)
        reports = build_reports(api, jobs)
        print_summary(reports)
        print_how_to(stack.info, reports)
        print("\nStopping the local emulator...")
    unexpected = [r for r in reports if r.status != r.expected_status]
    for report in unexpected:
        print(
            f"UNEXPECTED: {report.key} is {report.status}, expected {report.expected_status}", file=sys.stderr
        )
    print("Done." if not unexpected else "Done, with unexpected results (see above).")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
