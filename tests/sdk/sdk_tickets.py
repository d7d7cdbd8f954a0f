"""A small connector built on the SDK, and a fake of its API, for the tests.

The "tickets" API: ``GET /api/tickets?updated_since=...&limit=N&cursor=C``
returns ``{"tickets": [...], "next_cursor": "..."}`` oldest first, with a
bearer token; ``GET /api/me`` answers who the token belongs to.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from headway_sdk import (
    Auth,
    BearerAuth,
    Connector,
    Cursor,
    CursorRun,
    HttpSettings,
    HttpStream,
    NextTokenPaginator,
    Paginator,
    RecordError,
    Secret,
    Stream,
    WatermarkCursor,
    WorkItem,
    format_timestamp,
    hookimpl,
    http_url,
    option,
    parse_timestamp,
)
from headway_sdk.testing import FakeApi, FakeResponse, Harness, RecordedRequest

GOOD_TOKEN = "tickets-good-token-7f3a9c"
BAD_TOKEN = "tickets-refused-token-1b2c"
START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


@attrs.frozen
class TicketsConfig(HttpSettings):
    """The ``[sources.NAME]`` table of the tickets connector."""

    url: str = option(validator=http_url, help="the API's root URL")
    token: Secret = option(help="an API token, as ${TICKETS_TOKEN}")
    page_size: int = option(default=100, help="tickets per page")
    start: datetime | None = option(default=None, help="how far back to reach")
    lookback: timedelta = option(default=timedelta(minutes=5), help="overlap")

    def validate(self) -> Iterable[tuple[str, str]]:
        """Shared checks, and a page size within what the API allows."""
        yield from super().validate()
        if not 1 <= self.page_size <= 500:
            yield "page_size", "must be between 1 and 500"


class Tickets(HttpStream):
    """Tickets, oldest update first, resumable by watermark."""

    name = "tickets"
    path = "/api/tickets"
    records_path = "tickets"

    def paginator(self) -> Paginator:
        """A cursor token in the body."""
        return NextTokenPaginator(token_path="next_cursor", param="cursor")

    def cursor(self) -> Cursor:
        """The updated-at watermark."""
        return WatermarkCursor(start=self.config.start, lookback=self.config.lookback)

    def params(self, partition: str, run: CursorRun) -> Mapping[str, Any]:
        """Filter by the watermark; ask for a page size."""
        since = format_timestamp(run.since) if run.since else None
        return {"updated_since": since, "limit": self.config.page_size}

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        """A ticket as a work item."""
        if not raw.get("title"):
            raise RecordError("a ticket without a title")
        return WorkItem(
            id=raw["id"],
            key=f"T-{raw['id']}",
            kind="ticket",
            title=raw["title"],
            state="done" if raw.get("status") == "closed" else "open",
            status=raw.get("status"),
            updated_at=parse_timestamp(raw["updated_at"]),
            effort=raw.get("hours", 0),
        )


class TicketsConnector(Connector[TicketsConfig]):
    """The tickets connector."""

    config_class = TicketsConfig

    def auth(self) -> Auth:
        """The bearer token."""
        return BearerAuth(self.config.token)

    def streams(self) -> list[Stream]:
        """One stream."""
        return [Tickets(self)]

    def check(self) -> None:
        """Who am I."""
        self.client.get("/api/me")


@hookimpl
def register_connectors(register: Any) -> None:
    """Register ``tickets``."""
    register("tickets", TicketsConnector.build, description="the tickets test API")


# ---------------------------------------------------------------- the fake


@attrs.define
class TicketsData:
    """The fake's tickets, by id."""

    tickets: dict[str, dict[str, Any]]


def make_tickets(count: int = 11) -> TicketsData:
    """``count`` tickets updated an hour apart in January 2026."""
    tickets = {}
    for number in range(1, count + 1):
        updated = START + timedelta(hours=number)
        tickets[str(number)] = {
            "id": number,
            "title": f"Ticket {number}",
            "status": "closed" if number % 3 == 0 else "open",
            "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "hours": number % 4,
        }
    return TicketsData(tickets)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])


def _authorized(request: RecordedRequest) -> bool:
    return request.headers.get("authorization") == f"Bearer {GOOD_TOKEN}"


def _denied() -> FakeResponse:
    return FakeResponse(401, json={"message": "Bad credentials"})


def serve_tickets(fake: FakeApi, data: TicketsData) -> None:
    """Answer ``/api/me`` and ``/api/tickets`` from ``data``."""

    def me(request: RecordedRequest) -> Any:
        return {"login": "tester"} if _authorized(request) else _denied()

    def tickets(request: RecordedRequest) -> Any:
        if not _authorized(request):
            return _denied()
        since = parse_timestamp(request.query.get("updated_since"))
        rows = sorted(
            data.tickets.values(),
            key=lambda t: (parse_timestamp(t["updated_at"]), t["id"]),
        )
        if since is not None:
            rows = [t for t in rows if parse_timestamp(t["updated_at"]) >= since]
        limit = int(request.query.get("limit", 100))
        offset = _offset(request.query.get("cursor"))
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"tickets": page}
        if offset + limit < len(rows):
            body["next_cursor"] = _cursor(offset + limit)
        return body

    fake.handle("GET", "/api/me", me)
    fake.handle("GET", "/api/tickets", tickets)


def touch_ticket(data: TicketsData, now: datetime) -> int:
    """Retitle the oldest ticket, updated ``now``; one item changes."""
    ticket = data.tickets["1"]
    ticket["title"] = "Ticket 1 (edited)"
    ticket["updated_at"] = now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return 1


def harness(**changes: Any) -> Harness:
    """The conformance harness of the tickets connector."""
    import sys

    plugin = sys.modules[__name__]
    base = Harness(
        plugin=plugin,
        connector="tickets",
        options=lambda url: {
            "url": url,
            "token": "${TICKETS_TOKEN}",
            "page_size": 3,
            "start": "2026-01-01",
        },
        environ={"TICKETS_TOKEN": GOOD_TOKEN},
        bad_environ={"TICKETS_TOKEN": BAD_TOKEN},
        dataset=make_tickets,
        serve=serve_tickets,
        change=touch_ticket,
    )
    return attrs.evolve(base, **changes)
