"""Measure functions over the Salesforce items in the store.

A ``[[measures]]`` entry uses one with ``function = "salesforce.win_rate"``
and optional ``params``: ``source`` (a source name or a list; default every
Salesforce source), ``team`` (a team or a list), and the filters each
function lists below. Each reads the store read-only, restricted to the
period being scored, and returns ``None`` when there is nothing to measure.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from headway.errors import ScoringError
from headway.measures import MeasureContext

PLUGIN = "salesforce"

_ACTIVITIES = ("call", "email", "task", "meeting")
_DEAL_FILTERS = ("type", "lead_source", "account")
_CASE_FILTERS = ("priority", "origin", "type", "reason")
_ACTIVITY_FILTERS = ("kind", "type")


class _Scope:
    """The WHERE clause of a measure: sources, kinds, period, filters."""

    def __init__(self, sql: str, params: list[Any]):
        self.sql = sql
        self.params = params


def _scope(
    context: MeasureContext,
    function: str,
    kinds: Sequence[str],
    time_column: str,
    filters: Sequence[str],
) -> _Scope | None:
    params = dict(context.params)
    allowed = ("source", "team", *filters)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ScoringError(
            f"measure function {function}: unknown parameter "
            f"{', '.join(repr(u) for u in unknown)}; it takes {', '.join(allowed)}"
        )
    sources = context.sources_of(PLUGIN)
    if not sources:
        return None
    if "kind" in params:
        kinds = [str(k) for k in _values(params.pop("kind"))]
        wrong = [k for k in kinds if k not in _ACTIVITIES]
        if wrong:
            raise ScoringError(
                f"measure function {function}: kind {wrong[0]!r} is not one of "
                f"{', '.join(_ACTIVITIES)}"
            )
    start, end = context.period.bounds()
    clauses = [
        f"source IN ({_marks(sources)})",
        f"kind IN ({_marks(kinds)})",
        "deleted_at IS NULL",
        f"{time_column} >= ?",
        f"{time_column} < ?",
    ]
    values: list[Any] = [*sources, *kinds, start, end]
    if "team" in params:
        teams = _values(params["team"])
        clauses.append(f"{context.team_sql()} IN ({_marks(teams)})")
        values += teams
    for name in filters:
        if name in params and name != "kind":
            wanted = _values(params[name])
            clauses.append(
                f"json_extract(attributes, '$.{name}') IN ({_marks(wanted)})"
            )
            values += wanted
    return _Scope(" AND ".join(clauses), values)


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _closed_deals(context: MeasureContext, function: str) -> _Scope | None:
    scope = _scope(context, function, ["opportunity"], "closed_at", _DEAL_FILTERS)
    if scope is not None:
        scope.sql += " AND json_extract(attributes, '$.is_closed') = 1"
    return scope


def win_rate(context: MeasureContext) -> float | None:
    """Won deals over closed deals, among those closed in the period (0..1)."""
    scope = _closed_deals(context, "salesforce.win_rate")
    if scope is None:
        return None
    closed, won = context.db.execute(
        "SELECT COUNT(*), COALESCE(SUM(json_extract(attributes, '$.is_won') = 1), 0) "
        f"FROM items WHERE {scope.sql}",
        scope.params,
    ).fetchone()
    return won / closed if closed else None


def won_revenue(context: MeasureContext) -> float | None:
    """The amount of the deals won in the period (``None`` if none closed)."""
    scope = _closed_deals(context, "salesforce.won_revenue")
    if scope is None:
        return None
    closed, revenue = context.db.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN json_extract(attributes, '$.is_won') "
        f"= 1 THEN value END), 0) FROM items WHERE {scope.sql}",
        scope.params,
    ).fetchone()
    return float(revenue) if closed else None


def sales_cycle_days(context: MeasureContext) -> float | None:
    """Mean days from creation to close date of the deals won in the period."""
    scope = _closed_deals(context, "salesforce.sales_cycle_days")
    if scope is None:
        return None
    (days,) = context.db.execute(
        # A close date is a calendar day: count from the day the deal was made.
        "SELECT AVG(MAX(0, julianday(closed_at) - julianday(date(created_at)))) "
        f"FROM items WHERE {scope.sql} AND json_extract(attributes, '$.is_won') = 1 "
        "AND created_at IS NOT NULL",
        scope.params,
    ).fetchone()
    return float(days) if days is not None else None


def case_resolution_hours(context: MeasureContext) -> float | None:
    """Median hours from creation to close of the cases closed in the period."""
    scope = _scope(
        context,
        "salesforce.case_resolution_hours",
        ["case"],
        "closed_at",
        _CASE_FILTERS,
    )
    if scope is None:
        return None
    hours = [
        row[0]
        for row in context.db.execute(
            "SELECT (julianday(closed_at) - julianday(created_at)) * 24 FROM items "
            f"WHERE {scope.sql} AND created_at IS NOT NULL",
            scope.params,
        )
    ]
    return float(statistics.median(hours)) if hours else None


def activity_count(context: MeasureContext) -> float | None:
    """Calls, e-mails, tasks and meetings that happened in the period.

    ``params.kind`` narrows the kinds (``"call"`` or a list). ``None`` only
    when the sources hold no items at all (never synced).
    """
    scope = _scope(
        context,
        "salesforce.activity_count",
        _ACTIVITIES,
        "occurred_at",
        _ACTIVITY_FILTERS,
    )
    if scope is None:
        return None
    sources = context.sources_of(PLUGIN)
    (synced,) = context.db.execute(
        f"SELECT EXISTS (SELECT 1 FROM items WHERE source IN ({_marks(sources)}))",
        sources,
    ).fetchone()
    if not synced:
        return None
    (count,) = context.db.execute(
        f"SELECT COUNT(*) FROM items WHERE {scope.sql}", scope.params
    ).fetchone()
    return float(count)


#: ``(name, function, description, kind)`` of every measure function.
MEASURES: tuple[tuple[str, Callable[[MeasureContext], float | None], str, str], ...] = (
    (
        "salesforce.win_rate",
        win_rate,
        "won / closed opportunities closed in the period",
        "outcome",
    ),
    (
        "salesforce.won_revenue",
        won_revenue,
        "amount of the opportunities won in the period",
        "outcome",
    ),
    (
        "salesforce.sales_cycle_days",
        sales_cycle_days,
        "mean days from creation to close of the deals won in the period",
        "outcome",
    ),
    (
        "salesforce.case_resolution_hours",
        case_resolution_hours,
        "median hours from creation to close of the cases closed in the period",
        "outcome",
    ),
    (
        "salesforce.activity_count",
        activity_count,
        "calls, e-mails, tasks and meetings in the period",
        "activity",
    ),
)
