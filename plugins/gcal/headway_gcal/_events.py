"""Reading Google Calendar events: ids, times, attendance, and the work item.

One meeting sits in the calendar of every attendee, so its item id must not
depend on whose calendar it was read from: it is the event's ``iCalUID``
(shared by every copy, and by every instance of a recurring series) plus,
for an instance, its original start time (which stays put when the
instance is moved), as ``UID/20261005T070000Z``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from headway.model import Scorecard, format_utc
from headway_sdk import RecordError, WorkItem, list_field, parse_timestamp

#: The kind of an event whose ``eventType`` says it is not a meeting.
EVENT_KINDS = {
    "focusTime": "focus_time",
    "outOfOffice": "out_of_office",
    "workingLocation": "working_location",
    "birthday": "birthday",
    "fromGmail": "from_gmail",
}
#: The kind of a timed, ordinary event: the only kind that carries effort.
MEETING = "meeting"
#: The kind of an ordinary event that lasts whole days (``start.date``).
ALL_DAY = "all_day"

#: Every field of Google's Event resource (developers.google.com, Calendar
#: API v3). The connector maps some and leaves the rest out on purpose (a
#: description, conference links); a field not in this list is new to it
#: and kept in ``attributes.extra`` rather than dropped unseen.
EVENT_FIELDS = frozenset(
    {
        "kind", "etag", "id", "status", "htmlLink", "created", "updated",
        "summary", "description", "location", "colorId", "eventLabelId",
        "creator", "organizer", "start", "end", "endTimeUnspecified",
        "recurrence", "recurringEventId", "originalStartTime", "transparency",
        "visibility", "iCalUID", "sequence", "attendees", "attendeesOmitted",
        "extendedProperties", "hangoutLink", "conferenceData", "gadget",
        "anyoneCanAddSelf", "guestsCanInviteOthers", "guestsCanModify",
        "guestsCanSeeOtherGuests", "privateCopy", "locked", "reminders",
        "source", "attachments", "eventType", "workingLocationProperties",
        "outOfOfficeProperties", "focusTimeProperties", "birthdayProperties",
    }
)  # fmt: skip

# Google's own events end their iCalUID with this; used to guess an item id
# from an event id alone, which saves storing most of the id map.
_GOOGLE_UID_SUFFIX = "@google.com"


def event_item_id(raw: Mapping[str, Any]) -> str:
    """The id of the meeting an event copy is: ``iCalUID`` (+ original start).

    :raises RecordError: the event has neither an ``iCalUID`` nor an ``id``.
    """
    uid = raw.get("iCalUID") or raw.get("id")
    if not uid or not isinstance(uid, str):
        raise RecordError("an event without an id or iCalUID")
    original = raw.get("originalStartTime")
    if raw.get("recurringEventId") and isinstance(original, Mapping):
        return f"{uid}/{_stamp(original)}"
    return uid


def native_item_id(event_id: str) -> str:
    """The item id an event made by Google Calendar itself has.

    Such an event's ``iCalUID`` is its id plus ``@google.com``, and an
    instance's id is the series id, ``_`` and its original start.
    """
    series, sep, stamp = event_id.rpartition("_")
    if sep and series and stamp[:8].isdigit():
        return f"{series}{_GOOGLE_UID_SUFFIX}/{stamp}"
    return f"{event_id}{_GOOGLE_UID_SUFFIX}"


def _stamp(moment: Mapping[str, Any]) -> str:
    """``20261005T070000Z`` for a time, ``20261005`` for a date (as Google's
    instance ids write them)."""
    if moment.get("dateTime"):
        when = _timestamp(moment["dateTime"], moment.get("timeZone"), None)
        return when.strftime("%Y%m%dT%H%M%SZ")
    if moment.get("date"):
        return _date(moment["date"]).strftime("%Y%m%d")
    raise RecordError("originalStartTime has neither dateTime nor date")


def time_zone(name: Any) -> tzinfo | None:
    """The zone an IANA name (``Europe/Berlin``) names; ``None`` for none.

    :raises RecordError: a name the zone database does not know.
    """
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordError(f"unknown time zone {name!r}") from None


def _timestamp(value: Any, zone: Any, fallback: tzinfo | None) -> datetime:
    # Google writes an offset in every dateTime it returns; the zone only
    # matters for a value without one, which the API allows on input.
    when = parse_timestamp(value, assume=time_zone(zone) or fallback)
    if when is None:
        raise RecordError("an empty dateTime")
    return when


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RecordError(f"{value!r} is not a date (YYYY-MM-DD)") from None


@attrs.frozen
class Span:
    """When an event happens: UTC start and end, and whether it is all-day."""

    start: datetime
    end: datetime
    all_day: bool

    @property
    def hours(self) -> float:
        """The length in hours."""
        return (self.end - self.start).total_seconds() / 3600


def event_span(raw: Mapping[str, Any], calendar_zone: tzinfo) -> Span:
    """The start and end of an event; an all-day one in the calendar's zone.

    :raises RecordError: no start, no end, or an end before the start.
    """
    start, end = raw.get("start"), raw.get("end")
    if not isinstance(start, Mapping) or not (
        start.get("dateTime") or start.get("date")
    ):
        raise RecordError("an event without a start time")
    if raw.get("endTimeUnspecified") and not isinstance(end, Mapping):
        end = start
    if not isinstance(end, Mapping) or not (end.get("dateTime") or end.get("date")):
        raise RecordError("an event without an end time")
    if start.get("date") and not start.get("dateTime"):
        # All-day: dates in the calendar's zone, the end date exclusive.
        first, after = _date(start["date"]), _date(end.get("date") or start["date"])
        span = Span(
            _midnight(first, calendar_zone), _midnight(after, calendar_zone), True
        )
    else:
        span = Span(
            _timestamp(start["dateTime"], start.get("timeZone"), calendar_zone),
            _timestamp(
                end.get("dateTime") or start["dateTime"],
                end.get("timeZone") or start.get("timeZone"),
                calendar_zone,
            ),
            False,
        )
    if span.end < span.start:
        raise RecordError(
            f"the event ends ({format_utc(span.end)}) before it starts "
            f"({format_utc(span.start)})"
        )
    return span


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def identity(person: Mapping[str, Any]) -> str | None:
    """A person's identity: the e-mail address, else ``gcal:ID``."""
    email = person.get("email")
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    if person.get("id"):
        return f"gcal:{person['id']}"
    return None


def event_organizer(raw: Mapping[str, Any], calendar: str) -> str:
    """Who organizes an event: the organizer, else its creator, else the
    owner of the calendar it was read from."""
    for role in ("organizer", "creator"):
        person = raw.get(role)
        if isinstance(person, Mapping) and (who := identity(person)):
            return who
    return calendar.lower()


@attrs.frozen
class Attendance:
    """Who an event's guests are, rooms left out."""

    #: Identities of the guests who did not decline, in the listed order.
    attending: tuple[str, ...]
    #: Identities of the guests who declined.
    declined: tuple[str, ...]
    #: People attending: guests who did not decline and their extra guests.
    count: int
    #: People invited: every guest and their extra guests.
    invited: int


def attendance(raw: Mapping[str, Any]) -> Attendance:
    """The event's guests: who comes, who declined, how many people.

    Rooms and other resources (``resource: true``) are not people. An
    event without guests leaves ``attendees`` out; Google never sends it as
    null, so a null is a malformed event, not "no guests".

    :raises RecordError: ``attendees`` is null or not a list of objects.
    """
    guests = list_field(raw, "attendees")
    attending: list[str] = []
    declined: list[str] = []
    count = invited = 0
    for guest in guests:
        if not isinstance(guest, Mapping):
            raise RecordError("each attendee must be an object")
        if guest.get("resource"):
            continue
        extra = guest.get("additionalGuests") or 0
        if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
            raise RecordError(f"additionalGuests must be a count, got {extra!r}")
        who = identity(guest)
        invited += 1 + extra
        if guest.get("responseStatus") == "declined":
            if who:
                declined.append(who)
            continue
        count += 1 + extra
        if who and who not in attending:
            attending.append(who)
    return Attendance(tuple(attending), tuple(declined), count, invited)


class TeamResolver:
    """An event's team: its organizer's, else the one most guests are in.

    :param scorecard: the configuration's teams and people (``None``: no
        teams, so no event gets one and the core decides at score time).
    """

    def __init__(self, scorecard: Scorecard | None) -> None:
        self.team_of = scorecard.team_of() if scorecard is not None else {}
        teams = scorecard.teams if scorecard is not None else ()
        self.rank = {team.key: index for index, team in enumerate(teams)}

    def team(self, organizer: str | None, guests: Sequence[str]) -> str | None:
        """The organizer's team; else the most common among the guests (a tie
        goes to the team listed first in ``[teams]``)."""
        if not self.team_of:
            return None
        if organizer and (team := self.team_of.get(organizer.lower())):
            return team
        counts = Counter(
            self.team_of[guest.lower()]
            for guest in guests
            if guest.lower() in self.team_of
        )
        if not counts:
            return None
        return min(counts, key=lambda t: (-counts[t], self.rank.get(t, math.inf)))


def event_kind(raw: Mapping[str, Any], span: Span) -> str:
    """``meeting``; ``all_day``; or the event type's own kind (focus time,
    out of office, working location, ...), which are not meetings."""
    event_type = raw.get("eventType") or "default"
    if event_type != "default":
        return EVENT_KINDS.get(str(event_type), _snake(str(event_type)))
    return ALL_DAY if span.all_day else MEETING


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def event_item(
    raw: Mapping[str, Any],
    *,
    calendar: str,
    zone: tzinfo,
    teams: TeamResolver,
) -> WorkItem:
    """The work item of one (not cancelled) event copy read from ``calendar``.

    :param zone: the calendar's time zone, for all-day events and times
        written without an offset.
    :raises RecordError: the event cannot be read (the reason says why).
    :raises ValueError: a time is not a timestamp.
    """
    item_id = event_item_id(raw)
    span = event_span(raw, zone)
    kind = event_kind(raw, span)
    guests = attendance(raw)
    organizer = event_organizer(raw, calendar)
    people = [organizer, *(who for who in guests.attending if who != organizer)]
    heads = max(1, guests.count)
    effort = span.hours * heads if kind == MEETING else 0.0

    attributes: dict[str, Any] = {
        "calendar": calendar,
        "event_id": raw["id"],
        "ical_uid": raw.get("iCalUID"),
        "event_type": raw.get("eventType") or "default",
        "organizer": organizer,
        "attendees": heads,
        "invited": guests.invited,
        "declined": list(guests.declined),
        "recurring": bool(raw.get("recurringEventId")),
        "end": format_utc(span.end),
        "all_day": span.all_day,
    }
    if span.all_day:
        attributes["days"] = round(span.hours / 24)
    else:
        attributes["hours"] = span.hours
    if raw.get("recurringEventId"):
        attributes["series"] = raw["recurringEventId"]
    for name in ("transparency", "visibility"):
        if raw.get(name):
            attributes[name] = raw[name]
    if raw.get("attendeesOmitted"):
        attributes["attendees_omitted"] = True
    extra = {name: value for name, value in raw.items() if name not in EVENT_FIELDS}
    if extra:
        attributes["extra"] = extra

    return WorkItem(
        id=item_id,
        kind=kind,
        title=raw.get("summary") or "",
        url=raw.get("htmlLink"),
        team=teams.team(organizer, guests.attending),
        people=people,
        status=raw.get("status"),
        created_at=parse_timestamp(raw.get("created")),
        updated_at=parse_timestamp(raw.get("updated")),
        occurred_at=span.start,
        effort=effort,
        attributes=attributes,
    )


def cancelled_item_id(raw: Mapping[str, Any]) -> str | None:
    """The item id a cancelled event names, when it still says enough.

    Google guarantees only ``id`` on a deleted event (and ``recurringEventId``
    with ``originalStartTime`` on a cancelled instance), so this is ``None``
    unless the ``iCalUID`` came too.
    """
    if not raw.get("iCalUID"):
        return None
    try:
        return event_item_id(raw)
    except (RecordError, ValueError):
        return None


def deleted_at(raw: Mapping[str, Any]) -> datetime | None:
    """When a cancelled event was cancelled, if it says."""
    try:
        return parse_timestamp(raw.get("updated"))
    except ValueError:
        return None
