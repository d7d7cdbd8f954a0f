"""A fake Google Calendar API for the connector's tests, on the SDK's FakeApi.

It speaks the wire format Google documents (developers.google.com, Calendar
API v3: the Events resource, events.list, the sync guide and the errors
guide), since the shared fixtures have no recorded Calendar responses:

- ``GET /calendar/v3/calendars/{id}/events`` answers a ``calendar#events``
  page: ``items``, ``nextPageToken`` while more follow, ``nextSyncToken`` on
  the last page only, the calendar's ``timeZone``;
- a ``syncToken`` lists the copies changed since, cancelled ones as
  ``status: cancelled`` with only ``id`` (and, for an instance,
  ``recurringEventId`` and ``originalStartTime``), as Google guarantees no
  more; a token older than :meth:`FakeCalendar.expire_sync_tokens` answers
  410 ``fullSyncRequired``; ``syncToken`` with ``timeMin`` is refused (400);
- every meeting has a copy in the calendar of its organizer and of each
  guest the fake knows, with the same ``id`` and ``iCalUID`` and a
  calendar-specific ``htmlLink`` and ``self`` flags, as Google's own events;
- errors are the ``{"error": {"code", "message", "errors": [{"domain",
  "reason", "message"}]}}`` envelope; 401 without a valid bearer token;
- ``POST /token`` is the OAuth refresh-token grant, answering
  ``access_token`` and ``expires_in``, or ``invalid_grant`` /
  ``invalid_client``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import attrs

from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest

API = "/calendar/v3"
TOKEN_PATH = "/token"
CLIENT_ID = "8675309-fake.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-fake-client-secret-6a1f"
REFRESH_TOKEN = "1//04fake-refresh-token-b2c9"
BAD_CLIENT_SECRET = "GOCSPX-refused-secret-77d0"
BAD_REFRESH_TOKEN = "1//04refused-refresh-token-3e4d"
#: An access token the fake accepts from the start (the ``token`` setting).
ACCESS_TOKEN = "ya29.fake-access-token-0c5e"
BAD_ACCESS_TOKEN = "ya29.refused-access-token-91ab"
SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

_EVENTS = re.compile(rf"{API}/calendars/([^/]+)/events")
_HEADERS = {
    "Content-Type": "application/json; charset=UTF-8",
    "Vary": "Origin, X-Origin, Referer",
    "Server": "ESF",
    "Cache-Control": "private, max-age=0, must-revalidate, no-transform",
    "X-Content-Type-Options": "nosniff",
}


def issued_token(number: int) -> str:
    """The access token the fake's token endpoint issues ``number``-th."""
    return f"ya29.a0fake{number:04d}issued"


def google_error(status: int, reason: str, message: str, domain: str = "global") -> Any:
    """Google's error envelope as a response."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
        }
    }
    return FakeResponse(status, json=body, headers=_HEADERS)


def unauthorized() -> FakeResponse:
    """The 401 Google answers a missing, expired or unknown access token."""
    body = {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected "
            "OAuth 2 access token, login cookie or other valid authentication "
            "credential.",
            "errors": [
                {
                    "message": "Invalid Credentials",
                    "domain": "global",
                    "reason": "authError",
                    "location": "Authorization",
                    "locationType": "header",
                }
            ],
            "status": "UNAUTHENTICATED",
        }
    }
    return FakeResponse(
        401,
        json=body,
        headers={
            **_HEADERS,
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"',
        },
    )


def _rfc3339(moment: datetime) -> str:
    """``2026-10-05T09:00:00+02:00``: how Google writes an event's dateTime."""
    return moment.isoformat(timespec="seconds")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _updated(number: int) -> str:
    """A distinct ``updated`` time per change, as Google writes it."""
    moment = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(minutes=number)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{number % 1000:03d}Z"


@attrs.define
class Meeting:
    """One event as its organizer made it; each holder gets a copy."""

    id: str
    summary: str
    start: datetime | date
    end: datetime | date
    organizer: str
    #: Guest e-mail to responseStatus (the organizer included when a guest).
    guests: dict[str, str] = attrs.field(factory=dict)
    ical_uid: str | None = None
    recurring_event_id: str | None = None
    original_start: datetime | date | None = None
    event_type: str = "default"
    status: str = "confirmed"
    rooms: tuple[str, ...] = ()
    extra: dict[str, Any] = attrs.field(factory=dict)
    #: Calendar to event id, for copies whose id differs from ``id``
    #: (an invitation from another system).
    ids: dict[str, str] = attrs.field(factory=dict)

    @property
    def all_day(self) -> bool:
        """Whether it spans whole days."""
        return not isinstance(self.start, datetime)

    def uid(self) -> str:
        """Its iCalUID."""
        return self.ical_uid or f"{self.recurring_event_id or self.id}@google.com"


class FakeCalendar:
    """The calendars and their event copies, served by :meth:`serve`.

    :param calendars: the calendar ids the fake holds.
    :param zone: every calendar's time zone.
    """

    def __init__(self, calendars: Iterable[str], zone: str = "Europe/Berlin"):
        self.zone = zone
        self.copies: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {
            calendar: {} for calendar in calendars
        }
        self.meetings: dict[str, Meeting] = {}
        self.seq = 0
        self.stale_below = 0
        self.access_tokens = {ACCESS_TOKEN}
        self.issued = 0
        #: Calendars that answer 404 (the credentials cannot see them).
        self.hidden: set[str] = set()

    # ------------------------------------------------------------ data

    def add(self, meeting: Meeting) -> Meeting:
        """Create a meeting: a copy in every holder's calendar."""
        self.meetings[meeting.id] = meeting
        self._publish(meeting, set())
        return meeting

    def series(
        self,
        base: str,
        summary: str,
        first: datetime,
        minutes: int,
        count: int,
        organizer: str,
        guests: Mapping[str, str],
    ) -> list[Meeting]:
        """A daily recurring series, as ``singleEvents=true`` lists it."""
        made = []
        for day in range(count):
            start = first + timedelta(days=day)
            made.append(
                self.add(
                    Meeting(
                        id=f"{base}_{_stamp(start)}",
                        summary=summary,
                        start=start,
                        end=start + timedelta(minutes=minutes),
                        organizer=organizer,
                        guests=dict(guests),
                        recurring_event_id=base,
                        original_start=start,
                    )
                )
            )
        return made

    def change(self, meeting_id: str, **fields: Any) -> Meeting:
        """The organizer edits a meeting; every holder's copy changes."""
        meeting = self.meetings[meeting_id]
        before = self.holders(meeting)
        for name, value in fields.items():
            setattr(meeting, name, value)
        self._publish(meeting, before)
        return meeting

    def cancel(self, meeting_id: str) -> None:
        """The organizer cancels a meeting: cancelled in every calendar."""
        meeting = self.meetings[meeting_id]
        holders = self.holders(meeting)
        meeting.status = "cancelled"
        for calendar in holders:
            self._cancelled_copy(calendar, meeting)

    def drop_copy(self, calendar: str, meeting_id: str) -> None:
        """One calendar loses its copy (its owner deleted the invitation)."""
        self._cancelled_copy(calendar, self.meetings[meeting_id])

    def put_raw(self, calendar: str, event: dict[str, Any]) -> None:
        """Put an event copy exactly as given (a malformed one, say)."""
        self.seq += 1
        self.copies[calendar][event["id"]] = (self.seq, event)

    def purge(self, meeting_id: str, calendars: Iterable[str] | None = None) -> None:
        """Copies vanish without a cancellation (what a resync must notice)."""
        meeting = self.meetings[meeting_id]
        for calendar in calendars or self.holders(meeting):
            self.copies[calendar].pop(self.event_id(meeting, calendar), None)

    def expire_sync_tokens(self) -> None:
        """Every sync token handed out so far answers 410 from now on."""
        self.seq += 1
        self.stale_below = self.seq

    def holders(self, meeting: Meeting) -> set[str]:
        """The fake's calendars that hold a copy of the meeting."""
        people = {meeting.organizer, *meeting.guests}
        return {calendar for calendar in self.copies if calendar in people}

    def event_id(self, meeting: Meeting, calendar: str) -> str:
        """The id of the meeting's copy in a calendar."""
        return meeting.ids.get(calendar, meeting.id)

    def _publish(self, meeting: Meeting, before: set[str]) -> None:
        now = self.holders(meeting)
        for calendar in sorted(now):
            self.seq += 1
            self.copies[calendar][self.event_id(meeting, calendar)] = (
                self.seq,
                self.render(meeting, calendar, self.seq),
            )
        for calendar in sorted(before - now):
            self._cancelled_copy(calendar, meeting)

    def _cancelled_copy(self, calendar: str, meeting: Meeting) -> None:
        self.seq += 1
        event_id = self.event_id(meeting, calendar)
        copy: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": f'"{3181160000000000 + self.seq}"',
            "id": event_id,
            "status": "cancelled",
        }
        if meeting.recurring_event_id:
            copy["recurringEventId"] = meeting.recurring_event_id
            copy["originalStartTime"] = self._moment(meeting.original_start)
        self.copies[calendar][event_id] = (self.seq, copy)

    def _moment(self, value: datetime | date | None) -> dict[str, Any]:
        if isinstance(value, datetime):
            zone = getattr(value.tzinfo, "key", None)
            moment: dict[str, Any] = {"dateTime": _rfc3339(value)}
            if zone:
                moment["timeZone"] = zone
            return moment
        assert value is not None
        return {"date": value.isoformat()}

    def render(self, meeting: Meeting, calendar: str, version: int) -> dict[str, Any]:
        """The copy of a meeting that ``calendar`` holds, as Google sends it."""
        event_id = self.event_id(meeting, calendar)
        eid = base64.urlsafe_b64encode(f"{event_id} {calendar}".encode()).decode()
        person = {"email": meeting.organizer}
        if meeting.organizer == calendar:
            person["self"] = True
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": f'"{3181160000000000 + version}"',
            "id": event_id,
            "status": meeting.status,
            "htmlLink": "https://www.google.com/calendar/event?eid=" + eid.rstrip("="),
            "created": "2026-08-20T08:00:00.000Z",
            "updated": _updated(version),
            "summary": meeting.summary,
            "creator": dict(person),
            "organizer": dict(person),
            "start": self._moment(meeting.start),
            "end": self._moment(meeting.end),
            "iCalUID": meeting.uid(),
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": meeting.event_type,
        }
        if meeting.recurring_event_id:
            event["recurringEventId"] = meeting.recurring_event_id
            event["originalStartTime"] = self._moment(meeting.original_start)
        guests = []
        for email, response in meeting.guests.items():
            guest: dict[str, Any] = {"email": email, "responseStatus": response}
            if email == meeting.organizer:
                guest["organizer"] = True
            if email == calendar:
                guest["self"] = True
            guests.append(guest)
        for room in meeting.rooms:
            guests.append(
                {
                    "email": room,
                    "displayName": "Room " + room.split("@")[0][-3:],
                    "resource": True,
                    "responseStatus": "accepted",
                }
            )
        if guests:
            event["attendees"] = guests
        event.update(meeting.extra)
        return event

    # ------------------------------------------------------------ serving

    def serve(self, fake: FakeApi) -> None:
        """Install the token endpoint and the events listing on ``fake``."""
        fake.handle("POST", TOKEN_PATH, self.token)
        fake.handle("GET", _EVENTS, self.events)

    def token(self, request: RecordedRequest) -> FakeResponse:
        """The OAuth token endpoint: the refresh-token grant only."""
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            return FakeResponse(
                400,
                json={
                    "error": "unsupported_grant_type",
                    "error_description": "Invalid grant_type: "
                    + form.get("grant_type", ""),
                },
            )
        if (
            form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return FakeResponse(
                401,
                json={"error": "invalid_client", "error_description": "Unauthorized"},
            )
        if form.get("refresh_token") != REFRESH_TOKEN:
            return FakeResponse(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        self.issued += 1
        token = issued_token(self.issued)
        self.access_tokens.add(token)
        return FakeResponse(
            json={
                "access_token": token,
                "expires_in": 3599,
                "scope": SCOPE,
                "token_type": "Bearer",
            },
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def revoke_access_tokens(self) -> None:
        """Every access token handed out so far is refused from now on."""
        self.access_tokens.clear()

    def events(self, request: RecordedRequest) -> FakeResponse:
        """``events.list``: a page of one calendar's events."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.access_tokens:
            return unauthorized()
        match = _EVENTS.fullmatch(request.path)
        assert match is not None
        calendar = unquote(match[1])
        if calendar not in self.copies or calendar in self.hidden:
            return google_error(404, "notFound", "Not Found")
        query = request.query
        if query.get("singleEvents") != "true":
            return google_error(400, "invalid", "this fake serves singleEvents=true")
        try:
            size = int(query.get("maxResults", "250"))
        except ValueError:
            return google_error(400, "invalidParameter", "Invalid value for maxResults")
        if not 1 <= size <= 2500:
            return google_error(400, "invalidParameter", "Invalid value for maxResults")
        token = query.get("syncToken")
        if token and any(k in query for k in ("timeMin", "timeMax", "orderBy", "q")):
            return google_error(
                400,
                "invalid",
                "Sync token cannot be used with other request restrictions.",
            )
        if token:
            decoded = _decode(token)
            if (
                decoded is None
                or decoded.get("c") != calendar
                or decoded["s"] < self.stale_below
            ):
                return google_error(
                    410,
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                )
            listing = sorted(
                (v, e) for v, e in self.copies[calendar].values() if v > decoded["s"]
            )
        else:
            since = query.get("timeMin")
            bound = (
                datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
            )
            listing = sorted(
                (
                    (version, event)
                    for version, event in self.copies[calendar].values()
                    if event["status"] != "cancelled"
                    and (bound is None or _ends_after(event, bound, self.zone))
                ),
                key=lambda pair: (str(pair[1].get("start")), pair[1]["id"]),
            )
        offset = 0
        if query.get("pageToken"):
            position = _decode(query["pageToken"])
            if position is None or position.get("c") != calendar:
                return google_error(400, "invalid", "Invalid page token")
            offset = position["o"]
        page = [event for _, event in listing[offset : offset + size]]
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p32c{self.seq:012d}g"',
            "summary": calendar,
            "description": "",
            "updated": _updated(self.seq),
            "timeZone": self.zone,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
        }
        if offset + size < len(listing):
            body["nextPageToken"] = _encode({"c": calendar, "o": offset + size})
        else:
            body["nextSyncToken"] = _encode({"c": calendar, "s": self.seq})
        body["items"] = page
        return FakeResponse(json=body, headers={**_HEADERS, "ETag": body["etag"]})


def _ends_after(event: Mapping[str, Any], bound: datetime, zone: str) -> bool:
    """Whether an event ends after ``timeMin``; a malformed one is listed."""
    end = event.get("end")
    if not isinstance(end, Mapping):
        return True
    try:
        if end.get("dateTime"):
            return datetime.fromisoformat(end["dateTime"]) > bound
        day = date.fromisoformat(end["date"])
    except (KeyError, TypeError, ValueError):
        return True
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)) > bound


def _encode(value: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(value, sort_keys=True).encode()).decode()


def _decode(token: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.b64decode(token.encode(), validate=True))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ---------------------------------------------------------------- a data set

ALICE, BOB, CAROL = "alice@acme.com", "bob@acme.com", "carol@acme.com"
DAVE = "dave@partner.example"
ROOM = "c_18863mtr9ro0m@resource.calendar.google.com"
PARTNER_UID = "040000008200E00074C5B7101A82E00800000000D0F1A3C9@partner.example"
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def acme() -> FakeCalendar:
    """Three synced calendars at Acme and one partner, one week in October.

    - ``archreview1``: organized by Alice, 1.5 h; Bob accepted, Carol
      declined, Dave (a partner, not synced) has not answered; a room.
    - ``standup4bob``: Bob's daily 15-minute standup, five instances, with
      Alice and Carol (tentative), in New York time.
    - ``offsite9``: Carol's all-day offsite with Alice.
    - ``focus1alice``, ``ooo1bob``, ``wl1carol``: focus time, out of office
      and a working location: not meetings.
    - ``partner1on1``: Dave's invitation to Carol from another system, with
      its own iCalUID and a different event id in Carol's calendar.
    - ``solo1bob``: Bob alone, 2 h, no guests.
    """
    cal = FakeCalendar([ALICE, BOB, CAROL])
    cal.add(
        Meeting(
            "archreview1",
            "Architecture review",
            datetime(2026, 10, 5, 9, 0, tzinfo=BERLIN),
            datetime(2026, 10, 5, 10, 30, tzinfo=BERLIN),
            ALICE,
            {
                ALICE: "accepted",
                BOB: "accepted",
                CAROL: "declined",
                DAVE: "needsAction",
            },
            rooms=(ROOM,),
        )
    )
    cal.series(
        "standup4bob",
        "Daily standup",
        datetime(2026, 10, 5, 9, 30, tzinfo=NEW_YORK),
        15,
        5,
        BOB,
        {BOB: "accepted", ALICE: "accepted", CAROL: "tentative"},
    )
    cal.add(
        Meeting(
            "offsite9",
            "Team offsite",
            date(2026, 10, 9),
            date(2026, 10, 10),
            CAROL,
            {CAROL: "accepted", ALICE: "accepted"},
        )
    )
    cal.add(
        Meeting(
            "focus1alice",
            "Focus time",
            datetime(2026, 10, 6, 13, 0, tzinfo=UTC),
            datetime(2026, 10, 6, 15, 0, tzinfo=UTC),
            ALICE,
            event_type="focusTime",
        )
    )
    cal.add(
        Meeting(
            "ooo1bob",
            "Out of office",
            datetime(2026, 10, 7, 0, 0, tzinfo=BERLIN),
            datetime(2026, 10, 8, 0, 0, tzinfo=BERLIN),
            BOB,
            event_type="outOfOffice",
        )
    )
    cal.add(
        Meeting(
            "wl1carol",
            "Home",
            date(2026, 10, 6),
            date(2026, 10, 7),
            CAROL,
            event_type="workingLocation",
        )
    )
    cal.add(
        Meeting(
            "partner1on1",
            "Carol / Dave",
            datetime(2026, 10, 8, 16, 0, tzinfo=LOS_ANGELES),
            datetime(2026, 10, 8, 16, 30, tzinfo=LOS_ANGELES),
            DAVE,
            {DAVE: "accepted", CAROL: "accepted"},
            ical_uid=PARTNER_UID,
            ids={CAROL: "_6tlnaqrle5p6cpb4dhmj4phpeeoj"},
        )
    )
    cal.add(
        Meeting(
            "solo1bob",
            "Write the quarterly report",
            datetime(2026, 10, 6, 14, 0, tzinfo=BERLIN),
            datetime(2026, 10, 6, 16, 0, tzinfo=BERLIN),
            BOB,
        )
    )
    return cal
