"""Syncing Google Calendar: mapping, one item per meeting, incremental sync,
deletions, stale tokens, token refresh, quota errors and refused calendars.

Every test runs the connector through headway's real engine and store
against the fake Calendar API of ``fake_gcal`` on loopback.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from headway.errors import ConnectorError
from headway_sdk.testing import FakeApi
from tests.plugins.gcal.conftest import ENVIRON, Sync, gcal_connector
from tests.plugins.gcal.fake_gcal import (
    ACCESS_TOKEN,
    ALICE,
    API,
    BAD_REFRESH_TOKEN,
    BERLIN,
    BOB,
    CAROL,
    CLIENT_ID,
    CLIENT_SECRET,
    DAVE,
    NEW_YORK,
    PARTNER_UID,
    REFRESH_TOKEN,
    TOKEN_PATH,
    FakeCalendar,
    Meeting,
    google_error,
    issued_token,
)

ARCH = "archreview1@google.com"
STANDUP = "standup4bob@google.com/20261005T133000Z"
SOLO = "solo1bob@google.com"


def events_requests(fake_api: FakeApi, calendar: str) -> list[Any]:
    """The listing requests one calendar got."""
    return fake_api.requests_to(f"{API}/calendars/{calendar}/events", "GET")


# ---------------------------------------------------------------- first sync


def test_an_event_in_three_calendars_is_one_meeting_counted_once(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    result = sync()

    assert result.status == "ok", result.error
    stored = items()
    assert len(stored) == 12
    arch = stored[ARCH]
    # 1.5 h times the guests who did not decline: Alice, Bob and Dave (who has
    # not answered); Carol declined, the room is not a person.
    assert arch["kind"] == "meeting"
    assert arch["effort"] == pytest.approx(4.5)
    assert arch["people"] == [ALICE, BOB, DAVE]
    assert arch["attributes"]["attendees"] == 3
    assert arch["attributes"]["invited"] == 4
    assert arch["attributes"]["declined"] == [CAROL]
    # The organizer's copy is the one stored.
    assert arch["attributes"]["calendar"] == ALICE
    assert arch["url"].startswith("https://www.google.com/calendar/event?eid=")
    assert arch["title"] == "Architecture review"
    assert arch["occurred_at"] == "2026-10-05T07:00:00.000Z"
    assert arch["team"] == "platform"
    total = sum(item["effort"] for item in stored.values())
    assert total == pytest.approx(4.5 + 5 * 0.25 * 3 + 0.5 * 2 + 2.0)


@pytest.mark.parametrize(
    ("item_id", "kind", "effort", "occurred_at", "team"),
    [
        # start.dateTime with -04:00 (New York), an instance of a series.
        (STANDUP, "meeting", 0.75, "2026-10-05T13:30:00.000Z", "platform"),
        # start.date: all day in the calendar's zone (Europe/Berlin), no effort.
        ("offsite9@google.com", "all_day", 0.0, "2026-10-08T22:00:00.000Z", "web"),
        ("focus1alice@google.com", "focus_time", 0.0, "2026-10-06T13:00:00.000Z", None),
        ("ooo1bob@google.com", "out_of_office", 0.0, "2026-10-06T22:00:00.000Z", None),
        (
            "wl1carol@google.com",
            "working_location",
            0.0,
            "2026-10-05T22:00:00.000Z",
            None,
        ),
        # -07:00 (Los Angeles); organized by a partner with no team: the team
        # most guests belong to.
        (PARTNER_UID, "meeting", 1.0, "2026-10-08T23:00:00.000Z", "web"),
        # No guests: the one person whose calendar it is.
        (SOLO, "meeting", 2.0, "2026-10-06T12:00:00.000Z", "platform"),
    ],
    ids=["instance", "all-day", "focus", "out-of-office", "location", "invite", "solo"],
)
def test_events_map_to_items_by_kind_time_and_team(
    calendar: FakeCalendar,
    sync: Sync,
    items: Any,
    item_id: str,
    kind: str,
    effort: float,
    occurred_at: str,
    team: str | None,
) -> None:
    sync()

    item = items()[item_id]
    assert item["kind"] == kind
    assert item["effort"] == pytest.approx(effort)
    assert item["occurred_at"] == occurred_at
    if team is not None:
        assert item["team"] == team
    else:
        assert item["team"] in ("platform", "web")


def test_recurring_instances_carry_their_series(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()

    stored = items()
    instances = [i for i in stored.values() if i["attributes"].get("series")]
    assert len(instances) == 5
    assert {i["attributes"]["series"] for i in instances} == {"standup4bob"}
    assert all(i["attributes"]["recurring"] for i in instances)
    assert stored[STANDUP]["attributes"]["hours"] == pytest.approx(0.25)
    # Tentative is not a decline.
    assert stored[STANDUP]["people"] == [BOB, ALICE, CAROL]
    assert stored[ARCH]["attributes"]["recurring"] is False
    assert "series" not in stored[ARCH]["attributes"]


def test_an_invitation_from_another_system_is_keyed_by_its_icaluid(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()

    item = items()[PARTNER_UID]
    assert item["attributes"]["event_id"] == "_6tlnaqrle5p6cpb4dhmj4phpeeoj"
    assert item["attributes"]["organizer"] == DAVE
    assert item["people"] == [DAVE, CAROL]


def test_without_teams_no_team_is_set(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync(teams=False)

    assert {item["team"] for item in items().values()} == {None}


def test_the_first_sync_pages_and_saves_the_token_of_the_last_page(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi, state: Any
) -> None:
    result = sync()

    assert result.status == "ok"
    listing = events_requests(fake_api, BOB)
    assert len(listing) == 2  # seven events in pages of four
    first, second = listing
    assert first.query == {
        "singleEvents": "true",
        "maxResults": "4",
        "timeMin": "2026-10-01T00:00:00Z",
    }
    assert "pageToken" in second.query and "syncToken" not in second.query
    assert "nextSyncToken" not in first.response.payload()[0].decode()
    saved = state()
    assert set(saved) == {ALICE, BOB, CAROL}
    assert saved[BOB]["sync_token"] in second.response.payload()[0].decode()
    # Most ids are Google's own, so the saved map leaves their item id out.
    assert saved[BOB]["events"]["solo1bob"] == ""
    assert saved[CAROL]["events"]["_6tlnaqrle5p6cpb4dhmj4phpeeoj"] == PARTNER_UID


# ---------------------------------------------------------------- incremental


def test_the_next_sync_sends_the_token_alone_and_stores_what_changed(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi, items: Any
) -> None:
    sync()
    fake_api.clear()
    calendar.serve(fake_api)
    calendar.change("archreview1", summary="Architecture review (moved)")

    result = sync()

    assert result.status == "ok", result.error
    for person in (ALICE, BOB, CAROL):
        (request,) = events_requests(fake_api, person)
        assert set(request.query) == {"singleEvents", "maxResults", "syncToken"}
    # Three calendars return the change; the organizer's copy is stored once.
    assert result.changed == 1
    assert result.items == 1
    assert items()[ARCH]["title"] == "Architecture review (moved)"


def test_an_incremental_sync_sends_the_saved_token_and_saves_the_new_one(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi, items: Any, state: Any
) -> None:
    sync()
    old = state()
    fake_api.clear()
    calendar.serve(fake_api)
    calendar.change("solo1bob", summary="Quarterly report (draft 2)")
    calendar.cancel("archreview1")

    result = sync()

    assert result.status == "ok", result.error
    for person in (ALICE, BOB, CAROL):
        (request,) = events_requests(fake_api, person)
        assert request.query == {
            "singleEvents": "true",
            "maxResults": "4",
            "syncToken": old[person]["sync_token"],
        }
    # Bob's delta is the two events that changed, the cancelled one by its id.
    (listing,) = events_requests(fake_api, BOB)
    page = listing.response.json
    assert [event["id"] for event in page["items"]] == ["solo1bob", "archreview1"]
    assert page["items"][1]["status"] == "cancelled"
    assert "iCalUID" not in page["items"][1]
    assert "nextPageToken" not in page
    assert result.items == 1
    assert result.tombstones == 1
    assert items()[SOLO]["title"] == "Quarterly report (draft 2)"
    assert ARCH in items(deleted=True)
    saved = state()
    assert saved[BOB]["sync_token"] == page["nextSyncToken"]
    assert saved[BOB]["sync_token"] != old[BOB]["sync_token"]
    assert "archreview1" not in saved[BOB]["events"]
    fake_api.clear()
    calendar.serve(fake_api)

    quiet = sync()

    # The token saved above is the one sent next, and nothing has changed since.
    (listing,) = events_requests(fake_api, BOB)
    assert listing.query["syncToken"] == saved[BOB]["sync_token"]
    assert listing.response.json["items"] == []
    assert quiet.status == "ok", quiet.error
    assert quiet.items == 0 and quiet.tombstones == 0


@pytest.mark.parametrize("incremental", [False, True], ids=["first", "incremental"])
def test_a_last_page_without_a_sync_token_means_a_full_listing_next_time(
    calendar: FakeCalendar,
    sync: Sync,
    fake_api: FakeApi,
    items: Any,
    state: Any,
    logs: pytest.LogCaptureFixture,
    incremental: bool,
) -> None:
    if incremental:
        sync()
        fake_api.clear()
        calendar.serve(fake_api)
        calendar.change("solo1bob", summary="Quarterly report (draft 2)")

    def without_sync_token(request: Any) -> Any:
        answer = calendar.events(request)
        body = {k: v for k, v in answer.json.items() if k != "nextSyncToken"}
        return attrs.evolve(answer, json=body)

    fake_api.inject(
        method="GET",
        path=f"{API}/calendars/{BOB}/events",
        handler=without_sync_token,
        times=10,
    )

    result = sync()

    # The listing ends at the page without nextPageToken and keeps its events.
    assert result.status == "ok", result.error
    listing = events_requests(fake_api, BOB)
    assert len(listing) == (1 if incremental else 2)
    last = listing[-1].response.json
    assert "nextPageToken" not in last and "nextSyncToken" not in last
    assert any("carried no nextSyncToken" in r.getMessage() for r in logs.records)
    assert len(items()) == 12
    assert items()[SOLO]["title"] == calendar.meetings["solo1bob"].summary
    # The ledger is saved with the last page, but no token, not even the old one.
    saved = state()
    assert "sync_token" not in saved[BOB]
    assert "solo1bob" in saved[BOB]["events"]
    fake_api.clear()
    calendar.serve(fake_api)

    again = sync()

    assert again.status == "ok", again.error
    relisting = events_requests(fake_api, BOB)
    assert relisting[0].query == {
        "singleEvents": "true",
        "maxResults": "4",
        "timeMin": "2026-10-01T00:00:00Z",
    }
    assert all("syncToken" not in request.query for request in relisting)
    (alice,) = events_requests(fake_api, ALICE)
    assert alice.query["syncToken"] == saved[ALICE]["sync_token"]
    assert again.tombstones == 0
    assert len(items()) == 12
    assert state()[BOB]["sync_token"] == relisting[-1].response.json["nextSyncToken"]


def test_a_sync_with_nothing_changed_writes_nothing(
    calendar: FakeCalendar, sync: Sync
) -> None:
    sync()

    again = sync()

    assert again.status == "ok"
    assert again.items == 0 and again.changed == 0 and again.tombstones == 0


def test_a_declined_invitation_lowers_the_effort(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    guests = dict(calendar.meetings["archreview1"].guests, **{BOB: "declined"})
    calendar.change("archreview1", guests=guests)

    sync()

    arch = items()[ARCH]
    assert arch["effort"] == pytest.approx(1.5 * 2)
    assert arch["people"] == [ALICE, DAVE]
    assert arch["attributes"]["declined"] == [BOB, CAROL]


def test_a_meeting_the_organizer_cancels_is_tombstoned(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    calendar.cancel("archreview1")

    result = sync()

    assert result.status == "ok", result.error
    assert result.tombstones == 1
    assert ARCH in items(deleted=True)
    assert ARCH not in items()


def test_a_cancelled_instance_removes_that_instance_only(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    calendar.cancel("standup4bob_20261005T133000Z")

    sync()

    assert STANDUP in items(deleted=True)
    live = [i for i in items() if i.startswith("standup4bob@google.com/")]
    assert len(live) == 4


def test_a_guest_dropping_a_shared_meeting_does_not_delete_it(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    # Carol deletes the invitation: only her calendar reports it cancelled.
    calendar.drop_copy(CAROL, "archreview1")

    result = sync()

    assert result.status == "ok"
    assert result.tombstones == 0
    assert ARCH in items()


def test_a_guest_removed_from_a_meeting_leaves_it_with_less_effort(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    guests = {k: v for k, v in calendar.meetings["archreview1"].guests.items()}
    del guests[BOB]
    calendar.change("archreview1", guests=guests)

    result = sync()

    assert result.tombstones == 0
    arch = items()[ARCH]
    assert arch["effort"] == pytest.approx(1.5 * 2)
    assert BOB not in arch["people"]


def test_a_meeting_deleted_from_the_only_calendar_holding_it_is_tombstoned(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    calendar.drop_copy(BOB, "solo1bob")

    result = sync()

    assert result.tombstones == 1
    assert SOLO in items(deleted=True)


def test_a_deleted_series_reported_by_its_own_id_removes_its_instances(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    for calendar_id in (ALICE, BOB, CAROL):
        calendar.put_raw(
            calendar_id,
            {"kind": "calendar#event", "id": "standup4bob", "status": "cancelled"},
        )

    result = sync()

    assert result.status == "ok", result.error
    assert result.tombstones == 5
    assert not [i for i in items() if i.startswith("standup4bob")]


def test_a_deleted_series_leaves_the_series_split_off_from_it(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    # "This and following events" splits a series: the rest becomes a series
    # of its own, whose id starts with the original's.
    split = "standup4bob_R20261012T133000"
    calendar.series(
        split,
        "Daily standup (new time)",
        datetime(2026, 10, 12, 9, 30, tzinfo=NEW_YORK),
        15,
        3,
        BOB,
        {BOB: "accepted", ALICE: "accepted"},
    )
    sync()
    for calendar_id in (ALICE, BOB, CAROL):
        calendar.put_raw(
            calendar_id,
            {"kind": "calendar#event", "id": "standup4bob", "status": "cancelled"},
        )

    result = sync()

    assert result.status == "ok", result.error
    assert result.tombstones == 5
    assert not [i for i in items() if i.startswith("standup4bob@google.com/")]
    assert len([i for i in items() if i.startswith(f"{split}@google.com/")]) == 3


# ---------------------------------------------------------------- 410


def test_a_stale_sync_token_means_a_full_resync_that_tombstones_what_vanished(
    calendar: FakeCalendar,
    sync: Sync,
    fake_api: FakeApi,
    items: Any,
    state: Any,
    logs: pytest.LogCaptureFixture,
) -> None:
    sync()
    old = state()
    # Bob's solo block and one standup vanish without a cancellation (Google
    # purged them); Carol's copy of the review goes but Alice and Bob keep it.
    calendar.purge("solo1bob")
    calendar.purge("standup4bob_20261006T133000Z")
    calendar.purge("archreview1", [CAROL])
    calendar.expire_sync_tokens()
    fake_api.clear()
    calendar.serve(fake_api)

    result = sync()

    assert result.status == "ok", result.error
    listing = events_requests(fake_api, BOB)
    assert "syncToken" in listing[0].query
    assert listing[0].response.status == 410
    assert "fullSyncRequired" in listing[0].response.payload()[0].decode()
    assert listing[1].query["timeMin"] == "2026-10-01T00:00:00Z"
    assert "syncToken" not in listing[1].query
    assert any("expired" in r.getMessage() for r in logs.records)
    deleted = items(deleted=True)
    assert set(deleted) == {SOLO, "standup4bob@google.com/20261006T133000Z"}
    assert ARCH in items()
    assert all(state()[c]["sync_token"] != old[c]["sync_token"] for c in old)


def test_an_interrupted_resync_still_tombstones_what_vanished_when_resumed(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi, items: Any
) -> None:
    sync()
    calendar.purge("solo1bob")
    calendar.expire_sync_tokens()
    # The resync of Bob's calendar fails after its first page.

    def second_page_fails(request: Any) -> Any:
        if "pageToken" in request.query and request.path.endswith(f"{BOB}/events"):
            return google_error(500, "backendError", "Backend Error")
        return calendar.events(request)

    fake_api.inject(
        method="GET",
        path=f"{API}/calendars/{BOB}/events",
        handler=second_page_fails,
        times=10,
    )

    broken = sync(retries=0)

    assert broken.status == "failed"
    assert SOLO in items()
    fake_api.clear()
    calendar.serve(fake_api)

    resumed = sync()

    assert resumed.status == "ok", resumed.error
    assert SOLO in items(deleted=True)


def test_a_failed_resync_does_not_let_a_later_calendar_tombstone_what_it_holds(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi, items: Any
) -> None:
    # Carol's meeting with Bob, late in the week: the last event Bob lists.
    start = datetime(2026, 10, 13, 17, 0, tzinfo=BERLIN)
    calendar.add(
        Meeting(
            "late1carol",
            "Carol / Bob",
            start,
            start + timedelta(hours=1),
            CAROL,
            {CAROL: "accepted", BOB: "accepted"},
        )
    )
    sync()
    # Bob's token is stale, and his relisting fails after its first page,
    # which does not list the meeting; Carol has deleted her copy, which her
    # calendar, read next, reports. Bob still holds the meeting.
    calendar.drop_copy(CAROL, "late1carol")

    def stale_then_failing(request: Any) -> Any:
        if "syncToken" in request.query:
            return google_error(
                410, "fullSyncRequired", "Sync token is no longer valid."
            )
        if "pageToken" in request.query:
            return google_error(400, "invalid", "Invalid page token")
        return calendar.events(request)

    fake_api.inject(
        method="GET",
        path=f"{API}/calendars/{BOB}/events",
        handler=stale_then_failing,
        times=10,
    )

    broken = sync()

    assert broken.status == "failed"
    assert f"events {BOB}" in broken.error
    (cancelled,) = [
        r for r in events_requests(fake_api, CAROL) if "syncToken" in r.query
    ]
    assert "late1carol" in cancelled.response.payload()[0].decode()
    assert "late1carol@google.com" in items()
    assert broken.tombstones == 0
    fake_api.clear()
    calendar.serve(fake_api)

    resumed = sync()

    assert resumed.status == "ok", resumed.error
    assert resumed.tombstones == 0
    assert "late1carol@google.com" in items()


def test_a_full_sync_sweeps_what_no_calendar_lists(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    sync()
    calendar.purge("solo1bob")
    calendar.purge("offsite9")

    result = sync(full=True)

    assert result.status == "ok"
    assert set(items(deleted=True)) == {SOLO, "offsite9@google.com"}
    assert len(items()) == 10


# ---------------------------------------------------------------- auth


def test_an_expired_access_token_is_refreshed_once_and_the_request_retried(
    calendar: FakeCalendar,
    sync: Sync,
    fake_api: FakeApi,
    items: Any,
    logs: pytest.LogCaptureFixture,
) -> None:
    # The configured access token has expired: the first request gets 401.
    calendar.access_tokens.clear()

    result = sync(
        token="${GCAL_ACCESS_TOKEN}",
        environ={**ENVIRON, "GCAL_ACCESS_TOKEN": ACCESS_TOKEN},
    )

    assert result.status == "ok", result.error
    (refresh,) = fake_api.requests_to(TOKEN_PATH, "POST")
    assert refresh.form() == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    first, again = events_requests(fake_api, ALICE)[:2]
    assert first.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert first.response.status == 401
    assert again.headers["authorization"] == f"Bearer {issued_token(1)}"
    assert len(items()) == 12
    assert any("refreshing it once" in r.getMessage() for r in logs.records)


def test_credentials_refused_after_a_refresh_stop_the_source_with_advice(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi
) -> None:
    def refuse_every_token(request: Any) -> Any:
        calendar.revoke_access_tokens()
        return calendar.events(request)

    fake_api.inject(method="GET", handler=refuse_every_token, times=100)

    result = sync()

    assert result.status == "failed"
    assert "refused the credentials of source 'calendar'" in result.error
    assert "refresh token" in result.error
    # Stopped at once: the other calendars were not tried.
    assert not events_requests(fake_api, BOB)
    assert len(fake_api.requests_to(TOKEN_PATH, "POST")) == 2
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, issued_token(1), issued_token(2)):
        assert secret not in result.error


def test_a_revoked_refresh_token_says_to_authorise_again(
    calendar: FakeCalendar, sync: Sync
) -> None:
    result = sync(environ={**ENVIRON, "GCAL_REFRESH_TOKEN": BAD_REFRESH_TOKEN})

    assert result.status == "failed"
    assert "invalid_grant" in result.error
    assert "authorise again" in result.error
    assert BAD_REFRESH_TOKEN not in result.error


def test_an_expired_access_token_alone_says_how_to_renew_it(
    calendar: FakeCalendar, sync: Sync
) -> None:
    calendar.access_tokens.clear()

    result = sync(
        token="${GCAL_ACCESS_TOKEN}",
        client_id=None,
        client_secret=None,
        refresh_token=None,
        environ={"GCAL_ACCESS_TOKEN": ACCESS_TOKEN},
    )

    assert result.status == "failed"
    assert "HTTP 401" in result.error
    assert "invalid authentication credentials" in result.error
    assert "set client_id, client_secret and refresh_token" in result.error
    assert ACCESS_TOKEN not in result.error


def test_a_token_without_the_calendar_scope_stops_the_source(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi
) -> None:
    fake_api.inject(
        google_error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        ),
        method="GET",
    )

    result = sync()

    assert result.status == "failed"
    assert "insufficient authentication scopes" in result.error
    assert "calendar.readonly" in result.error
    assert not events_requests(fake_api, BOB)


# ---------------------------------------------------------------- quotas


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (429, "rateLimitExceeded"),
    ],
    ids=["403-rate", "403-user-rate", "429"],
)
def test_rate_limits_are_retried_with_backoff(
    calendar: FakeCalendar,
    sync: Sync,
    fake_api: FakeApi,
    clock: Any,
    items: Any,
    logs: pytest.LogCaptureFixture,
    status: int,
    reason: str,
) -> None:
    limited = google_error(status, reason, "Rate Limit Exceeded", domain="usageLimits")
    fake_api.inject(limited, limited, method="GET")

    result = sync()

    assert result.status == "ok", result.error
    assert result.stats.retries == 2
    # Google sends no Retry-After: exponential backoff, 1 s then 2 s (+ jitter).
    assert clock.sleeps[0] == pytest.approx(1.0, abs=0.11)
    assert clock.sleeps[1] == pytest.approx(2.0, abs=0.21)
    assert len(items()) == 12
    warnings = [r.getMessage() for r in logs.records if r.levelno == logging.WARNING]
    assert any(f"HTTP {status}" in w and "retry 1 of 5" in w for w in warnings), (
        warnings
    )


def test_a_spent_daily_quota_stops_the_source_keeping_what_was_stored(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi, items: Any, state: Any
) -> None:
    fake_api.inject(
        google_error(403, "dailyLimitExceeded", "Daily Limit Exceeded", "usageLimits"),
        method="GET",
        path=f"{API}/calendars/{CAROL}/events",
    )

    result = sync()

    assert result.status == "partial"
    assert "daily Calendar API quota" in result.error
    assert result.stats.retries == 0
    assert set(state()) == {ALICE, BOB}
    assert items()


def test_server_errors_are_retried(
    calendar: FakeCalendar, sync: Sync, fake_api: FakeApi
) -> None:
    fake_api.inject(
        google_error(500, "backendError", "Backend Error"),
        google_error(503, "backendError", "Service unavailable"),
        method="GET",
    )

    result = sync()

    assert result.status == "ok"
    assert result.stats.retries == 2


# ---------------------------------------------------------------- 404


def test_a_calendar_without_access_is_named_and_the_others_sync(
    calendar: FakeCalendar, sync: Sync, items: Any, state: Any
) -> None:
    calendar.hidden.add(BOB)

    result = sync()

    assert result.status == "failed"
    assert "1 of 3 stream partitions could not be read" in result.error
    assert f"calendar '{BOB}' was not found" in result.error
    assert "share it with the Google account" in result.error
    assert "sources.calendar.calendars" in result.error
    assert set(state()) == {ALICE, CAROL}
    stored = items()
    assert ARCH in stored and STANDUP in stored
    assert SOLO not in stored


# ---------------------------------------------------------------- bad records


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"summary": "no start", "end": {"date": "2026-10-06"}}, "without a start"),
        (
            {
                "start": {"dateTime": "2026-10-06T10:00:00Z"},
                "end": {"dateTime": "2026-10-06T09:00:00Z"},
            },
            "before it starts",
        ),
        (
            {
                "start": {"dateTime": "2026-10-06T10:00:00Z"},
                "end": {"dateTime": "2026-10-06T11:00:00Z"},
                "attendees": "everyone",
            },
            "attendees: expected a list, got str",
        ),
        (
            {
                "start": {"dateTime": "2026-10-06T10:00:00Z"},
                "end": {"dateTime": "2026-10-06T11:00:00Z"},
                "attendees": None,
            },
            "attendees: expected a list, got null",
        ),
        (
            {
                "start": {"dateTime": "06/10/2026 10:00"},
                "end": {"dateTime": "2026-10-06T11:00:00Z"},
            },
            "not an ISO 8601 timestamp",
        ),
        (
            {
                "start": {
                    "dateTime": "2026-10-06T10:00:00",
                    "timeZone": "Mars/Olympus",
                },
                "end": {"dateTime": "2026-10-06T11:00:00Z"},
            },
            "unknown time zone",
        ),
    ],
    ids=["no-start", "backwards", "attendees", "null-attendees", "date-format", "zone"],
)
def test_a_bad_event_is_set_aside_and_the_rest_stored(
    calendar: FakeCalendar,
    sync: Sync,
    items: Any,
    tmp_path: Any,
    event: dict[str, Any],
    reason: str,
) -> None:
    calendar.put_raw(
        BOB, {"kind": "calendar#event", "id": "broken1", "status": "confirmed", **event}
    )

    result = sync()

    assert result.status == "partial"
    assert result.rejected == 1
    assert len(items()) == 12
    with contextlib.closing(sqlite3.connect(tmp_path / "headway.db")) as conn:
        ((record_id, why, raw),) = conn.execute(
            "SELECT record_id, reason, raw FROM rejected"
        ).fetchall()
    assert record_id == "broken1"
    assert reason in why
    assert "broken1" in raw


def test_absent_attendees_and_a_missing_title_are_not_errors(
    calendar: FakeCalendar, sync: Sync, items: Any
) -> None:
    calendar.put_raw(
        BOB,
        {
            "kind": "calendar#event",
            "id": "bare1",
            "status": "tentative",
            "start": {"dateTime": "2026-10-06T10:00:00Z"},
            "end": {"dateTime": "2026-10-06T10:30:00Z"},
        },
    )

    result = sync()

    assert result.status == "ok", result.error
    bare = items()["bare1"]
    assert bare["title"] == ""
    assert bare["status"] == "tentative"
    assert bare["effort"] == pytest.approx(0.5)
    assert bare["people"] == [BOB]


# ---------------------------------------------------------------- check


def test_check_passes_and_names_calendars_it_cannot_read(
    calendar: FakeCalendar, fake_api: FakeApi
) -> None:
    gcal_connector(fake_api.url).check()
    calendar.hidden.update({BOB, CAROL})

    with pytest.raises(ConnectorError) as failed:
        gcal_connector(fake_api.url).check()

    message = str(failed.value)
    assert BOB in message and CAROL in message and ALICE not in message
    assert "share it" in message
