"""The end-to-end suite's target: one local emulator on the real template, functions and model artifact,
or a deployed stack when E2E_STACK_NAME names one (its CloudFormation outputs name bucket and API)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.stack import LocalStack
from tests.e2e.targets import DeployedStack, E2ETarget, LocalEmulator

FINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}
# Short, so a failed message is retried within seconds (the template's 1800 s would take half an hour).
E2E_VISIBILITY_TIMEOUT = 3
STACK_NAME_VARIABLE = "E2E_STACK_NAME"
LOCAL_ONLY_REASON = (
    "needs the local emulator's internals (queue URLs, pollers, a short visibility timeout or raw SQS "
    "messages), which a deployed stack does not expose; runs without {variable}"
)


def deployed_stack_name() -> str:
    return os.environ.get(STACK_NAME_VARIABLE, "").strip()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not deployed_stack_name():
        return
    skip = pytest.mark.skip(reason=LOCAL_ONLY_REASON.format(variable=STACK_NAME_VARIABLE))
    for item in items:
        if item.get_closest_marker("local_only"):
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    name = deployed_stack_name()
    if name:
        return f"e2e target: deployed stack {name} ({STACK_NAME_VARIABLE}); local_only tests are skipped"
    return "e2e target: local emulator (set E2E_STACK_NAME=<stack> to test a deployed stack)"


@pytest.fixture(scope="session")
def aws_session() -> boto3.session.Session:
    """The caller's own AWS session, for a deployed stack.

    Made at session scope on purpose: tests/conftest.py swaps fake credentials into the environment for every
    test, and session fixtures are set up before it, so clients made here keep the real credentials.
    """
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return boto3.session.Session(region_name=region)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    if deployed_stack_name():
        pytest.fail(
            f"{STACK_NAME_VARIABLE} is set but this test uses the emulator's `stack` fixture: "
            "mark it @pytest.mark.local_only",
            pytrace=False,
        )
    emulator = LocalStack(
        visibility_timeout=E2E_VISIBILITY_TIMEOUT,
        state_dir=tmp_path_factory.mktemp("emulator-state"),
        stack_name="review-sentiment-e2e",
        # The dead-letter watcher runs every 2 s instead of every minute: a stalled job shows within seconds.
        schedule_seconds=2.0,
    )
    emulator.__enter__()  # stops whatever it started if it fails
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> E2ETarget:
    """What the suite runs against: E2E_STACK_NAME's deployed stack, else the local emulator."""
    name = deployed_stack_name()
    if name:
        session: boto3.session.Session = request.getfixturevalue("aws_session")
        return DeployedStack.from_outputs(name, session.client("cloudformation"))
    emulator: LocalStack = request.getfixturevalue("stack")
    assert emulator.info is not None
    return LocalEmulator.from_info(emulator.info)


@pytest.fixture(scope="session")
def target_s3(request: pytest.FixtureRequest, target: E2ETarget) -> Any:
    """An S3 client of the target's bucket (session scope: see `aws_session`)."""
    if isinstance(target, DeployedStack):
        session: boto3.session.Session = request.getfixturevalue("aws_session")
        return session.client("s3", region_name=target.region)
    emulator: LocalStack = request.getfixturevalue("stack")
    return emulator.client("s3")


@pytest.fixture(scope="session")
def poll_timeout(target: E2ETarget) -> float:
    """How long to wait for a job to finish: seconds locally, minutes against AWS (cold starts)."""
    return target.poll_timeout


class Api:
    """The HTTP API as a client sees it."""

    def __init__(self, base_url: str, poll_timeout: float = 60.0) -> None:
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self.http = requests.Session()

    def get(self, path: str, expected: int = 200, **params: Any) -> Any:
        response = self.http.get(f"{self.base_url}{path}", params=params, timeout=30)
        assert response.status_code == expected, response.text
        return response.json()

    def jobs_of(self, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/jobs", source_key=key, limit=100)["items"]
        return items

    def all_pages(self, path: str, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Every item of a paged list, and how many pages it took."""
        items: list[dict[str, Any]] = []
        cursor, pages = None, 0
        while True:
            page = self.get(path, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
            pages += 1
            items.extend(page["items"])
            cursor = page["cursor"]
            if not cursor:
                return items, pages

    def final_job(self, key: str, timeout: float | None = None) -> dict[str, Any]:
        job = eventually(
            lambda: next((j for j in self.jobs_of(key) if j["status"] in FINAL), None),
            timeout if timeout is not None else self.poll_timeout,
        )
        return job


@pytest.fixture(scope="session")
def api(target: E2ETarget, poll_timeout: float) -> Api:
    return Api(target.api_url, poll_timeout)


@pytest.fixture
def upload(target: E2ETarget, target_s3: Any) -> Callable[[str, bytes | Path], str]:
    """Put bytes (or a file) under incoming/e2e/... (per-run folder on a deployed stack); returns the key."""

    def put(name: str, content: bytes | Path) -> str:
        key = f"{target.upload_prefix}{name}"
        body = content.read_bytes() if isinstance(content, Path) else content
        target_s3.put_object(Bucket=target.bucket, Key=key, Body=body)
        return key

    return put


def eventually[T](probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(interval)


def queue_depth(stack: LocalStack, queue_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_urls[queue_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    visible = int(attributes["ApproximateNumberOfMessages"])
    return visible + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def s3_notification(stack: LocalStack, key: str) -> dict[str, Any]:
    """The S3 event notification of an object in the emulator's bucket, as S3 sends it to the ingest queue."""
    assert stack.info is not None
    head = stack.client("s3").head_object(Bucket=stack.info.bucket, Key=key)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": stack.info.region,
                "eventTime": "2030-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAREDELIVERY"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "REDELIVERY", "x-amz-id-2": "REDELIVERY"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "redelivery",
                    "bucket": {
                        "name": stack.info.bucket,
                        "ownerIdentity": {"principalId": "A1LOCAL"},
                        "arn": f"arn:aws:s3:::{stack.info.bucket}",
                    },
                    "object": {
                        "key": key,
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "versionId": head["VersionId"],
                        "sequencer": "0000000000000001",
                    },
                },
            }
        ]
    }
