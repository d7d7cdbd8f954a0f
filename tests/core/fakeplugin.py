"""A test plugin with a scripted connector: pages from a list, faults on cue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from headway import hookimpl
from headway.connectors import Page, SourceContext, State
from headway.errors import ConfigError, FatalError, Problem
from headway.model import WorkItem

BASE = datetime(2026, 10, 1, tzinfo=UTC)


def make_items(count: int, *, prefix: str = "T", start: int = 0) -> list[WorkItem]:
    """``count`` distinct items with predictable fields."""
    return [
        WorkItem(
            id=f"{prefix}{i}",
            key=f"{prefix}-{i}",
            kind="issue",
            title=f"item {i}",
            project="TEST",
            people=(f"user{i % 3}@example.com",),
            state="done" if i % 2 else "open",
            updated_at=BASE + timedelta(minutes=i),
            effort=1.0 + i % 4,
            labels=("a",) if i % 3 == 0 else (),
        )
        for i in range(start, start + count)
    ]


@attrs.define
class ScriptedConnector:
    """Yields ``items`` in pages of ``page_size``, resuming by offset.

    ``crash_after`` raises a bug-like error after that many pages of this run;
    ``fatal`` fails at once.
    """

    context: SourceContext
    items: list[WorkItem]
    page_size: int = 10
    crash_after: int | None = None
    fatal: str | None = None
    checked: bool = False

    def check(self) -> None:
        if self.fatal:
            raise FatalError(self.fatal, source=self.context.name)

    def read(self, state: State) -> Iterator[Page]:
        if self.fatal:
            raise FatalError(self.fatal, source=self.context.name, status=401)
        offset = int((state.get("items") or {}).get("offset", 0))
        starts = range(offset, len(self.items), self.page_size)
        for pages, start in enumerate(starts):
            if self.crash_after is not None and pages == self.crash_after:
                raise ZeroDivisionError("scripted bug")
            batch = self.items[start : start + self.page_size]
            self.context.stats.requests += 1
            yield Page(batch, stream="items", state={"offset": start + len(batch)})


class ScriptedPlugin:
    """A plugin object registering the ``scripted`` connector.

    Options: ``count`` (items), ``page_size``, ``fail_after``, ``crash_after``,
    ``fatal`` (an error message), ``token`` (a secret, unused).
    """

    def __init__(self) -> None:
        self.built: list[ScriptedConnector] = []
        self.overrides: dict[str, Any] = {}

    @hookimpl
    def register_connectors(self, register: Any) -> None:
        register("scripted", self.build, description="test connector")

    def build(self, context: SourceContext) -> ScriptedConnector:
        options = dict(context.options)
        allowed = {"count", "page_size", "crash_after", "fatal", "token", "prefix"}
        problems = [
            Problem(f"sources.{context.name}.{key}", "unknown key")
            for key in options
            if key not in allowed
        ]
        if "count" not in options:
            problems.append(Problem(f"sources.{context.name}.count", "is required"))
        if problems:
            raise ConfigError(problems)
        connector = ScriptedConnector(
            context,
            make_items(int(options["count"]), prefix=options.get("prefix", "T")),
            page_size=int(options.get("page_size", 10)),
            crash_after=options.get("crash_after"),
            fatal=options.get("fatal"),
        )
        for key, value in self.overrides.get(context.name, {}).items():
            setattr(connector, key, value)
        self.built.append(connector)
        return connector
