"""Uploads read in pieces on the emulator: cut into byte ranges read in parallel, or resumed after a timeout.

An emulator of its own, on the real template with three changes a deployment could make: PieceBytes at its
minimum (64 KiB, so a file of a few hundred KB is cut into several pieces), IngestMaxReceiveCount 10, and a
PreprocessFunction whose Timeout is 8 s, which stops 6.5 s before it (PIECE_TIME_MARGIN_MS) and checkpoints
every 0.2 s, so that a file of about 120 MB takes several invocations: each stops near its Timeout and is
continued from its checkpoint, or, if the emulator kills it first (as Lambda would), its redelivery resumes
from the last checkpoint (tests/unit/preprocess/test_pieces.py kills one after a checkpoint on purpose).
Counts must come out exact: total = classified + rejected, every row once, in file order.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from local.template import PROJECT_ROOT, load_template
from review_pipeline.dal.pieces import PIECE_STRIDE
from tests.e2e.conftest import E2E_VISIBILITY_TIMEOUT, Api, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]
SAMPLE = PROJECT_ROOT / "samples" / "imdb_reviews.jsonl"
# Above the 1-3 s a cold environment takes to build the service (counted in the Timeout, as on Lambda),
# below what reading the slow file takes.
PREPROCESS_TIMEOUT_SECONDS = 8


def sample_lines(copies: int, repeat_text: int = 1) -> Iterator[bytes]:
    """The committed sample's reviews, `copies` times over, each copy with its own ids (and its text
    `repeat_text` times over, for long reviews)."""
    reviews = [json.loads(line) for line in SAMPLE.read_bytes().split(b"\n") if line]
    for copy_number in range(copies):
        for review in reviews:
            text = " ".join([review["text"]] * repeat_text)
            yield json.dumps({**review, "id": f"{review['id']}-{copy_number}", "text": text}).encode()


def piece_template() -> dict[str, Any]:
    template = copy.deepcopy(load_template())
    preprocess = template["Resources"]["PreprocessFunction"]["Properties"]
    preprocess["Timeout"] = PREPROCESS_TIMEOUT_SECONDS
    preprocess["Environment"]["Variables"].update(
        # At most 1.5 s of reading an invocation: several invocations even on an idle machine (a piece
        # always reads at least one row before it looks at the clock, so each invocation makes progress).
        # 100 ids in memory: the slow file's duplicate-id check spills to SQLite in every invocation, and
        # is rebuilt from the id files by each continuation and redelivery (logic/taken_ids.py).
        {"PIECE_TIME_MARGIN_MS": "6500", "CHECKPOINT_SECONDS": "0.2", "IDS_IN_MEMORY": "100"}
    )
    return template


@pytest.fixture(scope="module")
def piece_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        template=piece_template(),
        reset_state=False,  # the session's emulator runs in this process too: keep its resources
        parameter_overrides={"PieceBytes": "65536", "IngestMaxReceiveCount": "10"},
        visibility_timeout=E2E_VISIBILITY_TIMEOUT,
        state_dir=tmp_path_factory.mktemp("pieces-emulator"),
        stack_name="review-sentiment-pieces",
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def piece_api(piece_stack: LocalStack) -> Api:
    assert piece_stack.info is not None
    return Api(piece_stack.info.api_url, poll_timeout=420)


def put(stack: LocalStack, key: str, body: bytes) -> str:
    assert stack.info is not None
    stack.client("s3").put_object(Bucket=stack.info.bucket, Key=key, Body=body)
    return key


def assert_exact(api: Api, job: dict[str, Any], rows: int, rejected: int) -> list[dict[str, Any]]:
    """The job's counts and its export: every row once, in file order; the export's rows."""
    counts = job["counts"]
    assert job["status"] == ("COMPLETED_WITH_ERRORS" if rejected else "COMPLETED"), job
    assert (counts["total"], counts["rejected"]) == (rows, rejected)
    assert counts["total"] == counts["classified"] + counts["rejected"]
    assert counts["positive"] + counts["negative"] == counts["classified"]
    export_route = f"{api.base_url}/jobs/{job['job_id']}/export"

    def export_link() -> requests.Response | None:
        answer = api.http.get(export_route, params={"format": "csv"}, timeout=30)
        return answer if answer.status_code == 200 else None

    answer = eventually(export_link, timeout=120)  # the export function writes it just after the job ends
    link = answer.json()
    export = list(csv.DictReader(io.StringIO(requests.get(link["url"], timeout=30).text)))
    numbers = [int(row["row"]) for row in export]
    assert len(export) == rows
    assert numbers == sorted(set(numbers))
    return export


def test_a_file_cut_into_pieces_completes_with_exact_counts(piece_stack: LocalStack, piece_api: Api) -> None:
    # Given a JSON lines file of 600 reviews (about 10 pieces of 64 KiB) with two broken lines
    lines = list(sample_lines(3))
    lines[100] = b'{"text": "a broken line'
    lines[450] = b"not json at all"
    key = put(piece_stack, "incoming/pieces/many.jsonl", b"\n".join(lines) + b"\n")

    # When the pipeline has finished it
    job = piece_api.final_job(key)

    # Then every row is a result or a rejected row, once, in file order across pieces
    export = assert_exact(piece_api, job, rows=600, rejected=2)
    pieces = {int(row["row"]) // PIECE_STRIDE for row in export}
    assert len(pieces) >= 8
    ids = [row["id"] for row in export if row["id"]]
    assert ids == [json.loads(line)["id"] for line in lines if line.startswith(b'{"id"')]
    rejected, _ = piece_api.all_pages(f"/jobs/{job['job_id']}/rejected", limit=10)
    assert all(item["reason"].startswith("piece ") or item["row"] < PIECE_STRIDE for item in rejected)


def test_a_piece_that_outlasts_its_timeout_resumes_from_its_checkpoint_with_exact_counts(
    piece_stack: LocalStack, piece_api: Api
) -> None:
    # Given a gzip JSON lines file (one piece: gzip cannot be cut) of 3,000 long reviews (about 120 MB, each
    # classified on its first 20,000 characters) that takes longer than the 8 s Timeout to read, and a last
    # row that repeats the first one's id (taken by another invocation, its id in SQLite by then)
    lines = list(sample_lines(15, repeat_text=30))
    body = b"\n".join([*lines, lines[0]])
    preprocess = next(
        poller
        for poller in piece_stack.pollers
        if getattr(poller, "source", None) and poller.source.function_id == "PreprocessFunction"
    )
    invocations_before = preprocess.stats.batches
    key = put(piece_stack, "incoming/pieces/slow.jsonl.gz", gzip.compress(body, compresslevel=1))

    # When the pipeline has finished it
    job = piece_api.final_job(key)

    # Then reading it took several invocations (continued near the Timeout, or killed by it and redelivered)
    assert preprocess.stats.batches - invocations_before >= 2
    # And the job still ends with every row exactly once, in file order, the repeated id rejected
    export = assert_exact(piece_api, job, rows=3001, rejected=1)
    assert [int(row["row"]) for row in export] == list(range(1, 3002))
    rejected, _ = piece_api.all_pages(f"/jobs/{job['job_id']}/rejected", limit=10)
    first_id = json.loads(lines[0])["id"]
    assert [(row["row"], row["reason"]) for row in rejected] == [
        (3001, f"duplicate id '{first_id}' (first seen on row 1)")
    ]
