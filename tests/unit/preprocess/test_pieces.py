"""An upload read in pieces and continued from checkpoints, with real stores (moto): counts stay exact.

The queues are recorders (what SQS does with the messages is for the e2e suite: tests/e2e/test_pieces.py);
the piece messages the plan sends are handed back to the splitter in any order, twice, or after a failure.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics

from local.template import PROJECT_ROOT
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.pieces import PIECE_STRIDE
from review_pipeline.dal.queue import QueueSendError
from review_pipeline.dal.results import ResultStore
from review_pipeline.logic import pieces as pieces_module
from review_pipeline.logic.dead_letters import jobs_named_by
from review_pipeline.logic.preprocess import FileOutcome, UploadSplitter
from review_pipeline.logic.taken_ids import DEFAULT_IN_MEMORY, TakenIds
from review_pipeline.logic.uploads import UploadedObject, job_id_for
from review_pipeline.models import ChunkMessage, Job, JobStatus, PieceMessage, ReviewRecord
from review_pipeline.settings import Settings
from review_pipeline.sqs_records import S3Notification

ROWS = 120
BAD_ROWS = {7, 50, 51, 119}  # not JSON: rejected with their reason
DUPLICATE_ROW = 30  # repeats row 29's id


@dataclass
class Recorder:
    """A queue: `send` records the messages, or fails while `failures` is above zero."""

    sent: list[Any] = field(default_factory=list)
    failures: int = 0

    def send(self, messages: Sequence[Any]) -> int:
        if self.failures:
            self.failures -= 1
            raise QueueSendError("1 of 1 message(s) could not be queued (ServiceUnavailable)")
        self.sent.extend(messages)
        return len(messages)


@dataclass
class Clock:
    """A Lambda context whose remaining time runs out at its `looks`-th look (None: never)."""

    looks: int | None = None

    def get_remaining_time_in_millis(self) -> int:
        if self.looks is None:
            return 900_000
        self.looks -= 1
        return 900_000 if self.looks > 0 else 1_000


@pytest.fixture
def chunk_queue() -> Recorder:
    return Recorder()


@pytest.fixture
def piece_queue() -> Recorder:
    return Recorder()


@pytest.fixture
def splitter(
    settings: Settings, metrics: Metrics, chunk_queue: Recorder, piece_queue: Recorder
) -> UploadSplitter:
    small = settings.model_copy(update={"chunk_size": 8, "piece_bytes": 2048, "checkpoint_seconds": 3600})
    built = UploadSplitter.from_settings(small, metrics)
    return replace(
        built,
        queue=chunk_queue,
        piece_queue=piece_queue,
        idempotent_process_upload=None,
        idempotent_process_piece=None,
    )


def jsonl_lines() -> list[bytes]:
    lines = []
    for row in range(1, ROWS + 1):
        review_id = f"r{row - 1}" if row == DUPLICATE_ROW else f"r{row}"
        text = f"Review {row}: " + ("a fine film. " * (row % 5 + 1))
        line = json.dumps({"id": review_id, "text": text, "rating": row % 10 + 1})
        lines.append(b'{"text": broken' if row in BAD_ROWS else line.encode())
    return lines


def put(bucket: str, key: str, body: bytes) -> UploadedObject:
    response = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return UploadedObject(bucket=bucket, key=key, etag=response["ETag"].strip('"'), sequencer="0001")


def job_of(table: Any, job_id: str) -> Job:
    job = JobStore(table).get(job_id)
    assert job is not None
    return job


def chunk_records(chunk_queue: Recorder) -> list[ReviewRecord]:
    s3 = boto3.client("s3")
    records = []
    for message in sorted({m.chunk_index: m for m in chunk_queue.sent}.values(), key=lambda m: m.chunk_index):
        assert isinstance(message, ChunkMessage)
        body = s3.get_object(Bucket=message.bucket, Key=message.key)["Body"].read().decode()
        chunk = [ReviewRecord.model_validate_json(line) for line in body.splitlines()]
        assert len(chunk) == message.review_count
        records.extend(chunk)
    return records


def expected_counts() -> tuple[int, int]:
    """(rows, rejected) of jsonl_lines(): every row, and the bad rows plus the duplicate id."""
    return ROWS, len(BAD_ROWS) + 1


def assert_exact(job: Job, records: list[ReviewRecord]) -> None:
    rows, rejected = expected_counts()
    assert (job.status, job.counts.total, job.counts.rejected) == (JobStatus.PROCESSING, rows, rejected)
    assert len(records) == rows - rejected == sum(1 for _ in {r.row for r in records})
    assert [r.row for r in records] == sorted(r.row for r in records)  # file order


def test_given_a_big_jsonl_when_planned_then_pieces_read_in_any_order_give_exact_counts(
    splitter: UploadSplitter, chunk_queue: Recorder, piece_queue: Recorder, bucket: str, table: Any
) -> None:
    # Given a JSON lines file several times the piece size
    uploaded = put(bucket, "incoming/big.jsonl", b"\n".join(jsonl_lines()) + b"\n")

    # When its event is handled, then each piece message (last first)
    planned = splitter.process_upload(uploaded)
    pieces = [message for message in piece_queue.sent if isinstance(message, PieceMessage)]
    outcomes = [splitter.process_piece(piece) for piece in reversed(pieces)]

    # Then the plan queued several pieces, and only the last one recorded made the job PROCESSING
    assert (planned.status, planned.pieces) == ("split", len(pieces))
    assert len(pieces) >= 4
    assert [outcome.status for outcome in outcomes] == ["queued"] * len(pieces)
    job = job_of(table, planned.job_id)
    records = chunk_records(chunk_queue)
    assert_exact(job, records)
    assert job.chunks_total == len(chunk_queue.sent)
    assert job.input is not None
    assert job.input.format == "JSON lines"
    # And rows are numbered per piece from piece x 10,000,000; the duplicate id is found within its piece
    assert records[0].row == 1
    assert {record.row // PIECE_STRIDE for record in records} == set(range(len(pieces)))
    rejected = ResultStore(table).list_rejected(planned.job_id, limit=100).items
    assert len(rejected) == len(BAD_ROWS) + 1
    assert any("duplicate id 'r29'" in row.reason for row in rejected)
    assert all(row.reason.startswith("piece ") for row in rejected if row.row >= PIECE_STRIDE)


def test_given_a_piece_delivered_twice_then_it_counts_once(
    splitter: UploadSplitter, chunk_queue: Recorder, piece_queue: Recorder, bucket: str, table: Any
) -> None:
    uploaded = put(bucket, "incoming/twice.jsonl", b"\n".join(jsonl_lines()))
    planned = splitter.process_upload(uploaded)
    pieces = list(piece_queue.sent)

    outcomes = [splitter.process_piece(piece) for piece in [pieces[0], *pieces, pieces[0], pieces[-1]]]

    assert [outcome.status for outcome in outcomes].count("already_processed") == 3
    assert_exact(job_of(table, planned.job_id), chunk_records(chunk_queue))


def test_given_a_piece_that_fails_once_then_only_it_is_retried_and_counts_stay_exact(
    splitter: UploadSplitter, chunk_queue: Recorder, piece_queue: Recorder, bucket: str, table: Any
) -> None:
    uploaded = put(bucket, "incoming/retry.jsonl", b"\n".join(jsonl_lines()))
    planned = splitter.process_upload(uploaded)
    first, *others = piece_queue.sent

    # The inference queue is unreachable while the first piece sends its chunks: its message is retried later
    chunk_queue.failures = 1
    with pytest.raises(QueueSendError):
        splitter.process_piece(first, receive_count=1)
    done = [splitter.process_piece(piece) for piece in others]
    assert job_of(table, planned.job_id).status == JobStatus.PENDING

    retried = splitter.process_piece(first, receive_count=2)

    assert all(outcome.status == "queued" for outcome in [*done, retried])
    assert_exact(job_of(table, planned.job_id), chunk_records(chunk_queue))


def read_with_continuations(
    splitter: UploadSplitter, piece_queue: Recorder, first: FileOutcome, looks: int
) -> list[FileOutcome]:
    """Hand every continuation message back, each invocation running out of time after `looks` looks."""
    outcomes = [first]
    while outcomes[-1].status == "continued":
        outcomes.append(splitter.process_piece(piece_queue.sent[-1], context=Clock(looks)))
    return outcomes


def test_given_an_invocation_near_its_time_limit_then_the_piece_continues_from_its_checkpoint(
    splitter: UploadSplitter, chunk_queue: Recorder, piece_queue: Recorder, bucket: str, table: Any
) -> None:
    # Given a file read as one piece (gzip cannot be cut) by invocations that run out of time every 64 rows
    uploaded = put(bucket, "incoming/slow.jsonl.gz", gzip.compress(b"\n".join(jsonl_lines())))

    outcomes = read_with_continuations(
        splitter, piece_queue, splitter.process_upload(uploaded, context=Clock(1)), looks=1
    )

    # Then it took two invocations, the second carried on where the first stopped, and counts are exact
    assert [outcome.status for outcome in outcomes] == ["continued", "queued"]
    assert [message.continuation for message in piece_queue.sent] == [1]
    records = chunk_records(chunk_queue)
    assert_exact(job_of(table, outcomes[0].job_id), records)
    assert [record.row for record in records] == [
        row for row in range(1, ROWS + 1) if row not in {*BAD_ROWS, 30}
    ]
    # And the rejected rows stored by both invocations are each in the table once
    rejected = ResultStore(table).list_rejected(outcomes[0].job_id, limit=100).items
    assert sorted(row.row for row in rejected) == sorted({*BAD_ROWS, DUPLICATE_ROW})


@pytest.mark.parametrize("ids_in_memory", [3, DEFAULT_IN_MEMORY])
def test_given_ids_spilled_to_sqlite_when_a_piece_is_continued_then_duplicates_across_invocations_are_found(
    splitter: UploadSplitter,
    chunk_queue: Recorder,
    piece_queue: Recorder,
    bucket: str,
    table: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    ids_in_memory: int,
) -> None:
    # Given a gzip file (one piece) whose row 100 repeats row 10's id, read by invocations that stop every 64
    # rows, and a duplicate-id check that holds 3 ids in memory (the rest in SQLite), or all of them
    lines = jsonl_lines()
    lines[99] = json.dumps({"id": "r10", "text": "Review 100, the same id as row 10."}).encode()
    uploaded = put(bucket, f"incoming/ids-{ids_in_memory}.jsonl.gz", gzip.compress(b"\n".join(lines)))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spilled: list[bool] = []

    class Recorded(TakenIds):
        def close(self) -> None:
            spilled.append(self.spilled)
            super().close()

    monkeypatch.setattr(pieces_module, "TakenIds", Recorded)
    reader = replace(splitter, settings=splitter.settings.model_copy(update={"ids_in_memory": ids_in_memory}))

    # When it is read
    outcomes = read_with_continuations(
        reader, piece_queue, reader.process_upload(uploaded, context=Clock(1)), 1
    )

    # Then two invocations read it, the second remembering the first one's ids (r10 among them)
    assert [outcome.status for outcome in outcomes] == ["continued", "queued"]
    assert spilled == [ids_in_memory < ROWS] * 2
    rejected = ResultStore(table).list_rejected(outcomes[0].job_id, limit=100).items
    reasons = {row.row: row.reason for row in rejected}
    assert set(reasons) == {*BAD_ROWS, DUPLICATE_ROW, 100}
    assert reasons[DUPLICATE_ROW] == "duplicate id 'r29' (first seen on row 29)"
    assert reasons[100] == "duplicate id 'r10' (first seen on row 10)"
    expected = [row for row in range(1, ROWS + 1) if row not in reasons]
    assert [record.row for record in chunk_records(chunk_queue)] == expected
    job = job_of(table, outcomes[0].job_id)
    assert (job.counts.total, job.counts.rejected) == (ROWS, len(reasons))
    # And no database is left behind, on disk or open
    assert list(tmp_path.iterdir()) == []
    assert not [fd for fd in Path("/proc/self/fd").iterdir() if str(tmp_path) in _target(fd)]


def _target(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:
        return ""  # the listing's own descriptor, closed since


def test_given_an_invocation_killed_after_a_checkpoint_then_the_redelivery_resumes_there(
    splitter: UploadSplitter, chunk_queue: Recorder, bucket: str, table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given checkpoints every few rows, and an invocation that dies (as on a timeout) after some chunks
    eager = replace(splitter, settings=splitter.settings.model_copy(update={"checkpoint_seconds": 1e-9}))
    uploaded = put(bucket, "incoming/killed.jsonl.gz", gzip.compress(b"\n".join(jsonl_lines())))
    writes: list[str] = []
    put_bytes = eager.objects.put_bytes

    def dying_put(bucket_name: str, key: str, body: bytes, content_type: str) -> None:
        if len(writes) == 9:
            raise TimeoutError("Task timed out")
        writes.append(key)
        put_bytes(bucket_name, key, body, content_type)

    monkeypatch.setattr(eager.objects, "put_bytes", dying_put)
    with pytest.raises(TimeoutError):
        eager.process_upload(uploaded, receive_count=1)
    rewrites: list[str] = []

    def counted_put(bucket_name: str, key: str, body: bytes, content_type: str) -> None:
        rewrites.append(key)
        put_bytes(bucket_name, key, body, content_type)

    monkeypatch.setattr(eager.objects, "put_bytes", counted_put)

    # When SQS delivers the event again
    outcome = eager.process_upload(uploaded, receive_count=2)

    # Then the job ends with exact counts, and the redelivery wrote only the chunks after the last checkpoint
    # (the first invocation checkpointed every 64 rows, so at most one chunk was written twice)
    assert outcome.status == "queued"
    assert_exact(job_of(table, job_id_for(uploaded)), chunk_records(chunk_queue))
    assert outcome.rows == ROWS
    all_keys = [message.key for message in chunk_queue.sent]
    writes, rewrites = ([key for key in keys if "/chunk-" in key] for keys in (writes, rewrites))
    assert rewrites == all_keys[-len(rewrites) :]
    assert len(set(writes) & set(rewrites)) <= 1
    assert set(writes) | set(rewrites) == set(all_keys)


def csv_body() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "Content", "rating"])
    for row in range(1, ROWS + 1):
        writer.writerow([f"c{row}", f"Line one of {row}\nline two, with a comma", row % 10 + 1])
    return out.getvalue().encode()


def zip_body() -> bytes:
    """Half the rows in a JSON lines member, half in a CSV member."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "a/first.jsonl", "\n".join(json.dumps({"text": f"Review {n}."}) for n in range(ROWS // 2))
        )
        archive.writestr(
            "b/second.csv", "id,text\n" + "".join(f"c{n},Review {n}.\n" for n in range(ROWS // 2))
        )
    return out.getvalue()


def tgz_body() -> bytes:
    """aclImdb-like: one review per .txt file, in pos/ and neg/ folders, and a member that is not reviews."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for number in range(ROWS):
            data = f"Review {number}: ".encode() + b"a fine film. " * 20
            member = tarfile.TarInfo(f"aclImdb/train/{'pos' if number % 2 else 'neg'}/{number}_7.txt")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
        vocab = tarfile.TarInfo("aclImdb/imdb.vocab")
        vocab.size = 4
        archive.addfile(vocab, io.BytesIO(b"film"))
    return out.getvalue()


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("incoming/pack.zip", zip_body()),
        ("incoming/aclImdb_v1.tar.gz", tgz_body()),
        ("incoming/quoted.csv", csv_body()),
        ("incoming/quoted.tsv", csv_body().replace(b",", b"\t")),
        (
            "incoming/array.json",
            json.dumps([{"text": f"Review {n}, a fine film."} for n in range(ROWS)]).encode(),
        ),
    ],
)
def test_given_a_format_that_cannot_be_cut_when_it_is_big_then_it_is_one_piece_continued_exactly(
    splitter: UploadSplitter,
    chunk_queue: Recorder,
    piece_queue: Recorder,
    bucket: str,
    table: Any,
    key: str,
    body: bytes,
) -> None:
    uploaded = put(bucket, key, body)

    outcomes = read_with_continuations(
        splitter, piece_queue, splitter.process_upload(uploaded, context=Clock(1)), 1
    )

    assert outcomes[0].pieces == 1
    assert [outcome.status for outcome in outcomes][-1] == "queued"
    assert len(outcomes) >= 2
    job = job_of(table, outcomes[0].job_id)
    records = chunk_records(chunk_queue)
    assert (job.status, job.counts.total, job.counts.rejected) == (JobStatus.PROCESSING, ROWS, 0)
    assert [record.row for record in records] == list(range(1, ROWS + 1))
    # And what reading found is on the job as a single read would say it (the IMDb vocabulary skipped)
    assert job.input is not None
    assert job.input.skipped_count == (1 if key.endswith(".tar.gz") else 0)


def test_given_a_dead_lettered_piece_message_then_the_watcher_knows_its_job() -> None:
    piece = PieceMessage(
        job_id="0123456789abcdef0123", bucket="b", key="incoming/big.jsonl", piece=3, pieces=9
    )

    assert jobs_named_by("ingest", piece.model_dump_json(), "incoming/") == [("0123456789abcdef0123", None)]


def test_given_idempotent_handling_then_each_piece_has_its_own_record_and_a_redelivery_reuses_it(
    settings: Settings,
    metrics: Metrics,
    chunk_queue: Recorder,
    piece_queue: Recorder,
    bucket: str,
    table: Any,
) -> None:
    # Given the splitter as the handler builds it (Powertools Idempotency on uploads and on pieces)
    small = settings.model_copy(update={"chunk_size": 8, "piece_bytes": 2048})
    splitter = replace(
        UploadSplitter.from_settings(small, metrics), queue=chunk_queue, piece_queue=piece_queue
    )
    uploaded = put(bucket, "incoming/idempotent.jsonl", b"\n".join(jsonl_lines()))
    [planned] = splitter.handle_notification(S3Notification.model_validate(s3_event(uploaded)))
    pieces = list(piece_queue.sent)

    # When every piece is handled, then the first one again
    outcomes = [splitter.handle_piece(piece) for piece in [*pieces, pieces[0]]]

    # Then each piece was read once (the redelivery got the first answer back) and counts are exact
    assert planned.status == "split"
    assert [outcome.piece for outcome in outcomes] == [*range(len(pieces)), 0]
    assert outcomes[-1] == outcomes[0]
    assert_exact(job_of(table, planned.job_id), chunk_records(chunk_queue))


def s3_event(uploaded: UploadedObject) -> dict[str, Any]:
    """The sample S3 notification (events/preprocess_s3_put.json) of this upload."""
    sample = json.loads((PROJECT_ROOT / "events" / "preprocess_s3_put.json").read_text(encoding="utf-8"))
    event: dict[str, Any] = json.loads(sample["Records"][0]["body"])
    s3 = event["Records"][0]["s3"]
    s3["bucket"]["name"] = uploaded.bucket
    s3["object"] = {"key": uploaded.key, "size": 1, "eTag": uploaded.etag, "sequencer": uploaded.sequencer}
    return event


def test_given_a_piece_read_over_invocations_then_each_chunk_is_queued_once_as_soon_as_it_is_written(
    splitter: UploadSplitter, chunk_queue: Recorder, piece_queue: Recorder, bucket: str, table: Any
) -> None:
    # Given a file read as one piece by invocations that run out of time every 64 rows
    uploaded = put(bucket, "incoming/early.jsonl.gz", gzip.compress(b"\n".join(jsonl_lines())))
    first = splitter.process_upload(uploaded, context=Clock(1))

    # When the first invocation stops at its checkpoint
    assert first.status == "continued"
    # Then the chunks it wrote are on the inference queue already (classifying overlaps reading)
    queued_early = [message.chunk_index for message in chunk_queue.sent]
    assert queued_early
    job = job_of(table, first.job_id)
    assert job.status == JobStatus.PENDING
    assert job.chunks_total == 0  # the piece's totals are added once, when its last row is read

    # And when the piece is finished by its continuation, every chunk was queued exactly once
    outcomes = read_with_continuations(splitter, piece_queue, first, looks=1)
    indexes = [message.chunk_index for message in chunk_queue.sent]
    assert indexes[: len(queued_early)] == queued_early
    assert indexes == sorted(set(indexes))
    finished = job_of(table, outcomes[0].job_id)
    assert finished.chunks_total == len(indexes) == outcomes[-1].chunks
    assert_exact(finished, chunk_records(chunk_queue))
