"""Helpers for the scorecard tests: stores filled through sync runs, configs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from headway.config import Config, parse_config
from headway.connectors import Page
from headway.model import MetricPoint, Tombstone, WorkItem
from headway.rules import Classified, Classifier, RuleSet, classify_items
from headway.store import Store, item_from_row

BASE = {
    "scorecard": {"name": "Test", "period": "2026-01-01..2026-01-10"},
    "teams": {
        "a": {"title": "Team A", "members": ["ann@x.com"]},
        "b": {"title": "Team B", "members": ["bob@x.com"]},
    },
    "people": {"ann@x.com": {"aliases": ["gh:ann", "jira:A1"]}},
    "objectives": [
        {"id": "F1", "perspective": "financial", "title": "Grow", "owner": "ann"},
        {"id": "C1", "perspective": "customer", "title": "Delight", "owner": "ann"},
        {"id": "P1", "perspective": "process", "title": "Automate", "owner": "bob"},
        {"id": "L1", "perspective": "learning", "title": "Learn", "owner": "bob"},
    ],
}


def config(
    rules: Sequence[Mapping[str, Any]] = (), database: Path | None = None, **extra: Any
) -> Config:
    """A valid configuration: the base scorecard plus rules and overrides."""
    data: dict[str, Any] = {**BASE, "rules": list(rules), **extra}
    if database is not None:
        data["scorecard"] = {**data["scorecard"], "database": str(database)}
    return parse_config(data, environ={})


def fill(
    path: Path,
    items: Iterable[WorkItem] = (),
    *,
    metrics: Iterable[MetricPoint] = (),
    deleted: Iterable[tuple[str, str]] = (),
) -> Store:
    """Open (or create) a store and write records through sync runs, one run
    per source, as the sync engine does."""
    store = Store.open(path)
    by_source: dict[str, list[Any]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item)
    for point in metrics:
        by_source.setdefault(point.source or "metrics", []).append(point)
    for source, item_id in deleted:
        by_source.setdefault(source, []).append(Tombstone(item_id))
    for source, records in by_source.items():
        run = store.start_run(source, "test")
        store.write_page(source, run, Page(records, stream="test"))
        store.finish_run(run, "ok")
    return store


def item(id: str, source: str = "jira", **fields: Any) -> WorkItem:
    """A work item in the test period (2 January 2026) unless told otherwise."""
    fields.setdefault("kind", "issue")
    fields.setdefault("occurred_at", "2026-01-02T10:00:00+00:00")
    return WorkItem(id=id, source=source, **fields)


def sql_assignments(store: Store, rules: RuleSet, plugins: Any = None) -> dict:
    """Classify the store in SQL (committed) and read the assignments back."""
    with store.transaction() as conn:
        Classifier(conn, rules, plugins).refresh()
    return read_assignments(store, rules)


def read_assignments(store: Store, rules: RuleSet) -> dict:
    """``(source, id)`` to sorted ``(objective, category, share, reason, via,
    rule, depth, team)`` rows, from the store."""
    result: dict[tuple[str, str], list[tuple]] = {}
    for row in store.conn.execute(
        "SELECT source, item_id, objective, category, share, reason, via, rule, "
        "depth, team FROM assignments WHERE rules_hash = ?",
        (rules.hash,),
    ):
        result.setdefault((row[0], row[1]), []).append(tuple(row[2:]))
    return {key: sorted(rows, key=lambda r: str(r[0])) for key, rows in result.items()}


def python_assignments(
    store: Store, rules: RuleSet, plugins: Any = None
) -> dict[tuple[str, str], list[tuple]]:
    """The reference classification of the store's live items, as rows."""
    cursor = store.conn.cursor()
    cursor.row_factory = sqlite3.Row
    items = [
        item_from_row(r)
        for r in cursor.execute("SELECT * FROM items WHERE deleted_at IS NULL")
    ]
    return as_rows(classify_items(items, rules, plugins))


def as_rows(classified: Mapping[tuple[str, str], Classified]) -> dict:
    """Classified items as the rows :func:`read_assignments` gives."""
    result = {}
    for key, c in classified.items():
        a = c.assignment
        if a.shares:
            rows = [
                (o, "strategic", s, a.reason, c.via, c.rule, c.depth, c.team)
                for o, s in a.shares
            ]
        else:
            rows = [(None, a.category, 1.0, a.reason, c.via, c.rule, c.depth, c.team)]
        result[key] = sorted(rows, key=lambda r: str(r[0]))
    return result
