"""One local emulator for the whole end-to-end suite, on the real template, functions and model artifact."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack import LocalStack

FINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}
# Short, so a failed message is retried within seconds (the template's 1800 s would take half an hour).
E2E_VISIBILITY_TIMEOUT = 3


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    emulator = LocalStack(
        visibility_timeout=E2E_VISIBILITY_TIMEOUT,
        state_dir=tmp_path_factory.mktemp("emulator-state"),
        stack_name="review-sentiment-e2e",
    )
    emulator.__enter__()  # stops whatever it started if it fails
    try:
        yield emulator
    finally:
        emulator.stop()


class Api:
    """The HTTP API as a client sees it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
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

    def final_job(self, key: str, timeout: float = 60.0) -> dict[str, Any]:
        job = eventually(lambda: next((j for j in self.jobs_of(key) if j["status"] in FINAL), None), timeout)
        return job


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Api:
    assert stack.info is not None
    return Api(stack.info.api_url)


@pytest.fixture
def upload(stack: LocalStack) -> Callable[[str, bytes | Path], str]:
    """Put bytes (or a file) under incoming/e2e/...; returns the key."""
    assert stack.info is not None
    s3 = stack.client("s3")

    def put(name: str, content: bytes | Path) -> str:
        assert stack.info is not None
        key = f"{stack.info.incoming_prefix}e2e/{name}"
        body = content.read_bytes() if isinstance(content, Path) else content
        s3.put_object(Bucket=stack.info.bucket, Key=key, Body=body)
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
