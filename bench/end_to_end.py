"""End-to-end benchmark on the local emulator: files of 5,000 and 50,000 reviews, each uploaded with the AWS
CLI, timed on two clocks (from `aws s3 cp` to the job read back as final; from the object's S3 event to the
job's finished_at), with the emulator's peak memory. A file read in seconds is uploaded three times (median).

    python -m bench.end_to_end [--write] [--sizes 5000,50000]

In the same run, before and after the uploads, it measures the emulator's raw DynamoDB write rate (boto3
batch_writer, copies of the pipeline's own result items), because writing one result item per review dominates
the pipeline's work: the ratio says how close the pipeline gets to the storage it runs on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.dynamodb.conditions import Key

from bench import report
from bench.emulator_memory import EMULATOR_PROCESS, ENDPOINT_PROCESS, EmulatorMemory, cpu_seconds
from local.pollers import Scheduler
from local.stack import LocalStack, environment_for_clients, stop_on_sigterm
from review_pipeline.dal.exports import export_key
from review_pipeline.dal.keys import job_pk, result_sk
from review_pipeline.models import seconds_between

REPO = Path(__file__).resolve().parents[1]
DOC = report.DOC
SHARED_TRAIN = REPO.parent / "shared" / "data" / "imdb" / "train.jsonl.gz"
SAMPLES = REPO / "samples"
SECTION = "## End to end (local emulator)"
COMMAND = "python -m bench.end_to_end --write"
FINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}
SEED = 7
SIZES = (5_000, 50_000)
WARM_UP_FILES = 2  # the emulator's environments per function
# A file read in under ten seconds moves by 10-20% between uploads (the machine's other work, where the
# chunks fall between the two environments): it is uploaded this many times and the median reported.
SHORT_RUN_REVIEWS, SHORT_RUN_REPEATS = 10_000, 3
WARM_UP_REVIEWS = 1_000  # two chunks of ChunkSize 500 each


def benchmark_reviews(count: int) -> tuple[list[dict[str, Any]], str]:
    """`count` real reviews: cut from the IMDb training set when present, else the samples repeated."""
    if SHARED_TRAIN.is_file():
        with gzip.open(SHARED_TRAIN, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        random.Random(SEED).shuffle(rows)
        source = f"{count:,} reviews cut from {SHARED_TRAIN.name}"
    else:
        rows = [
            json.loads(line)
            for line in (SAMPLES / "imdb_reviews.jsonl").read_text("utf-8").split("\n")
            if line
        ]
        source = f"{len(rows)} sample reviews repeated to {count:,} with fresh ids"
    reviews = []
    for index in range(count):
        row = rows[index % len(rows)]
        reviews.append(
            {"id": f"bench-{index:06d}", "movie_id": row.get("movie_id"), "rating": row.get("rating"),
             "text": row["text"]}
        )  # fmt: skip
    return reviews, source


def _wait_final(
    api_url: str, key: str, deadline_s: float, round_trips: list[float] | None = None
) -> dict[str, Any]:
    """Poll the API (one kept-alive connection, as a client does) until the key's job is final; each poll's
    round trip in seconds is appended to `round_trips` when given."""
    session = requests.Session()
    stop = time.monotonic() + deadline_s
    query: dict[str, str | int] = {"source_key": key, "limit": 1}
    while time.monotonic() < stop:
        started = time.perf_counter()
        items = session.get(f"{api_url}/jobs", params=query, timeout=30).json()["items"]
        if round_trips is not None:
            round_trips.append(time.perf_counter() - started)
        if items and items[0]["status"] in FINAL:
            job: dict[str, Any] = items[0]
            return job
        time.sleep(0.25)
    raise TimeoutError(f"{key} did not finish within {deadline_s:.0f} s")


def write_reviews_file(path: Path, reviews: int) -> tuple[int, str]:
    """A JSONL file of `reviews` reviews at `path`; its size in bytes and where the reviews come from."""
    data, source = benchmark_reviews(reviews)
    with path.open("w", encoding="utf-8") as out:
        for review in data:
            out.write(json.dumps(review) + "\n")
    return path.stat().st_size, source


def aws_cli_upload(stack: LocalStack, path: Path, key: str) -> None:
    """`aws s3 cp` (the project's AWS CLI, requirements/dev.txt) to the emulator: multipart above 8 MB."""
    assert stack.info is not None
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    subprocess.run(
        [aws, "s3", "cp", str(path), f"s3://{stack.info.bucket}/{key}", "--only-show-errors"],
        env={**os.environ, **environment_for_clients(stack.info)},
        check=True,
        timeout=600,
    )


def warm_up(stack: LocalStack, scratch: Path, files: int = WARM_UP_FILES) -> list[str]:
    """Cold starts happen here, not in the measured runs: `files` uploads at once, of two chunks each, start
    as many preprocess and inference environments as the emulator runs (one small file started one of each:
    the second inference environment then started cold inside the first measured job). Their exports are
    waited for too, so that none runs during a measured job, and each scheduled function runs once.
    Returns the warm-up jobs' ids."""
    assert stack.info is not None
    info = stack.info
    keys = [f"{info.incoming_prefix}bench/warm-up-{number}.jsonl" for number in range(files)]
    paths = [scratch / f"warm-up-{number}.jsonl" for number in range(files)]
    for path in paths:
        write_reviews_file(path, WARM_UP_REVIEWS)
    with ThreadPoolExecutor(max_workers=files) as pool:
        list(pool.map(lambda upload: aws_cli_upload(stack, *upload), zip(paths, keys, strict=True)))
    job_ids = [_wait_final(info.api_url, key, 300)["job_id"] for key in keys]
    wait_exports(stack, job_ids)
    # A scheduled function's first run is its cold start (about 1 s of CPU for the dead-letter watcher): run
    # it here, not a minute after the start, inside whichever upload is being measured then.
    for scheduler in (poller for poller in stack.pollers if isinstance(poller, Scheduler)):
        scheduler.fire()
    return job_ids


def repeats_for(reviews: int) -> int:
    """How many times a file of `reviews` reviews is uploaded (its median run is reported)."""
    return SHORT_RUN_REPEATS if reviews <= SHORT_RUN_REVIEWS else 1


def median_run(
    stack: LocalStack, memory: EmulatorMemory, path: Path, reviews: int, deadline_s: float
) -> dict[str, Any]:
    """measure_upload repeated (repeats_for): the run of median wall clock, with every run's two rates."""
    measured = [
        measure_upload(stack, memory, path, reviews, deadline_s, attempt)
        for attempt in range(repeats_for(reviews))
    ]
    chosen = sorted(measured, key=lambda run_: run_["wall_seconds"])[len(measured) // 2]
    return {
        **chosen,
        "every_rate": [run_["end_to_end_reviews_per_s"] for run_ in measured],
        "every_pipeline_rate": [run_["pipeline_reviews_per_s"] for run_ in measured],
    }


def measure_upload(
    stack: LocalStack, memory: EmulatorMemory, path: Path, reviews: int, deadline_s: float, attempt: int = 0
) -> dict[str, Any]:
    """Upload a file with the AWS CLI and wait for its job: wall clock, job, batches, emulator peak memory."""
    assert stack.info is not None
    info = stack.info
    key = f"{info.incoming_prefix}bench/reviews-{reviews}-{attempt}.jsonl"
    inference = next(p for p in stack.pollers if p.source.function_id == "InferenceFunction")
    batches_before = inference.stats.batches
    memory.reset()
    round_trips: list[float] = []
    started = time.perf_counter()
    aws_cli_upload(stack, path, key)
    job = _wait_final(info.api_url, key, deadline_s, round_trips)
    wall_s = time.perf_counter() - started
    memory.sample()
    measured = cpu_by_kind(memory.cpu_by_process())
    wait_exports(stack, [job["job_id"]])  # the next upload starts on an idle emulator
    pipeline_s = seconds_between(job["uploaded_at"], job["finished_at"])
    return {
        "reviews": reviews,
        "job_id": job["job_id"],
        "file_bytes": path.stat().st_size,
        "status": job["status"],
        "counts": job["counts"],
        "inference_batches": inference.stats.batches - batches_before,
        "wall_seconds": wall_s,
        "job_seconds": seconds_between(job["created_at"], job["finished_at"]),
        "end_to_end_reviews_per_s": job["counts"]["classified"] / wall_s,
        # The pipeline's own clock: from the object's S3 event to the job's end (no client start, no poll)
        "pipeline_seconds": pipeline_s,
        "pipeline_reviews_per_s": job["counts"]["classified"] / pipeline_s,
        "emulator_peak_mb": memory.peak_mb,
        "cpu_seconds": measured,
        "poll_seconds": round_trips,
    }


def cpu_by_kind(by_process: dict[str, float]) -> dict[str, float]:
    """CPU seconds by kind of process: the emulator's own, the endpoint's, and each function's hosts."""
    kinds: dict[str, float] = {}
    for name, seconds in by_process.items():
        kind = name.partition(" #")[0]
        kinds[kind] = kinds.get(kind, 0.0) + seconds
    return kinds


def wait_exports(stack: LocalStack, job_ids: list[str], deadline_s: float = 600.0) -> None:
    """Wait until every job's export is written: what is measured next runs on an idle emulator."""
    assert stack.info is not None
    s3, stop = stack.client("s3"), time.monotonic() + deadline_s
    keys = {export_key(job_id, "jsonl") for job_id in job_ids}
    while time.monotonic() < stop:
        listed = s3.list_objects_v2(Bucket=stack.info.bucket, Prefix="results/").get("Contents", [])
        if keys <= {item["Key"] for item in listed}:
            return
        time.sleep(1)
    raise TimeoutError(f"exports of {job_ids} not written within {deadline_s:.0f} s")


RAW_PASSES = 3  # the raw rate is the median pass: one pass moves by 10-20% between runs


def raw_write_rate(
    stack: LocalStack, items: int, job_id: str, tag: str, passes: int = RAW_PASSES
) -> dict[str, Any]:
    """The emulator's raw DynamoDB write rate: boto3's batch_writer putting copies of `items` result items the
    pipeline stored for `job_id` (same attributes and values, another job's keys: new keys each pass), from a
    process of its own (as the functions write; the emulator's process shares its GIL with the moto server).
    The median pass by time: its items/s and seconds, with the CPU seconds of the writer and of the
    emulator's process meanwhile; and every pass's rate. `tag` keeps each measurement's keys apart."""
    assert stack.info is not None
    table = _table(stack.moto_url, stack.region, stack.info.table_name)
    stored = _copies_of_results(table, job_id, items, f"raw-bench-{tag}")  # read before any clock starts
    measured = []
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        for number in range(passes):
            rows = [{**row, "pk": job_pk(f"raw-bench-{tag}-{number}")} for row in stored]
            server_before = cpu_seconds(os.getpid()) or 0.0
            seconds, client_cpu = pool.apply(
                _timed_raw_writes, (stack.moto_url, stack.region, stack.info.table_name, rows)
            )
            measured.append((seconds, client_cpu, (cpu_seconds(os.getpid()) or 0.0) - server_before))
    return median_pass(items, measured)


def median_pass(items: int, measured: list[tuple[float, float, float]]) -> dict[str, Any]:
    """The median of raw write passes (seconds, writer CPU, server CPU), the faster of the middle two when
    their number is even (the higher rate: the harder target); and every pass's rate."""
    seconds, client_cpu, server_cpu = sorted(measured)[(len(measured) - 1) // 2]
    return {
        "raw_dynamodb_items_per_s": items / seconds,
        "raw_write_seconds": seconds,
        "raw_client_cpu_seconds": client_cpu,
        "raw_server_cpu_seconds": server_cpu,
        "raw_pass_rates": [items / pass_seconds for pass_seconds, _, _ in measured],
        "raw_passes": measured,
    }


def _table(moto_url: str, region: str, table_name: str) -> Any:
    return (
        boto3.session.Session()
        .resource(
            "dynamodb",
            endpoint_url=moto_url,
            region_name=region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            aws_session_token="local",
        )
        .Table(table_name)
    )


def _timed_raw_writes(
    moto_url: str, region: str, table_name: str, rows: list[dict[str, Any]]
) -> tuple[float, float]:
    table = _table(moto_url, region, table_name)
    started, cpu_started = time.perf_counter(), time.process_time()
    with table.batch_writer() as batch:
        for item in rows:
            batch.put_item(Item=item)
    return time.perf_counter() - started, time.process_time() - cpu_started


def _copies_of_results(table: Any, source_job_id: str, count: int, job_id: str) -> list[dict[str, Any]]:
    """`count` result items as the pipeline stored them for `source_job_id`, under `job_id`'s keys (read
    before the clock starts; a job with fewer results is copied again under further rows)."""
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(job_pk(source_job_id)) & Key("sk").begins_with("RESULT#"),
    }
    stored: list[dict[str, Any]] = []
    while len(stored) < count:
        page = table.query(**query)
        stored += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if not stored:
        raise RuntimeError(f"job {source_job_id} stored no result to copy")
    return [
        {**stored[row % len(stored)], "pk": job_pk(job_id), "sk": result_sk(row + 1)} for row in range(count)
    ]


def run(
    sizes: tuple[int, ...] = SIZES,
    deadline_s: float = 1_800.0,
    command: str = COMMAND,
    raw_items: int = 10_000,
) -> dict[str, Any]:
    """Run the benchmark on a fresh emulator; returns every figure."""
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as scratch:
        files = {size: Path(scratch) / f"reviews-{size}.jsonl" for size in sizes}
        sources = [write_reviews_file(path, size)[1] for size, path in files.items()]
        with (
            LocalStack(state_dir=Path(scratch), write_state=False) as stack,
            EmulatorMemory(stack) as memory,
        ):
            assert stack.info is not None
            before = raw_write_rate(stack, raw_items, warm_up(stack, Path(scratch))[0], "before")
            runs = [median_run(stack, memory, files[size], size, deadline_s) for size in sizes]
            after = raw_write_rate(stack, raw_items, runs[-1]["job_id"], "after")
            # One pass moves by 10-30% (more than the table's size moves it): the median of all six
            raw = median_pass(raw_items, before["raw_passes"] + after["raw_passes"])
            peak_by_process = dict(memory.peak_by_process)
    for run_ in runs:
        run_["ratio"] = run_["end_to_end_reviews_per_s"] / raw["raw_dynamodb_items_per_s"]
        run_["pipeline_ratio"] = run_["pipeline_reviews_per_s"] / raw["raw_dynamodb_items_per_s"]
    return {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": report.machine(),
        "source": sources[-1],
        "runs": runs,
        "raw_items": raw_items,
        **raw,
        "raw_before_items_per_s": before["raw_dynamodb_items_per_s"],
        "raw_after_items_per_s": after["raw_dynamodb_items_per_s"],
        "size_ratio": runs[-1]["end_to_end_reviews_per_s"] / runs[0]["end_to_end_reviews_per_s"],
        "pipeline_size_ratio": runs[-1]["pipeline_reviews_per_s"] / runs[0]["pipeline_reviews_per_s"],
        "peak_by_process": peak_by_process,
        "poll_ms": poll_milliseconds([t for run_ in runs for t in run_["poll_seconds"]]),
        "chunk_size": int(stack.names.parameters.get("ChunkSize", "0")),
        "max_concurrency": stack.max_concurrency,
    }


def to_markdown(result: dict[str, Any]) -> str:
    runs, raw_rate = result["runs"], result["raw_dynamodb_items_per_s"]
    lines = [
        SECTION,
        "",
        f"Command: `{result['command']}` ({result['date']}; {result['machine']}).",
        "Input: JSONL files of real reviews (" + result["source"] + "), each uploaded with the AWS CLI",
        "(`aws s3 cp`, multipart above 8 MB) to the emulator's bucket after two warm-up files uploaded at",
        "once (every environment started, the scheduled dead-letter watcher run once: cold starts excluded),",
        "one after the other in one emulator, each",
        "once the previous job's export was written (an idle emulator).",
        "Two clocks: the user's, from the start of `aws s3 cp` to the job read back as final through the",
        "HTTP API (polled every 0.25 s), which includes the AWS CLI's own start (about 0.7 s) and the",
        "transfer; and the pipeline's, from the object's S3 event (`uploaded_at`) to the job's",
        "`finished_at`, which like the raw write below leaves out the client's start. The raw write rate is",
        "measured twice in the same run on an idle emulator, after the warm-up and after the uploads, from",
        "a process of its own as the functions write: boto3 `batch_writer`, copies of",
        f"{result['raw_items']:,} result items the pipeline stored (same attributes and values, other keys),",
        f"same moto server, the median of {RAW_PASSES} passes (new keys each):",
        f"{result['raw_before_items_per_s']:,.0f} items/s before the uploads, "
        f"{result['raw_after_items_per_s']:,.0f} after. The ratios divide by the median of all "
        f"{len(result['raw_pass_rates'])} passes,",
        f"**{raw_rate:,.0f} items/s** ({result['raw_write_seconds']:.1f} s; passes "
        + ", ".join(f"{rate:,.0f}" for rate in result["raw_pass_rates"])
        + " items/s).",
        f"ChunkSize {result['chunk_size']} (template default), up to {result['max_concurrency']} execution",
        "environments per function and as many SageMaker endpoint workers. Emulator memory: the sum of the",
        "resident memory of the emulator's process (moto server, pollers, HTTP API), the endpoint's workers",
        "and every function host, sampled every 0.2 s.",
        "",
        "| reviews | file | job status | `aws s3 cp` -> final | end to end | / raw write rate | "
        "S3 event -> finished | pipeline | / raw write rate | inference batches | emulator peak RSS |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *map(run_row, runs),
    ]
    lines += [
        "",
        *repeats_markdown(runs),
        f"Rate of the largest file / rate of the smallest: **{result['size_ratio']:.2f}** end to end,"
        f" **{result['pipeline_size_ratio']:.2f}** on the pipeline's clock.",
        *poll_markdown(result["poll_ms"]),
        "Peak resident memory per process over the whole run: "
        + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in result["peak_by_process"].items())
        + ".",
        "",
        *cpu_markdown(result),
        "Each review costs one result item in DynamoDB, so the raw write rate is a ceiling for the local",
        "pipeline; a ratio near 1 would mean the emulator's storage, not the functions or the model, sets",
        "the pace. Both figures move with the machine's load, which is why they are measured in one run.",
        "These are local figures (moto in one Python process): they say nothing about throughput on AWS.",
        "",
    ]
    return "\n".join(lines)


def poll_milliseconds(round_trips: list[float]) -> dict[str, float]:
    """The API polls' round trips: how many, their median and 90th percentile in milliseconds."""
    ordered = sorted(round_trips) or [0.0]
    return {
        "polls": len(round_trips),
        "median": 1000 * statistics.median(ordered),
        "p90": 1000 * ordered[math.ceil(0.9 * len(ordered)) - 1],  # nearest rank
    }


def poll_markdown(polls: dict[str, float]) -> list[str]:
    return [
        f"A poll of the API (`GET /jobs?source_key=`, a kept-alive connection) took {polls['median']:.0f} ms"
        f" (median of {polls['polls']:.0f}; 90th percentile {polls['p90']:.0f} ms) while the pipeline ran.",
    ]


def run_row(run_: dict[str, Any]) -> str:
    """One upload's row of the report: both clocks, each with its rate and its ratio to the raw write rate."""
    counts = run_["counts"]
    status = f"{run_['status']} ({counts['classified']:,} classified, {counts['rejected']} rejected)"
    return (
        f"| {run_['reviews']:,} | {run_['file_bytes'] / 1e6:.1f} MB | {status} | "
        f"{run_['wall_seconds']:.1f} s | **{run_['end_to_end_reviews_per_s']:,.0f} reviews/s** | "
        f"**{run_['ratio']:.2f}** | {run_['pipeline_seconds']:.1f} s | "
        f"**{run_['pipeline_reviews_per_s']:,.0f} reviews/s** | **{run_['pipeline_ratio']:.2f}** | "
        f"{run_['inference_batches']} | {run_['emulator_peak_mb']:,.0f} MB |"
    )


def repeats_markdown(runs: list[dict[str, Any]]) -> list[str]:
    """For each size uploaded more than once: every upload's two rates (the table shows the median's)."""
    lines = [
        f"{run_['reviews']:,} reviews, {len(run_['every_rate'])} uploads (the median by wall clock is in the "
        "table): end to end "
        + ", ".join(f"{rate:,.0f}" for rate in run_["every_rate"])
        + " reviews/s; pipeline "
        + ", ".join(f"{rate:,.0f}" for rate in run_["every_pipeline_rate"])
        + " reviews/s."
        for run_ in runs
        if len(run_.get("every_rate", ())) > 1
    ]
    return [*lines, ""] if lines else []


def cpu_markdown(result: dict[str, Any]) -> list[str]:
    """Where the CPU went: per review, by process, during each upload; and per item of the raw write."""
    runs = result["runs"]
    kinds = sorted({kind for run_ in runs for kind in run_["cpu_seconds"]}, key=_kind_order)
    lines = [
        "CPU time per review (ms), by process, from the upload's start to the job read back as final",
        "(utime + stime from /proc, sampled with the memory); *cores* is the total over the wall clock:",
        "",
        "| reviews | " + " | ".join(_kind_label(kind) for kind in kinds) + " | total | cores |",
        "| ---: | " + " | ".join("---:" for _ in kinds) + " | ---: | ---: |",
    ]
    for run_ in runs:
        used = run_["cpu_seconds"]
        total = sum(used.values())
        lines.append(
            f"| {run_['reviews']:,} | "
            + " | ".join(f"{used.get(kind, 0.0) / run_['reviews'] * 1000:.2f}" for kind in kinds)
            + f" | **{total / run_['reviews'] * 1000:.2f}** | {total / run_['wall_seconds']:.2f} |"
        )
    client, server = result["raw_client_cpu_seconds"], result["raw_server_cpu_seconds"]
    per_item = (client + server) / result["raw_items"] * 1000
    lines += [
        "",
        f"The raw write used {per_item:.2f} ms of CPU per item ({client / result['raw_items'] * 1000:.2f} "
        f"in the writer, {server / result['raw_items'] * 1000:.2f} in the emulator's process), "
        f"{(client + server) / result['raw_write_seconds']:.2f} cores: one writer waiting on one server.",
        "",
    ]
    return lines


def _kind_order(kind: str) -> tuple[int, str]:
    first = (EMULATOR_PROCESS, ENDPOINT_PROCESS, "InferenceFunction", "PreprocessFunction")
    return (first.index(kind), kind) if kind in first else (len(first), kind)


def _kind_label(kind: str) -> str:
    return kind.removesuffix("Function")  # InferenceFunction -> Inference


def write_section(markdown: str, doc: Path = DOC) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, keeping the others."""
    report.write_section(SECTION, markdown, doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="reviews per file, comma-separated"
    )
    parser.add_argument("--write", action="store_true", help=f"update the {SECTION!r} section of {DOC.name}")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    command = " ".join(["python -m bench.end_to_end", *(argv if argv is not None else sys.argv[1:])])
    sizes = tuple(int(size) for size in args.sizes.split(","))
    report.publish(SECTION, to_markdown(run(sizes, command=command)), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
