"""The preprocess handler on moto: upload a file, deliver the sample S3 event for it, inspect the result."""

from __future__ import annotations

import copy
import gzip
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.models import ChunkMessage, Job, RejectedRow
from tests.conftest import REGION
from tests.handlers import handler_for, lambda_context

SAMPLE_EVENT = Path(__file__).resolve().parents[3] / "events" / "preprocess_s3_put.json"
_MESSAGE_IDS = itertools.count(1)


@dataclass
class Pipeline:
    """The handler and the moto resources it writes to, with the questions the tests ask of them."""

    handler: ModuleType
    env: dict[str, str]
    table: Any

    @property
    def bucket(self) -> str:
        return self.env["BUCKET_NAME"]

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    def upload(self, key: str, body: bytes, gzipped: bool = False) -> dict[str, Any]:
        """Put an object; returns the record fields an S3 notification would carry for it."""
        data = gzip.compress(body) if gzipped else body
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return {"key": key, "size": len(data), "eTag": response["ETag"].strip('"')}

    def event_for(self, *objects: dict[str, Any], bucket: str | None = None) -> dict[str, Any]:
        """An SQS batch with one message per object, each the sample event rewritten to name that object."""
        sample = json.loads(SAMPLE_EVENT.read_text())
        template = sample["Records"][0]
        records = []
        for obj in objects:
            notification = json.loads(template["body"])
            s3 = notification["Records"][0]["s3"]
            s3["bucket"]["name"] = bucket or self.bucket
            s3["bucket"]["arn"] = f"arn:aws:s3:::{bucket or self.bucket}"
            # S3 URL-encodes keys in notifications ('+' for spaces)
            s3["object"].update({**obj, "key": quote_plus(obj["key"], safe="/")})
            record = copy.deepcopy(template)
            record["messageId"] = f"message-{next(_MESSAGE_IDS)}"
            record["body"] = json.dumps(notification)
            records.append(record)
        return {"Records": records}

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, lambda_context("preprocess"))
        return result

    def job_of(self, key: str) -> Job:
        jobs = JobStore(self.table).list(limit=10, source_key=key).items
        assert len(jobs) == 1, f"expected one job for {key}, found {len(jobs)}"
        return jobs[0]

    def keys_under(self, prefix: str) -> list[str]:
        response = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in response.get("Contents", []))

    def read_jsonl(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")
        return [json.loads(line) for line in body.splitlines()]

    def queued_messages(self) -> list[ChunkMessage]:
        sqs = boto3.client("sqs", region_name=REGION)
        found: list[ChunkMessage] = []
        while batch := sqs.receive_message(
            QueueUrl=self.env["INFERENCE_QUEUE_URL"], MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", []):
            found += [ChunkMessage.model_validate_json(message["Body"]) for message in batch]
        return sorted(found, key=lambda message: message.chunk_index)

    def rejected_in_table(self, job_id: str) -> list[RejectedRow]:
        return ResultStore(self.table).list_rejected(job_id, limit=1000).items


@pytest.fixture
def pipeline(pipeline_env: dict[str, str], table: Any, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The handler over the moto resources; its service is built from this test's environment on first use."""
    return Pipeline(handler=handler_for("preprocess", monkeypatch), env=pipeline_env, table=table)
