"""Measure functions: named computations a plugin offers to the scorecard.

A plugin registers them through the ``register_measures`` hook; a
``[[measures]]`` entry uses one with ``function = "name"`` and ``params``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import sqlite_utils

from .model import Period


@attrs.frozen
class MeasureContext:
    """What a measure function computes from.

    :param db: the store, opened read-only.
    :param period: the period being scored; ``period.bounds()`` gives the
        ``[start, end)`` texts to compare with the store's times.
    :param params: the entry's ``params`` table.
    :param sources: every configured source name mapped to its plugin, so a
        function can find "the Jira sources" when ``params`` names none.
    :param now: the snapshot's time.
    :param resolve_team: the scorecard's team of an item from its connector's
        team and its people (design.md section 4); :meth:`team_sql` uses it.
    """

    db: sqlite_utils.Database = attrs.field(repr=False)
    period: Period
    params: Mapping[str, Any] = attrs.field(factory=dict)
    sources: Mapping[str, str] = attrs.field(factory=dict)
    now: datetime | None = None
    resolve_team: Callable[[str | None, Sequence[str]], str | None] = attrs.field(
        default=lambda team, people: team or None, repr=False
    )

    def team_sql(self, team: str = "team", people: str = "people") -> str:
        """An SQL expression for an item's team as the scorecard sees it.

        The connector's team when it set one, else the team of the item's
        first person who is a member (through ``[people]`` aliases): the same
        team the scorecard's alignment counts the item under. Use it to filter
        by ``params.team``.

        :param team: the column (or expression) holding the connector's team.
        :param people: the column holding the people as a JSON list.
        """
        resolve = self.resolve_team

        def item_team(value: str | None, names: str | None) -> str | None:
            try:
                found = json.loads(names or "[]")
            except ValueError:
                found = []
            listed = [str(n) for n in found] if isinstance(found, list) else []
            return resolve(value or None, listed)

        self.db.conn.create_function(
            "headway_item_team", 2, item_team, deterministic=True
        )
        return f"headway_item_team({team}, {people})"

    def sources_of(self, plugin: str) -> list[str]:
        """The sources to read: ``params.source`` (a name or a list), else
        every configured source of ``plugin``."""
        chosen = self.params.get("source")
        if isinstance(chosen, str):
            return [chosen]
        if isinstance(chosen, list):
            return [str(name) for name in chosen]
        return sorted(name for name, kind in self.sources.items() if kind == plugin)


#: A measure function: the current value, or ``None`` when there is no data.
MeasureFunction = Callable[[MeasureContext], float | None]


@attrs.frozen
class MeasureType:
    """A registered measure function and the plugin that gave it."""

    name: str
    function: MeasureFunction
    plugin: str
    description: str = ""
    kind: str = "outcome"
