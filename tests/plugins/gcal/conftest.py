"""Fixtures of the Google Calendar connector's tests: the fake, and syncs
through headway's real engine and store with a scorecard that has teams."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import headway_gcal
from headway.config import SourceConfig, parse_config, resolve_options
from headway.connectors import SourceContext
from headway.plugins import Plugins
from headway.store import Store
from headway.sync import SourceResult, run_sync
from headway_sdk.testing import FakeApi
from tests.plugins.gcal.fake_gcal import (
    ALICE,
    API,
    BOB,
    CAROL,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN_PATH,
    FakeCalendar,
    acme,
)

#: The refresh-token flow's variables.
ENVIRON = {
    "GCAL_CLIENT_ID": CLIENT_ID,
    "GCAL_CLIENT_SECRET": CLIENT_SECRET,
    "GCAL_REFRESH_TOKEN": REFRESH_TOKEN,
}
TEAMS = {
    "platform": {"title": "Platform", "members": [ALICE, BOB]},
    "web": {"title": "Web", "members": [CAROL]},
}


def source_table(url: str, **changes: Any) -> dict[str, Any]:
    """A ``[sources.calendar]`` table for the fake at ``url``."""
    table: dict[str, Any] = {
        "plugin": "gcal",
        "calendars": [ALICE, BOB, CAROL],
        "client_id": "${GCAL_CLIENT_ID}",
        "client_secret": "${GCAL_CLIENT_SECRET}",
        "refresh_token": "${GCAL_REFRESH_TOKEN}",
        "api_url": url + API,
        "token_url": url + TOKEN_PATH,
        "start": "2026-10-01",
        "page_size": 4,
    }
    table.update(changes)
    return {key: value for key, value in table.items() if value is not None}


def gcal_plugins() -> Plugins:
    """A fresh plugin set holding only this connector."""
    plugins = Plugins.create(entry_points=False, builtins=False)
    plugins.register(headway_gcal, "gcal")
    return plugins


def gcal_connector(
    url: str, environ: dict[str, str] | None = None, **changes: Any
) -> Any:
    """The connector for the fake at ``url``, built as the engine builds it."""
    table = source_table(url, **changes)
    table.pop("plugin")
    source = SourceConfig("calendar", "gcal", table)
    options, missing = resolve_options(source, ENVIRON if environ is None else environ)
    assert not missing, missing
    factory = gcal_plugins().connectors()["gcal"].factory
    return factory(SourceContext("calendar", "gcal", options))


@pytest.fixture
def calendar(fake_api: FakeApi, clock: Any) -> FakeCalendar:
    """Acme's calendars, served by the fake (with a fake clock: no sleeping)."""
    data = acme()
    data.serve(fake_api)
    return data


Sync = Callable[..., SourceResult]


@pytest.fixture
def sync(fake_api: FakeApi, tmp_path: Path) -> Sync:
    """Run one sync of the ``calendar`` source into ``tmp_path/headway.db``."""

    def run(
        *,
        full: bool = False,
        environ: dict[str, str] | None = None,
        teams: bool = True,
        database: Path | None = None,
        **changes: Any,
    ) -> SourceResult:
        environ = dict(ENVIRON if environ is None else environ)
        raw: dict[str, Any] = {
            "scorecard": {"name": "Acme", "period": "2026-Q4"},
            "sources": {"calendar": source_table(fake_api.url, **changes)},
        }
        if teams:
            raw["teams"] = TEAMS
        config = parse_config(raw, environ=environ)
        with Store.open(database or tmp_path / "headway.db") as store:
            report = run_sync(config, store, gcal_plugins(), full=full, environ=environ)
        (result,) = report.results
        return result

    return run


def stored(database: Path, *, deleted: bool = False) -> dict[str, dict[str, Any]]:
    """The stored items by id, JSON columns read; live ones unless ``deleted``."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM items ORDER BY id").fetchall()
    found = {}
    for row in rows:
        item = dict(row)
        if (item["deleted_at"] is not None) != deleted:
            continue
        for column in ("people", "labels", "attributes"):
            item[column] = json.loads(item[column])
        found[item["id"]] = item
    return found


def saved_state(database: Path) -> dict[str, dict[str, Any]]:
    """The saved sync state by partition."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        rows = conn.execute("SELECT partition, state FROM sync_state").fetchall()
    return {partition: json.loads(state) for partition, state in rows}


@pytest.fixture
def items(tmp_path: Path) -> Callable[..., dict[str, dict[str, Any]]]:
    """The items stored in the test's database."""

    def read(*, deleted: bool = False) -> dict[str, dict[str, Any]]:
        return stored(tmp_path / "headway.db", deleted=deleted)

    return read


@pytest.fixture
def state(tmp_path: Path) -> Callable[[], dict[str, dict[str, Any]]]:
    """The sync state saved in the test's database."""
    return lambda: saved_state(tmp_path / "headway.db")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captured log records of the sync, at INFO and above.

    A CLI test earlier in the session may have configured the ``headway``
    logger not to propagate; it does for this test.
    """
    logger = logging.getLogger("headway")
    propagate, level = logger.propagate, logger.level
    logger.propagate = True
    logger.setLevel(logging.INFO)
    caplog.set_level(logging.INFO)
    yield caplog
    logger.propagate = propagate
    logger.setLevel(level)
