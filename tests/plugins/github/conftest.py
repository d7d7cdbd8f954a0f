"""Fixtures of the GitHub connector's tests: a fake GitHub and a sync runner."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import headway_github
from headway.sync import SourceResult
from headway_sdk.testing import FakeApi, run_source

from .fakegithub import GOOD_TOKEN, FakeGitHub, Repo

#: When the fake's data starts; the fake clock stands on 2026-03-02 12:00.
JANUARY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def github(fake_api: FakeApi) -> FakeGitHub:
    """An empty fake GitHub, serving from the ``fake_api`` server."""
    return FakeGitHub().install(fake_api)


def add_merged_pull(github: FakeGitHub, repo: Repo, updated: datetime) -> None:
    """A pull request opened five hours before ``updated`` and merged then."""
    github.add_issue(
        repo,
        pull=True,
        created=updated - timedelta(hours=5),
        updated=updated,
        state="closed",
        closed=updated,
        merged=updated,
    )


def fill(github: FakeGitHub, repo: Repo, count: int, *, every: timedelta) -> None:
    """``count`` items in ``repo``, updated ``every`` apart from January on:
    every third a merged pull request, every fifth a closed issue."""
    for index in range(count):
        updated = JANUARY + every * (len(repo.issues) + 1)
        if index % 3 == 0:
            add_merged_pull(github, repo, updated)
        elif index % 5 == 0:
            github.add_issue(repo, updated=updated, state="closed", closed=updated)
        else:
            github.add_issue(repo, updated=updated)


Sync = Callable[..., SourceResult]


@pytest.fixture
def sync(github: FakeGitHub, tmp_path: Path, clock: Any) -> Sync:
    """Sync a ``github`` source against the fake into ``tmp_path/headway.db``.

    Keyword arguments are the source table's keys (``repos``, ``org``, ...);
    ``full=True`` is ``headway sync --full``.
    """

    def run(
        full: bool = False, database: Path | None = None, **options: Any
    ) -> SourceResult:
        table = {"token": "${GITHUB_TOKEN}", "api_url": github.url, **options}
        return run_source(
            headway_github,
            "github",
            table,
            database or tmp_path / "headway.db",
            environ={"GITHUB_TOKEN": GOOD_TOKEN},
            full=full,
            source="github",
        )

    return run


def rows(database: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows a query of the store returns."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql, args).fetchall()


def saved_state(database: Path, repo: str) -> dict[str, Any]:
    """The cursor saved for one repository."""
    (text,) = rows(
        database,
        "SELECT state FROM sync_state WHERE source = 'github' AND partition = ?",
        repo,
    )[0]
    return json.loads(text)
