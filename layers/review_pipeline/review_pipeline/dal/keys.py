"""One DynamoDB table holds jobs, results, rejected rows, chunk markers and idempotency records.

Item                 pk               sk                  indexes it is in (each index's key attributes)
job                  JOB#<job_id>     JOB                 JOBS_BY_CREATED (all jobs, newest first),
                                                          JOBS_BY_SOURCE (a source key's jobs, newest first)
review result        JOB#<job_id>     RESULT#<row>        none: one sentiment is a filter on the job's results
rejected row         JOB#<job_id>     REJECTED#<row>
chunk marker         JOB#<job_id>     CHUNK#<index>       (makes a redelivered chunk count once)
piece checkpoint     JOB#<job_id>     PIECE#<n>           (how far a piece of the upload got, dal/pieces.py)
stalled marker       STALLED          <job_id>            (a job whose work sits in a dead-letter queue)
idempotency record   (Powertools: static pk per function, sk = hash of the idempotency key)

The key schema itself is declared once, in template.yaml (ReviewsTable); tests and the local emulator build
their table from it. Each index's attributes are named for the index (`<index>_pk`, `<index>_sk`).
Rows are zero-padded so a job's results list in file order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Index:
    """A global secondary index of the table (template.yaml) and its key attributes."""

    name: str
    pk: str
    sk: str


JOBS_BY_CREATED = Index("JobsByCreatedAt", "jobs_by_created_pk", "jobs_by_created_sk")
JOBS_BY_SOURCE = Index("JobsBySource", "jobs_by_source_pk", "jobs_by_source_sk")

JOB_SK = "JOB"
ALL_JOBS_PK = "JOBS"
STALLED_PK = "STALLED"
ROW_DIGITS = 10


def job_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def result_sk(row: int) -> str:
    return f"RESULT#{row:0{ROW_DIGITS}d}"


def rejected_sk(row: int) -> str:
    return f"REJECTED#{row:0{ROW_DIGITS}d}"


def chunk_sk(chunk_index: int) -> str:
    return f"CHUNK#{chunk_index:06d}"


def piece_sk(piece: int) -> str:
    return f"PIECE#{piece:03d}"


def source_pk(source_key: str) -> str:
    return f"SOURCE#{source_key}"


def created_sk(created_at: str, job_id: str) -> str:
    return f"{created_at}#{job_id}"
