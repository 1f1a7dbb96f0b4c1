"""One upload, one trace, on the emulator: a file put with an X-Amzn-Trace-Id header becomes a job whose
trace_id is that trace, and the work of its chunks (inference) and of its export logs under it, each
invocation in a trace of its own besides, as Lambda's are (X-Ray links them to the messages' trace)."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from typing import Any

import pytest

from local.stack import LocalStack
from local.template import PROJECT_ROOT
from tests.e2e.conftest import Api, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]  # reads the emulator's function logs


def function_log_lines(stack: LocalStack, function_id: str) -> list[dict[str, Any]]:
    """The JSON lines (Powertools' log lines, EMF records) a function of the emulator has written."""
    log = stack.state_dir / "logs" / f"{function_id}.log"
    parsed = []
    lines = log.read_text(encoding="utf-8").split("\n") if log.exists() else []
    for line in (line for line in lines if line.startswith("{")):
        with contextlib.suppress(json.JSONDecodeError):  # a line still being written is read next time
            parsed.append(json.loads(line))
    return parsed


def lines_of_job(stack: LocalStack, function_id: str, job_id: str) -> list[dict[str, Any]]:
    return [line for line in function_log_lines(stack, function_id) if line.get("job_id") == job_id]


def three_copies_of_the_sample() -> bytes:
    """600 reviews (samples/imdb_reviews.jsonl three times, ids made unique): more than one chunk."""
    rows = [
        json.loads(line)
        for line in (PROJECT_ROOT / "samples" / "imdb_reviews.jsonl").read_bytes().splitlines()
    ]
    copies = [{**row, "id": f"{row['id']}-{copy}"} for copy in range(3) for row in rows]
    return "".join(json.dumps(row) + "\n" for row in copies).encode()


def test_an_uploads_trace_header_follows_its_job_through_both_queues_and_every_function(
    stack: LocalStack, api: Api
) -> None:
    assert stack.info is not None
    # Given a file of 600 reviews (two chunks) put with an X-Ray trace header, as an instrumented uploader
    trace_id = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    s3 = stack.client("s3")
    s3.meta.events.register(
        "before-call.s3.PutObject",
        lambda params, **_: params["headers"].__setitem__("X-Amzn-Trace-Id", f"Root={trace_id};Sampled=1"),
    )
    key = "incoming/e2e/traced/imdb_reviews.jsonl"
    s3.put_object(Bucket=stack.info.bucket, Key=key, Body=three_copies_of_the_sample())

    # When the pipeline has finished its job and exported it
    job = api.final_job(key)
    eventually(lambda: api.http.get(f"{api.base_url}/jobs/{job['job_id']}/export", timeout=30).ok)
    export_lines = eventually(lambda: lines_of_job(stack, "ExportFunction", job["job_id"]))

    # Then the job's trace is the upload's
    assert job["status"] == "COMPLETED"
    assert job["trace_id"] == trace_id
    # And the preprocess, inference (every chunk) and export functions logged its work under that trace
    preprocess_lines = lines_of_job(stack, "PreprocessFunction", job["job_id"])
    inference_lines = lines_of_job(stack, "InferenceFunction", job["job_id"])
    for lines in (preprocess_lines, inference_lines, export_lines):
        assert lines
        assert {line.get("trace_id") for line in lines} == {trace_id}
    [split] = [line for line in preprocess_lines if line.get("message") == "File split into chunks"]
    chunks = {line["chunk_index"] for line in inference_lines if line.get("message") == "Chunk processed"}
    assert chunks == set(range(split["chunks"])) == {0, 1}  # every chunk message carried the trace
    # And each invocation ran in a trace of its own (as Lambda's do), never the upload's
    invocation_traces = {
        line["xray_trace_id"] for line in [*preprocess_lines, *inference_lines, *export_lines]
    }
    assert trace_id not in invocation_traces
    assert None not in invocation_traces
