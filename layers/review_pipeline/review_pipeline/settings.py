"""Environment variables, parsed and checked once per cold start.

Every function reads its configuration through `load_settings()`, once: its handler's cached `service()`
getter builds the service from them on first use. Nothing else touches os.environ. A missing or malformed
variable fails the cold start with a message that names it.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Settings(BaseModel):
    """What the template passes to the functions (see Globals.Function.Environment in template.yaml)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    bucket_name: str = Field(alias="BUCKET_NAME", min_length=3)
    inference_queue_url: str = Field(default="", alias="INFERENCE_QUEUE_URL")
    # Preprocess puts the pieces of a big upload, and continuations from a checkpoint, on its own queue.
    ingest_queue_url: str = Field(default="", alias="INGEST_QUEUE_URL")
    # An uncompressed JSON lines upload larger than this is cut into byte ranges this size, read in parallel.
    piece_bytes: int = Field(default=64 << 20, alias="PIECE_BYTES", ge=1024)
    # A piece stops (checkpoint + continuation message) when less than this is left of the invocation.
    piece_time_margin_ms: int = Field(default=60_000, alias="PIECE_TIME_MARGIN_MS", ge=0)
    # ... and stores a checkpoint at least this often, so a timed-out invocation loses at most this much work.
    checkpoint_seconds: float = Field(default=30.0, alias="CHECKPOINT_SECONDS", gt=0)
    # The duplicate-id check holds this many ids in a dict, then moves them to SQLite in /tmp, so a file read
    # as one piece (gzip, CSV, archives) of any row count stays within MemorySize (logic/taken_ids.py).
    ids_in_memory: int = Field(default=200_000, alias="IDS_IN_MEMORY", ge=1)
    # A job with more rows than this is exported in parts of this many rows, one invocation each (more rows
    # when a part would be under S3's 5 MiB minimum: logic/export.py).
    export_part_rows: int = Field(default=1_000_000, alias="EXPORT_PART_ROWS", ge=1)
    # Where the function that closes a job asks for its export; empty: no export is asked for.
    export_queue_url: str = Field(default="", alias="EXPORT_QUEUE_URL")
    endpoint_name: str = Field(default="", alias="ENDPOINT_NAME")
    incoming_prefix: str = Field(default="incoming/", alias="INCOMING_PREFIX")
    processed_prefix: str = Field(default="processed/", alias="PROCESSED_PREFIX")
    rejected_prefix: str = Field(default="rejected/", alias="REJECTED_PREFIX")
    chunk_size: int = Field(default=500, alias="CHUNK_SIZE", ge=1, le=10_000)
    # SageMaker serverless endpoints take 4 MB a request (real-time: 6 MB); keep a margin for the envelope.
    max_payload_bytes: int = Field(default=4_000_000, alias="MAX_PAYLOAD_BYTES", ge=1_000, le=6_000_000)
    max_text_chars: int = Field(default=20_000, alias="MAX_TEXT_CHARS", ge=100)
    results_ttl_days: int = Field(default=0, alias="RESULTS_TTL_DAYS", ge=0)
    idempotency_ttl_seconds: int = Field(default=3600, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    # The maxReceiveCount of the queue this function consumes: a delivery with an ApproximateReceiveCount this
    # high is the last before SQS dead-letters the message, so the function settles it instead of raising.
    max_receive_count: int = Field(default=3, alias="MAX_RECEIVE_COUNT", ge=1)
    # Signs the HTTP API's page cursors (the query API needs it; the template passes a generated secret).
    cursor_signing_key: SecretStr | None = Field(default=None, alias="CURSOR_SIGNING_KEY", min_length=32)
    # The query API's origin check (review_pipeline.origin): the secret CloudFront's header must match. The
    # template always sets it; empty (tests of other concerns) means no check.
    origin_verify_secret_arn: str = Field(default="", alias="ORIGIN_VERIFY_SECRET_ARN")
    # The dead-letter queues the DeadLetterWatcherFunction looks into (only it gets them).
    ingest_dead_letter_queue_url: str = Field(default="", alias="INGEST_DEAD_LETTER_QUEUE_URL")
    inference_dead_letter_queue_url: str = Field(default="", alias="INFERENCE_DEAD_LETTER_QUEUE_URL")


def load_settings() -> Settings:
    """The settings in the environment now (not cached: the service built from them is)."""
    return Settings.model_validate(dict(os.environ))
