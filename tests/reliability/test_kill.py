"""``headway sync`` killed with SIGKILL at 20 points, resumed each time, ends
with the store an uninterrupted sync makes.

The sync is the real command line in a subprocess, loading the real Jira
plugin through its entry point, against a fake Jira Cloud served from this
test's process. It is killed while the fake holds a request (between
pages), while the fake has sent half a page and waits (mid-page), and while
the store is inside a page's transaction (the test-only launcher pauses
there and says so). After every kill the store must pass
``PRAGMA integrity_check`` and hold no item it cannot explain; at the end it
must equal an uninterrupted sync's store.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.plugins.jira.fakejira import ENV, JQL, FakeJira, hourly

from .faults import ControlledFakeApi, FaultPlan, Held
from .processes import command, environment

#: Seconds a run may take to reach its kill point.
REACH_TIMEOUT = 60.0
ISSUES = 90
PAGE_SIZE = 5

CONFIG = """
[scorecard]
name = "Killed mid-sync"
period = "2026-Q4"

[sources.jira]
plugin = "jira"
url = "{url}"
email = "${{JIRA_EMAIL}}"
token = "${{JIRA_API_TOKEN}}"
jql = "{jql}"
page_size = {page_size}
"""


@attrs.frozen
class Point:
    """Where a run is killed.

    :param kind: ``hold`` (the fake holds a request, nothing sent),
        ``stall`` (the fake sends half the answer and waits), or ``pause``
        (the store pauses inside a transaction).
    :param target: for the fake, ``myself``, ``field``, ``status``,
        ``search`` (issue pages) or ``census``; for the store, the
        launcher's ``STREAM:N:STAGE``.
    :param nth: which request of that kind, counted in the run.
    """

    kind: str
    target: str
    nth: int = 1

    def __str__(self) -> str:
        if self.kind == "pause":
            stream, number, stage = self.target.split(":")
            return f"store paused in {stream} transaction {number} ({stage})"
        what = "holds" if self.kind == "hold" else "stalls half-way through"
        return f"fake {what} {self.target} request {self.nth}"


POINTS = [
    Point("hold", "myself"),
    Point("hold", "search", 1),
    Point("pause", "issues:1:items"),
    Point("stall", "search", 1),
    Point("hold", "search", 2),
    Point("pause", "issues:2:commit"),
    Point("stall", "search", 2),
    Point("hold", "field"),
    Point("pause", "issues:1:commit"),
    Point("hold", "search", 3),
    Point("pause", "issues:3:items"),
    Point("stall", "search", 3),
    Point("hold", "status"),
    Point("pause", "issues:2:items"),
    Point("stall", "search", 4),
    Point("pause", "issues:4:commit"),
    # By now every run must read to the end before it reaches these.
    Point("hold", "census"),
    Point("pause", "census:1:commit"),
    Point("stall", "census"),
    Point("pause", "finish:1:commit"),
]


def is_census(request: Any) -> bool:
    return request.query.get("fields") == "id"


TESTS = {
    "myself": lambda r: r.path.endswith("/myself"),
    "field": lambda r: r.path.endswith("/field"),
    "status": lambda r: r.path.endswith("/status"),
    "search": lambda r: r.path.endswith("/search/jql") and not is_census(r),
    "census": lambda r: r.path.endswith("/search/jql") and is_census(r),
}


class Runner:
    """Starts ``headway sync`` in a folder, killed at a point or not."""

    def __init__(self, folder: Path, fake: ControlledFakeApi, plan: FaultPlan):
        self.folder = folder
        self.fake = fake
        self.plan = plan
        folder.mkdir(exist_ok=True)
        (folder / "headway.toml").write_text(
            CONFIG.format(url=fake.url, jql=JQL, page_size=PAGE_SIZE)
        )
        self.runs = 0

    def start(self, env: dict[str, str], pass_fds: tuple[int, ...] = ()) -> Any:
        self.runs += 1
        log = self.folder / f"run-{self.runs}.log"
        with log.open("w") as stderr:
            return subprocess.Popen(
                command("-v", "sync", launcher=True),
                cwd=self.folder,
                env=environment({**ENV, "HEADWAY_LOAD_PLUGINS": "jira", **env}),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=pass_fds,
            )

    def complete(self) -> str:
        process = self.start({})
        code = process.wait(timeout=120)
        log = (self.folder / f"run-{self.runs}.log").read_text()
        assert code == 0, log
        return log

    def kill_at(self, point: Point) -> None:
        read, write = os.pipe()
        env: dict[str, str] = {}
        held: list[Held] = []
        if point.kind == "pause":
            env = {
                "HEADWAY_TEST_PAUSE": point.target,
                "HEADWAY_TEST_SIGNAL_FD": str(write),
            }
        else:
            rule = self.plan.on(
                TESTS[point.target],
                lambda answer: Held.of(answer, half=point.kind == "stall"),
                nth=point.nth,
            )
            held = rule.given  # type: ignore[assignment]
        try:
            process = self.start(env, pass_fds=(write,))
            os.close(write)
            reached = self._wait(process, read, held)
            assert reached, (
                f"run {self.runs} ended (exit {process.returncode}) before {point}:\n"
                + (self.folder / f"run-{self.runs}.log").read_text()
            )
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=30) == -signal.SIGKILL
        finally:
            self.plan.clear()
            os.close(read)

    def _wait(self, process: Any, read: int, held: list[Held]) -> bool:
        """Wait until the run reaches its point (True) or ends (False)."""
        deadline = datetime.now(UTC) + timedelta(seconds=REACH_TIMEOUT)
        while datetime.now(UTC) < deadline:
            if held and held[0].sent.wait(0.02):
                return True
            ready, _, _ = select.select([read], [], [], 0 if held else 0.02)
            if ready and os.read(read, 64).startswith(b"paused"):
                return True
            if process.poll() is not None:
                return False
        raise AssertionError(f"run {self.runs} neither reached its point nor ended")


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


ITEM_COLUMNS = (
    "source, id, key, kind, title, url, project, team, people, status, state, "
    "created_at, updated_at, closed_at, occurred_at, effort, points, value, "
    "labels, parent, attributes, version, deleted_at"
)


def items(db: Path) -> dict[str, tuple[Any, ...]]:
    found = rows(db, f"SELECT {ITEM_COLUMNS} FROM items ORDER BY id")
    return {row[1]: row for row in found}


def states(db: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    found = {}
    for source, stream, partition, text in rows(
        db, "SELECT source, stream, partition, state FROM sync_state"
    ):
        state = json.loads(text)
        if stream == "census":
            # When the census ran differs from run to run; that it ran does not.
            state["at"] = "when" if state.get("at") else state.get("at")
        found[(source, stream, partition)] = state
    return found


def check_consistent(db: Path, site: FakeJira, reference: dict[str, tuple]) -> None:
    """What a killed run leaves is a committed state: intact, explained, no gap."""
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    stored = items(db)
    # Every stored row is exactly what an uninterrupted sync stores for it.
    for ident, row in stored.items():
        assert row == reference[ident], f"item {ident} differs from the reference"
    saved = states(db)
    issues = saved.get(("jira", "issues", ""))
    if issues is None:
        return
    watermark = datetime.fromisoformat(issues["watermark"])
    # The watermark never runs ahead of what is stored: every issue updated
    # up to it is in the store (no gap), and it is the newest stored update.
    due = {
        ident
        for ident, issue in site.issues.items()
        if datetime.fromisoformat(issue["fields"]["updated"]) <= watermark
    }
    assert due <= stored.keys(), f"missing below the watermark: {due - stored.keys()}"
    newest = max(datetime.fromisoformat(row[12]) for row in stored.values())
    assert newest == watermark
    if ("jira", "census", "") in saved:
        assert stored.keys() == reference.keys()


@pytest.mark.slow
def test_a_sync_killed_at_twenty_points_and_resumed_equals_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    site = FakeJira(page_cap=100)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hourly(site, ISSUES, first=now - timedelta(days=10))
    with ControlledFakeApi() as fake:
        site.serve(fake)
        plan = FaultPlan(fake)

        clean = Runner(tmp_path / "uninterrupted", fake, plan)
        clean.complete()
        reference = items(clean.folder / "headway.db")
        assert len(reference) == ISSUES

        killed = Runner(tmp_path / "killed", fake, plan)
        database = killed.folder / "headway.db"
        for point in POINTS:
            killed.kill_at(point)
            if database.exists():
                check_consistent(database, site, reference)
        log = killed.complete()
        assert "marked 1 run(s) left unfinished" in log

    assert items(database) == reference
    assert states(database) == states(clean.folder / "headway.db")
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    assert rows(database, "SELECT count(*) FROM rejected") == [(0,)]
    outcome = rows(
        database,
        "SELECT status, substr(error, 1, 12), count(*) FROM runs GROUP BY 1, 2",
    )
    assert outcome == [("failed", "interrupted:", len(POINTS)), ("ok", None, 1)]
