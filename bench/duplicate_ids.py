"""The duplicate-id check at 1 and 10 million ids: memory and time per id, in a dict and spilled to SQLite.

    python -m bench.duplicate_ids [--write] [--counts 1000000,10000000] [--preprocess-mb 100]

A file read as one piece (gzip, CSV/TSV, JSON documents, archives) checks every id against all the ids its
earlier rows took (logic/taken_ids.py). Each figure comes from a fresh child process, so its resident memory
is its own: *check* takes `count` distinct UUID-shaped ids (36 characters, in random order, as a file's ids
come) the way RowValidator does (`first_row`, then `add`); *resume* is what a continued invocation does
first: it reads the same ids back from id files of SEGMENT_IDS ids each (JSON, as the checkpoints write
them; the bytes are made before the clock starts, as S3 would hand them over) into a new TakenIds. *dict*
holds every id in memory (as before TakenIds existed), *spilled* holds DEFAULT_IN_MEMORY then moves them to
SQLite. Time per id is CPU time less the cost of making the ids; peak RSS is the child's high-water mark
(SQLite's page cache included), its growth what the check added to the interpreter it started in. Last,
the preprocess throughput benchmark (bench/preprocess.py) reads a file of `--preprocess-mb` with its ids in
memory, then with SPILLED_PREPROCESS_IDS in memory, to show what the spill costs the function per MB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from typing import Any

from bench import report
from review_pipeline.logic.taken_ids import CACHE_KIB, DEFAULT_IN_MEMORY, TakenIds

DOC = report.DOC
SECTION = "## Duplicate-id check at 10 million ids"
COMMAND = "python -m bench.duplicate_ids --write"
SEGMENT_IDS = 300_000  # ids in an id file: about what 30 s between checkpoints reads at 10 MB/s
_MODES = {"dict": None, "spilled": DEFAULT_IN_MEMORY}  # None: every id in the dict
SPILLED_PREPROCESS_IDS = 10_000  # what the preprocess benchmark holds in memory for its spilled run
_WIDTH = 110  # the document's line length
_GOLDEN = 0x9E3779B97F4A7C15  # odd: n -> n x this mod 2^128 is a bijection, so the ids are distinct


def review_id(number: int) -> str:
    """The `number`-th id: 36 characters shaped like a UUID, in no particular order."""
    digits = f"{number * _GOLDEN % (1 << 128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _making_seconds(count: int) -> float:
    """CPU seconds to make `count` ids (measured on up to a million, scaled)."""
    sample = min(count, 1_000_000)
    start = time.process_time()
    for number in range(sample):
        review_id(number)
    return (time.process_time() - start) * count / sample


def check(count: int, in_memory: int) -> dict[str, Any]:
    """In this process: take `count` ids as RowValidator does; CPU time, database size and peak RSS."""
    making = _making_seconds(count)
    start_mb = _peak_mb()
    with tempfile.TemporaryDirectory() as folder, TakenIds(in_memory, folder) as taken:
        start = time.process_time()
        for number in range(count):
            identifier = review_id(number)
            if taken.first_row(identifier) is None:
                taken.add(identifier, number + 1)
        cpu = time.process_time() - start - making
        assert len(taken) == count
        database_bytes = taken.database_bytes
    return {"cpu_s": cpu, "database_bytes": database_bytes, "start_mb": start_mb, "peak_mb": _peak_mb()}


def resume(count: int, in_memory: int) -> dict[str, Any]:
    """In this process: read `count` ids back from id files into a new TakenIds, as a continuation does."""
    start_mb = _peak_mb()
    cpu = 0.0
    with tempfile.TemporaryDirectory() as folder, TakenIds(in_memory, folder) as taken:
        for first in range(0, count, SEGMENT_IDS):
            numbers = range(first, min(count, first + SEGMENT_IDS))
            body = json.dumps({review_id(number): number + 1 for number in numbers}).encode()
            start = time.process_time()
            taken.update(json.loads(body))
            cpu += time.process_time() - start
        assert len(taken) == count
        database_bytes = taken.database_bytes
    return {"cpu_s": cpu, "database_bytes": database_bytes, "start_mb": start_mb, "peak_mb": _peak_mb()}


def measure(step: str, count: int, mode: str) -> dict[str, Any]:
    """One figure, from a fresh child process (python -m bench.duplicate_ids --child ...)."""
    in_memory = _MODES[mode] or count + 1
    child = [sys.executable, "-m", "bench.duplicate_ids", "--child", step, str(count), str(in_memory)]
    wall = time.perf_counter()
    done = subprocess.run(child, capture_output=True, text=True, check=True, cwd=report.REPO)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"step": step, "count": count, "mode": mode, "wall_s": time.perf_counter() - wall, **figures}


def preprocess_throughput(size_mb: int) -> list[dict[str, Any]]:
    """The preprocess benchmark on a file of `size_mb`: its ids in memory, then spilled to SQLite."""
    from bench import preprocess  # here: the children measured above start without its imports

    figures = []
    for mode, in_memory in (("dict", None), ("spilled", SPILLED_PREPROCESS_IDS)):
        print(f"  preprocess {size_mb} MB, ids {mode}...", flush=True)
        figures.append({"mode": mode, **preprocess.measure(size_mb, profile=False, ids_in_memory=in_memory)})
    return figures


def run(counts: list[int] | None = None, command: str = COMMAND, preprocess_mb: int = 100) -> dict[str, Any]:
    counts = counts or [1_000_000, 10_000_000]
    runs = []
    for count in counts:
        for step in ("check", "resume"):
            for mode in _MODES:
                print(f"  {step} {count:,} ids, {mode}...", flush=True)
                runs.append(measure(step, count, mode))
    return {
        "command": command,
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "runs": runs,
        "preprocess": preprocess_throughput(preprocess_mb) if preprocess_mb else [],
    }


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `{result['command']}` ({result['date']}; {result['machine']}; a machine shared with other",
        "work, run with `nice`: CPU figures hold, wall times do not).",
        "A file read as one piece checks each row's id against every id taken before it",
        "(`logic/taken_ids.py`). *dict*: every id in memory; *spilled*:",
        f"{DEFAULT_IN_MEMORY:,} in a dict, then SQLite in /tmp (page cache {CACHE_KIB // 1024} MiB).",
        "*check*: distinct 36-character ids taken as `RowValidator` does; *resume*: the same ids read back",
        f"from id files of {SEGMENT_IDS:,} (what a continued invocation does before its first row).",
        "Each line is a fresh process; peak RSS includes the interpreter it started with.",
        "",
        "| ids | step | held | µs per id (CPU) | peak RSS | RSS growth | /tmp | bytes per id on disk |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run_ in result["runs"]:
        on_disk = run_.get("database_bytes", 0)
        lines.append(
            f"| {run_['count']:,} | {run_['step']} | {run_['mode']} | "
            f"{run_['cpu_s'] / run_['count'] * 1e6:.1f} | {run_['peak_mb']:,.0f} MB | "
            f"{run_['peak_mb'] - run_['start_mb']:,.0f} MB | "
            + (f"{on_disk / 1e6:,.0f} MB | {on_disk / run_['count']:.0f} |" if on_disk else "- | - |")
        )
    lines += ["", *_summary(result["runs"]), *_throughput_lines(result.get("preprocess", [])), ""]
    return "\n".join(lines)


def _throughput_lines(figures: list[dict[str, Any]]) -> list[str]:
    if not figures:
        return []
    lines = [
        "",
        *textwrap.wrap(
            "The preprocess function's speed when its check spills (`python -m bench.preprocess --sizes "
            f"{figures[0]['size_mb']:.0f} [--ids-in-memory {SPILLED_PREPROCESS_IDS}]`, run here, one core):",
            _WIDTH,
            break_on_hyphens=False,
            break_long_words=False,
        ),
        "",
        "| file | reviews | ids held in memory | MB/s (CPU) | CPU s |",
        "| ---: | ---: | --- | ---: | ---: |",
    ]
    for figure in figures:
        held = "all" if figure["mode"] == "dict" else f"{SPILLED_PREPROCESS_IDS:,}, the rest in SQLite"
        lines.append(
            f"| {figure['size_mb']:,.0f} MB | {figure['reviews']:,} | {held} | "
            f"**{figure['mb_per_cpu_s']:.1f}** | {figure['cpu_s']:.1f} |"
        )
    return lines


def _summary(runs: list[dict[str, Any]]) -> list[str]:
    """What the largest count says, in a sentence (when it was measured both ways)."""
    count = max((run_["count"] for run_ in runs), default=0)
    by = {(run_["step"], run_["mode"]): run_ for run_ in runs if run_["count"] == count}
    if len(by) < len(_MODES) * 2:
        return []
    check_dict, check_spilled, resumed = by["check", "dict"], by["check", "spilled"], by["resume", "spilled"]
    return textwrap.wrap(
        f"At {count:,} ids the check peaks at {check_spilled['peak_mb']:,.0f} MB spilled against "
        f"{check_dict['peak_mb']:,.0f} MB in a dict (the preprocess function has 1,024 MB), for "
        f"{check_spilled['cpu_s'] / count * 1e6:.1f} µs of CPU an id against "
        f"{check_dict['cpu_s'] / count * 1e6:.1f}; a continued invocation reads them back in "
        f"{resumed['cpu_s']:,.0f} s of CPU ({resumed['peak_mb']:,.0f} MB at most, an id file at a time).",
        _WIDTH,
    )


def write_section(markdown: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, keeping the others."""
    report.write_section(SECTION, markdown)


def main(argv: list[str] | None = None) -> int:
    description = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.duplicate_ids", description=description)
    parser.add_argument("--counts", default="1000000,10000000", help="id counts, comma-separated")
    parser.add_argument("--preprocess-mb", type=int, default=100, help="preprocess file size (0: none)")
    parser.add_argument("--write", action="store_true", help=f"update the {SECTION!r} section of {DOC.name}")
    parser.add_argument("--child", nargs=3, metavar=("STEP", "COUNT", "IN_MEMORY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, count, in_memory = args.child
        print(json.dumps({"check": check, "resume": resume}[step](int(count), int(in_memory))))
        return 0
    command = " ".join(["python -m bench.duplicate_ids", *(argv or sys.argv[1:])])
    counts = [int(count) for count in args.counts.split(",")]
    report.publish(SECTION, to_markdown(run(counts, command, args.preprocess_mb)), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
