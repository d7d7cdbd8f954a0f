"""A real ``headway sync`` on a store that cannot grow: one clear message,
exit 1, every committed page kept, and the next sync (with room again)
finishes the job.

Two ways to fill the disk: the store's own size limit (``PRAGMA
max_page_count``, set by the test-only launcher), which runs everywhere, and
a real file system that is full (a small tmpfs), where the test may mount
one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .processes import run

CONFIG = """
[scorecard]
name = "Full disk"
period = "2026-Q4"
database = "{database}"

[sources.tickets]
plugin = "demo"
system = "jira"
scale = 2
page_size = 100
"""
FULL = "cannot grow: the disk (or its size limit) is full"


def headway(folder: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``headway sync`` (through the launcher when ``env`` asks for it)."""
    return run(folder, "sync", *args, env=env, launcher=bool(env))


def workspace(folder: Path, database: str = "headway.db") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "headway.toml").write_text(CONFIG.format(database=database))
    return folder


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def items(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT id, kind, title, people, state, effort, labels, attributes "
        "FROM items ORDER BY id",
    )


def assert_failed_clearly(result: Any) -> str:
    """The one error line (besides the sync's progress lines), checked."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (error,) = [
        line for line in result.stderr.splitlines() if not line.startswith("info: ")
    ]
    assert error.startswith("Error: the store "), result.stderr
    assert FULL in error and "Everything committed before is kept" in error
    return error


def assert_committed_pages_kept(db: Path) -> int:
    """The store is intact and its cursor matches exactly what it holds."""
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    (stored,) = query(db, "SELECT count(*) FROM items")[0]
    (state,) = query(db, "SELECT state FROM sync_state WHERE source = 'tickets'")[0]
    assert json.loads(state)["offset"] == stored > 0
    return stored


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    folder = workspace(tmp_path_factory.mktemp("reference"))
    result = headway(folder)
    assert result.returncode == 0, result.stderr
    return items(folder / "headway.db")


@pytest.mark.slow
def test_a_store_at_its_size_limit_fails_clearly_and_keeps_committed_pages(
    tmp_path: Path, reference: list[tuple[Any, ...]]
) -> None:
    folder = workspace(tmp_path / "limited")
    db = folder / "headway.db"

    full = headway(folder, env={"HEADWAY_TEST_MAX_PAGES": "40"})

    error = assert_failed_clearly(full)
    stored = assert_committed_pages_kept(db)
    assert stored < len(reference)
    assert query(db, "SELECT status, error FROM runs") == [
        ("failed", error.removeprefix("Error: ").strip())
    ]

    after = headway(folder)
    assert after.returncode == 0, after.stderr
    assert items(db) == reference


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 300 kB tmpfs, mounted for the test (where this process may mount)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_a_sync_on_a_full_file_system_fails_clearly_and_resumes_once_there_is_room(
    tmp_path: Path, small_disk: Path, reference: list[tuple[Any, ...]]
) -> None:
    folder = workspace(tmp_path, database=f"{small_disk.name}/headway.db")
    db = small_disk / "headway.db"

    full = headway(folder)

    assert_failed_clearly(full)
    stored = assert_committed_pages_kept(db)
    assert stored < len(reference)
    # Still full: the next sync cannot even record its run, and says so.
    again = headway(folder)
    assert_failed_clearly(again)
    assert assert_committed_pages_kept(db) == stored

    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    after = headway(folder)
    assert after.returncode == 0, after.stderr
    assert items(db) == reference
