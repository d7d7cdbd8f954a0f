"""Cursors through the real engine: watermark, sync token, full refresh."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import sdk_tickets
from sdk_engine import rows, state, sync
from sdk_tickets import GOOD_TOKEN, make_tickets, serve_tickets

from headway.connectors import DEFAULT_PARTITION
from headway.model import WorkItem
from headway_sdk import (
    AuthError,
    Connector,
    FullRefreshCursor,
    HttpError,
    HttpSettings,
    HttpStream,
    NextTokenPaginator,
    PageNumberPaginator,
    Stream,
    SyncTokenCursor,
    Tombstone,
    WatermarkCursor,
    hookimpl,
    option,
)
from headway_sdk.pagination import PageResult
from headway_sdk.testing import ANY, FakeApi, FakeResponse

ENV = {"TICKETS_TOKEN": GOOD_TOKEN}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def tickets_table(fake_api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"url": fake_api.url, "token": "${TICKETS_TOKEN}", "page_size": 4, **extra}


# ---------------------------------------------------------------- watermark


def _run(cursor: WatermarkCursor, saved: Any, *times: datetime, now: datetime = NOW):
    run = cursor.begin(saved, now=now)
    items = [WorkItem(id=str(i), kind="t", updated_at=t) for i, t in enumerate(times)]
    page = PageResult(response=None, records=[], number=1, last=True)  # type: ignore[arg-type]
    run.observe(page, items)
    return run, run.state(page)


def test_watermark_first_run_reads_from_start():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    run, _ = _run(WatermarkCursor(start=start), None)
    assert run.since == start and run.full


def test_watermark_saves_the_newest_time_seen():
    newest = NOW - timedelta(days=2)
    _, saved = _run(WatermarkCursor(), None, newest - timedelta(hours=1), newest)
    assert saved == {"watermark": "2026-02-28T12:00:00.000Z"}


def test_watermark_never_passes_the_run_start():
    # A record changed while the run was reading is read again next time.
    _, saved = _run(WatermarkCursor(), None, NOW + timedelta(minutes=3))
    assert saved == {"watermark": "2026-03-02T12:00:00.000Z"}


def test_watermark_rereads_the_lookback():
    cursor = WatermarkCursor(lookback=timedelta(minutes=10))
    run, _ = _run(cursor, {"watermark": "2026-02-28T12:00:00.000Z"})
    assert run.since == datetime(2026, 2, 28, 11, 50, tzinfo=UTC)


def test_watermark_never_moves_back():
    saved = {"watermark": "2026-02-28T12:00:00.000Z"}
    _, after = _run(WatermarkCursor(), saved, datetime(2026, 2, 28, 11, 55, tzinfo=UTC))
    assert after == saved


def test_watermark_with_nothing_seen_leaves_the_state():
    _, saved = _run(WatermarkCursor(), {"watermark": "2026-02-28T12:00:00.000Z"})
    assert saved is None


def test_an_unordered_watermark_is_saved_after_the_last_page_only():
    run = WatermarkCursor(ordered=False).begin(None, now=NOW)
    item = WorkItem(id="1", kind="t", updated_at=NOW - timedelta(days=1))
    page = PageResult(response=None, records=[], number=1, last=False)  # type: ignore[arg-type]
    run.observe(page, [item])
    assert run.state(page) is None
    assert run.state(attrs.evolve(page, last=True)) is not None


def test_watermark_state_is_saved_with_every_page(fake_api, clock, tmp_path):
    data = make_tickets(10)
    serve_tickets(fake_api, data)
    database = tmp_path / "h.db"
    result = sync(
        sdk_tickets, "tickets", tickets_table(fake_api), database, environ=ENV
    )
    assert result.status == "ok" and result.pages == 3 and result.items == 10
    assert state(database, "tickets") == {"watermark": "2026-01-01T10:00:00.000Z"}

    again = sync(sdk_tickets, "tickets", tickets_table(fake_api), database, environ=ENV)
    # The lookback (5 minutes) re-reads the newest ticket only, and stores nothing.
    assert (again.items, again.changed, again.pages) == (1, 0, 1)
    since = fake_api.requests[-1].query["updated_since"]
    assert since == "2026-01-01T09:55:00Z"


# ---------------------------------------------------------------- sync token


@attrs.frozen
class EventsConfig(HttpSettings):
    url: str = option(help="the API root")
    calendars: tuple[str, ...] = option(default=("team",), help="calendar ids")


class Events(HttpStream):
    name = "events"
    records_path = "items"

    def partitions(self) -> list[str]:
        return list(self.config.calendars)

    def paginator(self) -> NextTokenPaginator:
        return NextTokenPaginator(token_path="nextPageToken", param="pageToken")

    def cursor(self) -> SyncTokenCursor:
        return SyncTokenCursor()

    def request(self, partition: str, run: Any) -> Any:
        from headway_sdk import Request

        params = (
            {"syncToken": run.token}
            if run.token
            else {"timeMin": "2026-01-01T00:00:00Z"}
        )
        return Request("GET", f"/calendars/{partition}/events", params=params)

    def parse_record(self, raw: Any, partition: str) -> Any:
        if raw.get("status") == "cancelled":
            return Tombstone(raw["id"])
        return WorkItem(
            id=raw["id"],
            kind="meeting",
            title=raw["summary"],
            attributes={"calendar": partition},
        )

    def sweep_scope(self, partition: str) -> dict[str, Any]:
        return {"kind": "meeting", "attributes.calendar": partition}


class EventsConnector(Connector[EventsConfig]):
    config_class = EventsConfig

    def streams(self) -> list[Stream]:
        return [Events(self)]


class EventsPlugin:
    @hookimpl
    def register_connectors(self, register: Any) -> None:
        register("events", EventsConnector.build)


def _events(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "summary": f"Meeting {i}", "status": "confirmed"} for i in ids]


def test_sync_token_is_saved_after_the_last_page_only(fake_api, clock, tmp_path):
    path = "/calendars/team/events"
    fake_api.add(
        "GET",
        path,
        FakeResponse(json={"items": _events("a", "b"), "nextPageToken": "p2"}),
        query={"timeMin": ANY},
    )
    fake_api.add(
        "GET",
        path,
        FakeResponse(json={"items": _events("c"), "nextSyncToken": "sync-1"}),
        query={"pageToken": "p2"},
    )
    database = tmp_path / "e.db"
    options = {"url": fake_api.url}
    first = sync(EventsPlugin(), "events", options, database)
    assert first.status == "ok" and first.items == 3
    assert state(database, "events", "team") == {"sync_token": "sync-1"}

    fake_api.add(
        "GET",
        path,
        FakeResponse(
            json={
                "items": [{"id": "b", "status": "cancelled"}],
                "nextSyncToken": "sync-2",
            }
        ),
        query={"syncToken": "sync-1"},
    )
    second = sync(EventsPlugin(), "events", options, database)
    assert second.status == "ok" and second.tombstones == 1
    assert state(database, "events", "team") == {"sync_token": "sync-2"}
    assert "timeMin" not in fake_api.requests[-1].query


def test_an_interrupted_full_listing_keeps_no_token(fake_api, clock, tmp_path):
    path = "/calendars/team/events"
    fake_api.add(
        "GET",
        path,
        FakeResponse(json={"items": _events("a"), "nextPageToken": "p2"}),
        query={"timeMin": ANY},
    )
    fake_api.add(
        "GET", path, FakeResponse(500), FakeResponse(500), query={"pageToken": "p2"}
    )
    database = tmp_path / "e.db"
    result = sync(
        EventsPlugin(), "events", {"url": fake_api.url, "retries": 1}, database
    )
    assert result.status == "failed" and result.items == 1
    assert state(database, "events", "team") is None


def test_a_410_drops_the_token_resyncs_and_tombstones_what_is_gone(
    fake_api, clock, tmp_path
):
    path = "/calendars/team/events"
    database = tmp_path / "e.db"
    options = {"url": fake_api.url}
    fake_api.add(
        "GET",
        path,
        FakeResponse(json={"items": _events("a", "b", "c"), "nextSyncToken": "sync-1"}),
        query={"timeMin": ANY},
    )
    assert sync(EventsPlugin(), "events", options, database).status == "ok"

    gone = {
        "error": {
            "code": 410,
            "message": "Sync token is no longer valid, a full sync is required.",
            "errors": [{"domain": "global", "reason": "fullSyncRequired"}],
        }
    }
    fake_api.add(
        "GET", path, FakeResponse(410, json=gone), query={"syncToken": "sync-1"}
    )
    fake_api.add(
        "GET",
        path,
        FakeResponse(json={"items": _events("a"), "nextPageToken": "p2"}),
        query={"timeMin": ANY},
    )
    fake_api.add(
        "GET",
        path,
        FakeResponse(json={"items": _events("c"), "nextSyncToken": "sync-9"}),
        query={"pageToken": "p2"},
    )
    result = sync(EventsPlugin(), "events", options, database)
    assert result.status == "ok", result.error
    assert result.tombstones == 1
    assert rows(database, "SELECT id FROM items WHERE deleted_at IS NOT NULL") == [
        ("b",)
    ]
    assert state(database, "events", "team") == {"sync_token": "sync-9"}


def test_a_sweep_stays_in_its_partition(fake_api, clock, tmp_path):
    database = tmp_path / "e.db"
    for calendar, ids in (("team", ("a",)), ("sales", ("s",))):
        fake_api.add(
            "GET",
            f"/calendars/{calendar}/events",
            FakeResponse(json={"items": _events(*ids), "nextSyncToken": "t"}),
        )
    options = {"url": fake_api.url, "calendars": ["team", "sales"]}
    assert sync(EventsPlugin(), "events", options, database).status == "ok"
    assert rows(database, "SELECT count(*) FROM items WHERE deleted_at IS NULL") == [
        (2,)
    ]


# ---------------------------------------------------------------- full refresh


@attrs.frozen
class PagesConfig(HttpSettings):
    url: str = option(help="the API root")


class Pages(HttpStream):
    name = "pages"
    path = "/items"
    records_path = "items"

    def paginator(self) -> PageNumberPaginator:
        return PageNumberPaginator(size=2)

    def cursor(self) -> FullRefreshCursor:
        return FullRefreshCursor()

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        return WorkItem(id=raw["id"], kind="doc", title=raw.get("title"))

    def sweep_scope(self, partition: str) -> dict[str, Any]:
        return {"kind": "doc"}


class PagesConnector(Connector[PagesConfig]):
    config_class = PagesConfig

    def streams(self) -> list[Stream]:
        return [Pages(self)]


class PagesPlugin:
    @hookimpl
    def register_connectors(self, register: Any) -> None:
        register("pages", PagesConnector.build)


def _page(*ids: int) -> FakeResponse:
    return FakeResponse(json={"items": [{"id": i, "title": f"doc {i}"} for i in ids]})


def test_full_refresh_saves_its_page_and_resumes_there(fake_api, clock, tmp_path):
    database = tmp_path / "p.db"
    options = {"url": fake_api.url, "retries": 0}
    fake_api.add("GET", "/items", _page(1, 2), query={"page": "1"})
    fake_api.add("GET", "/items", FakeResponse(503), query={"page": "2"})
    cut = sync(PagesPlugin(), "pages", options, database)
    assert cut.status == "failed" and cut.items == 2
    assert state(database, "pages") == {"complete": False, "position": 2}

    fake_api.add("GET", "/items", _page(3, 4), query={"page": "2"})
    fake_api.add("GET", "/items", _page(5), query={"page": "3"})
    resumed = sync(PagesPlugin(), "pages", options, database)
    assert resumed.status == "ok" and resumed.items == 3
    assert state(database, "pages") == {"complete": True}
    # A resumed listing did not see pages 1-2 this time: it sweeps nothing.
    assert resumed.tombstones == 0


def _interrupted_at_page_2(fake_api: FakeApi, database: Any) -> dict[str, Any]:
    options = {"url": fake_api.url, "retries": 0}
    fake_api.add("GET", "/items", _page(1, 2), query={"page": "1"})
    fake_api.add("GET", "/items", FakeResponse(503), query={"page": "2"})
    assert sync(PagesPlugin(), "pages", options, database).status == "failed"
    assert state(database, "pages") == {"complete": False, "position": 2}
    return options


def test_a_refused_resume_position_restarts_the_listing_once(
    fake_api, clock, tmp_path, caplog
):
    database = tmp_path / "p.db"
    options = _interrupted_at_page_2(fake_api, database)
    stale = FakeResponse(400, json={"message": "invalid page token"})
    fake_api.add("GET", "/items", stale, query={"page": "2"})
    fake_api.add("GET", "/items", _page(1, 3), query={"page": "1"})
    fake_api.add("GET", "/items", _page(), query={"page": "2"})
    with caplog.at_level(logging.WARNING, logger="headway"):
        again = sync(PagesPlugin(), "pages", options, database)
    assert again.status == "ok", again.error
    assert state(database, "pages") == {"complete": True}
    # The fresh listing was read in one go: it sweeps what is gone.
    assert again.tombstones == 1
    (warning,) = [r for r in caplog.records if "refused" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "invalid page token" in warning.getMessage()
    assert "listing everything again" in warning.getMessage()


def test_a_listing_failing_from_the_start_too_says_how_to_reset(
    fake_api, clock, tmp_path
):
    database = tmp_path / "p.db"
    options = _interrupted_at_page_2(fake_api, database)
    refused = FakeResponse(400, json={"message": "bad request"})
    for _ in range(2):
        before = len(fake_api.requests_to("/items"))
        fake_api.add("GET", "/items", refused, query={"page": "2"})
        fake_api.add("GET", "/items", refused, query={"page": "1"})
        failed = sync(PagesPlugin(), "pages", options, database)
        assert failed.status == "failed"
        assert "headway state reset src" in (failed.error or "")
        # The saved position, then the start once: no loop.
        assert len(fake_api.requests_to("/items")) == before + 2
        assert state(database, "pages") == {"complete": False, "position": 2}


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_a_resumed_run_keeps_its_position_for_other_errors(status):
    run = FullRefreshCursor().begin({"complete": False, "position": 2}, now=NOW)
    assert not run.expired(HttpError("x", status=status))
    assert run.expired(HttpError("x", status=400))
    assert run.expired(HttpError("x", status=410))
    # A refused token request is about credentials, whatever its status.
    assert not run.expired(AuthError("x", status=400))
    # A run from the start has no position to drop.
    fresh = FullRefreshCursor().begin(None, now=NOW)
    assert not fresh.expired(HttpError("x", status=400))


def test_full_refresh_in_one_go_sweeps_what_is_gone(fake_api, clock, tmp_path):
    database = tmp_path / "p.db"
    options = {"url": fake_api.url}
    fake_api.add("GET", "/items", _page(1, 2), query={"page": "1"})
    fake_api.add("GET", "/items", _page(3), query={"page": "2"})
    assert sync(PagesPlugin(), "pages", options, database).status == "ok"
    fake_api.add("GET", "/items", _page(1, 3), query={"page": "1"})
    fake_api.add("GET", "/items", _page(), query={"page": "2"})
    again = sync(PagesPlugin(), "pages", options, database)
    assert again.status == "ok" and again.tombstones == 1
    assert rows(database, "SELECT id FROM items WHERE deleted_at IS NOT NULL") == [
        ("2",)
    ]


def test_a_position_holding_a_secret_is_not_saved():
    from headway.secrets import register_secret

    register_secret("sig-secret-999")
    run = FullRefreshCursor().begin(None, now=NOW)
    page = PageResult(
        response=None,
        records=[],
        number=1,
        next_position="https://x/?sig=sig-secret-999",
    )  # type: ignore[arg-type]
    assert run.state(page) is None


@pytest.mark.parametrize(
    "full", [pytest.param(True, id="full"), pytest.param(False, id="incremental")]
)
def test_full_flag_ignores_saved_state(full):
    saved = {"watermark": "2026-02-28T12:00:00.000Z"}
    run = WatermarkCursor().begin(saved, now=NOW, full=full)
    assert (run.mark is None) is full
    assert DEFAULT_PARTITION == ""


@pytest.mark.parametrize(
    ("cursor", "saved", "sweeps"),
    [
        (FullRefreshCursor(), None, True),
        (FullRefreshCursor(), {"complete": False, "position": "p3"}, False),
        (SyncTokenCursor(), None, True),
        (SyncTokenCursor(), {"sync_token": "s1"}, False),
        (WatermarkCursor(), None, False),
    ],
    ids=["full-refresh", "resumed", "token-first", "token-changes", "watermark"],
)
def test_a_sweeping_run_hands_each_pages_ids_on_and_keeps_none(
    cursor: Any, saved: Any, sweeps: bool
) -> None:
    run = cursor.begin(saved, now=NOW)
    scope = {"kind": "meeting"}
    pages = [
        [WorkItem(id="a", kind="meeting"), Tombstone("x")],
        [WorkItem(id="b", kind="meeting"), WorkItem(id="c", kind="meeting")],
    ]

    marks = [run.marks(records, scope) for records in pages]
    closing = run.closing(scope)

    assert run.sweeps is sweeps
    assert not hasattr(run, "seen")
    if not sweeps:
        assert marks == [[], []] and closing == []
        return
    assert [[(set(s.keep), s.final) for s in part] for part in marks] == [
        [({"a"}, False)],
        [({"b", "c"}, False)],
    ]
    assert [(set(s.keep), dict(s.scope), s.final) for s in closing] == [
        (set(), scope, True)
    ]
    assert run.marks(pages[0], None) == [] and run.closing(None) == []
