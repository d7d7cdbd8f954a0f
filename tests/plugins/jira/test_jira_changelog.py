"""When work started, for issues whose history Cloud's search cuts short."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import headway_jira
from headway import MeasureContext
from headway.model import Period
from headway.store import Store
from headway_jira import cycle_time
from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi, run_source

from .fakejira import DC_ENV, ENV, FakeJira, cloud_options, dc_options, hourly

FIRST = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BULK = "/rest/api/3/changelog/bulkfetch"


def sync(fake_api: FakeApi, site: FakeJira, database: Path, **options: Any) -> Any:
    """One sync of the fake site into ``database``."""
    table = (cloud_options if site.cloud else dc_options)(fake_api.url, **options)
    environ = ENV if site.cloud else DC_ENV
    return run_source(
        headway_jira, "jira", table, database, environ=environ, source="jira"
    )


def long_lived(
    site: FakeJira,
    number: int,
    *,
    done: datetime,
    review: datetime | None = None,
    churn: int = 45,
) -> tuple[str, datetime]:
    """An issue that went into progress 50 days before it was done, with
    ``churn`` rank and other changes in between (and a move into review at
    ``review``); its id and when it started."""
    start = done - 50 * DAY
    issue = site.add(number, created=start - 10 * DAY, updated=start, status="3",
                     started=start)  # fmt: skip
    ident = issue["id"]
    site.churn(ident, churn, first=start + DAY, step=timedelta(hours=12))
    if review is not None:
        site.update(ident, review, status="10002")
    site.update(ident, done, status="10001")
    return ident, start


def started(database: Path) -> dict[str, datetime | None]:
    """Each stored issue's ``started_at``, by id."""
    with sqlite3.connect(database) as conn:
        found = conn.execute(
            "SELECT id, json_extract(attributes, '$.started_at') FROM items"
        ).fetchall()
    return {
        ident: datetime.fromisoformat(value) if value else None
        for ident, value in found
    }


def measured_cycle_time(database: Path) -> float | None:
    with Store.open_readonly(database) as reader:
        context = MeasureContext(
            db=reader.db,
            period=Period.parse("2026-Q1"),
            params={},
            sources={"jira": "jira"},
        )
        return cycle_time(context)


def test_a_long_history_on_cloud_gets_its_true_start_and_cycle_time(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    done = FIRST - DAY
    ident, start = long_lived(site, 1, done=done)
    site.serve(fake_api)
    database = tmp_path / "h.db"

    result = sync(fake_api, site, database)

    assert result.status == "ok", result.error
    # The search showed the newest 40 of 47 changes, without the start.
    searched = site.searches[0].response.json["issues"][0]["changelog"]
    assert (searched["total"], searched["maxResults"]) == (47, 40)
    assert len(searched["histories"]) == 40
    assert started(database) == {ident: start}
    assert measured_cycle_time(database) == 50.0


def test_one_bulk_request_per_page_that_needs_it_and_none_otherwise(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    base = FIRST - 3 * DAY
    # 30 issues with short histories, updated hourly from ``base``.
    hourly(site, 30, first=base)
    # Long histories done between them: three on the first page of ten,
    # two on the second, none on the third and fourth...
    half = timedelta(minutes=30)
    long = [long_lived(site, 100 + h, done=base + h * timedelta(hours=1) + half)
            for h in (0, 2, 4, 12, 14)]  # fmt: skip
    # ... but for one still in To Do on the third: it has no start to find.
    waiting = site.add(200, updated=base + 20 * timedelta(hours=1) + half)
    site.churn(waiting["id"], 45, first=base - 30 * DAY, step=timedelta(hours=1))
    site.serve(fake_api)
    database = tmp_path / "h.db"

    result = sync(fake_api, site, database, page_size=10)

    assert result.status == "ok", result.error
    assert len(site.searches) == 4
    assert [request.json() for request in site.bulkfetches] == [
        {
            "issueIdsOrKeys": [ident for ident, _ in long[:3]],
            "fieldIds": ["status"],
            "maxResults": 1000,
        },
        {
            "issueIdsOrKeys": [ident for ident, _ in long[3:]],
            "fieldIds": ["status"],
            "maxResults": 1000,
        },
    ]
    found = started(database)
    assert {ident: found[ident] for ident, _ in long} == dict(long)
    assert found[waiting["id"]] is None

    # A sync whose issues all have short histories asks for none.
    fake_api.clear()
    quiet = FakeJira()
    hourly(quiet, 30, first=base)
    quiet.serve(fake_api)

    again = sync(fake_api, quiet, tmp_path / "quiet.db", page_size=10)

    assert again.status == "ok", again.error
    assert quiet.bulkfetches == []
    assert BULK not in {request.path for request in fake_api.requests}


def test_the_bulk_changelog_is_followed_over_its_pages(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    # Two changes a page, and times as epoch milliseconds.
    site = FakeJira(bulk_page=2, bulk_times="millis")
    made = [
        long_lived(site, n, done=FIRST - n * DAY, review=FIRST - n * DAY - 2 * DAY)
        for n in (1, 2, 3)
    ]
    site.serve(fake_api)
    database = tmp_path / "h.db"

    result = sync(fake_api, site, database)

    assert result.status == "ok", result.error
    # Three status changes each (into progress, review, done): nine, in five
    # pages, each asked for with the token of the page before.
    bodies = [request.json() for request in site.bulkfetches]
    assert len(bodies) == 5
    tokens = [body.get("nextPageToken") for body in bodies]
    assert tokens[0] is None
    assert all(tokens[1:]) and len(set(tokens[1:])) == 4
    ids = sorted(ident for ident, _ in made)
    assert all(sorted(body["issueIdsOrKeys"]) == ids for body in bodies)
    assert started(database) == dict(made)


@pytest.mark.parametrize("status", [404, 403], ids=["not-found", "forbidden"])
def test_a_refused_bulk_changelog_warns_once_and_keeps_the_searched_history(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, caplog: Any, status: int
) -> None:
    site = FakeJira(bulk_status=status)
    base = FIRST - 10 * DAY
    hourly(site, 12, first=base)
    # On the first page of ten: its move into review is among the newest 40
    # changes the search shows, its move into progress is not.
    done = base + timedelta(hours=2, minutes=30)
    reviewed, _ = long_lived(site, 100, done=done, review=done - DAY)
    # On the second: it shows no move into progress at all.
    hidden, _ = long_lived(site, 101, done=base + timedelta(hours=20))
    site.serve(fake_api)
    database = tmp_path / "h.db"

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        result = sync(fake_api, site, database, page_size=10)

    assert result.status == "ok", result.error
    assert result.items == 14
    assert len(site.searches) == 2
    # The first page's refusal holds for the rest of the sync.
    assert len(site.bulkfetches) == 1
    warnings = [r for r in caplog.records if "bulkfetch" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"HTTP {status}" in message
    assert "started_at may be late" in message
    assert "changelog = false" in message
    found = started(database)
    assert found[reviewed] == done - DAY
    assert found[hidden] is None


def test_data_center_never_asks_for_the_bulk_changelog(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(cloud=False)
    ident, start = long_lived(site, 1, done=FIRST - DAY)
    site.serve(fake_api)
    database = tmp_path / "h.db"

    result = sync(fake_api, site, database)

    assert result.status == "ok", result.error
    assert [r.path for r in fake_api.requests if r.method == "POST"] == []
    # Its search shows the whole history.
    changelog = site.searches[0].response.json["issues"][0]["changelog"]
    assert changelog["total"] == len(changelog["histories"]) == 47
    assert started(database) == {ident: start}
