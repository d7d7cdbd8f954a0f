"""Measure functions over the meetings a Google Calendar source stored.

Each reads the store read-only through a :class:`~headway.MeasureContext`:
the meetings of the ``gcal`` sources (or ``params.source``) that started in
the period and before the snapshot's time, so a meeting still on the
calendar for later in the period is not counted as held. Each returns
``None`` when those sources hold no meeting in that window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from headway.measures import MeasureContext
from headway.model import format_utc

from ._events import MEETING
from ._ledger import STREAM

PLUGIN = "gcal"

# Calendars that are not a person's: groups, resources, holidays, imports.
_NOT_PEOPLE = ".calendar.google.com"


def _window(context: MeasureContext) -> tuple[str, str] | None:
    """``[start, end)`` of the period, cut at the snapshot's time."""
    start, end = context.period.bounds()
    if context.now is not None:
        end = min(end, format_utc(context.now) or end)
    return (start, end) if end > start else None


def _sources(context: MeasureContext) -> list[str]:
    return context.sources_of(PLUGIN)


def _in(names: Sequence[str]) -> str:
    return ", ".join("?" for _ in names)


def _rows(context: MeasureContext, sql: str, args: Sequence[Any]) -> list[Any]:
    return list(context.db.execute(sql, list(args)).fetchall())


def _people(context: MeasureContext, sources: list[str]) -> list[str]:
    """The people to average over: ``params.people``, else the sources'
    synced calendars that are a person's (an e-mail address).

    A synced calendar is one whose sync state the source's latest run that
    ended ``ok`` wrote, or a run after it did. Such a run read every
    configured calendar to its last page, and the last page always saves the
    calendar's state (its token and ledger, even with nothing changed), so
    the state rows of calendars since removed from ``calendars`` are older
    and left out, while a calendar that only failed in a later run is not.
    Without an ``ok`` run every calendar with a state counts.
    """
    chosen = context.params.get("people")
    if isinstance(chosen, str):
        chosen = [chosen]
    if isinstance(chosen, list):
        return sorted({str(person).lower() for person in chosen})
    rows = _rows(
        context,
        "SELECT DISTINCT lower(s.partition) FROM sync_state s "
        f"WHERE s.stream = ? AND s.source IN ({_in(sources)}) "
        "AND coalesce(s.run_id, 0) >= coalesce((SELECT max(r.id) FROM runs r "
        "WHERE r.source = s.source AND r.status = 'ok'), 0)",
        [STREAM, *sources],
    )
    return sorted(
        calendar
        for (calendar,) in rows
        if "@" in calendar and not calendar.endswith(_NOT_PEOPLE)
    )


def _hours_by_person(
    context: MeasureContext, kind: str
) -> tuple[dict[str, float], float] | None:
    """Hours each person spent in events of ``kind`` in the window, and the
    window's length in weeks; ``None`` without such events."""
    sources, window = _sources(context), _window(context)
    if not sources or window is None:
        return None
    args = [*sources, kind, *window]
    where = (
        f"i.source IN ({_in(sources)}) AND i.kind = ? AND i.deleted_at IS NULL "
        "AND i.occurred_at >= ? AND i.occurred_at < ?"
    )
    (found,) = _rows(context, f"SELECT count(*) FROM items i WHERE {where}", args)[0]
    if not found:
        return None
    # A person's hours: every event they are among the people of, unless
    # they declined it (an organizer who declined stays among the people).
    rows = _rows(
        context,
        "SELECT lower(p.value), sum(coalesce(json_extract(i.attributes, "
        "'$.hours'), 0)) FROM items i, json_each(i.people) p "
        f"WHERE {where} AND NOT EXISTS (SELECT 1 FROM json_each(i.attributes, "
        "'$.declined') d WHERE lower(d.value) = lower(p.value)) "
        "GROUP BY lower(p.value)",
        args,
    )
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in window)
    weeks = (end - start).total_seconds() / (7 * 86400)
    return {person: float(hours or 0) for person, hours in rows}, weeks


def _per_person_week(context: MeasureContext, kind: str) -> float | None:
    found = _hours_by_person(context, kind)
    if found is None:
        return None
    hours, weeks = found
    people = _people(context, _sources(context))
    if not people:
        return None
    return sum(hours.get(person, 0.0) for person in people) / len(people) / weeks


def meeting_hours_per_person_week(context: MeasureContext) -> float | None:
    """Hours per week the average person spends in meetings, in the period so far.

    ``params.people`` lists whose hours to average (default: the people
    whose calendars the sources sync); a person counts with 0 hours in a
    week without meetings.
    """
    return _per_person_week(context, MEETING)


def focus_hours_per_person_week(context: MeasureContext) -> float | None:
    """Hours per week the average person blocks as focus time, as above."""
    return _per_person_week(context, "focus_time")


def meeting_hours(context: MeasureContext) -> float | None:
    """Person-hours spent in meetings in the period so far (their effort)."""
    totals = _meeting_effort(context)
    return None if totals is None else totals[0]


def recurring_meeting_share(context: MeasureContext) -> float | None:
    """The share (0..1) of meeting person-hours spent in recurring series."""
    totals = _meeting_effort(context)
    if totals is None or totals[0] <= 0:
        return None
    return totals[1] / totals[0]


def _meeting_effort(context: MeasureContext) -> tuple[float, float] | None:
    """All meeting effort in the window, and that of recurring instances."""
    sources, window = _sources(context), _window(context)
    if not sources or window is None:
        return None
    ((count, total, recurring),) = _rows(
        context,
        "SELECT count(*), sum(effort), sum(CASE WHEN json_extract(attributes, "
        "'$.series') IS NOT NULL THEN effort ELSE 0 END) FROM items "
        f"WHERE source IN ({_in(sources)}) AND kind = ? AND deleted_at IS NULL "
        "AND occurred_at >= ? AND occurred_at < ?",
        [*sources, MEETING, *window],
    )
    if not count:
        return None
    return float(total or 0), float(recurring or 0)


#: ``(name, function, description)`` of every measure this plugin registers.
MEASURES: tuple[tuple[str, Callable[[MeasureContext], float | None], str], ...] = (
    (
        "gcal.meeting_hours_per_person_week",
        meeting_hours_per_person_week,
        "hours per week the average person spends in meetings",
    ),
    (
        "gcal.recurring_meeting_share",
        recurring_meeting_share,
        "share of meeting person-hours in recurring series (0..1)",
    ),
    (
        "gcal.meeting_hours",
        meeting_hours,
        "person-hours spent in meetings",
    ),
    (
        "gcal.focus_hours_per_person_week",
        focus_hours_per_person_week,
        "hours per week the average person blocks as focus time",
    ),
)
