"""Faults on cue for the connectors' fakes.

- :class:`FaultPlan` swaps the answer a fake gives to chosen requests (the
  n-th request matching a test), starting from the answer the fake would
  have given: a real page cut off (on the wire, or well framed with its JSON
  cut), reset, slowed down, or replaced by a 503.
- :class:`Held` is an answer that stops half-way (or before its first
  byte) and keeps the connection open until the client goes away: a
  server that hangs, or a client killed while it waits.
- :class:`ControlledFakeApi` is the SDK's ``FakeApi`` that can send
  :class:`Held` answers and speak TLS.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import attrs

from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest, Route
from headway_sdk.testing.fake import _as_response, _Handler

#: Chooses requests: ``test(request)`` is true for the ones a rule counts.
Test = Callable[[RecordedRequest], bool]
#: Turns the fake's own answer into the one to send.
Change = Callable[[FakeResponse], FakeResponse]


@attrs.frozen(eq=False)
class Held(FakeResponse):
    """An answer that stops and waits until the client closes the connection.

    :param half: send the headers and half the body first (a page cut off
        mid-body); otherwise send nothing at all.
    :param sent: set once what is sent has been written to the socket.
    :param release: set to let the server thread go without the client.
    """

    half: bool = False
    sent: threading.Event = attrs.field(factory=threading.Event, repr=False)
    release: threading.Event = attrs.field(factory=threading.Event, repr=False)

    @classmethod
    def of(cls, answer: FakeResponse, *, half: bool) -> Held:
        """Hold ``answer`` (sending half of it first, when ``half``)."""
        return cls(
            status=answer.status,
            json=answer.json,
            body=answer.body,
            headers=dict(answer.headers),
            half=half,
        )


@attrs.define
class _Rule:
    test: Test
    change: Change
    first: int
    times: int
    sticky: bool = False
    seen: int = 0
    #: The answers this rule gave, in order.
    given: list[FakeResponse] = attrs.field(factory=list)
    _targets: set[str] = attrs.field(factory=set)

    def applies(self, request: RecordedRequest) -> bool:
        if not self.test(request):
            return False
        if request.target in self._targets:
            return True
        self.seen += 1
        chosen = self.first <= self.seen < self.first + self.times
        if chosen and self.sticky:
            self._targets.add(request.target)
        return chosen


class FaultPlan:
    """Swaps a fake's answers to the requests its rules choose.

    Install it after the fake's routes: it wraps every handler route, so
    each request still reaches the fake (which counts, pages and checks
    credentials as usual) and a rule then decides what is sent instead.

    :param fake: the fake API whose handler routes to wrap.
    """

    def __init__(self, fake: FakeApi):
        self.rules: list[_Rule] = []
        self._lock = threading.Lock()
        for route in fake.routes:
            self._wrap(route)

    def _wrap(self, route: Route) -> None:
        handler = route.handler
        if handler is None:
            return

        def answer(request: RecordedRequest) -> FakeResponse:
            real = _as_response(handler(request))
            with self._lock:
                rule = next((r for r in self.rules if r.applies(request)), None)
                if rule is None:
                    return real
                changed = rule.change(real)
                rule.given.append(changed)
                return changed

        route.handler = answer

    def on(
        self,
        test: Test,
        change: Change,
        *,
        nth: int = 1,
        times: int = 1,
        sticky: bool = False,
    ) -> _Rule:
        """From the ``nth`` request ``test`` chooses, ``times`` in a row, send
        ``change(answer)`` instead of the fake's answer.

        :param sticky: also change every later request for the same URL (a
            retry gets the same broken page, as from a real service).
        """
        rule = _Rule(test, change, nth, times, sticky)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule (the fake answers as itself again)."""
        with self._lock:
            for rule in self.rules:
                for given in rule.given:
                    if isinstance(given, Held):
                        given.release.set()
            self.rules.clear()


def path_is(*suffixes: str) -> Test:
    """Requests whose path ends with one of ``suffixes``."""
    return lambda request: request.path.endswith(suffixes)


def reset(answer: FakeResponse) -> FakeResponse:
    """The answer, cut by a TCP reset half-way through its body."""
    return attrs.evolve(answer, fault="reset")


def truncated(answer: FakeResponse) -> FakeResponse:
    """The answer's full length announced, half its body sent, then closed."""
    return attrs.evolve(answer, fault="truncate")


def cut_json(answer: FakeResponse) -> FakeResponse:
    """A whole answer whose JSON stops half-way: the body is cut and then sent
    with a ``Content-Length`` that fits it, so the HTTP exchange is complete
    and only the JSON parser can tell (a proxy or a server that crashed while
    writing its page)."""
    body, headers = answer.payload()
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    return FakeResponse(answer.status, body=body[: len(body) // 2], headers=headers)


def slow(seconds: float) -> Change:
    """The answer, sent ``seconds`` late."""
    return lambda answer: attrs.evolve(answer, delay=seconds)


def status(code: int, body: Any = None, **headers: str) -> Change:
    """Another answer instead: ``code`` with a JSON ``body``."""
    payload = {"message": f"HTTP {code} from the fault plan"} if body is None else body
    return lambda answer: FakeResponse(code, json=payload, headers=headers)


HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    "<body><h1>We'll be right back</h1><p>The site is down for maintenance."
    "</p></body></html>"
)


def html_page(answer: FakeResponse) -> FakeResponse:
    """A 200 with an HTML error page, as a proxy or a maintenance page sends."""
    return FakeResponse(
        200, body=HTML_ERROR, headers={"Content-Type": "text/html; charset=utf-8"}
    )


class ControlledFakeApi(FakeApi):
    """The SDK's fake API, able to send :class:`Held` answers and speak TLS.

    :param tls: a server-side SSL context: the fake then speaks HTTPS.
    """

    def __init__(self, *, strict: bool = True, tls: ssl.SSLContext | None = None):
        super().__init__(strict=strict)
        self.tls = tls

    def start(self) -> ControlledFakeApi:
        """Listen on a free loopback port, serving in a background thread."""
        super().start()
        server = self._server
        assert server is not None
        # Nothing has connected yet: the URL is not out.
        server.RequestHandlerClass = _HoldingHandler
        if self.tls is not None:
            # The handshake happens in each connection's own thread, so a
            # client that refuses the certificate never stalls the others.
            server.socket = self.tls.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        return self

    @property
    def url(self) -> str:
        """The server's root, ``https://`` when it speaks TLS."""
        plain = super().url
        return plain.replace("http://", "https://", 1) if self.tls else plain


class _HoldingHandler(_Handler):
    def handle(self) -> None:
        # A client that refuses the certificate, or dies, ends its
        # connection; that is the test's business, not a server error.
        with contextlib.suppress(OSError, ssl.SSLError):
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            super().handle()

    def _write(self, response: FakeResponse) -> None:
        if not isinstance(response, Held):
            super()._write(response)
            return
        self.close_connection = True
        if response.half:
            body, headers = response.payload()
            headers.setdefault("Content-Length", str(len(body)))
            lines = [f"HTTP/1.1 {response.status} OK"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            self.wfile.write(head + body[: len(body) // 2])
            self.wfile.flush()
        response.sent.set()
        _wait_for_close(self.connection, response.release)


def _wait_for_close(connection: socket.socket, release: threading.Event) -> None:
    """Block until the peer closes ``connection`` or ``release`` is set."""
    while not release.is_set():
        readable, _, _ = select.select([connection], [], [], 0.05)
        if not readable:
            continue
        try:
            if not connection.recv(4096):
                return
        except OSError:
            return
