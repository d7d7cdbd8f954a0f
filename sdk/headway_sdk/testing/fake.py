"""A fake API on a real loopback socket, serving scripted answers.

Tests of a connector run it against :class:`FakeApi`, which speaks real
HTTP/1.1 on ``127.0.0.1``: status lines, headers, ``Content-Length``,
keep-alive, and faults a real network has (a connection reset mid-body, a
body cut short, an answer slower than the timeout). Each answer leaves in
one write on a ``TCP_NODELAY`` socket, so no test waits on Nagle's
algorithm.

Routes match a method and a path (a string, or a compiled regex matched in
full) and optionally query parameters. A route serves scripted responses in
order, each once, or calls a handler for every request::

    fake_api.add("GET", "/issues", FakeResponse(json=[...], headers={...}))
    fake_api.add(
        "GET",
        "/issues",
        FakeResponse(429, headers={"Retry-After": "7"}),
        FakeResponse(json=[...]),
        query={"page": "2"},
    )
    fake_api.handle("GET", "/tickets", lambda request: {"tickets": [...]})

Every request is recorded in :attr:`FakeApi.requests`. :meth:`FakeApi.verify`
(which the ``fake_api`` fixture calls after the test) fails when a scripted
response was never used, a request matched no route, or a handler raised.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import json
import logging
import re
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

log = logging.getLogger(__name__)

#: A query value in a route that matches any value of a present parameter.
ANY = ...

_NO_JSON = object()
FAULTS = ("reset", "truncate", "drop")


def http_date(when: datetime) -> str:
    """``Wed, 21 Oct 2026 07:28:00 GMT``: a time as HTTP headers write it."""
    return email.utils.format_datetime(when, usegmt=True)


@attrs.frozen
class FakeResponse:
    """One scripted answer.

    :param status: the HTTP status.
    :param json: a body to send as JSON (``Content-Type: application/json``).
    :param body: a raw body (text or bytes) instead.
    :param headers: headers to send; ``Content-Length`` is added.
    :param fault: ``"reset"`` (send half the body, then a TCP reset),
        ``"truncate"`` (announce the full length, send half, close), or
        ``"drop"`` (reset the connection before answering).
    :param delay: real seconds to wait before answering: a slow server,
        for read-timeout tests (keep it short; give the client a shorter
        timeout).
    """

    status: int = 200
    json: Any = _NO_JSON
    body: bytes | str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    fault: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(FAULTS))
    )
    delay: float = 0.0

    def payload(self) -> tuple[bytes, dict[str, str]]:
        """The body bytes and headers as they go on the wire."""
        headers = {k: str(v) for k, v in self.headers.items()}
        lower = {k.lower() for k in headers}
        if self.json is not _NO_JSON:
            body = json.dumps(self.json).encode("utf-8")
            if "content-type" not in lower:
                headers["Content-Type"] = "application/json; charset=utf-8"
        elif isinstance(self.body, str):
            body = self.body.encode("utf-8")
        else:
            body = self.body or b""
        return body, headers


@attrs.define
class RecordedRequest:
    """A request the fake received.

    :param method: ``GET``, ``POST``, ...
    :param path: the path, without the query.
    :param query: each query parameter's last value.
    :param headers: the headers (keys lower-cased).
    :param body: the raw body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    target: str = ""
    #: What the fake answered.
    response: FakeResponse | None = None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body read as an HTML form (a token request)."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    def __str__(self) -> str:
        return f"{self.method} {self.target or self.path}"


#: What a handler may return: a response, a JSON body, or (status, body[, headers]).
HandlerResult = FakeResponse | Mapping[str, Any] | list[Any] | tuple[Any, ...]
Handler = Callable[[RecordedRequest], HandlerResult]


class Route:
    """A method, a path and query conditions, with what to answer."""

    def __init__(
        self,
        method: str,
        path: str | re.Pattern[str],
        *,
        responses: Iterable[FakeResponse] = (),
        handler: Handler | None = None,
        query: Mapping[str, Any] | None = None,
        repeat: bool = False,
        times: int | None = None,
    ):
        self.method = method.upper() if method else None
        #: How many requests a handler route answers (``None``: any number).
        self.times = times
        self.path = path
        self.query = dict(query or {})
        self.responses: collections.deque[FakeResponse] = collections.deque(responses)
        self.handler = handler
        self.repeat = repeat
        #: How many requests this route answered.
        self.used = 0

    def matches(self, request: RecordedRequest) -> bool:
        """Whether the route answers this request now."""
        if self.method and request.method != self.method:
            return False
        if isinstance(self.path, re.Pattern):
            if not self.path.fullmatch(request.path):
                return False
        elif self.path is not None and request.path != self.path:
            return False
        for key, value in self.query.items():
            if key not in request.query:
                return False
            if value is not ANY and request.query[key] != str(value):
                return False
        if self.handler is not None:
            return self.times is None or self.used < self.times
        return bool(self.responses)

    def answer(self, request: RecordedRequest) -> FakeResponse:
        """The next answer (a scripted one is used up, unless it repeats)."""
        self.used += 1
        if self.handler is not None:
            return _as_response(self.handler(request))
        if self.repeat and len(self.responses) == 1:
            return self.responses[0]
        return self.responses.popleft()

    def describe(self) -> str:
        """``GET /issues?page=2`` for messages."""
        path = self.path.pattern if isinstance(self.path, re.Pattern) else self.path
        query = "&".join(f"{k}={'*' if v is ANY else v}" for k, v in self.query.items())
        return f"{self.method or '*'} {path or '*'}{'?' + query if query else ''}"


def _as_response(result: HandlerResult) -> FakeResponse:
    if isinstance(result, FakeResponse):
        return result
    if isinstance(result, tuple):
        status, body, *rest = result
        headers = rest[0] if rest else {}
        return FakeResponse(status, json=body, headers=headers)
    return FakeResponse(json=result)


class FakeApi:
    """A scripted HTTP server on ``127.0.0.1`` (see the module's docs).

    Use it through the ``fake_api`` fixture, or as a context manager.

    :param strict: a request no route matches fails :meth:`verify`.
    """

    def __init__(self, *, strict: bool = True):
        self.strict = strict
        self.routes: list[Route] = []
        #: Every request received, in order.
        self.requests: list[RecordedRequest] = []
        #: Requests no route matched.
        self.unexpected: list[RecordedRequest] = []
        #: Tracebacks of handlers that raised.
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeApi:
        """Listen on a free loopback port, serving in a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.api = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="headway-fake-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the server's root."""
        if self._server is None:
            raise RuntimeError("the fake API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, path: str) -> str:
        """An absolute URL on this server."""
        return f"{self.url}/{path.lstrip('/')}"

    # ------------------------------------------------------------ scripting

    def add(
        self,
        method: str,
        path: str | re.Pattern[str],
        *responses: FakeResponse,
        query: Mapping[str, Any] | None = None,
        repeat: bool = False,
    ) -> Route:
        """Script answers for a route, served once each, in order.

        :param repeat: keep serving the last answer once the others are used.
        """
        if not responses:
            raise ValueError("script at least one response")
        route = Route(method, path, responses=responses, query=query, repeat=repeat)
        with self._lock:
            self.routes.append(route)
        return route

    def handle(
        self,
        method: str,
        path: str | re.Pattern[str],
        handler: Handler,
        *,
        query: Mapping[str, Any] | None = None,
    ) -> Route:
        """Answer every matching request with ``handler(request)``."""
        route = Route(method, path, handler=handler, query=query)
        with self._lock:
            self.routes.append(route)
        return route

    def inject(
        self,
        *responses: FakeResponse,
        method: str | None = None,
        path: str | re.Pattern[str] | None = None,
        handler: Handler | None = None,
        times: int = 1,
        repeat: bool = False,
    ) -> Route:
        """Answers served before any route, to the next matching requests.

        Without ``method`` and ``path`` they go to whatever comes next:
        ``fake_api.inject(FakeResponse(429, headers={"Retry-After": "7"}))``.
        With ``handler`` instead of responses, it answers the next ``times``
        requests.
        """
        route = Route(
            method or "",
            path,  # type: ignore[arg-type]
            responses=responses,
            handler=handler,
            times=times if handler is not None else None,
            repeat=repeat,
        )
        with self._lock:
            self.routes.insert(0, route)
        return route

    def clear(self) -> None:
        """Forget every route and recorded request."""
        with self._lock:
            self.routes.clear()
            self.requests.clear()
            self.unexpected.clear()
            self.errors.clear()

    def requests_to(
        self, path: str, method: str | None = None
    ) -> list[RecordedRequest]:
        """The recorded requests to one path (and method)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    # ------------------------------------------------------------ checking

    def problems(self) -> list[str]:
        """What :meth:`verify` would complain about."""
        with self._lock:
            found = [
                f"scripted response never used: {route.describe()} "
                f"({len(route.responses)} left)"
                for route in self.routes
                if route.handler is None
                and route.responses
                and not (route.repeat and route.used and len(route.responses) == 1)
            ]
            if self.strict:
                found += [
                    f"request matched no route: {request}"
                    for request in self.unexpected
                ]
            found += [f"handler raised:\n{error}" for error in self.errors]
        return found

    def verify(self) -> None:
        """Fail if a scripted answer was never used, or a request matched nothing.

        :raises AssertionError: listing each problem.
        """
        found = self.problems()
        if found:
            raise AssertionError("the fake API saw problems:\n  " + "\n  ".join(found))

    # ------------------------------------------------------------ serving

    def dispatch(self, request: RecordedRequest) -> FakeResponse:
        """The answer to a request (used by the server thread)."""
        with self._lock:
            self.requests.append(request)
            route = next((r for r in self.routes if r.matches(request)), None)
            if route is None:
                self.unexpected.append(request)
                return FakeResponse(
                    404,
                    json={
                        "message": f"headway fake API: nothing scripted for {request}"
                    },
                )
            try:
                request.response = route.answer(request)
            except Exception:
                self.errors.append(traceback.format_exc())
                request.response = FakeResponse(
                    500, json={"message": "the fake's handler raised"}
                )
            return request.response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    api: FakeApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake API: " + format, *args)

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {
            k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
        }
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            target=self.path,
        )
        response = self.server.api.dispatch(request)
        try:
            self._write(response)
        except OSError:
            # The client gave up (a read timeout): nothing to answer.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def _write(self, response: FakeResponse) -> None:
        if response.delay:
            time.sleep(response.delay)
        if response.fault == "drop":
            self._reset()
            return
        body, headers = response.payload()
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        headers.setdefault("Content-Length", str(len(body)))
        if response.fault:
            headers["Connection"] = "close"
        lines += [f"{name}: {value}" for name, value in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command == "HEAD":
            body = b""
        if response.fault is None:
            self.wfile.write(head + body)
            return
        self.close_connection = True
        self.wfile.write(head + body[: len(body) // 2])
        if response.fault == "reset":
            self._reset()
        else:
            self.connection.shutdown(socket.SHUT_WR)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP reset.
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.connection.close()
        self.close_connection = True
