"""An HTTP API (API Gateway v2) stand-in: HTTP requests become payload format 2.0 events for the function.

Routes are the template's `Type: HttpApi` events. A request that matches no route gets API Gateway's
`404 {"message":"Not Found"}`, whatever its method (TRACE included); a body over 10 MB gets `413`; a function
error gets `500 {"message":"Internal Server Error"}`; a function that outlives the integration timeout (30 s)
gets `503 {"message":"Service Unavailable"}`. Every answer of the adapter itself is JSON, never an HTML
error page.

The same adapter plays CloudFront when given origin headers: it sets them on every request, replacing what the
caller sent, as CloudFront's OriginCustomHeaders do. With an authorizer, the routes it protects answer
`401 {"message":"Unauthorized"}` to a request whose Authorization header it does not accept, before the
function runs, as API Gateway's JWT authorizer does.

With `serve_dashboard` it also answers GET/HEAD under /dashboard/ with the results dashboard's files
(local/dashboard.py), as CloudFront's `/dashboard/*` behaviour does in front of the deployed API.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.dashboard import URL_PREFIX, content_type, site_files
from local.function_host import Invocation
from local.functions import HttpRoute
from local.loopback import LoopbackServer

logger = logging.getLogger("local.http_api")
# API Gateway HTTP APIs refuse a request body over 10 MB with 413 before any route or function sees it.
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded", "+json")


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]


def _compile(route: HttpRoute) -> _CompiledRoute:
    parts = []
    for segment in route.path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return _CompiledRoute(route, re.compile("^/" + "/".join(parts) + "$"))


class RouteTable:
    def __init__(self, routes: list[HttpRoute]) -> None:
        # Literal paths first, as API Gateway prefers the most specific route.
        ordered = sorted(routes, key=lambda r: (r.path.count("{"), r.method == "ANY"))
        self._routes = [_compile(route) for route in ordered]

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for compiled in self._routes:
            if compiled.route.method not in {method, "ANY"}:
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def _is_text(content_type: str) -> bool:
    return not content_type or any(marker in content_type for marker in _TEXT_TYPES)


def build_event(
    route: HttpRoute,
    path_parameters: dict[str, str],
    method: str,
    raw_target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload format 2.0 event for one request."""
    target = urlsplit(raw_target)
    merged, cookies = _headers_and_cookies(headers)
    query: dict[str, str] = {}
    for name, value in parse_qsl(target.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": unquote(target.path),
        "rawQueryString": target.query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": merged.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": method,
                "path": unquote(target.path),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"], event["isBase64Encoded"] = _event_body(body, merged.get("content-type", ""))
    return event


def _headers_and_cookies(headers: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Headers by lower-case name (repeats joined by commas), and the cookies, as payload 2.0 has them."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged, cookies


def _event_body(body: bytes, content_type: str) -> tuple[str, bool]:
    """The body as text when it is text in UTF-8, else base64 (and isBase64Encoded)."""
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def http_response(invocation: Invocation) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body API Gateway sends for a function's answer (payload format 2.0)."""
    if not invocation.ok:
        if invocation.error_type == "Sandbox.Timedout":
            return 503, [("Content-Type", "application/json")], b'{"message":"Service Unavailable"}'
        return 500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    payload = invocation.payload
    if not (isinstance(payload, dict) and "statusCode" in payload):
        # Format 2.0 infers a 200 JSON response from any other return value.
        return 200, [("Content-Type", "application/json")], json.dumps(payload).encode()
    headers = [(str(k), str(v)) for k, v in (payload.get("headers") or {}).items()]
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in payload.get("cookies") or [])
    raw = payload.get("body") or ""
    body = base64.b64decode(raw) if payload.get("isBase64Encoded") else str(raw).encode("utf-8")
    return int(payload["statusCode"]), headers, body


class _ApiRequestHandler(BaseHTTPRequestHandler):
    server: HttpApiServer
    protocol_version = "HTTP/1.1"
    # Until a request line parses, http.server assumes HTTP/0.9 and would answer a malformed one with a bare
    # body; API Gateway speaks HTTP/1.1 (and 2) only, so its refusals always carry a status line and headers.
    default_request_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body waited for the client's delayed
    # ACK (about 40 ms on Linux) on every request of a kept-alive connection (a poll took 53 ms, 16 without).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the route table, not only those http.server has a do_<METHOD> for (it would
        # send an HTML 501): API Gateway answers any method, with its JSON 404 when no route declares it.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, headers too long) in API Gateway's JSON."""
        self.close_connection = True
        body = json.dumps({"message": HTTPStatus(code).phrase}).encode()
        self._send(code, [("Content-Type", "application/json")], body)

    def _handle(self) -> None:
        if int(self.headers.get("Content-Length") or 0) > PAYLOAD_LIMIT_BYTES:
            self.close_connection = True  # the body is not read
            self._send(413, [("Content-Type", "application/json")], b'{"message":"Request Entity Too Large"}')
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = unquote(urlsplit(self.path).path)
        if self.server.serve_dashboard and path.startswith(URL_PREFIX) and self.command in {"GET", "HEAD"}:
            self._send_site_file(path.removeprefix(URL_PREFIX))
            return
        matched = self.server.routes.match(self.command, path)
        if matched is None:
            self._send(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}')
            return
        route, parameters = matched
        if route.route_key in self.server.protected and not self.server.authorizer(
            self.headers.get("Authorization")
        ):
            self._send(401, [("Content-Type", "application/json")], b'{"message":"Unauthorized"}')
            return
        added = {name.lower() for name in self.server.origin_headers}
        headers = [(name, value) for name, value in self.headers.items() if name.lower() not in added]
        headers.extend(self.server.origin_headers.items())
        event = build_event(route, parameters, self.command, self.path, headers, body, self.client_address[0])
        started = time.monotonic()
        invocation = self.server.invoke(route.function_id, event)
        status, headers, payload = http_response(invocation)
        logger.info(
            "%s %s -> %d (%.0f ms)", self.command, self.path, status, (time.monotonic() - started) * 1000
        )
        self._send(status, headers, payload)

    def _send_site_file(self, key: str) -> None:
        # Listed per request, so an edited page shows on reload without restarting the emulator.
        found = site_files().get(key)
        if found is None:
            self._send(404, [("Content-Type", "text/plain; charset=utf-8")], b"Not Found")
            return
        headers = [("Content-Type", content_type(found)), ("Cache-Control", "no-cache")]
        self._send(200, headers, found.read_bytes())

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        names = set()
        for name, value in headers:
            if name.lower() in {"content-length", "connection", "transfer-encoding"}:
                continue
            names.add(name.lower())
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("apigw-requestid", str(uuid.uuid4()))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class HttpApiServer(LoopbackServer):
    """Turns HTTP requests into API Gateway HTTP API v2 events for the function behind the routes."""

    thread_name = "http-api"

    def __init__(
        self,
        routes: list[HttpRoute],
        invoke: Callable[[str, dict[str, Any]], Invocation],
        port: int = 0,
        *,
        origin_headers: dict[str, str] | None = None,
        authorizer: Callable[[str | None], bool] | None = None,
        protected: frozenset[str] = frozenset(),
        serve_dashboard: bool = False,
    ) -> None:
        super().__init__(_ApiRequestHandler, port)
        self.routes = RouteTable(routes)
        self.invoke = invoke
        self.origin_headers = dict(origin_headers or {})
        self.authorizer = authorizer or (lambda authorization: True)
        self.protected = protected if authorizer else frozenset()
        self.serve_dashboard = serve_dashboard

    @property
    def dashboard_url(self) -> str:
        """Where the results dashboard is, when this server plays CloudFront's `/dashboard/*` behaviour."""
        return f"{self.url}{URL_PREFIX}" if self.serve_dashboard else ""
