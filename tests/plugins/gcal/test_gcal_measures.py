"""The measure functions, over a store the connector filled from the fake.

Acme's week (see ``fake_gcal.acme``), by person, meetings only, declined
ones left out: Alice 1.5 h review + 5 x 0.25 h standup = 2.75 h; Bob the
same plus his 2 h block = 4.75 h; Carol declined the review, 1.25 h of
standup and 0.5 h with Dave = 1.75 h. Person-hours of effort: 4.5 (review)
+ 3.75 (standups) + 1.0 (Carol and Dave) + 2.0 (Bob alone) = 11.25.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import headway_gcal
from headway.measures import MeasureContext
from headway.model import Period
from headway.store import Store
from headway_gcal import (
    focus_hours_per_person_week,
    meeting_hours,
    meeting_hours_per_person_week,
    recurring_meeting_share,
)
from tests.plugins.gcal.conftest import Sync, gcal_plugins
from tests.plugins.gcal.fake_gcal import ALICE, BOB, FakeCalendar

TWO_WEEKS = Period.parse("2026-10-01..2026-10-14")
AFTER = datetime(2026, 10, 20, tzinfo=UTC)


@pytest.fixture
def measure(calendar: FakeCalendar, sync: Sync, tmp_path: Path) -> Any:
    """Evaluate a measure function on the synced store."""
    assert sync().status == "ok"

    def evaluate(
        function: Any,
        period: Period = TWO_WEEKS,
        now: datetime | None = AFTER,
        sources: dict[str, str] | None = None,
        **params: Any,
    ) -> float | None:
        with Store.open_readonly(tmp_path / "headway.db") as store:
            context = MeasureContext(
                db=store.db,
                period=period,
                params=params,
                sources={"calendar": "gcal"} if sources is None else sources,
                now=now,
            )
            return function(context)

    return evaluate


def test_meeting_hours_per_person_per_week(measure: Any) -> None:
    # (2.75 + 4.75 + 1.75) h over three people and two weeks.
    assert measure(meeting_hours_per_person_week) == pytest.approx(9.25 / 3 / 2)


def test_the_people_to_average_over_can_be_named(measure: Any) -> None:
    assert measure(meeting_hours_per_person_week, people=[ALICE]) == pytest.approx(
        2.75 / 2
    )
    assert measure(meeting_hours_per_person_week, people="nobody@acme.com") == 0.0


def test_only_meetings_already_held_count(measure: Any) -> None:
    # On Tuesday at midnight only Monday's review and standup have happened:
    # Alice 1.75 h, Bob 1.75 h, Carol 0.25 h, over five sevenths of a week.
    now = datetime(2026, 10, 6, tzinfo=UTC)

    assert measure(meeting_hours_per_person_week, now=now) == pytest.approx(
        3.75 / 3 / (5 / 7)
    )


def test_a_calendar_removed_from_the_config_is_no_longer_averaged_over(
    measure: Any, sync: Sync
) -> None:
    # Carol's calendar is dropped; Alice's and Bob's have nothing new, yet
    # their sync state is written again, so they still count.
    assert sync(calendars=[ALICE, BOB]).status == "ok"

    assert measure(meeting_hours_per_person_week) == pytest.approx(
        (2.75 + 4.75) / 2 / 2
    )


def test_a_calendar_that_failed_in_the_last_sync_is_still_averaged_over(
    measure: Any, calendar: FakeCalendar, sync: Sync
) -> None:
    # Bob's calendar answers 404 in the latest sync, but is still configured.
    calendar.hidden.add(BOB)
    assert sync().status == "failed"

    assert measure(meeting_hours_per_person_week) == pytest.approx(9.25 / 3 / 2)


def test_the_calendars_of_the_latest_sync_that_ended_ok_count(
    measure: Any, calendar: FakeCalendar, sync: Sync
) -> None:
    # Carol is dropped (ok), then a sync that fails on Bob's calendar: the
    # people are Alice and Bob, as configured since.
    assert sync(calendars=[ALICE, BOB]).status == "ok"
    calendar.hidden.add(BOB)
    assert sync(calendars=[ALICE, BOB]).status == "failed"

    assert measure(meeting_hours_per_person_week) == pytest.approx(
        (2.75 + 4.75) / 2 / 2
    )


def test_the_share_of_meeting_hours_in_recurring_series(measure: Any) -> None:
    assert measure(recurring_meeting_share) == pytest.approx(3.75 / 11.25)


def test_meeting_person_hours(measure: Any) -> None:
    assert measure(meeting_hours) == pytest.approx(11.25)


def test_focus_hours_per_person_per_week(measure: Any) -> None:
    assert measure(focus_hours_per_person_week) == pytest.approx(2.0 / 3 / 2)


@pytest.mark.parametrize(
    "function",
    [
        meeting_hours_per_person_week,
        recurring_meeting_share,
        meeting_hours,
        focus_hours_per_person_week,
    ],
    ids=["per-person", "recurring", "hours", "focus"],
)
@pytest.mark.parametrize(
    "case",
    ["other-period", "before-the-period", "no-gcal-source"],
)
def test_no_data_is_none_not_zero(measure: Any, function: Any, case: str) -> None:
    if case == "other-period":
        value = measure(function, period=Period.parse("2027-Q1"), now=None)
    elif case == "before-the-period":
        value = measure(function, now=datetime(2026, 9, 1, tzinfo=UTC))
    else:
        value = measure(function, sources={"calendar": "jira"})

    assert value is None


def test_a_deleted_meeting_no_longer_counts(
    measure: Any, calendar: FakeCalendar, sync: Sync
) -> None:
    calendar.cancel("solo1bob")
    assert sync().status == "ok"

    assert measure(meeting_hours) == pytest.approx(11.25 - 2.0)


def test_the_measures_are_registered_by_name() -> None:
    registered = gcal_plugins().measures()

    assert {
        "gcal.meeting_hours_per_person_week",
        "gcal.recurring_meeting_share",
        "gcal.meeting_hours",
        "gcal.focus_hours_per_person_week",
    } <= set(registered)
    assert all(m.plugin == "gcal" for m in registered.values())
    assert registered["gcal.meeting_hours"].function is headway_gcal.meeting_hours
