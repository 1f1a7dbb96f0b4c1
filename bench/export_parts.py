"""A big job's export on the emulator, written in parts: one ExportFunction invocation a part, each timed.

    python -m bench.export_parts [--write] [--rows 1000000] [--part-rows 300000]

A finished job of `rows` rows (1% of them rejected rows) is put in the emulator's table: results built by the
pipeline's own `result_item` from ReviewResults shaped like the inference function's (an IMDb-style id, a
score, the shipped model's version), written straight into moto's backend in the emulator's process (through
the API that would take longer than the export itself). Its export is then asked for on the export queue, as
the function that closes a job does. The emulator runs the real template with ExportPartRows=`part_rows`:
each part is one invocation of ExportFunction, queued by the one before; its REPORT line gives its duration
and Max Memory Used, against the template's Timeout and MemorySize. The two files are read back at the end:
rows, parts (gzip members), bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto.dynamodb.models import dynamodb_backends

from bench import report
from local.stack import FAKE_CREDENTIALS, LocalStack, stop_on_sigterm
from review_pipeline.dal.batch_writes import attribute_value
from review_pipeline.dal.exports import export_key
from review_pipeline.dal.jobs import ChunkCounts, JobStore, new_job
from review_pipeline.dal.results import ResultStore, result_item
from review_pipeline.models import RejectedRow, ReviewResult

DOC = report.DOC
SECTION = "## A big job's export in parts (emulator)"
COMMAND = "python -m bench.export_parts --write"
JOB_ID = "bench-export-parts"
REJECTED_EVERY = 100  # every 100th row is a rejected row
MODEL_VERSION = "nblr-tfidf-hash-1-3-vader-20261130-3d7d5298"


def _backend_table(table_name: str) -> Any:
    """The emulator's moto table (its process holds moto's backends)."""
    for regions in dynamodb_backends.values():
        for backend in regions.values():
            if table_name in backend.tables:
                return backend
    raise LookupError(f"no moto table {table_name}")


def store_finished_job(stack: LocalStack, rows: int) -> tuple[int, int]:
    """A COMPLETED_WITH_ERRORS job of `rows` rows; (classified, rejected)."""
    assert stack.info is not None
    credentials = {name.lower(): value for name, value in FAKE_CREDENTIALS.items()}
    dynamodb = boto3.session.Session().resource(  # type: ignore[call-overload]
        "dynamodb", endpoint_url=stack.moto_url, region_name=stack.region, **credentials
    )
    table = dynamodb.Table(stack.info.table_name)
    rejected = [row for row in range(1, rows + 1) if row % REJECTED_EVERY == 0]
    classified = rows - len(rejected)
    jobs = JobStore(table)
    jobs.create(new_job(JOB_ID, stack.info.bucket, "incoming/bench/big.jsonl", "v1"))
    jobs.mark_processing(JOB_ID, total=rows, rejected=len(rejected), chunks_total=1)
    ResultStore(table).put_rejected(
        JOB_ID, (RejectedRow(row=row, reason=f"row {row}: text is empty") for row in rejected)
    )
    backend, rng, positive = _backend_table(stack.info.table_name), random.Random(7), 0
    for row in range(1, rows + 1):
        if row % REJECTED_EVERY == 0:
            continue
        score = round(rng.random(), 6)
        positive += score >= 0.5
        result = ReviewResult(
            job_id=JOB_ID, review_id=f"{rng.randrange(12_500)}_{rng.randrange(1, 11)}", row=row,
            label="positive" if score >= 0.5 else "negative", score=score, uncertain=0.24 <= score <= 0.76,
            model_version=MODEL_VERSION, text_excerpt="An excerpt of the review as the pipeline keeps it.",
        )  # fmt: skip
        item = {name: attribute_value(value) for name, value in result_item(result).items()}
        backend.put_item(stack.info.table_name, item)
    counts = ChunkCounts(positive=positive, negative=classified - positive, model_version=MODEL_VERSION)
    jobs.record_chunk(JOB_ID, 0, counts)
    if jobs.finish_if_done(JOB_ID) is None:
        raise RuntimeError("the benchmark's job did not close")
    return classified, len(rejected)


def wait_for_export(stack: LocalStack, deadline_s: float) -> float:
    """Seconds until the CSV (completed last) exists."""
    assert stack.info is not None
    s3, started = stack.client("s3"), time.monotonic()
    while time.monotonic() - started < deadline_s:
        listed = s3.list_objects_v2(Bucket=stack.info.bucket, Prefix=export_key(JOB_ID, "csv"))
        if listed.get("KeyCount"):
            return time.monotonic() - started
        time.sleep(1)
    raise TimeoutError(f"the export of {JOB_ID} was not completed within {deadline_s:.0f} s")


def invocations(log: Path) -> list[dict[str, Any]]:
    """Each ExportFunction invocation in order: its outcome ("Export processed") and its REPORT fields."""
    outcomes: dict[str, dict[str, Any]] = {}
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("message") == "Export processed":
                outcomes[record["function_request_id"]] = record
        elif line.startswith("REPORT RequestId: "):
            fields = dict(field.split(": ", 1) for field in line.split("\t"))
            request_id = fields["REPORT RequestId"]
            if request_id in outcomes:
                found.append(
                    {
                        **{k: outcomes[request_id][k] for k in ("status", "rows", "detail")},
                        "seconds": float(fields["Duration"].removesuffix(" ms")) / 1000,
                        "max_memory_mb": int(fields["Max Memory Used"].removesuffix(" MB")),
                        "memory_size_mb": int(fields["Memory Size"].removesuffix(" MB")),
                    }
                )
    return found


def gzip_members(data: bytes) -> tuple[int, bytes]:
    """How many gzip members `data` holds, and their content joined."""
    members, out = 0, []
    while data:
        stream = zlib.decompressobj(wbits=31)
        out.append(stream.decompress(data))
        data, members = stream.unused_data, members + 1
    return members, b"".join(out)


def read_back(stack: LocalStack) -> dict[str, Any]:
    assert stack.info is not None
    s3 = stack.client("s3")
    files: dict[str, Any] = {}
    for export_format in ("csv", "jsonl"):
        response = s3.get_object(Bucket=stack.info.bucket, Key=export_key(JOB_ID, export_format))
        body = response["Body"].read()
        members, text = gzip_members(body) if export_format == "jsonl" else (0, body)
        lines = text.count(b"\n")
        files[export_format] = {
            "bytes": len(body), "lines": lines, "gzip_members": members,
            "rows_metadata": response["Metadata"]["rows"],
        }  # fmt: skip
    csv_rows = files["csv"]["lines"] - 1  # the header
    jsonl_rows = files["jsonl"]["lines"]
    return {**files, "csv_rows": csv_rows, "jsonl_rows": jsonl_rows}


ROWS, PART_ROWS = 1_000_000, 300_000


def run(rows: int = ROWS, part_rows: int = PART_ROWS, command: str = COMMAND) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        overrides = {"ExportPartRows": str(part_rows)}
        with LocalStack(state_dir=Path(scratch), write_state=False, parameter_overrides=overrides) as stack:
            assert stack.info is not None
            started = time.monotonic()
            classified, rejected = store_finished_job(stack, rows)
            seeding_s = time.monotonic() - started
            stack.client("sqs").send_message(
                QueueUrl=stack.queue_urls["ExportQueue"], MessageBody=json.dumps({"job_id": JOB_ID})
            )
            export_s = wait_for_export(stack, deadline_s=3_600)
            files = read_back(stack)
            parts = invocations(Path(scratch) / "logs" / "ExportFunction.log")
            spec = stack.pools["ExportFunction"].spec
    return {
        "command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": report.machine(),
        "rows": rows, "classified": classified, "rejected": rejected, "part_rows": part_rows,
        "seeding_seconds": seeding_s, "export_seconds": export_s, "files": files, "invocations": parts,
        "timeout_s": spec.timeout_seconds, "memory_mb": spec.memory_mb,
    }  # fmt: skip


def to_markdown(result: dict[str, Any]) -> str:
    files, parts, rows = result["files"], result["invocations"], result["rows"]
    csv_file, jsonl_file = files["csv"], files["jsonl"]
    lines = [
        SECTION,
        "",
        f"Command: `{result['command']}` ({result['date']}; {result['machine']}).",
        f"A finished job of {rows:,} rows ({result['classified']:,} results, {result['rejected']:,} rejected",
        "rows) stored in the emulator's table, its export asked for on the export queue; the emulator runs",
        f"the template with ExportPartRows={result['part_rows']:,} (default 1,000,000), so a part holds that",
        "many rows, or more until its gzip JSON lines part reaches S3's 5 MiB minimum. Each line is one",
        f"ExportFunction invocation, from its REPORT line (Timeout {result['timeout_s']} s, MemorySize"
        f" {result['memory_mb']} MB); *rows*: written by it and the invocations before it.",
        "",
        "| invocation | outcome | rows | duration | Max Memory Used |",
        "| ---: | --- | ---: | ---: | ---: |",
        *(
            f"| {number} | {part['status']} ({part['detail']}) | {part['rows']:,} | {part['seconds']:.1f} s "
            f"| {part['max_memory_mb']} MB |"
            for number, part in enumerate(parts, 1)
        ),
        "",
        f"From the request on the queue to the CSV completed: {result['export_seconds']:.0f} s"
        f" ({rows / result['export_seconds']:,.0f} rows/s; storing the job took"
        f" {result['seeding_seconds']:.0f} s before).",
        f"Read back: `results.csv` {csv_file['bytes'] / 1e6:,.1f} MB, {files['csv_rows']:,} rows under one"
        f" header; `results.jsonl.gz` {jsonl_file['bytes'] / 1e6:,.1f} MB in {jsonl_file['gzip_members']}"
        f" gzip members, {files['jsonl_rows']:,} rows; both say rows={csv_file['rows_metadata']} in their"
        " metadata.",
        "These are local figures (moto answers the queries and keeps the parts in one Python process); on",
        "Lambda a part's time is what its DynamoDB queries and the S3 part upload take.",
        "",
    ]
    return "\n".join(lines)


def write_section(markdown: str, doc: Path = DOC) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, keeping the others."""
    report.write_section(SECTION, markdown, doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.export_parts", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--part-rows", type=int, default=PART_ROWS)
    parser.add_argument("--write", action="store_true", help=f"update the {SECTION!r} section of {DOC.name}")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    command = " ".join(["python -m bench.export_parts", *(argv if argv is not None else sys.argv[1:])])
    report.publish(SECTION, to_markdown(run(args.rows, args.part_rows, command)), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
