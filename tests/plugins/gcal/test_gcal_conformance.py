"""The SDK's conformance suite, run on the Google Calendar connector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import headway_gcal
from headway_sdk.testing import FakeApi, Harness, conformance_suite
from tests.plugins.gcal.conftest import ENVIRON
from tests.plugins.gcal.fake_gcal import (
    ALICE,
    API,
    BAD_CLIENT_SECRET,
    BAD_REFRESH_TOKEN,
    BERLIN,
    BOB,
    CLIENT_SECRET,
    DAVE,
    REFRESH_TOKEN,
    TOKEN_PATH,
    FakeCalendar,
    Meeting,
    issued_token,
)


def dataset() -> FakeCalendar:
    """Two calendars, meetings shared and not, over four weeks of 2026."""
    cal = FakeCalendar([ALICE, BOB])
    first = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)
    for number in range(8):
        start = first + timedelta(days=3 * number)
        organizer = ALICE if number % 2 else BOB
        guests = {ALICE: "accepted", BOB: "accepted"} if number % 3 else {}
        if number == 5:
            guests[DAVE] = "declined"
        cal.add(
            Meeting(
                f"meeting{number}",
                f"Meeting {number}",
                start,
                start + timedelta(minutes=30 + 15 * number),
                organizer,
                guests,
            )
        )
    cal.series(
        "weekly1",
        "Weekly sync",
        datetime(2026, 2, 3, 15, 0, tzinfo=UTC),
        45,
        3,
        ALICE,
        {ALICE: "accepted", BOB: "tentative"},
    )
    return cal


def serve(fake: FakeApi, data: FakeCalendar) -> None:
    """Serve the data set; the token endpoint refuses other credentials."""
    data.serve(fake)


def change(data: FakeCalendar, now: datetime) -> int:
    """Alice retitles a meeting both hold, Bob moves one only he holds."""
    data.change("meeting1", summary="Meeting 1 (agenda changed)")
    solo = data.meetings["meeting0"]
    data.change(
        "meeting0",
        start=solo.start + timedelta(hours=1),
        end=solo.end + timedelta(hours=1),
    )
    return 2


def options(url: str) -> dict[str, Any]:
    """The source table for the fake at ``url``: pages of three events."""
    return {
        "calendars": [ALICE, BOB],
        "client_id": "${GCAL_CLIENT_ID}",
        "client_secret": "${GCAL_CLIENT_SECRET}",
        "refresh_token": "${GCAL_REFRESH_TOKEN}",
        "api_url": url + API,
        "token_url": url + TOKEN_PATH,
        "start": "2026-01-01",
        "page_size": 3,
    }


test_conformance = conformance_suite(
    Harness(
        plugin=headway_gcal,
        connector="gcal",
        options=options,
        environ=ENVIRON,
        bad_environ={
            **ENVIRON,
            "GCAL_CLIENT_SECRET": BAD_CLIENT_SECRET,
            "GCAL_REFRESH_TOKEN": BAD_REFRESH_TOKEN,
        },
        dataset=dataset,
        serve=serve,
        change=change,
        secrets=[
            CLIENT_SECRET,
            REFRESH_TOKEN,
            BAD_CLIENT_SECRET,
            BAD_REFRESH_TOKEN,
            *(issued_token(n) for n in range(1, 40)),
        ],
    )
)
