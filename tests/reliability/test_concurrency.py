"""Two headway processes on one store: one runs, the other says so; reads
during a sync see its last committed page."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .processes import command, environment, kill, paused, resume, run

CONFIG = """
[scorecard]
name = "Concurrency"
period = "2026-Q3"

[sources.tickets]
plugin = "demo"
system = "jira"
scale = 4
page_size = 50

[sources.deals]
plugin = "demo"
system = "crm"
scale = 2
page_size = 50
"""


def headway(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lock(folder: Path, timeout: float = 60.0) -> None:
    lock = folder / "headway.db.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and "sync, pid" in lock.read_text():
            return
        time.sleep(0.01)
    raise AssertionError("the sync never took the lock")


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return dict(conn.execute("SELECT source, count(*) FROM items GROUP BY source"))
    finally:
        conn.close()


HOLDER = """
import sys
from headway.store import Store
store = Store.open(sys.argv[1])
store.acquire_lock("sync")
print("held", flush=True)
sys.stdin.readline()
store.close()
"""


@pytest.mark.slow
def test_a_second_sync_is_told_the_store_is_held_and_resumes_after(tmp_path):
    (tmp_path / "headway.toml").write_text(CONFIG)
    # Another headway process holds the store (as a running sync does) until
    # the test says so: no race with how fast a process starts.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "headway.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    refused = headway("sync", cwd=tmp_path)
    _, err = refused.communicate(timeout=120)
    holder.communicate("go\n", timeout=30)

    assert refused.returncode == 1
    assert "another headway run holds the store" in err
    assert "wait for it to finish" in err
    assert "Traceback" not in err
    assert counts(tmp_path / "headway.db") == {}  # the refused run stored nothing

    after = headway("sync", cwd=tmp_path)
    _, err = after.communicate(timeout=120)
    assert after.returncode == 0, err
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "headway.toml").write_text(CONFIG)
    reference = headway("sync", cwd=clean)
    reference.communicate(timeout=120)
    assert reference.returncode == 0
    assert counts(tmp_path / "headway.db") == counts(clean / "headway.db")


@pytest.mark.slow
def test_a_sync_running_in_another_process_holds_the_lock_while_it_runs(tmp_path):
    (tmp_path / "headway.toml").write_text(CONFIG)
    first = headway("sync", cwd=tmp_path)
    wait_for_lock(tmp_path)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    lock = tmp_path / "headway.db.lock"
    assert lock.read_text() == ""  # released (and emptied) when the run ended


ITEM_COLUMNS = (
    "source, id, key, kind, title, url, project, team, people, status, state, "
    "created_at, updated_at, closed_at, occurred_at, effort, points, value, "
    "labels, parent, attributes, version, deleted_at"
)


def stored(db: Path) -> dict[str, list[tuple]]:
    """Every item (all but when and by which run it was stored), every
    cursor, and how each run ended."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {
            "items": conn.execute(
                f"SELECT {ITEM_COLUMNS} FROM items ORDER BY source, id"
            ).fetchall(),
            "cursors": conn.execute(
                "SELECT source, stream, partition, state FROM sync_state"
                " ORDER BY 1, 2, 3"
            ).fetchall(),
            "runs": conn.execute(
                "SELECT source, status, error, items FROM runs ORDER BY source"
            ).fetchall(),
        }


@pytest.mark.slow
def test_two_syncs_started_together_on_a_new_store_never_corrupt_it(tmp_path):
    clean = tmp_path / "uninterrupted"
    raced = tmp_path / "raced"
    for folder in (clean, raced):
        folder.mkdir()
        (folder / "headway.toml").write_text(CONFIG)
    reference = run(clean, "sync")
    assert reference.returncode == 0, reference.stderr
    expected = stored(clean / "headway.db")
    assert len(expected["items"]) > 8000

    # The first sync waits inside the transaction of its very first page on
    # a new store (items written, nothing committed) for as long as the
    # second one runs: the two overlap for certain.
    first = paused(raced, "*:1:items", resumable=True)
    try:
        second = run(raced, "sync")
        with contextlib.closing(sqlite3.connect(raced / "headway.db")) as conn:
            during = conn.execute("SELECT count(*) FROM items").fetchone()
    except BaseException:
        kill(first)
        raise
    err = resume(first)

    assert second.returncode == 1, second.stderr
    assert "another headway run holds the store" in second.stderr
    assert "(sync, pid " in second.stderr
    assert "Traceback" not in second.stderr
    assert during == (0,)  # the page in flight was not visible, nor committed
    assert first.returncode == 0, err
    assert "Traceback" not in err
    # The refused sync left no trace; the first ended as if alone.
    assert stored(raced / "headway.db") == expected


ONE_SOURCE = CONFIG.split("[sources.deals]")[0]


@pytest.mark.slow
def test_during_a_sync_reads_see_the_last_committed_state_and_writes_are_refused(
    tmp_path,
):
    (tmp_path / "headway.toml").write_text(ONE_SOURCE)
    # Paused inside the transaction of the third page of tickets: two pages
    # (100 items) are committed, the third is written but not.
    sync = paused(tmp_path, "jira:3:commit")
    try:
        query = run(tmp_path, "query", "select count(*) from items", "--csv")
        shown = run(tmp_path, "state", "show", "--json")
        reset = run(tmp_path, "state", "reset", "tickets")
        second = run(tmp_path, "sync")
    finally:
        kill(sync)

    assert query.returncode == 0, query.stderr
    assert query.stdout == "count(*)\n100\n"
    assert shown.returncode == 0, shown.stderr
    assert '"offset": 100' in shown.stdout
    for refused in (reset, second):
        assert refused.returncode == 1
        assert "another headway run holds the store" in refused.stderr
        assert "Traceback" not in refused.stderr
    after = counts(tmp_path / "headway.db")
    assert after == {"tickets": 100}


SCORED = """
[[objectives]]
id = "P1"
perspective = "process"
title = "Ship the platform"

[[measures]]
id = "P1.done"
objective = "P1"
baseline = 0
target = 500
sql = "select count(*) from items where source = 'tickets'"

[[rules]]
objective = "P1"
source = "tickets"
"""


@pytest.mark.slow
def test_score_during_a_sync_is_refused_clearly_and_scores_one_state_after(tmp_path):
    (tmp_path / "headway.toml").write_text(ONE_SOURCE + SCORED)
    sync = paused(tmp_path, "jira:3:commit")
    try:
        during = run(tmp_path, "score", "--json")
    finally:
        kill(sync)

    assert during.returncode == 1
    assert "another headway run holds the store" in during.stderr
    assert "(sync, pid " in during.stderr and "Traceback" not in during.stderr
    db = tmp_path / "headway.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)

    after = run(tmp_path, "score", "--json")
    assert after.returncode == 0, after.stderr
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute(
            "SELECT value FROM scores WHERE level = 'measure' AND key = 'P1.done'"
        ).fetchone()
    assert value == 100  # the two committed pages, not the one in flight


@pytest.mark.slow
def test_a_sync_during_score_is_refused_clearly_and_the_snapshot_is_whole(tmp_path):
    (tmp_path / "headway.toml").write_text(ONE_SOURCE + SCORED)
    assert run(tmp_path, "sync").returncode == 0
    score = paused(tmp_path, "score:1:commit", "score")
    try:
        during = run(tmp_path, "sync", "--full")
        reading = run(tmp_path, "query", "select count(*) from snapshots", "--csv")
    finally:
        kill(score)

    assert during.returncode == 1
    assert "another headway run holds the store" in during.stderr
    assert "(score, pid " in during.stderr and "Traceback" not in during.stderr
    assert reading.returncode == 0 and reading.stdout == "count(*)\n0\n"
    db = tmp_path / "headway.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # The score killed inside its transaction left nothing half-written.
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM scores").fetchone() == (0,)
    assert run(tmp_path, "score").returncode == 0
