"""One DynamoDB table holds jobs, results, rejected rows, chunk markers and idempotency records.

Item                 pk               sk                  index attributes
job                  JOB#<job_id>     JOB                 gsi1 (all jobs, newest first), gsi2 (by source key)
review result        JOB#<job_id>     RESULT#<row>        gsi3 (a job's results by sentiment)
rejected row         JOB#<job_id>     REJECTED#<row>
chunk marker         JOB#<job_id>     CHUNK#<index>       (makes a redelivered chunk count once)
idempotency record   (Powertools: static pk per function, sk = hash of the idempotency key)

The key schema itself is declared once, in template.yaml (ReviewsTable); tests build their moto table from it.
Rows are zero-padded so a job's results list in file order.
"""

from __future__ import annotations

JOB_SK = "JOB"
JOBS_INDEX = "JobsByCreatedAt"
SOURCE_INDEX = "JobsBySource"
SENTIMENT_INDEX = "ResultsBySentiment"
ALL_JOBS_PK = "JOBS"
ROW_DIGITS = 10


def job_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def result_sk(row: int) -> str:
    return f"RESULT#{row:0{ROW_DIGITS}d}"


def rejected_sk(row: int) -> str:
    return f"REJECTED#{row:0{ROW_DIGITS}d}"


def chunk_sk(chunk_index: int) -> str:
    return f"CHUNK#{chunk_index:06d}"


def source_pk(source_key: str) -> str:
    return f"SOURCE#{source_key}"


def created_sk(created_at: str, job_id: str) -> str:
    return f"{created_at}#{job_id}"


def sentiment_pk(job_id: str, label: str) -> str:
    return f"JOB#{job_id}#{label}"
