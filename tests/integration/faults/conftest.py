"""The pipeline's services on the emulator's moto server (real HTTP, one request at a time, as `make local`
runs it), so several execution environments (threads with their own services and clients) can act at once,
and faults are injected where AWS would produce them: in the HTTP answer, through botocore event hooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools import Metrics

from local.moto_server import SerializedMotoServer
from local.template import table_definition
from review_pipeline.dal.jobs import JobStore
from review_pipeline.dal.results import ResultStore
from review_pipeline.logic.inference import ChunkClassifier
from review_pipeline.logic.preprocess import UploadSplitter
from review_pipeline.models import ChunkMessage, Job
from review_pipeline.settings import Settings, load_settings
from review_pipeline.sqs_records import S3Notification
from tests.conftest import BUCKET_NAME, REGION, TABLE_NAME

SAMPLE_EVENT = Path(__file__).resolve().parents[3] / "events" / "preprocess_s3_put.json"


@dataclass
class MotoPipeline:
    """The moto server's resources, services built on them, and what the tests ask of them."""

    url: str
    settings: Settings
    metrics: list[Metrics] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(  # type: ignore[call-overload]
            service, region_name=REGION, endpoint_url=self.url
        )

    def preprocess_environment(self) -> UploadSplitter:
        """A PreprocessFunction execution environment's service: its own session, clients and idempotency."""
        self.metrics.append(Metrics(namespace="Test", service="test"))
        return UploadSplitter.from_settings(self.settings, self.metrics[-1])

    def inference_environment(self) -> ChunkClassifier:
        self.metrics.append(Metrics(namespace="Test", service="test"))
        return ChunkClassifier.from_settings(self.settings, self.metrics[-1])

    @property
    def table(self) -> Any:
        return (
            boto3.session.Session()
            .resource("dynamodb", region_name=REGION, endpoint_url=self.url)
            .Table(TABLE_NAME)
        )

    def upload(self, key: str, body: bytes) -> S3Notification:
        """Put an object under incoming/; the notification S3 sends for it (the sample event, rewritten)."""
        response = self.client("s3").put_object(Bucket=BUCKET_NAME, Key=key, Body=body)
        notification = json.loads(json.loads(SAMPLE_EVENT.read_text())["Records"][0]["body"])
        s3 = notification["Records"][0]["s3"]
        s3["bucket"].update(name=BUCKET_NAME, arn=f"arn:aws:s3:::{BUCKET_NAME}")
        s3["object"].update(key=key, size=len(body), eTag=response["ETag"].strip('"'))
        s3["object"].pop("versionId", None)
        return S3Notification.model_validate(notification)

    def queued_chunks(self) -> list[ChunkMessage]:
        """Every chunk message on the inference queue (received, so a test hands each to a classifier)."""
        sqs = self.client("sqs")
        found: list[ChunkMessage] = []
        while batch := sqs.receive_message(
            QueueUrl=self.settings.inference_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", []):
            found += [ChunkMessage.model_validate_json(message["Body"]) for message in batch]
        return sorted(found, key=lambda message: message.chunk_index)

    def jobs_of(self, key: str) -> list[Job]:
        return JobStore(self.table).list(limit=10, source_key=key).items

    def stored_rows(self, job_id: str) -> tuple[list[int], list[int]]:
        """The rows of a job's stored results and of its rejected rows, each in file order."""
        store = ResultStore(self.table)
        return (
            [result.row for result in store.iter_results(job_id)],
            [rejected.row for rejected in store.iter_rejected(job_id)],
        )


@pytest.fixture
def moto_pipeline(monkeypatch: pytest.MonkeyPatch, sentiment_endpoint: Any) -> Iterator[MotoPipeline]:
    """The template's table, a bucket and the inference and export queues on a moto server of this test."""
    server = SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        # moto's state lives in this process: start from nothing, whatever an earlier test left.
        requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        session = boto3.session.Session()
        dynamodb = session.client("dynamodb", region_name=REGION, endpoint_url=url)
        dynamodb.create_table(TableName=TABLE_NAME, **table_definition())
        session.client("s3", region_name=REGION, endpoint_url=url).create_bucket(Bucket=BUCKET_NAME)
        sqs = session.client("sqs", region_name=REGION, endpoint_url=url)
        env = {
            "AWS_ENDPOINT_URL": url,  # every client the services make goes here (the endpoint has its own)
            "TABLE_NAME": TABLE_NAME,
            "BUCKET_NAME": BUCKET_NAME,
            "INFERENCE_QUEUE_URL": sqs.create_queue(QueueName="inference-faults")["QueueUrl"],
            "EXPORT_QUEUE_URL": sqs.create_queue(QueueName="export-faults")["QueueUrl"],
            "ENDPOINT_NAME": sentiment_endpoint.endpoint_name,
            "INCOMING_PREFIX": "incoming/",
            "PROCESSED_PREFIX": "processed/",
            "REJECTED_PREFIX": "rejected/",
            "CHUNK_SIZE": "20",
            "CURSOR_SIGNING_KEY": "test-cursor-signing-key-0123456789abcdef",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield MotoPipeline(url=url, settings=load_settings())
    finally:
        server.stop()
