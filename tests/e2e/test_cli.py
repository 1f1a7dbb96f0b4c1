"""The `review-sentiment` console script, run as a user runs it, against the suite's target.

Upload with --follow --json, then export every row of each job and compare with the job's counts and the
HTTP API's own pages.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from local.stack import LocalStack
from local.template import PROJECT_ROOT
from tests.e2e.conftest import FINAL, Api, deployed_stack_name, eventually, queue_depth, s3_notification
from tests.e2e.targets import E2ETarget

pytestmark = pytest.mark.e2e
SAMPLES = PROJECT_ROOT / "samples"
# `make setup` installs the console script beside the interpreter that runs the tests.
CONSOLE_SCRIPT = Path(sys.executable).parent / "review-sentiment"


@pytest.fixture(scope="module")
def cli_target(request: pytest.FixtureRequest, target: E2ETarget) -> list[str]:
    """The options that point the CLI at the suite's target: --stack for a deployed one, else stack.json."""
    if not target.is_local:
        return ["--stack", deployed_stack_name(), "--region", target.region]
    return ["--state-file", str(request.getfixturevalue("stack").state_dir / "stack.json")]


def run_cli(cli_target: list[str], *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *cli_target, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def upload_folder(target: E2ETarget) -> str:
    """Under the suite's own upload folder (a per-run one on a deployed stack)."""
    return target.upload_prefix.removeprefix(target.incoming_prefix) + "cli"


def test_upload_follow_and_export_every_row(
    cli_target: list[str], target: E2ETarget, api: Api, tmp_path: Path
) -> None:
    # Given two sample files, one with five bad rows
    files = [SAMPLES / "imdb_reviews.jsonl", SAMPLES / "imperfect_reviews.jsonl"]
    # When the CLI uploads them and follows their jobs, answering JSON
    uploaded = run_cli(
        cli_target, "upload", *map(str, files), "--folder", upload_folder(target), "--follow", "--json"
    )
    # Then it exits 0, with one JSON object per job, both ended successfully
    assert uploaded.returncode == 0, uploaded.stderr
    jobs = {Path(j["source_key"]).name: j for j in map(json.loads, uploaded.stdout.splitlines())}
    assert set(jobs) == {"imdb_reviews.jsonl", "imperfect_reviews.jsonl"}
    assert jobs["imdb_reviews.jsonl"]["status"] == "COMPLETED"
    assert jobs["imperfect_reviews.jsonl"]["status"] == "COMPLETED_WITH_ERRORS"
    assert jobs["imperfect_reviews.jsonl"]["counts"]["rejected"] == 5
    # And the job the CLI reports is the one the API knows for that key
    for job in jobs.values():
        assert api.get(f"/jobs/{job['job_id']}")["source_key"] == job["source_key"]

    # When the pipeline has written the imperfect file's export, and the CLI downloads it as CSV
    job = jobs["imperfect_reviews.jsonl"]
    link = eventually(lambda: api.http.get(f"{api.base_url}/jobs/{job['job_id']}/export", timeout=30).ok)
    assert link
    csv_path = tmp_path / "imperfect.csv"
    exported = run_cli(cli_target, "results", job["job_id"], "--format", "csv", "--output", str(csv_path))
    assert exported.returncode == 0, exported.stderr
    assert "downloaded" in exported.stderr
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    # Then it has every row of the upload once, in order: results with their labels, rejected with reasons
    counts = job["counts"]
    assert [int(r["row"]) for r in rows] == list(range(1, counts["total"] + 1))
    results = [r for r in rows if not r["reason"]]
    rejected = [r for r in rows if r["reason"]]
    assert (len(results), len(rejected)) == (counts["classified"], counts["rejected"])
    assert sum(r["label"] == "positive" for r in results) == counts["positive"]
    assert all(r["id"] and r["model_version"] and 0 <= float(r["score"]) <= 1 for r in results)
    reasons = {int(r["row"]): r["reason"] for r in rejected}
    api_reasons = {r["row"]: r["reason"] for r in api.all_pages(f"/jobs/{job['job_id']}/rejected", 100)[0]}
    assert reasons == api_reasons

    # When only the negatives of the 200-row job are written as gzip JSON lines (paged from the API)
    big = jobs["imdb_reviews.jsonl"]
    jsonl_path = tmp_path / "negatives.jsonl.gz"
    negatives = run_cli(
        cli_target,
        "results",
        big["job_id"],
        "--format",
        "jsonl",
        "--sentiment",
        "negative",
        "--output",
        str(jsonl_path),
    )
    assert negatives.returncode == 0, negatives.stderr
    lines = [json.loads(line) for line in gzip.decompress(jsonl_path.read_bytes()).decode().splitlines()]
    # Then it holds exactly the job's negatives, as the API pages them
    assert len(lines) == big["counts"]["negative"] > 0
    assert {line["label"] for line in lines} == {"negative"}
    api_negatives, _ = api.all_pages(f"/jobs/{big['job_id']}/reviews", 100, sentiment="negative")
    assert [line["id"] for line in lines] == [r["review_id"] for r in api_negatives]

    # And the pipeline's JSON lines export of the 200-row job holds every row once, matching its CSV export
    both = {}
    for export_format in ("jsonl", "csv"):
        path = tmp_path / f"all.{export_format}"
        answer = run_cli(
            cli_target, "results", big["job_id"], "--format", export_format, "--output", str(path)
        )
        assert answer.returncode == 0, answer.stderr
        both[export_format] = path.read_text(encoding="utf-8")
    from_jsonl = [json.loads(line) for line in both["jsonl"].splitlines()]
    from_csv = list(csv.DictReader(both["csv"].splitlines()))
    assert [r["row"] for r in from_jsonl] == [int(r["row"]) for r in from_csv] == list(range(1, 201))
    assert [r["id"] for r in from_jsonl] == [r["id"] for r in from_csv]


def test_follow_exits_non_zero_when_a_job_fails(
    cli_target: list[str], target: E2ETarget, tmp_path: Path
) -> None:
    # Given a CSV file without a text column
    broken = tmp_path / "no_text_column.csv"
    broken.write_text("id,rating\n1,7\n")
    # When the CLI uploads and follows it
    followed = run_cli(cli_target, "upload", str(broken), "--folder", upload_folder(target), "--follow")
    # Then it exits 1 and says the job FAILED, and why
    assert followed.returncode == 1, followed.stderr
    assert "FAILED" in followed.stdout
    assert "text" in followed.stdout.lower()


def test_status_jobs_and_predict_answer_what_the_api_answers(cli_target: list[str], api: Api) -> None:
    # Given the target's newest job, as the API lists it
    newest = api.get("/jobs", limit=1)["items"]
    # When the CLI lists jobs as JSON, shows the newest one's status, and classifies two texts
    listed = run_cli(cli_target, "jobs", "--limit", "1", "--json")
    predicted = run_cli(
        cli_target, "predict", "A wonderful, moving film.", "Dull, boring and far too long.", "--json"
    )
    # Then each answers what the API answers
    assert listed.returncode == predicted.returncode == 0, listed.stderr + predicted.stderr
    assert [json.loads(line)["job_id"] for line in listed.stdout.splitlines()] == [
        j["job_id"] for j in newest
    ]
    if newest:
        shown = run_cli(cli_target, "status", newest[0]["job_id"])
        assert json.loads(shown.stdout)["job_id"] == newest[0]["job_id"]
    labels = [p["label"] for p in json.loads(predicted.stdout)["predictions"]]
    assert labels == ["positive", "negative"]


def test_an_unpacked_aclimdb_folder_goes_packed_as_one_job_with_its_folders_labels(
    cli_target: list[str], tmp_path: Path, api: Api
) -> None:
    # Given an unpacked aclImdb folder in small: a positive, a negative and an unlabeled review, a URL list
    folder = tmp_path / "aclImdb"
    for name, text in {
        "train/pos/0_9.txt": "A wonderful, moving film with a brilliant cast.",
        "train/neg/0_1.txt": "Dull, boring and far too long. A waste of two hours.",
        "train/unsup/0_0.txt": "I watched it with my brother on a rainy Sunday.",
        "train/urls_pos.txt": "http://www.imdb.com/title/tt0000001/usercomments\n",
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    # When the CLI uploads the folder packed and follows its job
    uploaded = run_cli(
        cli_target, "upload", str(folder), "--pack", "--folder", "e2e/packed", "--follow", "--json"
    )
    # Then it is one object and one job: the three reviews classified, the URL list skipped and listed
    assert uploaded.returncode == 0, uploaded.stderr
    (job,) = [json.loads(line) for line in uploaded.stdout.splitlines()]
    assert job["source_key"].endswith("e2e/packed/aclImdb.tar.gz")
    assert (job["status"], job["counts"]["total"], job["counts"]["classified"]) == ("COMPLETED", 3, 3)
    assert api.get(f"/jobs/{job['job_id']}")["input"]["skipped_count"] == 1
    # And each review carries the label its folder gave it beside the model's
    results, _ = api.all_pages(f"/jobs/{job['job_id']}/reviews", limit=10)
    assert {r["review_id"]: (r["given_label"], r["label"]) for r in results} == {
        "aclImdb/train/neg/0": ("negative", "negative"),
        "aclImdb/train/pos/0": ("positive", "positive"),
        "aclImdb/train/unsup/0": (None, results[2]["label"]),
    }


def test_an_unknown_job_is_a_clear_error(cli_target: list[str]) -> None:
    # Given a job id nobody uploaded
    # When the CLI is asked for its results
    answer = run_cli(cli_target, "results", "0000000000000000", "--format", "csv")
    # Then it exits 2 with the API's 404 message and writes nothing to stdout
    assert answer.returncode == 2
    assert "404" in answer.stderr
    assert answer.stdout == ""


@pytest.mark.local_only  # puts a message straight onto the emulator's dead-letter queue
def test_redrive_moves_a_dead_lettered_upload_back_to_its_queue(
    cli_target: list[str], stack: LocalStack, api: Api
) -> None:
    # Given a processed upload whose S3 notification also sits in the ingest dead-letter queue
    uploaded = run_cli(
        cli_target,
        "upload",
        str(SAMPLES / "imperfect_reviews.jsonl"),
        "--folder",
        "e2e/redrive",
        "--follow",
        "--json",
    )
    assert uploaded.returncode == 0, uploaded.stderr
    job = json.loads(uploaded.stdout)
    sqs = stack.client("sqs")
    dead_letters = stack.queue_urls["IngestDeadLetterQueue"]
    # Other tests of this emulator dead-letter poison messages on purpose: start from an empty queue.
    sqs.purge_queue(QueueUrl=dead_letters)
    sqs.send_message(QueueUrl=dead_letters, MessageBody=json.dumps(s3_notification(stack, job["source_key"])))
    preprocessed = next(p for p in stack.pollers if p.source.function_id == "PreprocessFunction").stats
    before = preprocessed.records
    # When the CLI redrives the dead-letter queues
    redriven = run_cli(cli_target, "redrive")
    # Then the message went back to the ingest queue and was processed again, and the job still counts once
    assert redriven.returncode == 0, redriven.stderr
    assert f"{dead_letters} -> {stack.queue_urls['IngestQueue']}: 1 messages moved" in redriven.stdout
    eventually(lambda: preprocessed.records > before and queue_depth(stack, "IngestQueue") == 0, timeout=30)
    assert queue_depth(stack, "IngestDeadLetterQueue") == 0
    assert [(j["job_id"], j["counts"]) for j in api.jobs_of(job["source_key"])] == [
        (job["job_id"], job["counts"])
    ]


@pytest.mark.local_only  # puts a message straight into the emulator's dead-letter queue
def test_dead_lettered_upload_shows_stalled_then_redrive_completes_it_with_exact_counts(
    cli_target: list[str], stack: LocalStack, api: Api, upload: Callable[[str, bytes | Path], str]
) -> None:
    assert stack.info is not None
    # Given a file that was processed once, and a second S3 event of it (another job) that failed every
    # delivery and sits in the ingest dead-letter queue
    key = upload("stalled/reviews.jsonl", SAMPLES / "imdb_reviews.jsonl")
    first = api.final_job(key)
    sqs = stack.client("sqs")
    event = s3_notification(stack, key)
    # Another revision of the upload (etag and sequencer, no version), so another job than the first
    event["Records"][0]["s3"]["object"]["sequencer"] = "00000000000000DEAD"
    del event["Records"][0]["s3"]["object"]["versionId"]
    sqs.send_message(QueueUrl=stack.queue_urls["IngestDeadLetterQueue"], MessageBody=json.dumps(event))
    # When the dead-letter watcher has run, Then the API shows that job STALLED, saying how to redrive
    stalled = eventually(lambda: next((j for j in api.jobs_of(key) if j["status"] == "STALLED"), None), 30)
    assert stalled["job_id"] != first["job_id"]
    assert "make redrive" in stalled["stalled"]["redrive"]
    # When `make redrive` runs (the CLI's redrive)
    redriven = run_cli(cli_target, "redrive")
    assert redriven.returncode == 0, redriven.stderr
    assert (
        f"{stack.queue_urls['IngestDeadLetterQueue']} -> {stack.queue_urls['IngestQueue']}:"
        in redriven.stdout
    )
    # Then the job finishes COMPLETED, with the same exact counts as the first job of the file
    finished = eventually(
        lambda: next(
            (j for j in api.jobs_of(key) if j["job_id"] == stalled["job_id"] and j["status"] in FINAL), None
        ),
        api.poll_timeout,
    )
    assert (finished["status"], finished["counts"], finished["stalled"]) == (
        "COMPLETED",
        first["counts"],
        None,
    )
    # And the watcher clears the mark once the message has left the dead-letter queue
    eventually(
        lambda: (
            stack.client("dynamodb")
            .get_item(
                TableName=stack.info.table_name, Key={"pk": {"S": "STALLED"}, "sk": {"S": stalled["job_id"]}}
            )
            .get("Item")
            is None
            or None
        ),
        30,
    )
    assert finished["counts"]["total"] == finished["counts"]["classified"] + finished["counts"]["rejected"]


def test_the_upload_command_starts_the_trace_its_job_carries(
    cli_target: list[str], target: E2ETarget, api: Api
) -> None:
    # When the CLI uploads a file and follows its job
    folder = upload_folder(target) + "-trace"
    sample = str(SAMPLES / "imperfect_reviews.jsonl")
    uploaded = run_cli(cli_target, "upload", sample, "--folder", folder, "--follow", "--json")
    # Then it printed the X-Ray trace its upload sent, before the job existed
    assert uploaded.returncode == 0, uploaded.stderr
    printed = re.findall(r"\(X-Ray trace (1-[0-9a-f]{8}-[0-9a-f]{24})\)", uploaded.stderr)
    assert len(printed) == 1, uploaded.stderr
    # And the job it reports, as the API shows it, carries that trace (S3 passed it to the notification)
    [job] = map(json.loads, uploaded.stdout.splitlines())
    assert job["trace_id"] == printed[0]
    assert api.get(f"/jobs/{job['job_id']}")["trace_id"] == printed[0]
