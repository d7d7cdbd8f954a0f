"""Running SDK connectors through headway's real sync engine, for the tests."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headway.config import parse_config
from headway.plugins import Plugins
from headway.store import Store
from headway.sync import SourceResult, run_sync


def sync(
    plugin: Any,
    connector: str,
    options: Mapping[str, Any],
    database: Path,
    *,
    full: bool = False,
    environ: Mapping[str, str] | None = None,
    source: str = "src",
) -> SourceResult:
    """One sync of one source into ``database``; returns its result."""
    plugins = Plugins.create(entry_points=False, builtins=False)
    plugins.register(plugin, "under-test")
    config = parse_config(
        {
            "scorecard": {"name": "t", "period": "2026-Q1"},
            "sources": {source: {"plugin": connector, **options}},
        },
        environ=environ or {},
    )
    with Store.open(database) as store:
        report = run_sync(config, store, plugins, full=full, environ=environ or {})
    return report.results[0]


def rows(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the store."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql, params).fetchall()


def state(database: Path, stream: str, partition: str = "") -> Any:
    """The saved state of a stream partition, or ``None``."""
    found = rows(
        database,
        "SELECT state FROM sync_state WHERE stream = ? AND partition = ?",
        stream,
        partition,
    )
    return json.loads(found[0][0]) if found else None
