"""Cold start: what importing each function's handler module costs, in fresh Python processes.

    python -m bench --only cold_start          # updates the "Cold start" section of docs/benchmarks.md
    python -m bench.cold_start [--runs 5]      # prints it

Each run is a new interpreter (as a new execution environment is) with the function's code directory as its
working directory and the layer on PYTHONPATH, as Lambda lays them out; it times `import app` alone, then
(same process) the first `service()` call, which builds the service and imports what the handler deferred.
The figure is the median of the runs. One more process per function runs `python -X importtime` and the
section lists the modules that cost most, cumulatively, below `app`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report

REPO = report.REPO
DOC = report.DOC
SECTION = "## Cold start (handler import)"
FUNCTIONS = ("preprocess", "inference", "query_api", "export")
BUDGET_MS = 300.0
TOP_IMPORTS = 5
# The template's environment, enough for load_settings(); with LAMBDA_TASK_ROOT set Powertools traces, as on
# Lambda, so the first service() includes loading X-Ray's SDK and patching the libraries it traces.
_ENV = {
    "TABLE_NAME": "reviews-bench",
    "BUCKET_NAME": "review-sentiment-bench",
    "INFERENCE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
    "ENDPOINT_NAME": "sentiment-bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "review-sentiment",
    "POWERTOOLS_METRICS_NAMESPACE": "ReviewSentimentPipeline",
    "AWS_LAMBDA_FUNCTION_NAME": "cold-start-bench",
}
_PROBE = """
import json, time
start = time.perf_counter()
import app
imported = time.perf_counter()
app.service()
built = time.perf_counter()
print(json.dumps({"import_ms": (imported - start) * 1000, "service_ms": (built - imported) * 1000}))
"""


def _environment(function: str) -> dict[str, str]:
    """What Lambda sets that Powertools reads (LAMBDA_TASK_ROOT: tracing on); the layer on the path."""
    layer = str(REPO / "layers" / "review_pipeline")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    return {**inherited, **_ENV, "PYTHONPATH": layer, "LAMBDA_TASK_ROOT": str(REPO / "functions" / function)}


def _probe(function: str) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO / "functions" / function,
        env=_environment(function),
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def top_imports(function: str, count: int = TOP_IMPORTS) -> list[tuple[str, float]]:
    """app's direct imports costing most (with what they import), from `python -X importtime`."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=REPO / "functions" / function,
        env=_environment(function),
        capture_output=True,
        text=True,
        check=True,
    )
    # importtime prints a module after what it imported: app's own imports (depth 1) are the lines between
    # the last top-level module before it and app itself.
    lines = [line.removeprefix("import time:") for line in completed.stderr.splitlines()[1:]]
    rows = [(name[1:], int(cumulative) / 1000) for _, cumulative, name in (line.split("|") for line in lines)]
    app_at = max(index for index, (name, _) in enumerate(rows) if name == "app")
    start = max(
        (index for index, (name, _) in enumerate(rows[:app_at]) if not name.startswith(" ")), default=-1
    )
    direct = [(name.strip(), ms) for name, ms in rows[start + 1 : app_at] if not name.startswith("   ")]
    return sorted(direct, key=lambda item: -item[1])[:count]


def run(runs: int = 5, command: str = "python -m bench --only cold_start") -> dict[str, Any]:
    """Median import and service-build times per function over `runs` fresh processes, and top imports."""
    functions = {}
    for function in FUNCTIONS:
        samples = [_probe(function) for _ in range(runs)]
        functions[function] = {
            "import_ms": statistics.median(sample["import_ms"] for sample in samples),
            "import_max_ms": max(sample["import_ms"] for sample in samples),
            "service_ms": statistics.median(sample["service_ms"] for sample in samples),
            "top": top_imports(function),
        }
    return {
        "command": command,
        "runs": runs,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": report.machine(),
        "load": os.getloadavg()[0],
        "functions": functions,
    }


def to_markdown(result: dict[str, Any]) -> str:
    rows = []
    for function, figures in result["functions"].items():
        verdict = "yes" if figures["import_ms"] <= BUDGET_MS else "**no**"
        top = ", ".join(f"`{name}` {ms:.0f}" for name, ms in figures["top"])
        rows.append(
            f"| {function} | **{figures['import_ms']:.0f} ms** (max {figures['import_max_ms']:.0f}) "
            f"| {verdict} | {figures['service_ms']:.0f} ms | {top} |"
        )
    lines = [
        SECTION,
        "",
        f"Command: `{result['command']}` ({result['date']}; {result['machine']}; load average "
        f"{result['load']:.1f} when it ran: the box is shared, so figures move with the other work on it).",
        f"Median of {result['runs']} fresh processes per function, each started in `functions/<name>` with",
        "the layer on PYTHONPATH as Lambda lays them out. *import* is `import app` alone (budget: 300 ms);",
        "*first service()* is the first call of the handler's cached getter in the same process: it",
        "imports what the handler module defers (X-Ray's SDK and its patching, boto3, pydantic models, the",
        "service's modules) and builds the service (clients, no network call); tracing is on, as on",
        "Lambda. Top imports: cumulative ms of the handler module's direct imports, from",
        "`python -X importtime -c 'import app'` (one more process).",
        "",
        "| function | import app | <= 300 ms | first service() | top imports (ms) |",
        "| --- | ---: | :---: | ---: | --- |",
        *rows,
        "",
        "At import only Tracer, Metrics and Logger are built (X-Ray's SDK is loaded by the first",
        "`tracer.patch()`, in the getter, through `review_pipeline.tracing.LazyXRayProvider`); the service",
        "and its clients are built on the first event. That deferred cost (*first service()*) is still paid",
        "once per execution environment, on its first event: it moved out of the import, it did not vanish.",
        "",
    ]
    return "\n".join(lines)


def write_section(markdown: str, doc: Path = DOC) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, keeping the others."""
    report.write_section(SECTION, markdown, doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"update the {SECTION!r} section of {DOC.name}")
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench.cold_start", *(argv if argv is not None else sys.argv[1:])])
    markdown = to_markdown(run(args.runs, command=command))
    print(markdown)
    if args.write:
        write_section(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
