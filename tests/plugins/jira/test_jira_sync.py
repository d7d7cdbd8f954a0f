"""Syncing a fake Jira: paging, watermarks, time zones, shifting listings."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import headway_jira
from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi, run_source

from .fakejira import (
    DC_ENV,
    ENV,
    POINTS_CLOUD,
    FakeJira,
    cloud_options,
    dc_options,
    hourly,
    jira_date,
    rate_limited,
)

FIRST = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def sync(
    fake_api: FakeApi,
    site: FakeJira,
    database: Path,
    *,
    full: bool = False,
    **options: Any,
) -> Any:
    """One sync of the fake site into ``database``."""
    table = (cloud_options if site.cloud else dc_options)(fake_api.url, **options)
    return run_source(
        headway_jira,
        "jira",
        table,
        database,
        environ=ENV if site.cloud else DC_ENV,
        full=full,
    )


def rows(database: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql, args).fetchall()


def searched_jql(site: FakeJira) -> list[str]:
    return [request.query["jql"] for request in site.searches]


# ---------------------------------------------------------------- paging


def test_cloud_reads_2500_issues_over_pages_of_the_servers_size(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(page_cap=100)
    hourly(site, 2500, first=FIRST - timedelta(days=120), step=timedelta(minutes=30))
    site.serve(fake_api)

    # 200 asked for; Cloud gives at most 100 with this many fields.
    result = sync(fake_api, site, tmp_path / "h.db", page_size=200)

    assert result.status == "ok", result.error
    assert result.items == 2500
    assert len(site.searches) == 25
    assert rows(tmp_path / "h.db", "SELECT count(DISTINCT id) FROM items") == [(2500,)]
    tokens = [request.query.get("nextPageToken") for request in site.searches]
    assert tokens[0] is None and all(tokens[1:])
    assert len(set(tokens[1:])) == 24


def test_data_center_pages_by_the_size_the_server_says(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    # The server caps pages at 97 while 100 are asked for.
    site = FakeJira(cloud=False, dc_cap=97)
    hourly(site, 2500, first=FIRST - timedelta(days=120), step=timedelta(minutes=30))
    site.serve(fake_api)

    result = sync(fake_api, site, tmp_path / "h.db", page_size=100)

    assert result.status == "ok", result.error
    assert result.items == 2500
    offsets = [int(request.query["startAt"]) for request in site.searches]
    assert offsets == list(range(0, 2500, 97))
    assert {request.query["maxResults"] for request in site.searches} == {"100"}
    assert all(r.path == "/rest/api/2/search" for r in site.searches)
    assert rows(tmp_path / "h.db", "SELECT count(DISTINCT id) FROM items") == [(2500,)]


def test_a_search_asks_only_for_the_fields_the_mapping_reads(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    hourly(site, 3, first=FIRST)
    site.serve(fake_api)

    assert sync(fake_api, site, tmp_path / "h.db").status == "ok"

    query = site.searches[0].query
    assert query["fields"].split(",") == [
        "summary",
        "issuetype",
        "project",
        "status",
        "statuscategorychangedate",
        "resolution",
        "resolutiondate",
        "created",
        "updated",
        "assignee",
        "reporter",
        "timespent",
        "labels",
        "components",
        "parent",
        "priority",
        POINTS_CLOUD,
    ]
    assert query["expand"] == "changelog"
    assert query["maxResults"] == "100"
    paths = [request.path for request in fake_api.requests]
    assert paths[:3] == [
        "/rest/api/3/myself",
        "/rest/api/3/field",
        "/rest/api/3/status",
    ]


def test_configured_fields_and_no_changelog_save_the_site_requests(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    hourly(site, 3, first=FIRST)
    site.serve(fake_api)

    result = sync(
        fake_api,
        site,
        tmp_path / "h.db",
        story_points_field=POINTS_CLOUD,
        epic_link_field="customfield_10014",
        changelog=False,
    )

    assert result.status == "ok", result.error
    paths = [request.path for request in fake_api.requests]
    assert paths == ["/rest/api/3/myself", "/rest/api/3/search/jql"]
    assert "expand" not in site.searches[0].query
    assert (
        site.searches[0].query["fields"].endswith(f",{POINTS_CLOUD},customfield_10014")
    )


# ---------------------------------------------------------------- incremental


def test_an_incremental_sync_with_nothing_changed_costs_four_requests(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(page_cap=10)
    hourly(site, 60, first=FIRST - timedelta(days=3))
    site.serve(fake_api)
    database = tmp_path / "h.db"
    first = sync(fake_api, site, database)
    assert first.status == "ok" and first.items == 60
    clock.advance(timedelta(hours=1))
    fake_api.clear()
    site.searches.clear()
    site.serve(fake_api)

    second = sync(fake_api, site, database)

    assert second.status == "ok", second.error
    assert second.changed == 0
    assert second.stats.requests == 4  # myself, field, status, one search page
    # The newest issue again, from the lookback; nothing else.
    assert second.items == 1
    newest = FIRST - timedelta(days=3) + timedelta(hours=59)
    since = jira_date(newest - timedelta(minutes=10), site.zone)[:16]
    assert searched_jql(site) == [
        f'(project in (PLAT, WEB)) AND updated >= "{since.replace("T", " ")}" '
        "ORDER BY updated ASC, key ASC"
    ]


def test_changes_arrive_in_the_next_sync_and_only_they_are_written(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(page_cap=5)
    made = hourly(site, 20, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    clock.advance(timedelta(hours=2))
    site.update(made[3]["id"], clock.now(), summary="Renamed")
    site.update(made[7]["id"], clock.now(), status="10001")

    second = sync(fake_api, site, database)

    assert second.status == "ok", second.error
    assert second.changed == 2
    stored = dict(rows(database, "SELECT key, title FROM items"))
    assert stored[made[3]["key"]] == "Renamed"
    state = rows(database, "SELECT state FROM items WHERE id = ?", made[7]["id"])
    assert state == [("done",)]


@pytest.mark.parametrize(
    "zone",
    ["America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati", "UTC"],
    ids=["los-angeles", "kolkata", "kiritimati", "utc"],
)
def test_the_watermark_is_written_in_the_accounts_time_zone(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, zone: str
) -> None:
    site = FakeJira(zone=zone, page_cap=4)
    hourly(site, 10, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    # Updated an hour after the first sync, read two hours after it: a JQL
    # time in the wrong zone misses it (west of UTC) or reads too much.
    clock.advance(timedelta(hours=1))
    late = site.add(99, updated=clock.now(), summary="late")
    clock.advance(timedelta(hours=1))

    second = sync(fake_api, site, database)

    assert second.status == "ok", second.error
    assert rows(database, "SELECT title FROM items WHERE id = ?", late["id"]) == [
        ("late",)
    ]
    mark = FIRST + timedelta(hours=9) - timedelta(minutes=10)
    local = mark.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    assert f'updated >= "{local}"' in searched_jql(site)[-1]
    assert second.items == 2  # the lookback's newest issue, and the late one


@pytest.mark.parametrize("fold", [1, 0], ids=["read-as-standard", "read-as-summer"])
def test_the_repeated_hour_of_a_fall_back_skips_nothing(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, fold: int
) -> None:
    # Los Angeles falls back on 2026-11-01: 01:00-02:00 local comes twice,
    # 08:00-09:00 UTC (PDT) and then 09:00-10:00 UTC (PST). A JQL time in
    # that hour means either instant; Jira takes the later one.
    site = FakeJira(zone="America/Los_Angeles", fold=fold)
    site.add(1, updated=datetime(2026, 11, 1, 8, 40, tzinfo=UTC), summary="first")
    site.serve(fake_api)
    database = tmp_path / "h.db"
    clock.set(datetime(2026, 11, 1, 8, 45, tzinfo=UTC))
    assert sync(fake_api, site, database).status == "ok"
    # Edited at 01:41 PDT, after the first sync, before the clocks go back.
    late = site.add(2, updated=datetime(2026, 11, 1, 8, 41, tzinfo=UTC))
    clock.set(datetime(2026, 11, 1, 8, 50, tzinfo=UTC))

    second = sync(fake_api, site, database)

    assert second.status == "ok", second.error
    assert rows(database, "SELECT 1 FROM items WHERE id = ?", late["id"]) == [(1,)]
    # From 01:30 PDT, written as a time before the repeated hour.
    assert 'updated >= "2026-11-01 00:30"' in searched_jql(site)[-1]


@pytest.mark.parametrize(
    ("utc", "lower", "upper"),
    [
        ("07:59", "00:59", "00:59"),  # before the repeated hour
        ("08:30", "00:30", "01:30"),  # its first pass (PDT)
        ("09:30", "01:30", "02:30"),  # its second pass (PST)
        ("10:00", "02:00", "02:00"),  # after it
    ],
)
def test_bounds_in_the_repeated_hour_hold_whichever_instant_jira_reads(
    utc: str, lower: str, upper: str
) -> None:
    zone = ZoneInfo("America/Los_Angeles")
    site = headway_jira.Site(zone)
    value = datetime.fromisoformat(f"2026-11-01T{utc}:30+00:00")

    assert site.jql_time(value) == f"2026-11-01 {lower}"
    assert site.jql_time(value, upper=True) == f"2026-11-01 {upper}"
    for text, bound in ((lower, "lower"), (upper, "upper")):
        wall = datetime.fromisoformat(f"2026-11-01T{text}")
        meanings = [wall.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
        if bound == "lower":
            assert all(m.astimezone(UTC) <= value for m in meanings)
        else:
            floor = value.replace(second=0)
            assert all(m.astimezone(UTC) >= floor for m in meanings)


def test_a_configured_time_zone_wins_over_the_accounts(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(zone="Europe/Berlin")
    hourly(site, 3, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    options = {"time_zone": "Europe/Berlin", "start": "2026-02-15"}

    assert sync(fake_api, site, database, **options).status == "ok"

    assert 'updated >= "2026-02-15 00:00"' in searched_jql(site)[0]


def test_an_unknown_zone_reads_twelve_hours_early(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, caplog: Any
) -> None:
    site = FakeJira(zone="UTC")
    hourly(site, 3, first=FIRST)
    site.serve(fake_api)
    site.zone_name = "Mars/Olympus_Mons"
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        assert sync(fake_api, site, database).status == "ok"

    mark = FIRST + timedelta(hours=2) - timedelta(minutes=10) - timedelta(hours=12)
    assert f'updated >= "{mark:%Y-%m-%d %H:%M}"' in searched_jql(site)[-1]
    assert "Mars/Olympus_Mons" in caplog.text and "time_zone" in caplog.text


def test_in_an_unknown_zone_a_second_pass_reads_up_to_the_syncs_start(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, caplog: Any
) -> None:
    # The account's zone is unknown here; Jira reads JQL times in Kolkata.
    site = FakeJira(cloud=False, zone="Asia/Kolkata", dc_cap=10)
    made = hourly(site, 40, first=clock.now() - timedelta(hours=40))
    site.zone_name = "Mars/Olympus_Mons"
    site.serve(fake_api)
    # Read on the third page, edited before the fourth: the issue after its
    # old place, updated ten hours ago, slides past the boundary.
    edited = made[25]
    site.hooks[4] = lambda: site.update(
        edited["id"], clock.now() + timedelta(seconds=5), summary="edited mid-sync"
    )
    database = tmp_path / "h.db"

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        result = sync(fake_api, site, database, page_size=10)

    assert result.status == "ok", result.error
    assert "came twice" in caplog.text
    stored = {row[0] for row in rows(database, "SELECT id FROM items")}
    assert stored == set(site.issues)
    # The upper bound is written 14 hours late: read in any zone, it is no
    # earlier than the sync's start.
    second_pass = next(jql for jql in searched_jql(site) if 'updated < "' in jql)
    bound = clock.now() + timedelta(minutes=1) + timedelta(hours=14)
    assert f'updated < "{bound:%Y-%m-%d %H:%M}"' in second_pass


def test_start_limits_the_first_sync_to_issues_updated_since(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(zone="America/Los_Angeles")
    hourly(site, 48, first=FIRST - timedelta(days=1))
    site.serve(fake_api)
    database = tmp_path / "h.db"

    result = sync(fake_api, site, database, start="2026-03-01")

    assert result.status == "ok", result.error
    # Midnight in Los Angeles is 08:00 UTC: issues from then on.
    assert result.items == 48 - 32
    assert 'updated >= "2026-03-01 00:00"' in searched_jql(site)[0]


def test_an_issue_hidden_by_the_search_index_arrives_with_the_lookback(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(page_cap=5)
    hourly(site, 8, first=FIRST)
    site.now = clock.now
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    # Edited at 13:00, indexed three minutes later; another edit at 13:01 is
    # visible at once, and the next sync runs at 13:02.
    clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    lagging = site.add(50, updated=clock.now(), summary="lagging")
    site.hidden_until[lagging["id"]] = clock.now() + timedelta(minutes=3)
    site.add(51, updated=clock.now() + timedelta(minutes=1), summary="prompt")
    clock.advance(timedelta(minutes=2))
    assert sync(fake_api, site, database).status == "ok"
    assert not rows(database, "SELECT 1 FROM items WHERE id = ?", lagging["id"])
    clock.advance(timedelta(minutes=30))

    assert sync(fake_api, site, database).status == "ok"

    assert rows(database, "SELECT title FROM items WHERE id = ?", lagging["id"]) == [
        ("lagging",)
    ]


# ---------------------------------------------------------------- boundaries


def test_two_issues_of_one_minute_across_a_page_boundary_survive_a_stop(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(page_cap=3)
    hourly(site, 2, first=FIRST)
    minute = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    first = site.add(10, updated=minute + timedelta(seconds=20), summary="first")
    second = site.add(11, updated=minute + timedelta(seconds=40), summary="second")
    hourly_later = site.add(12, updated=minute + timedelta(hours=1))
    site.serve(fake_api)
    # The second page answers a rate limit too long to wait out: the sync
    # stops after the page that ends with the first of the two issues.
    site.hooks[1] = lambda: fake_api.inject(
        rate_limited(3600), path="/rest/api/3/search/jql"
    )
    database = tmp_path / "h.db"

    stopped = sync(fake_api, site, database)

    assert stopped.status == "partial", stopped.error
    assert "max_wait" in (stopped.error or "")
    stored = {row[0] for row in rows(database, "SELECT id FROM items")}
    assert first["id"] in stored and second["id"] not in stored
    state = json.loads(rows(database, "SELECT state FROM sync_state")[0][0])
    assert state["watermark"] == "2026-03-01T10:05:20.000Z"

    resumed = sync(fake_api, site, database)

    assert resumed.status == "ok", resumed.error
    stored = {row[0] for row in rows(database, "SELECT id FROM items")}
    assert {first["id"], second["id"], hourly_later["id"]} <= stored
    assert len(stored) == 5


@pytest.mark.parametrize(
    ("cloud", "tokens"),
    [(True, "keyset"), (True, "offset"), (False, "offset")],
    ids=["cloud-search-after", "cloud-offset-tokens", "data-center"],
)
def test_an_issue_edited_during_the_sync_skips_nothing(
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    caplog: Any,
    cloud: bool,
    tokens: str,
) -> None:
    site = FakeJira(cloud=cloud, tokens=tokens, page_cap=10, dc_cap=10)
    made = hourly(site, 40, first=FIRST - timedelta(days=2))
    site.serve(fake_api)
    # After two pages, an issue of the first page is edited: it moves to the
    # end, and every issue after its old place moves up one.
    edited = made[4]
    site.hooks[3] = lambda: site.update(
        edited["id"], clock.now() + timedelta(seconds=5), summary="edited mid-sync"
    )
    database = tmp_path / "h.db"

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        result = sync(fake_api, site, database, page_size=10)

    assert result.status == "ok", result.error
    stored = dict(rows(database, "SELECT id, title FROM items"))
    assert set(stored) == set(site.issues)
    assert stored[edited["id"]] == "edited mid-sync"
    assert "came twice" in caplog.text
    # The re-read started at the page the edited issue was first read on
    # and stopped at the sync's start: it reads no issue edited after that.
    second_pass = next(jql for jql in searched_jql(site) if 'updated < "' in jql)
    old = jira_date(FIRST - timedelta(days=2), site.zone)
    assert f'updated >= "{old[:16].replace("T", " ")}"' in second_pass
    # The watermark stops at the sync's start: the edit is newer.
    state = json.loads(rows(database, "SELECT state FROM sync_state")[0][0])
    assert state["watermark"] == "2026-03-02T12:00:00.000Z"


def test_an_issue_leaving_the_jql_mid_listing_makes_data_center_read_again(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, caplog: Any
) -> None:
    site = FakeJira(cloud=False, dc_cap=10)
    made = hourly(site, 35, first=FIRST - timedelta(days=2))
    site.serve(fake_api)
    site.hooks[2] = lambda: site.delete(made[2]["id"])
    database = tmp_path / "h.db"

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        result = sync(fake_api, site, database, page_size=10)

    assert result.status == "ok", result.error
    stored = {row[0] for row in rows(database, "SELECT id FROM items")}
    assert set(site.issues) <= stored
    assert "the total fell from 35 to 34" in caplog.text


def test_a_listing_that_keeps_shifting_leaves_the_watermark_before_the_shift(
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    caplog: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One pass only: the shift is left to the next sync.
    monkeypatch.setattr(headway_jira.connector, "MAX_PASSES", 1)
    site = FakeJira(cloud=False, dc_cap=10)
    made = hourly(site, 40, first=FIRST - timedelta(days=2))
    site.serve(fake_api)
    edited = made[4]
    site.hooks[3] = lambda: site.update(
        edited["id"], clock.now() + timedelta(seconds=5), summary="edited mid-sync"
    )
    database = tmp_path / "h.db"

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        first = sync(fake_api, site, database, page_size=10)

    assert first.status == "ok", first.error
    missing = set(site.issues) - {
        row[0] for row in rows(database, "SELECT id FROM items")
    }
    assert len(missing) == 1  # slid past a page boundary
    assert "kept shifting" in caplog.text
    state = json.loads(rows(database, "SELECT state FROM sync_state")[0][0])
    old = FIRST - timedelta(days=2)  # the first page's earliest update
    assert state["watermark"] == (old + timedelta(minutes=10)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )

    second = sync(fake_api, site, database, page_size=10)

    assert second.status == "ok", second.error
    stored = {row[0] for row in rows(database, "SELECT id FROM items")}
    assert stored == set(site.issues)


# ---------------------------------------------------------------- parents


def test_cloud_parents_are_the_parent_issues_id(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    epic = site.add(1, updated=FIRST, issuetype="Epic", summary="Epic")
    link = {"id": epic["id"], "key": epic["key"], "fields": {"summary": "Epic"}}
    story = site.add(2, updated=FIRST + timedelta(hours=1), parent=link)
    site.serve(fake_api)
    database = tmp_path / "h.db"

    assert sync(fake_api, site, database).status == "ok"

    parent, attributes = rows(
        database, "SELECT parent, attributes FROM items WHERE id = ?", story["id"]
    )[0]
    assert parent == epic["id"]
    assert json.loads(attributes)["parent_key"] == "PLAT-1"
    assert not site.lookups


def test_epic_links_on_older_sites_become_the_epics_id(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(cloud=False, dc_cap=3)
    # A story before its epic in the listing, an epic outside the JQL, and
    # an epic that no longer exists.
    early = site.add(1, updated=FIRST, epic_key="PLAT-5")
    outside = site.add(2, updated=FIRST + timedelta(hours=1), epic_key="OPS-1")
    gone = site.add(3, updated=FIRST + timedelta(hours=2), epic_key="PLAT-404")
    late = site.add(4, updated=FIRST + timedelta(hours=5), epic_key="PLAT-5")
    epic = site.add(5, updated=FIRST + timedelta(hours=3), issuetype="Epic")
    ops = site.add(1, project="OPS", updated=FIRST, issuetype="Epic")
    site.serve(fake_api)
    database = tmp_path / "h.db"

    assert sync(fake_api, site, database).status == "ok"

    parents = dict(rows(database, "SELECT id, parent FROM items"))
    assert parents[early["id"]] == epic["id"]
    assert parents[late["id"]] == epic["id"]
    assert parents[outside["id"]] == ops["id"]
    assert parents[gone["id"]] is None
    key = rows(database, "SELECT attributes FROM items WHERE id = ?", gone["id"])
    assert json.loads(key[0][0])["parent_key"] == "PLAT-404"
    assert sorted(site.lookups) == ["OPS-1", "PLAT-404", "PLAT-5"]


# ---------------------------------------------------------------- deletions


def test_the_census_tombstones_deleted_issues_once_a_day(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(page_cap=5)
    made = hourly(site, 12, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    site.delete(made[0]["id"])
    site.update(made[1]["id"], FIRST + timedelta(hours=1), project={"key": "OPS"})
    clock.advance(timedelta(hours=3))

    early = sync(fake_api, site, database)

    assert early.status == "ok" and early.tombstones == 0
    clock.advance(timedelta(days=1))
    site.searches.clear()

    census = sync(fake_api, site, database)

    assert census.status == "ok", census.error
    assert census.tombstones == 2
    deleted = rows(database, "SELECT id FROM items WHERE deleted_at IS NOT NULL")
    assert {row[0] for row in deleted} == {made[0]["id"], made[1]["id"]}
    assert rows(database, "SELECT count(*) FROM items") == [(12,)]
    ids_only = [r for r in site.searches if r.query["fields"] == "id"]
    assert len(ids_only) == 1
    assert ids_only[0].query["maxResults"] == "5000"
    assert ids_only[0].query["jql"].endswith("ORDER BY created ASC, key ASC")


def test_an_issue_moved_back_into_the_jql_is_live_again(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    made = hourly(site, 4, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    moved = made[1]["id"]
    site.update(moved, clock.now(), project={"key": "OPS"})
    assert sync(fake_api, site, database, census_every=0).tombstones == 1
    clock.advance(timedelta(hours=1))
    site.update(moved, clock.now(), project={"key": "WEB"})

    back = sync(fake_api, site, database)

    assert back.status == "ok", back.error
    assert rows(database, "SELECT deleted_at FROM items WHERE id = ?", moved) == [
        (None,)
    ]


def test_census_every_zero_counts_at_every_sync(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    made = hourly(site, 6, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database, census_every=0).status == "ok"
    site.delete(made[2]["id"])

    result = sync(fake_api, site, database, census_every=0)

    assert result.status == "ok" and result.tombstones == 1


def test_a_full_sync_sweeps_without_a_census(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    made = hourly(site, 6, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    site.delete(made[5]["id"])
    site.searches.clear()

    result = sync(fake_api, site, database, full=True)

    assert result.status == "ok" and result.tombstones == 1
    assert all(r.query["fields"] != "id" for r in site.searches)


def test_a_full_sync_over_many_pages_keeps_every_page_it_read(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    # Each page hands its ids to the store; the sweep at the end keeps them all.
    site = FakeJira(page_cap=7)
    made = hourly(site, 40, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    gone = {made[3]["id"], made[31]["id"]}
    for ident in gone:
        site.delete(ident)

    result = sync(fake_api, site, database, full=True)

    assert result.status == "ok" and result.tombstones == 2
    assert result.pages >= 6
    deleted = rows(database, "SELECT id FROM items WHERE deleted_at IS NOT NULL")
    assert {row[0] for row in deleted} == gone


def test_a_census_that_finds_nothing_deletes_nothing(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path, caplog: Any
) -> None:
    site = FakeJira()
    made = hourly(site, 4, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    for issue in made:
        site.delete(issue["id"])
    clock.advance(timedelta(days=2))

    with caplog.at_level(logging.WARNING, logger="headway.source"):
        result = sync(fake_api, site, database)

    assert result.status == "ok" and result.tombstones == 0
    assert "selects no issues" in caplog.text


def test_a_data_center_census_that_shrinks_while_listing_deletes_nothing(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira(cloud=False, dc_cap=4)
    made = hourly(site, 10, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"
    site.delete(made[9]["id"])
    clock.advance(timedelta(days=2))
    # The census's second page comes after another issue was deleted.
    searches = len(site.searches)
    site.hooks[searches + 3] = lambda: site.delete(made[0]["id"])

    shrunk = sync(fake_api, site, database)

    assert shrunk.status == "ok" and shrunk.tombstones == 0
    recount = sync(fake_api, site, database)
    assert recount.tombstones == 2


def test_a_changed_jql_reads_everything_again_and_sweeps(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    made = hourly(site, 6, first=FIRST)
    site.serve(fake_api)
    database = tmp_path / "h.db"
    assert sync(fake_api, site, database).status == "ok"

    narrower = sync(fake_api, site, database, jql="project = PLAT")

    assert narrower.status == "ok", narrower.error
    assert narrower.items == 3
    web = {i["id"] for i in made if i["fields"]["project"]["key"] == "WEB"}
    deleted = rows(database, "SELECT id FROM items WHERE deleted_at IS NOT NULL")
    assert {row[0] for row in deleted} == web


# ---------------------------------------------------------------- records


def test_an_issue_that_cannot_be_read_is_set_aside_and_the_rest_stored(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    made = hourly(site, 5, first=FIRST)
    made[1]["fields"]["created"] = "yesterday"
    del made[2]["key"]
    site.serve(fake_api)
    database = tmp_path / "h.db"

    result = sync(fake_api, site, database)

    assert result.status == "partial"
    assert result.rejected == 2 and result.items == 3
    reasons = dict(rows(database, "SELECT record_id, reason FROM rejected"))
    assert "not an ISO 8601 timestamp" in reasons[made[1]["id"]]
    assert reasons[made[2]["id"]] == "required field 'key' is missing"
