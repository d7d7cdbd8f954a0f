"""Running SDK connectors through headway's real sync engine, for the tests."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headway.sync import SourceResult
from headway_sdk.testing import run_source


def sync(
    plugin: Any,
    connector: str,
    options: Mapping[str, Any],
    database: Path,
    *,
    full: bool = False,
    environ: Mapping[str, str] | None = None,
) -> SourceResult:
    """One sync of one source into ``database``; returns its result."""
    return run_source(plugin, connector, options, database, environ=environ, full=full)


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
