"""The CLI's HTTP client against a small server on 127.0.0.1: the token, the cursors, the API's own errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from review_sentiment_cli.api import ApiClient, ApiError

PAGES = {None: ([1, 2], "c1"), "c1": ([3], None)}


class Recorder(BaseHTTPRequestHandler):
    """Answers like the query API: /jobs/{id}/reviews in two pages, /jobs/missing with its 404 message."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        Recorder.seen.append(
            {"path": url.path, "query": query, "authorization": self.headers["Authorization"]}
        )
        if url.path == "/jobs/missing/export":
            self._answer(
                404, {"message": "No job with id 'missing'; list jobs with GET /jobs.", "job_id": "missing"}
            )
            return
        if url.path == "/jobs/broken":
            self._answer(500, {"message": "Something went wrong on our side; quote request id r-1."})
            return
        rows, cursor = PAGES[query.get("cursor")]
        self._answer(200, {"items": [{"row": row} for row in rows], "cursor": cursor})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:  # quiet test output
        return


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_page_is_followed_and_the_token_goes_with_each_call(api_url: str) -> None:
    # Given an API that wants a JWT and answers a job's results in two pages
    client = ApiClient(api_url + "/", token="eyJ.header.sig")
    # When the CLI reads the negatives of a job
    rows = [item["row"] for item in client.reviews("job-1", sentiment="negative")]
    # Then it gets every row, asked with the filter, the cursor it was given and the bearer token each time
    assert rows == [1, 2, 3]
    assert [call["query"] for call in Recorder.seen] == [
        {"limit": "100", "sentiment": "negative"},
        {"limit": "100", "sentiment": "negative", "cursor": "c1"},
    ]
    assert {call["authorization"] for call in Recorder.seen} == {"Bearer eyJ.header.sig"}


def test_no_export_yet_is_none_and_other_errors_carry_the_apis_message(api_url: str) -> None:
    # Given an API that has no export for a job and fails on another request
    client = ApiClient(api_url)
    # When the CLI asks for the export link, and for the broken job
    # Then the first is None (the caller pages instead) and the second raises with the API's sentence
    assert client.export_link("missing", "csv") is None
    with pytest.raises(
        ApiError, match=r"HTTP 500: Something went wrong on our side; quote request id r-1\."
    ) as e:
        client.job("broken")
    assert e.value.status == 500
    assert Recorder.seen[0]["authorization"] is None
