"""Measure functions over the pull requests a GitHub source stored.

Use them from a ``[[measures]]`` entry::

    [[measures]]
    id = "P1.lead_time"
    objective = "P1"
    title = "Median PR lead time"
    unit = "hours"
    baseline = 72
    target = 24
    function = "github.pull_request_lead_time"
    params = { project = ["acme/web"] }

Each reads the store (read-only) for the period being scored and returns
``None`` when there is nothing to measure.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from headway.errors import ScoringError
from headway.measures import MeasureContext

#: The plugin name that marks this connector's sources.
PLUGIN = "github"

_PARAMS = frozenset({"source", "project", "include_bots"})


def pull_request_lead_time(context: MeasureContext) -> float | None:
    """Median hours from opening to merge of the pull requests merged in the
    period.

    Params: ``source`` (a source or a list; default every GitHub source),
    ``project`` (repositories as ``owner/name``), ``include_bots`` (count
    pull requests opened by bots such as Dependabot; default false).
    """
    hours = [
        (merged - created).total_seconds() / 3600
        for created, merged in _merged(context, "lead time")
        if created is not None and merged >= created
    ]
    return statistics.median(hours) if hours else None


def merged_pull_requests(context: MeasureContext) -> float | None:
    """How many pull requests were merged in the period (an activity).

    Params as for :func:`pull_request_lead_time`.
    """
    merged = _merged(context, "merged pull requests")
    return float(len(merged)) if merged else None


def _merged(
    context: MeasureContext, what: str
) -> list[tuple[datetime | None, datetime]]:
    params = _params(context.params, what)
    sources = context.sources_of(PLUGIN)
    if not sources:
        return []
    start, end = context.period.bounds()
    merged_at = "json_extract(attributes, '$.merged_at')"
    sql = (
        f"SELECT created_at, {merged_at} FROM items "
        f"WHERE source IN ({', '.join('?' for _ in sources)}) "
        "AND kind = 'pull_request' AND deleted_at IS NULL "
        f"AND {merged_at} >= ? AND {merged_at} < ?"
    )
    args: list[Any] = [*sources, start, end]
    if params["project"]:
        projects = [name.lower() for name in params["project"]]
        sql += f" AND lower(project) IN ({', '.join('?' for _ in projects)})"
        args += projects
    if not params["include_bots"]:
        sql += " AND coalesce(json_extract(attributes, '$.author_type'), '') != 'Bot'"
    rows = context.db.execute(sql, args).fetchall()
    return [
        (_time(created) if created else None, _time(merged)) for created, merged in rows
    ]


def _params(params: Mapping[str, Any], what: str) -> dict[str, Any]:
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ScoringError(
            f"{what}: unknown params {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_PARAMS))}"
        )
    project = params.get("project", [])
    if isinstance(project, str):
        project = [project]
    if not isinstance(project, list) or not all(isinstance(p, str) for p in project):
        raise ScoringError(
            f'{what}: params.project must be a repository or a list, as ["acme/web"]'
        )
    include_bots = params.get("include_bots", False)
    if not isinstance(include_bots, bool):
        raise ScoringError(f"{what}: params.include_bots must be true or false")
    return {"project": project, "include_bots": include_bots}


def _time(text: str) -> datetime:
    # The store writes UTC with milliseconds and a Z, which Python reads.
    return datetime.fromisoformat(text)
