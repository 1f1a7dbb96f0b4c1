"""Memory at scale on the local emulator: JSONL uploads of 10 MB, 100 MB and 1 GB, each sent with `aws s3 cp`,
until the preprocess function has queued every chunk of it.

    python -m bench.scale [--write] [--sizes 10,100,1000]

The files are the committed samples (samples/imdb_reviews.jsonl, 200 real reviews) repeated with fresh ids.
Per upload: the preprocess function's peak resident memory (each of its execution environments, sampled every
0.2 s from /proc) and the whole emulator's (its process and every function host, summed). The inference
poller is stopped for this benchmark, so what is measured is the upload and the split, not the classification
of a million reviews (the end-to-end benchmark measures that path on 5,000 and 50,000).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import report
from bench.emulator_memory import EmulatorMemory
from bench.end_to_end import SAMPLES, aws_cli_upload
from local.stack import LocalStack, stop_on_sigterm

DOC = report.DOC
SECTION = "## Memory against upload size (local emulator)"
COMMAND = "python -m bench.scale --write"
MB = 1_000_000
SIZES = (10, 100, 1_000)
SPLIT = {"PROCESSING", "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}


def write_jsonl(path: Path, size_mb: int) -> int:
    """About `size_mb` MB of the sample reviews, repeated with fresh ids; how many reviews."""
    text = (SAMPLES / "imdb_reviews.jsonl").read_text("utf-8")
    samples = [json.loads(line) for line in text.split("\n") if line]  # not splitlines(): texts hold U+2028
    count = written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < size_mb * MB:
            review = {**samples[count % len(samples)], "id": f"scale-{count:09d}"}
            line = json.dumps(review, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            count += 1
    return count


def _wait_split(api_url: str, key: str, deadline_s: float, failed: Callable[[], bool]) -> dict[str, Any]:
    session, stop = requests.Session(), time.monotonic() + deadline_s
    query: dict[str, str | int] = {"source_key": key, "limit": 1}
    while time.monotonic() < stop and not failed():
        items = session.get(f"{api_url}/jobs", params=query, timeout=30).json()["items"]
        if items and items[0]["status"] in SPLIT:
            job: dict[str, Any] = items[0]
            return job
        time.sleep(1)
    return {"status": "not split", "counts": {}}


def measure(
    stack: LocalStack, memory: EmulatorMemory, path: Path, reviews: int, deadline_s: float
) -> dict[str, Any]:
    assert stack.info is not None
    key = f"{stack.info.incoming_prefix}scale/{path.name}"
    memory.reset()
    started = time.perf_counter()
    aws_cli_upload(stack, path, key)
    uploaded_s = time.perf_counter() - started
    preprocess = next(p for p in stack.pollers if p.source.function_id == "PreprocessFunction")
    failed_before = preprocess.stats.failed
    # Wait for the split, or for the first failed invocation (e.g. Sandbox.Timedout): a retry would come only
    # after the ingest queue's visibility timeout.
    job = _wait_split(stack.info.api_url, key, deadline_s, lambda: preprocess.stats.failed > failed_before)
    if job["status"] not in SPLIT and preprocess.stats.errors:
        job["status"] = f"not split: {preprocess.stats.errors[-1].split(':')[0]}"
    peaks = [mb for name, mb in memory.peak_by_process.items() if name.startswith("PreprocessFunction")]
    return {
        "file_bytes": path.stat().st_size,
        "reviews": reviews,
        "upload_seconds": uploaded_s,
        "split_seconds": time.perf_counter() - started - uploaded_s,
        "status": job["status"],
        "total": job["counts"].get("total", 0),
        "preprocess_peak_mb": max(peaks, default=0.0),
        "emulator_peak_mb": memory.peak_mb,
    }


def run(
    sizes: tuple[int, ...] = SIZES, command: str = COMMAND, deadline_s: float = 1_800.0
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        files = {size: Path(scratch) / f"reviews-{size}mb.jsonl" for size in sizes}
        counts = {size: write_jsonl(path, size) for size, path in files.items()}
        with (
            LocalStack(state_dir=Path(scratch), write_state=False) as stack,
            EmulatorMemory(stack) as memory,
        ):
            for poller in stack.pollers:
                if poller.source.function_id == "InferenceFunction":
                    poller.stop()
            preprocess = stack.specs["PreprocessFunction"]
            runs = [measure(stack, memory, files[size], counts[size], deadline_s) for size in sizes]
    return {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": report.machine(),
        "memory_mb": preprocess.memory_mb,
        "timeout_s": preprocess.timeout_seconds,
        "runs": runs,
    }


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `{result['command']}` ({result['date']}; {result['machine']}).",
        "JSONL files synthesized from the committed samples (`samples/imdb_reviews.jsonl` with fresh ids),",
        "each uploaded with `aws s3 cp` (multipart, 8 MB parts) to one emulator, then waited for until the",
        "preprocess function has queued every chunk (job PROCESSING). The inference poller is stopped for",
        "this benchmark: it measures the upload and the split. Resident memory is sampled every 0.2 s from",
        "/proc: the preprocess function's environments (peak of each, the largest shown) and the whole",
        "emulator (its process and every function host, summed). PreprocessFunction: MemorySize",
        f"{result['memory_mb']} MB, Timeout {result['timeout_s']} s, from the template.",
        "",
        "| upload | reviews | aws s3 cp | split (upload -> chunks queued) | job | preprocess peak RSS | "
        "emulator peak RSS |",
        "| ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for run_ in result["runs"]:
        job = f"{run_['status']} ({run_['total']:,} rows)"
        lines.append(
            f"| {run_['file_bytes'] / MB:,.0f} MB | {run_['reviews']:,} | {run_['upload_seconds']:.1f} s | "
            f"{run_['split_seconds']:.1f} s | {job} | **{run_['preprocess_peak_mb']:,.0f} MB** | "
            f"**{run_['emulator_peak_mb']:,.0f} MB** |"
        )
    largest = max(result["runs"], key=lambda run_: run_["file_bytes"])
    size, split, timeout = largest["file_bytes"] / MB, largest["split_seconds"], result["timeout_s"]
    lines += [
        "",
        f"The {size:,.0f} MB upload's split took {split:.0f} s (the function's Timeout is {timeout} s):",
        "a JSON lines upload above PieceBytes (64 MiB) is cut into byte ranges, each read by its own",
        'invocation ("A 1 GB upload in pieces"), so no invocation reads it whole. The emulator holds what',
        "its processes hold, not what the bucket holds: objects above 256 KB are in temporary files",
        "(`local/moto_s3.py`).",
        "",
    ]
    return "\n".join(lines)


def write_section(markdown: str, doc: Path = DOC) -> None:
    report.write_section(SECTION, markdown, doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="upload sizes in MB, comma-separated"
    )
    parser.add_argument("--write", action="store_true", help=f"update the {SECTION!r} section of {DOC.name}")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    command = " ".join(["python -m bench.scale", *(argv if argv is not None else sys.argv[1:])])
    sizes = tuple(int(size) for size in args.sizes.split(","))
    report.publish(SECTION, to_markdown(run(sizes, command)), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
