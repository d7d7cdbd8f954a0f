"""Measure functions over the Jira issues in the store.

Each reads the store through :class:`~headway.MeasureContext` (read-only),
keeps to the Jira sources (``params.source`` or every configured ``jira``
source) and to issues closed in the period, and returns ``None`` when there
is nothing to measure. ``params`` may narrow the issues further:

- ``project``: a project key or a list of them;
- ``issue_type``: an issue type name or a list of them (``Story``, ``Bug``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from headway import MeasureContext
from headway.errors import ScoringError

PLUGIN = "jira"
_FILTERS = {
    "project": "project",
    "issue_type": "json_extract(attributes, '$.issue_type')",
}
_PARAMS = {"source", *_FILTERS}
_DAY_SQL = "julianday(closed_at) - julianday({start})"


def _closed(context: MeasureContext, name: str, select: str) -> list[Any] | None:
    """The ``select`` of every issue done in the period, or ``None`` when no
    Jira source is configured."""
    unknown = sorted(set(context.params) - _PARAMS)
    if unknown:
        raise ScoringError(
            f"measure function {name}: unknown params {', '.join(unknown)}; it "
            f"takes {', '.join(sorted(_PARAMS))}"
        )
    sources = context.sources_of(PLUGIN)
    if not sources:
        return None
    start, end = context.period.bounds()
    where = [
        f"source IN ({', '.join('?' for _ in sources)})",
        "kind = 'issue'",
        "state = 'done'",
        "deleted_at IS NULL",
        "closed_at >= ?",
        "closed_at < ?",
    ]
    args: list[Any] = [*sources, start, end]
    for param, column in _FILTERS.items():
        if param not in context.params:
            continue
        wanted = context.params[param]
        values = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ScoringError(
                f"measure function {name}: params.{param} must be a name or a list "
                f"of names, got {wanted!r}"
            )
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        args += values
    sql = f"SELECT {select} FROM items WHERE {' AND '.join(where)}"
    return [row[0] for row in context.db.execute(sql, args).fetchall()]


def _median_days(name: str, start: str) -> Callable[[MeasureContext], float | None]:
    select = _DAY_SQL.format(start=start)

    def measure(context: MeasureContext) -> float | None:
        days = _closed(context, name, select)
        values = [max(0.0, d) for d in days or () if d is not None]
        return statistics.median(values) if values else None

    return measure


cycle_time = _median_days(
    "jira.cycle_time",
    "coalesce(json_extract(attributes, '$.started_at'), created_at)",
)
cycle_time.__doc__ = (
    "Median days from the first move into an in-progress status (else from "
    "creation) to resolution, of the issues done in the period."
)

lead_time = _median_days("jira.lead_time", "created_at")
lead_time.__doc__ = (
    "Median days from creation to resolution, of the issues done in the period."
)


def throughput(context: MeasureContext) -> float | None:
    """How many issues were done (resolved, not cancelled) in the period.

    Zero when the sources hold issues but none was done; ``None`` when they
    hold none at all (not synced yet).
    """
    counted = _closed(context, "jira.throughput", "1")
    if counted:
        return float(len(counted))
    sources = context.sources_of(PLUGIN)
    if counted is None or not sources:
        return None
    held = context.db.execute(
        f"SELECT 1 FROM items WHERE source IN ({', '.join('?' for _ in sources)}) "
        "AND kind = 'issue' LIMIT 1",
        sources,
    ).fetchone()
    return 0.0 if held else None


#: ``(name, function, description, kind)`` of every measure function.
MEASURES = (
    ("jira.cycle_time", cycle_time, "median days from in progress to done", "outcome"),
    ("jira.lead_time", lead_time, "median days from created to done", "outcome"),
    ("jira.throughput", throughput, "issues done in the period", "activity"),
)
