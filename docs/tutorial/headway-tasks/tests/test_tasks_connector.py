"""The tasks connector's own tests, beyond the conformance suite."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from headway.connectors import SourceContext
from headway.errors import ConfigError
from headway.sync import SourceResult
from headway_sdk.testing import FakeApi, FakeClock, run_source

import headway_tasks
from headway_tasks import TasksConnector

from tasks_fake import GOOD_KEY, KEY_VARIABLE, make_workspace, options, serve


def sync(fake_api: FakeApi, database: Path, **changes: Any) -> SourceResult:
    """One sync of the fake through headway's engine, with table changes."""
    return run_source(
        headway_tasks,
        "tasks",
        {**options(fake_api.url), **changes},
        database,
        environ={KEY_VARIABLE: GOOD_KEY},
    )


def rows(database: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the store."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql).fetchall()


def test_a_task_becomes_a_work_item_of_its_project_and_team(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    serve(fake_api, make_workspace())
    database = tmp_path / "headway.db"
    result = sync(fake_api, database)
    assert (result.status, result.items, result.pages) == ("ok", 10, 6)
    assert rows(
        database,
        "SELECT key, project, team, people, status, state, effort, labels, parent,"
        " attributes, closed_at FROM items WHERE id = '2002'",
    ) == [
        (
            "ops#2002",
            "ops",
            "platform",
            '["dev0@example.com"]',
            "done",
            "done",
            2.0,
            '["ops"]',
            "2001",
            '{"priority": "normal"}',
            "2026-01-01T05:00:00.000Z",
        )
    ]
    states = dict(rows(database, "SELECT status, state FROM items"))
    assert states == {
        "todo": "open",
        "doing": "open",
        "done": "done",
        "archived": "cancelled",
    }


def test_the_second_sync_asks_only_for_what_changed(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    serve(fake_api, make_workspace())
    database = tmp_path / "headway.db"
    assert sync(fake_api, database).status == "ok"
    first = fake_api.requests_to("/api/v2/projects/web/tasks")
    since_start = {"updated_after": "2026-01-01T00:00:00Z", "sort": "updated_at"}
    assert [r.query for r in first] == [
        {**since_start, "page": str(page), "per_page": "2"} for page in (1, 2, 3)
    ]

    fake_api.requests.clear()
    second = sync(fake_api, database)
    assert second.status == "ok"
    # The newest web task was updated at 10:00; the lookback re-reads 10 min.
    query = fake_api.requests_to("/api/v2/projects/web/tasks")[0].query
    assert query["updated_after"] == "2026-01-01T09:50:00Z"
    assert (second.items, second.changed) == (2, 0)


def test_an_unknown_project_fails_the_run_after_the_others_are_stored(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    serve(fake_api, make_workspace())
    database = tmp_path / "headway.db"
    result = sync(fake_api, database, projects=["web", "gone", "ops"], teams={})
    assert result.status == "failed"
    assert "tasks gone" in (result.error or "")
    assert "HTTP 404" in (result.error or "")
    assert rows(database, "SELECT count(*) FROM items") == [(10,)]


def test_every_problem_of_a_table_is_reported_at_once() -> None:
    table = {
        "url": "tasks.example.com",
        "api_key": "k3y-for-tests",
        "projects": [],
        "teams": {"web": "web"},
        "page_size": 500,
    }
    with pytest.raises(ConfigError) as caught:
        TasksConnector.build(SourceContext("tasks", "tasks", table))
    assert sorted(problem.path for problem in caught.value.problems) == [
        "sources.tasks.url"
    ]
    del table["url"]
    table["url"] = "https://tasks.example.com/api/v2"
    with pytest.raises(ConfigError) as caught:
        TasksConnector.build(SourceContext("tasks", "tasks", table))
    assert {p.path: p.message for p in caught.value.problems} == {
        "sources.tasks.projects": "name at least one project",
        "sources.tasks.page_size": "must be between 1 and 200",
        "sources.tasks.teams.web": "is not one of the projects to read",
    }
