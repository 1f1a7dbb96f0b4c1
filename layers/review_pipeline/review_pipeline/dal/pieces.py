"""The pieces of an upload: its plan and each piece's checkpoint and totals, recorded exactly once.

Items (keys.py): the job item gets `pieces_total` (set once, when the upload is planned) and `pieces_done` (a
string set of the pieces whose totals are in the job's counts); each piece has a checkpoint item
(`PIECE#<n>`) while it runs. A piece's totals are added to the job in one update conditioned on the piece not
being in `pieces_done` yet, and that update adds it: a redelivered or duplicated piece adds nothing. The job
goes PROCESSING only when `pieces_done` holds every piece (a conditional update only one caller wins).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from review_pipeline.dal import keys
from review_pipeline.dal.jobs import _conditional_write
from review_pipeline.models import JobStatus, utc_now
from review_pipeline.readers.context import SKIPPED_LISTED, InputReport

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Rows and chunks of piece n are numbered from n x PIECE_STRIDE (piece 0, and an upload read whole, from 0):
# numbers stay unique within the job and in file order without knowing how many rows earlier pieces hold.
PIECE_STRIDE = 10_000_000
MAX_PIECES = 999  # rows are 10-digit sort keys: 999 pieces x PIECE_STRIDE rows fit


@dataclass
class Checkpoint:
    """How far a piece got: every row up to `rows_done` is in a written chunk or a stored rejected row."""

    rows_done: int = 0  # the last row read (job-wide number), 0 before the first
    next_chunk: int = 0  # chunks written (local index of the next one)
    queued_chunks: int = 0  # chunks whose messages are on the inference queue (local indexes below this)
    chunk_size: int = 0  # reviews per chunk when the piece started
    short_chunks: dict[str, int] = field(default_factory=dict)  # local index -> reviews, chunks cut short
    accepted: int = 0
    rejected: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    segments: int = 0  # rejected/ files stored
    id_segments: int = 0  # files of the ids the piece's accepted rows took (logic/pieces.py)
    sequence: int = 0  # checkpoints stored; the continuation number of the next invocation

    def chunk_sizes(self) -> list[int]:
        """Reviews in each chunk written so far, in order."""
        return [self.reviews_in(index) for index in range(self.next_chunk)]

    def reviews_in(self, index: int) -> int:
        """Reviews in the chunk of this local index."""
        return self.short_chunks.get(str(index), self.chunk_size)


@dataclass(frozen=True)
class PieceTotals:
    """What a finished piece adds to its job."""

    rows: int
    rejected: int
    chunks: int


@dataclass(frozen=True)
class JobPieces:
    status: JobStatus | None
    pieces_total: int
    pieces_done: frozenset[str]

    @property
    def all_recorded(self) -> bool:
        return self.pieces_total > 0 and len(self.pieces_done) >= self.pieces_total


def report_fields(report: InputReport) -> dict[str, Any]:
    """An InputReport as a piece item keeps it (merged with the other pieces' by merged_report)."""
    return {
        "format": report.format,
        "encodings": sorted(report.encoding.encodings),
        "fallback_bytes": report.encoding.fallback_bytes,
        "members_read": report.members_read,
        "skipped_count": report.skipped_count,
        "skipped": list(report.skipped),
    }


def merged_report(parts: list[dict[str, Any]]) -> InputReport:
    """The whole upload's report from its pieces' (in piece order)."""
    report = InputReport()
    for part in parts:
        report.format = report.format or str(part.get("format", ""))
        report.encoding.encodings |= set(part.get("encodings", []))
        report.encoding.fallback_bytes += int(part.get("fallback_bytes", 0))
        report.members_read += int(part.get("members_read", 0))
        report.skipped_count += int(part.get("skipped_count", 0))
        report.skipped.extend(str(skipped) for skipped in part.get("skipped", []))
    del report.skipped[SKIPPED_LISTED:]
    return report


class PieceStore:
    """Plans, checkpoints and totals of the pieces of uploads, in the pipeline table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def plan(self, job_id: str, pieces_total: int) -> None:
        """Record how many pieces the upload has (once: a redelivered event plans the same pieces)."""
        _conditional_write(
            partial(
                self._table.update_item,
                Key=_job_key(job_id),
                UpdateExpression="SET pieces_total = :total",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(pieces_total)",
                ExpressionAttributeValues={":total": pieces_total},
            )
        )

    def job_pieces(self, job_id: str) -> JobPieces:
        item = self._table.get_item(
            Key=_job_key(job_id),
            ConsistentRead=True,
            ProjectionExpression="#status, pieces_total, pieces_done",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item", {})
        status = JobStatus(str(item["status"])) if "status" in item else None
        done = frozenset(map(str, item.get("pieces_done", ())))
        return JobPieces(status, int(item.get("pieces_total", 0)), done)

    def checkpoint(self, job_id: str, piece: int) -> Checkpoint | None:
        item = self._table.get_item(Key=_piece_key(job_id, piece), ConsistentRead=True).get("Item", {})
        state = item.get("checkpoint")
        if state is None:
            return None
        return Checkpoint(
            **{name: int(value) for name, value in state.items() if name not in {"short_chunks", "by_kind"}},
            short_chunks={k: int(v) for k, v in state.get("short_chunks", {}).items()},
            by_kind={k: int(v) for k, v in state.get("by_kind", {}).items()},
        )

    def save(self, job_id: str, piece: int, checkpoint: Checkpoint) -> None:
        """Store the checkpoint unless a later one is stored already (a duplicate worker that got further)."""
        _conditional_write(
            partial(
                self._table.update_item,
                Key=_piece_key(job_id, piece),
                UpdateExpression="SET #checkpoint = :checkpoint, saved_at = :now",
                ConditionExpression="attribute_not_exists(#checkpoint) OR #checkpoint.#sequence < :sequence",
                ExpressionAttributeNames={"#checkpoint": "checkpoint", "#sequence": "sequence"},
                ExpressionAttributeValues={
                    ":checkpoint": asdict(checkpoint),
                    ":sequence": checkpoint.sequence,
                    ":now": utc_now(),
                },
            )
        )

    def record(self, job_id: str, piece: int, totals: PieceTotals) -> bool:
        """Add a finished piece's totals to its job, once; False when the piece was recorded already."""
        return _conditional_write(
            partial(
                self._table.update_item,
                Key=_job_key(job_id),
                UpdateExpression=(
                    "SET counts.#total = counts.#total + :rows, "
                    "counts.rejected = counts.rejected + :rejected, "
                    "chunks_total = chunks_total + :chunks, updated_at = :now ADD pieces_done :piece"
                ),
                ConditionExpression="#status = :pending AND NOT contains(pieces_done, :name)",
                ExpressionAttributeNames={"#status": "status", "#total": "total"},
                ExpressionAttributeValues={
                    ":rows": totals.rows,
                    ":rejected": totals.rejected,
                    ":chunks": totals.chunks,
                    ":now": utc_now(),
                    ":piece": {str(piece)},
                    ":name": str(piece),
                    ":pending": JobStatus.PENDING.value,
                },
            )
        )

    def save_report(self, job_id: str, piece: int, report: dict[str, Any]) -> None:
        """What reading the piece found (format, encodings), for merged_report."""
        self._table.update_item(
            Key=_piece_key(job_id, piece),
            UpdateExpression="SET report = :report",
            ExpressionAttributeValues={":report": report},
        )

    def merged_report(self, job_id: str, pieces_total: int) -> InputReport:
        parts = []
        for piece in range(pieces_total):
            item = self._table.get_item(Key=_piece_key(job_id, piece), ProjectionExpression="report")
            parts.append(item.get("Item", {}).get("report", {}))
        return merged_report(parts)

    def mark_processing(self, job_id: str, pieces_total: int) -> bool:
        """Every piece is recorded (its chunks queued): PROCESSING, once; False if someone else did it."""
        return _conditional_write(
            partial(
                self._table.update_item,
                Key=_job_key(job_id),
                UpdateExpression="SET #status = :processing, updated_at = :now",
                ConditionExpression="#status = :pending AND size(pieces_done) >= :total",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":processing": JobStatus.PROCESSING.value,
                    ":pending": JobStatus.PENDING.value,
                    ":total": pieces_total,
                    ":now": utc_now(),
                },
            )
        )


def _job_key(job_id: str) -> dict[str, str]:
    return {"pk": keys.job_pk(job_id), "sk": keys.JOB_SK}


def _piece_key(job_id: str, piece: int) -> dict[str, str]:
    return {"pk": keys.job_pk(job_id), "sk": keys.piece_sk(piece)}
