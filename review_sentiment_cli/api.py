"""The HTTP API as the CLI uses it: JSON over HTTPS, a bearer token when JWT auth is on, cursors followed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

PAGE_LIMIT = 100
TIMEOUT_SECONDS = 30


class ApiError(RuntimeError):
    """The API answered with an error; the message is the API's own."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def _answer(self, response: requests.Response) -> Any:
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message", response.text))
            except ValueError:
                message = response.text
            raise ApiError(response.status_code, message)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        given = {k: v for k, v in params.items() if v is not None}
        return self._answer(self.http.get(f"{self.base_url}{path}", params=given, timeout=TIMEOUT_SECONDS))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._answer(self.http.post(f"{self.base_url}{path}", json=body, timeout=TIMEOUT_SECONDS))

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, one page in memory at a time."""
        cursor: str | None = None
        while True:
            page = self.get(path, limit=PAGE_LIMIT, cursor=cursor, **params)
            yield from page["items"]
            cursor = page.get("cursor")
            if not cursor:
                return

    # -- the routes ---------------------------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.get(f"/jobs/{job_id}")
        return job

    def jobs(self, source_key: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first; all of them, or the newest `limit`."""
        found: list[dict[str, Any]] = []
        for job in self.pages("/jobs", source_key=source_key):
            found.append(job)
            if limit is not None and len(found) >= limit:
                break
        return found

    def reviews(self, job_id: str, sentiment: str | None = None) -> Iterator[dict[str, Any]]:
        return self.pages(f"/jobs/{job_id}/reviews", sentiment=sentiment)

    def rejected(self, job_id: str) -> Iterator[dict[str, Any]]:
        return self.pages(f"/jobs/{job_id}/rejected")

    def export_link(self, job_id: str, export_format: str) -> dict[str, Any] | None:
        """The short-lived download URL of the job's export, or None while it is not written (404)."""
        try:
            link: dict[str, Any] = self.get(f"/jobs/{job_id}/export", format=export_format)
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return link

    def predict(self, texts: list[str], explain: bool = False) -> dict[str, Any]:
        reviews = [{"id": str(index), "text": text} for index, text in enumerate(texts, start=1)]
        answer: dict[str, Any] = self.post("/predict", {"reviews": reviews, "explain": explain})
        return answer
