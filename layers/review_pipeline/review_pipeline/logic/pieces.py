"""An upload of any size: planned into pieces, each read by invocations that stop in time and resume.

Plan (on the upload's S3 event, `PieceReader.plan`): an uncompressed JSON lines object larger than
PIECE_BYTES is cut into byte ranges (readers/ranges.py: a piece owns the lines that start in its range), one
PieceMessage each on the ingest queue, read in parallel by separate invocations and each retried alone.
Anything else (CSV and TSV, whose quoted cells may hold line breaks; gzip and archives, which cannot be
entered in the middle; JSON documents; UTF-16) is one piece, read by the event's own invocation.

A piece (`PieceReader.run`) streams its bytes into processed/ chunks and rejected rows. It stores a
checkpoint (dal/pieces.py) every CHECKPOINT_SECONDS and when less than PIECE_TIME_MARGIN_MS is left of the
invocation; then it also sends a continuation (the same PieceMessage, continuation + 1) and returns. A
checkpoint says how many rows are done, how many chunks are written (and their sizes) and how many
rejected rows are stored, and it writes the ids the piece's accepted rows took since the last one (an
`ids-<piece>-<n>.json` beside the chunks); the resumed invocation reads the piece from its start again, skips
the rows before the checkpoint (parsed, not validated: their ids come from those files) and carries on. An
invocation killed by its timeout loses only what it did since its last checkpoint: SQS redelivers the message
and it resumes there. Chunks are deterministic (same rows, same keys): a chunk written twice is the same
object.

Each chunk's message goes to the inference queue as soon as the chunk is written, so classifying overlaps
reading (before, a piece queued its chunks when its last row was read: a file read serially for half an hour
was classified only after it; a 5,000-review file waited about a second). A chunk queued again after a
resume is counted once by the inference function (its chunk marker). When its last row is read, a piece adds
its totals to the job once (dal/pieces.py); whoever records the last piece records what reading found
(format, encodings), marks the job PROCESSING and closes it if it has nothing to classify.

Numbering: rows and chunks of piece n are numbered from n x PIECE_STRIDE (10,000,000), so they are unique and
in file order without knowing how many rows the earlier pieces hold; a file read as one piece keeps 1, 2, 3...
"""

from __future__ import annotations

import json
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from review_pipeline.chunking import chunk_body, chunk_key, chunk_prefix
from review_pipeline.dal.pieces import (
    MAX_PIECES,
    PIECE_STRIDE,
    Checkpoint,
    PieceStore,
    PieceTotals,
    report_fields,
)
from review_pipeline.dal.results import expiration_after
from review_pipeline.logic.taken_ids import TakenIds
from review_pipeline.logic.validation import RowValidator
from review_pipeline.models import ChunkMessage, JobStatus, PieceMessage, ReviewRecord
from review_pipeline.readers import DEFAULT_MAX_LINE_BYTES, FileFormatError, ParsedRow, RowError, read_rows
from review_pipeline.readers.context import InputReport
from review_pipeline.readers.formats import detect_format, supported_formats_sentence
from review_pipeline.readers.ranges import PieceLines, byte_ranges, is_range_splittable, range_request_start
from review_pipeline.rejections import RejectedRowsFile, rejected_file_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from review_pipeline.dal.jobs import JobStore
    from review_pipeline.dal.objects import ObjectStore
    from review_pipeline.dal.results import ResultStore
    from review_pipeline.settings import Settings

logger = Logger(child=True)

_JSONL = "application/x-ndjson"
_CLOCK_EVERY_ROWS = 64  # rows between two looks at the clock


class MessageSender(Protocol):
    def send(self, messages: Sequence[Any]) -> int: ...


class RemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class PieceOutcome(BaseModel):
    """What one invocation did with a piece."""

    status: Literal["recorded", "continued", "already_recorded"]
    rows: int = 0  # the piece's rows (when recorded)
    rejected: int = 0
    chunks: int = 0
    rejected_by_reason: dict[str, int] = {}
    job_status: JobStatus | None = None  # PROCESSING or final once every piece is recorded, else None
    read_whole: bool = (
        False  # this invocation recorded the upload's last piece (and marked the job PROCESSING)
    )


@dataclass
class _Run:
    """One invocation's reading of a piece: the checkpoint it carries on, and what is not yet stored."""

    message: PieceMessage
    state: Checkpoint
    context: RemainingTime | None
    margin_ms: int
    batch: list[ReviewRecord] = field(default_factory=list)
    new_ids: dict[str, int] = field(default_factory=dict)  # ids accepted since the last checkpoint
    rejections: RejectedRowsFile = field(default_factory=RejectedRowsFile)
    saved_at: float = field(default_factory=time.monotonic)

    @property
    def base(self) -> int:
        """The number rows and chunks of this piece start from (0 for an upload read as one piece)."""
        return self.message.piece * PIECE_STRIDE if self.message.pieces > 1 else 0

    def near_deadline(self) -> bool:
        return self.context is not None and self.context.get_remaining_time_in_millis() < self.margin_ms


@dataclass
class PieceReader:
    """Plans an upload into pieces and reads a piece: the engine of the preprocess service."""

    settings: Settings
    objects: ObjectStore
    chunk_queue: MessageSender
    piece_queue: MessageSender
    jobs: JobStore
    pieces: PieceStore
    results: ResultStore

    # -- plan -----------------------------------------------------------------------------------------------
    def plan(self, job_id: str, bucket: str, key: str, version_id: str | None) -> list[PieceMessage]:
        """The upload's pieces: byte ranges of a big uncompressed JSON lines object, else the whole object."""
        whole = PieceMessage(job_id=job_id, bucket=bucket, key=key, version_id=version_id)
        pieces = [whole]
        if detect_format(key).format.name == "JSON lines":
            size, first_bytes = self.objects.sniff(bucket, key, version_id)
            if size > self.settings.piece_bytes and is_range_splittable(key, first_bytes):
                ranges = byte_ranges(size, self.settings.piece_bytes, MAX_PIECES)
                pieces = [
                    whole.model_copy(update={"piece": n, "pieces": len(ranges), "start": start, "end": end})
                    for n, (start, end) in enumerate(ranges)
                ]
        self.pieces.plan(job_id, len(pieces))
        return pieces

    # -- one piece ------------------------------------------------------------------------------------------
    def run(self, message: PieceMessage, context: RemainingTime | None = None) -> PieceOutcome:
        """Read the piece on from its checkpoint: recorded, or continued by another invocation."""
        job = self.pieces.job_pieces(message.job_id)
        if job.status != JobStatus.PENDING or str(message.piece) in job.pieces_done:
            status, marked = self._close_if_complete(message)
            return PieceOutcome(status="already_recorded", job_status=status, read_whole=marked)
        state = self.pieces.checkpoint(message.job_id, message.piece)
        run = _Run(
            message,
            state or Checkpoint(chunk_size=self.settings.chunk_size),
            context,
            self.settings.piece_time_margin_ms,
        )
        try:
            report = InputReport()
            if not self._read(run, report):
                return PieceOutcome(status="continued")
            return self._record(run, report)
        except FileFormatError:
            # A piece that cannot be read fails its job and its chunks go: the inference function skips the
            # queued ones of a failed job (one it classified before the failure keeps its results).
            self.objects.delete(self.settings.bucket_name, self._chunk_keys(run))
            raise
        finally:
            run.rejections.file.close()

    def _read(self, run: _Run, report: InputReport) -> bool:
        """Read rows until the piece ends (True) or the invocation must stop (checkpointed: False)."""
        with TakenIds(self.settings.ids_in_memory) as taken:  # its database (if any) goes with the run
            # Before the object is opened: its stream would idle while millions of ids are read back.
            self._remember_taken_ids(run, taken)
            if not self._read_rows(run, report, RowValidator(self.settings.max_text_chars, taken)):
                return False
        self._flush(run)
        return True

    def _read_rows(self, run: _Run, report: InputReport, validator: RowValidator) -> bool:
        """The piece's rows after its checkpoint, validated and taken; False when the invocation stopped."""
        message, state = run.message, run.state
        max_line_bytes = max(DEFAULT_MAX_LINE_BYTES, 8 * self.settings.max_text_chars)
        split = message.pieces > 1
        first_byte = range_request_start(message.start) if split else 0
        with closing(self.objects.open(message.bucket, message.key, message.version_id, first_byte)) as body:
            stream = PieceLines(body, message.start, message.end or 0) if split else body
            for count, row in enumerate(read_rows(stream, message.key, max_line_bytes, report), start=1):
                if split and row.row >= PIECE_STRIDE:
                    raise FileFormatError(
                        f"{message.key}: piece {message.piece} holds over {PIECE_STRIDE:,} rows; "
                        "rows this short are not reviews: check the file"
                    )
                numbered = row._replace(row=row.row + run.base)
                if numbered.row <= state.rows_done:
                    continue  # done by an earlier invocation (its ids are remembered)
                self._take(run, validator.check(numbered) if isinstance(numbered, ParsedRow) else numbered)
                state.rows_done = numbered.row
                if count % _CLOCK_EVERY_ROWS == 0 and self._should_stop(run):
                    return False
        return True

    def _take(self, run: _Run, checked: ReviewRecord | RowError) -> None:
        state = run.state
        if isinstance(checked, RowError):
            reason = checked.reason
            if run.message.pieces > 1:
                reason = f"piece {run.message.piece} (from byte {run.message.start:,}): {reason}"
            run.rejections.add(checked.row, reason, checked.raw, checked.kind)
            state.rejected += 1
            state.by_kind[checked.kind] = state.by_kind.get(checked.kind, 0) + 1
            return
        run.batch.append(checked)
        run.new_ids[checked.review_id] = checked.row
        state.accepted += 1
        if len(run.batch) >= state.chunk_size:
            self._write_chunk(run)

    def _should_stop(self, run: _Run) -> bool:
        """Checkpoint when it is due; True (after sending the continuation) when the invocation must stop."""
        stopping = run.near_deadline()
        if stopping or time.monotonic() - run.saved_at >= self.settings.checkpoint_seconds:
            self._flush(run)
            if run.new_ids:
                key = self._id_key(run, run.state.id_segments)
                self.objects.put_bytes(
                    self.settings.bucket_name, key, json.dumps(run.new_ids).encode(), "application/json"
                )
                run.state.id_segments += 1
                run.new_ids = {}
            run.state.sequence += 1
            self.pieces.save(run.message.job_id, run.message.piece, run.state)
            run.saved_at = time.monotonic()
        if stopping:
            continuation = run.message.model_copy(update={"continuation": run.state.sequence})
            self.piece_queue.send([continuation])
            logger.info(
                "Piece continued from its checkpoint by another invocation",
                extra={"piece": run.message.piece, "rows_done": run.state.rows_done},
            )
        return stopping

    def _flush(self, run: _Run) -> None:
        """Store what is held: the reviews read as a (short) chunk, the rejected rows as a rejected/ file."""
        if run.batch:
            self._write_chunk(run)
        if run.rejections.count:
            settings, message = self.settings, run.message
            segment = run.state.segments
            name = (
                "rejected.jsonl"
                if (message.piece, segment) == (0, 0)
                else (f"rejected-{message.piece:03d}-{segment:04d}.jsonl")
            )
            run.rejections.store(
                message.job_id,
                results=self.results,
                objects=self.objects,
                bucket=settings.bucket_name,
                key=rejected_file_key(settings.rejected_prefix, message.job_id, name),
                expiration=expiration_after(settings.results_ttl_days),
            )
            run.rejections.file.close()
            run.rejections = RejectedRowsFile()
            run.state.segments += 1

    def _id_key(self, run: _Run, segment: int) -> str:
        prefix = chunk_prefix(self.settings.processed_prefix, run.message.job_id)
        return f"{prefix}ids-{run.message.piece:03d}-{segment:05d}.json"

    def _remember_taken_ids(self, run: _Run, taken: TakenIds) -> None:
        """The ids earlier invocations of the piece accepted (id -> row), for the duplicate-id check: one id
        file in memory at a time, so `taken` (spilling to /tmp) bounds memory however many there are."""
        for segment in range(run.state.id_segments):
            taken.update(
                json.loads(self.objects.read_bytes(self.settings.bucket_name, self._id_key(run, segment)))
            )

    def _write_chunk(self, run: _Run) -> None:
        state = run.state
        index = run.base + state.next_chunk
        key = chunk_key(self.settings.processed_prefix, run.message.job_id, index)
        self.objects.put_bytes(self.settings.bucket_name, key, chunk_body(run.batch), _JSONL)
        if len(run.batch) != state.chunk_size:
            state.short_chunks[str(state.next_chunk)] = len(run.batch)
        state.next_chunk += 1
        run.batch = []
        self._queue_chunks(run)

    def _queue_chunks(self, run: _Run) -> None:
        """Send the messages of the chunks written and not yet queued (the checkpoint keeps how many are)."""
        message, state = run.message, run.state
        self.chunk_queue.send(
            [
                ChunkMessage(
                    job_id=message.job_id,
                    bucket=self.settings.bucket_name,
                    key=chunk_key(self.settings.processed_prefix, message.job_id, run.base + index),
                    chunk_index=run.base + index,
                    review_count=state.reviews_in(index),
                    source_key=message.key,
                )
                for index in range(state.queued_chunks, state.next_chunk)
            ]
        )
        state.queued_chunks = state.next_chunk

    def _chunk_keys(self, run: _Run) -> list[str]:
        prefix, job_id = self.settings.processed_prefix, run.message.job_id
        return [chunk_key(prefix, job_id, run.base + index) for index in range(run.state.next_chunk)]

    def _record(self, run: _Run, report: InputReport) -> PieceOutcome:
        """Add the piece's totals to the job once (its chunks are queued); finish reading the job if last."""
        message, state = run.message, run.state
        rows = state.accepted + state.rejected
        if message.pieces == 1 and not rows:
            raise FileFormatError(report.no_rows_message(message.key, supported_formats_sentence()))
        if message.pieces == 1:
            self.jobs.record_input(message.job_id, report.summary())
        else:
            self.pieces.save_report(message.job_id, message.piece, report_fields(report))
        self._queue_chunks(run)  # none left, unless a send failed after its chunk was written
        chunks = state.next_chunk
        totals = PieceTotals(rows=rows, rejected=state.rejected, chunks=chunks)
        recorded = self.pieces.record(message.job_id, message.piece, totals)
        status, marked = self._close_if_complete(message)
        return PieceOutcome(
            status="recorded" if recorded else "already_recorded",
            rows=rows,
            rejected=state.rejected,
            chunks=chunks,
            rejected_by_reason=dict(state.by_kind),
            job_status=status,
            read_whole=marked,
        )

    def _close_if_complete(self, message: PieceMessage) -> tuple[JobStatus | None, bool]:
        """Once every piece is recorded: the upload's input report, PROCESSING, and the job closed if done.

        The job's status (None while other pieces are still being read), and whether this call marked it
        PROCESSING (exactly one caller does).
        """
        job = self.pieces.job_pieces(message.job_id)
        if job.status == JobStatus.PENDING and not job.all_recorded:
            return None, False
        marked = False
        if job.status == JobStatus.PENDING:
            if job.pieces_total > 1:
                merged = self.pieces.merged_report(message.job_id, job.pieces_total)
                self.jobs.record_input(message.job_id, merged.summary())
            marked = self.pieces.mark_processing(message.job_id, job.pieces_total)
        elif job.status != JobStatus.PROCESSING:
            return job.status, False
        return self.jobs.finish_if_done(message.job_id) or JobStatus.PROCESSING, marked
