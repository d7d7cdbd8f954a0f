"""Reading one event: its meeting id, times, guests, kind and team; the ledger."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from headway.config import parse_config
from headway.connectors import State
from headway_gcal._events import (
    Attendance,
    TeamResolver,
    attendance,
    event_item,
    event_item_id,
    event_kind,
    event_span,
    native_item_id,
)
from headway_gcal._ledger import Holdings, Ledger
from headway_sdk import RecordError

TIMED = {
    "start": {"dateTime": "2026-10-05T09:00:00+02:00"},
    "end": {"dateTime": "2026-10-05T10:00:00+02:00"},
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"id": "abc", "iCalUID": "abc@google.com"}, "abc@google.com"),
        (
            {
                "id": "abc_20261005T070000Z",
                "iCalUID": "abc@google.com",
                "recurringEventId": "abc",
                "originalStartTime": {
                    "dateTime": "2026-10-05T09:00:00+02:00",
                    "timeZone": "Europe/Berlin",
                },
            },
            "abc@google.com/20261005T070000Z",
        ),
        (
            {
                "id": "abc_20261005",
                "iCalUID": "abc@google.com",
                "recurringEventId": "abc",
                "originalStartTime": {"date": "2026-10-05"},
            },
            "abc@google.com/20261005",
        ),
        ({"id": "only-an-id"}, "only-an-id"),
    ],
    ids=["single", "instance", "all-day-instance", "no-uid"],
)
def test_the_meeting_id_is_the_icaluid_and_the_original_start(
    event: dict[str, Any], expected: str
) -> None:
    assert event_item_id(event) == expected


def test_a_moved_instance_keeps_its_meeting_id() -> None:
    instance = {
        "id": "abc_20261005T070000Z",
        "iCalUID": "abc@google.com",
        "recurringEventId": "abc",
        "originalStartTime": {"dateTime": "2026-10-05T07:00:00Z"},
        "start": {"dateTime": "2026-10-05T15:00:00Z"},
    }

    assert event_item_id(instance) == "abc@google.com/20261005T070000Z"


@pytest.mark.parametrize(
    ("event_id", "item_id"),
    [
        ("abc", "abc@google.com"),
        ("abc_20261005T070000Z", "abc@google.com/20261005T070000Z"),
        ("abc_20261005", "abc@google.com/20261005"),
        ("abc_R20261005T070000", "abc_R20261005T070000@google.com"),
        ("_6tlnaqrle5p6", "_6tlnaqrle5p6@google.com"),
    ],
    ids=["single", "instance", "all-day", "split-series", "leading-underscore"],
)
def test_native_item_ids_follow_googles_own_ids(event_id: str, item_id: str) -> None:
    assert native_item_id(event_id) == item_id


@pytest.mark.parametrize(
    ("moments", "start", "hours", "all_day"),
    [
        (TIMED, "2026-10-05T07:00:00+00:00", 1.0, False),
        (
            {
                "start": {"dateTime": "2026-10-05T09:00:00Z"},
                "end": {"dateTime": "2026-10-05T09:45:00Z"},
            },
            "2026-10-05T09:00:00+00:00",
            0.75,
            False,
        ),
        (
            {
                "start": {"dateTime": "2026-10-05T09:00:00", "timeZone": "Asia/Tokyo"},
                "end": {"dateTime": "2026-10-05T10:30:00", "timeZone": "Asia/Tokyo"},
            },
            "2026-10-05T00:00:00+00:00",
            1.5,
            False,
        ),
        (
            {"start": {"date": "2026-10-05"}, "end": {"date": "2026-10-07"}},
            "2026-10-04T22:00:00+00:00",
            48.0,
            True,
        ),
    ],
    ids=["offset", "zulu", "zone-name", "all-day"],
)
def test_times_are_read_with_offsets_zones_and_dates(
    moments: dict[str, Any], start: str, hours: float, all_day: bool
) -> None:
    span = event_span(moments, ZoneInfo("Europe/Berlin"))

    assert span.start.isoformat() == start
    assert span.hours == pytest.approx(hours)
    assert span.all_day is all_day


def test_a_time_without_offset_or_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        event_span(
            {
                "start": {"dateTime": "2026-10-05T09:00:00"},
                "end": {"dateTime": "2026-10-05T10:00:00"},
            },
            None,  # type: ignore[arg-type]
        )


def test_attendance_leaves_out_rooms_and_counts_extra_guests() -> None:
    guests = attendance(
        {
            "attendees": [
                {"email": "Alice@Acme.com", "responseStatus": "accepted"},
                {"email": "bob@acme.com", "responseStatus": "declined"},
                {"email": "carol@acme.com", "responseStatus": "needsAction"},
                {
                    "email": "dan@acme.com",
                    "responseStatus": "tentative",
                    "additionalGuests": 2,
                },
                {"email": "room@resource.calendar.google.com", "resource": True},
                {"id": "108273", "responseStatus": "accepted"},
            ]
        }
    )

    assert guests.attending == (
        "alice@acme.com",
        "carol@acme.com",
        "dan@acme.com",
        "gcal:108273",
    )
    assert guests.declined == ("bob@acme.com",)
    assert guests.count == 6
    assert guests.invited == 7


def test_an_event_without_attendees_has_no_guests() -> None:
    # Google leaves `attendees` out of an event without guests (a null is
    # refused above); an empty list says the same.
    for event in ({}, {"attendees": []}):
        assert attendance(event) == Attendance((), (), 0, 0)


@pytest.mark.parametrize(
    ("attendees", "words"),
    [
        ("all", "attendees: expected a list, got str"),
        (None, "^attendees: expected a list, got null$"),
        (["alice@acme.com"], "must be an object"),
        ([{"email": "a@b.c", "additionalGuests": -1}], "must be a count"),
    ],
    ids=["text", "null", "strings", "negative-guests"],
)
def test_malformed_attendees_are_refused(attendees: Any, words: str) -> None:
    with pytest.raises(RecordError, match=words):
        attendance({"attendees": attendees})


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"eventType": "default", **TIMED}, "meeting"),
        (TIMED, "meeting"),
        ({"start": {"date": "2026-10-05"}, "end": {"date": "2026-10-06"}}, "all_day"),
        ({"eventType": "focusTime", **TIMED}, "focus_time"),
        ({"eventType": "outOfOffice", **TIMED}, "out_of_office"),
        ({"eventType": "workingLocation", **TIMED}, "working_location"),
        ({"eventType": "birthday", **TIMED}, "birthday"),
        ({"eventType": "someNewType", **TIMED}, "some_new_type"),
    ],
    ids=[
        "default",
        "untyped",
        "all-day",
        "focus",
        "ooo",
        "location",
        "birthday",
        "new",
    ],
)
def test_only_timed_default_events_are_meetings(
    event: dict[str, Any], kind: str
) -> None:
    assert event_kind(event, event_span(event, UTC)) == kind


def test_only_meetings_carry_effort() -> None:
    teams = TeamResolver(None)
    base = {"id": "x", "iCalUID": "x@google.com", **TIMED}
    guests = [{"email": "a@acme.com"}, {"email": "b@acme.com"}]

    meeting = event_item(
        {**base, "attendees": guests}, calendar="a@acme.com", zone=UTC, teams=teams
    )
    focus = event_item(
        {**base, "eventType": "focusTime"}, calendar="a@acme.com", zone=UTC, teams=teams
    )

    assert meeting.effort == pytest.approx(2.0)
    assert focus.effort == 0.0 and focus.kind == "focus_time"


def _scorecard() -> Any:
    config = parse_config(
        {
            "scorecard": {"name": "x", "period": "2026-Q4"},
            "teams": {
                "web": {"title": "Web", "members": ["w1@acme.com", "w2@acme.com"]},
                "platform": {
                    "title": "Platform",
                    "members": ["p1@acme.com", "p2@acme.com"],
                },
            },
            "people": {"p1@acme.com": {"aliases": ["p.one@acme.com"]}},
        }
    )
    return config.scorecard


@pytest.mark.parametrize(
    ("organizer", "guests", "team"),
    [
        ("p1@acme.com", ["w1@acme.com", "w2@acme.com"], "platform"),
        ("P.One@acme.com", [], "platform"),
        (
            "x@partner.example",
            ["w1@acme.com", "p1@acme.com", "p2@acme.com"],
            "platform",
        ),
        ("x@partner.example", ["p1@acme.com", "w1@acme.com"], "web"),
        ("x@partner.example", ["y@partner.example"], None),
    ],
    ids=["organizer", "alias", "majority", "tie-first-listed", "nobody"],
)
def test_the_team_is_the_organizers_else_the_guests_majority(
    organizer: str, guests: list[str], team: str | None
) -> None:
    assert TeamResolver(_scorecard()).team(organizer, guests) == team


def test_a_ledger_saves_only_the_item_ids_google_would_not_guess() -> None:
    ledger = Ledger("a@acme.com")
    ledger.add("abc", "abc@google.com")
    ledger.add("imported1", "0400000082@partner.example")

    encoded = ledger.encoded()

    assert encoded == {"abc": "", "imported1": "0400000082@partner.example"}
    again = Ledger.load("a@acme.com", {"events": encoded})
    assert again.events == ledger.events


def test_a_full_listing_reports_what_vanished() -> None:
    ledger = Ledger("a@acme.com", {"x": "x@google.com", "y": "y@google.com"})

    ledger.begin(full=True)
    ledger.add("x", "x@google.com")

    assert ledger.vanished() == {"y@google.com"}
    assert ledger.holds("x@google.com") and not ledger.holds("y@google.com")


def test_the_stored_copy_is_the_organizers_else_the_first_calendars() -> None:
    state = State(
        {
            ("events", "a@acme.com"): {"events": {"m1": ""}},
            ("events", "b@acme.com"): {"events": {"m1": "", "m2": ""}},
        }
    )
    holdings = Holdings(["a@acme.com", "b@acme.com"], state)

    assert holdings.writer("m1@google.com", "b@acme.com") == "b@acme.com"
    assert holdings.writer("m1@google.com", "x@partner.example") == "a@acme.com"
    assert holdings.writer("m2@google.com", "a@acme.com") == "b@acme.com"
    holdings.ledger("b@acme.com").drop("m1")
    assert holdings.orphans(["m1@google.com", "m2@google.com"]) == []
    holdings.ledger("a@acme.com").drop("m1")
    assert holdings.orphans(["m1@google.com"]) == ["m1@google.com"]


def test_fields_new_to_the_connector_are_kept_and_known_ones_left_out() -> None:
    event = {
        "id": "x",
        "iCalUID": "x@google.com",
        **TIMED,
        "description": "Agenda: the budget",
        "conferenceData": {"entryPoints": [{"uri": "https://meet.google.com/abc"}]},
        "someNewField": {"level": 3},
    }

    item = event_item(event, calendar="a@acme.com", zone=UTC, teams=TeamResolver(None))

    assert item.attributes["extra"] == {"someNewField": {"level": 3}}
    assert "Agenda" not in repr(item.attributes)
    assert "meet.google.com" not in repr(item.attributes)
