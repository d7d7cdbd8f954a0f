"""Measure functions: named computations a plugin offers to the scorecard.

A plugin registers them through the ``register_measures`` hook; a
``[[measures]]`` entry uses one with ``function = "name"`` and ``params``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
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
    """

    db: sqlite_utils.Database = attrs.field(repr=False)
    period: Period
    params: Mapping[str, Any] = attrs.field(factory=dict)
    sources: Mapping[str, str] = attrs.field(factory=dict)
    now: datetime | None = None

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
