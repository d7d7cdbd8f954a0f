"""``headway query`` only reads: every kind of write is refused, the store is
opened read-only, and its files' bytes are the same afterwards."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from headway.cli import build_cli
from headway.connectors import Page
from headway.model import WorkItem
from headway.plugins import Plugins
from headway.store import Store

REFUSED = {
    "delete": "DELETE FROM items",
    "insert": "INSERT INTO runs (source, plugin, started_at, status) "
    "VALUES ('x', 'x', 'x', 'ok')",
    "replace": "REPLACE INTO sync_state VALUES ('x', 'x', '', '{}', 'x', 1)",
    "update": "UPDATE items SET title = 'changed'",
    "update-in-a-cte": "WITH gone AS (SELECT id FROM items) "
    "UPDATE items SET effort = 0 WHERE id IN gone",
    "drop": "DROP TABLE items",
    "alter": "ALTER TABLE items ADD COLUMN extra TEXT",
    "create-table": "CREATE TABLE evil (x)",
    "create-temp-table": "CREATE TEMP TABLE scratch AS SELECT * FROM items",
    "create-trigger": "CREATE TEMP TRIGGER t AFTER INSERT ON items BEGIN SELECT 1; END",
    "create-index": "CREATE INDEX evil ON items (title)",
    "attach": "ATTACH DATABASE ':memory:' AS other",
    "attach-a-file": "ATTACH DATABASE 'other.db' AS other",
    "vacuum-into": "VACUUM INTO 'copy.db'",
    "vacuum": "VACUUM",
    "reindex": "REINDEX",
    "analyze": "ANALYZE",
    "pragma-journal-mode": "PRAGMA journal_mode = DELETE",
    "pragma-user-version": "PRAGMA user_version = 7",
    "pragma-query-only-off": "PRAGMA query_only = OFF",
    "pragma-writable-schema": "PRAGMA writable_schema = ON",
    "pragma-wal-checkpoint": "PRAGMA wal_checkpoint(TRUNCATE)",
    "pragma-incremental-vacuum": "PRAGMA incremental_vacuum",
    "load-extension": "SELECT load_extension('libevil')",
    "load-extension-with-entry": "SELECT load_extension('libevil', 'evil_init')",
    "second-statement": "SELECT 1; DELETE FROM items",
}
READS = {
    "select": ("SELECT count(*) FROM items", "2"),
    "json-each": (
        "SELECT count(*) FROM items, json_each(items.labels)",
        "2",
    ),
    "recursive-cte": (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) "
        "SELECT sum(x) FROM n",
        "6",
    ),
    "pragma-table-info": ("SELECT count(*) FROM pragma_table_info('items')", "26"),
    "pragma-integrity-check": ("PRAGMA integrity_check", "ok"),
}


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A store with two items, the second still only in the -wal file, held
    open by a writer as a running sync holds it."""
    path = tmp_path / "headway.db"
    with Store.open(path) as writer:
        writer.conn.execute("PRAGMA wal_autocheckpoint = 0")
        run = writer.start_run("src", "test")
        writer.write_page("src", run, Page([WorkItem("1", "issue", labels=("a",))]))
        writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.write_page("src", run, Page([WorkItem("2", "issue", labels=("b",))]))
        yield path


@pytest.fixture
def closed_store(tmp_path: Path) -> Path:
    """A store with two items, checkpointed and closed cleanly: no -wal or
    -shm file beside it, as after a sync that ended."""
    path = tmp_path / "headway.db"
    with Store.open(path) as writer:
        run = writer.start_run("src", "test")
        for ident in ("1", "2"):
            writer.write_page("src", run, Page([WorkItem(ident, "issue")]))
    assert [p.name for p in tmp_path.iterdir()] == ["headway.db"]
    return path


def query(database: Path, sql: str, *options: str):
    cli = build_cli(Plugins.create(entry_points=False))
    return CliRunner().invoke(cli, ["query", "--db", str(database), sql, *options])


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_query_refuses_anything_that_writes_and_leaves_the_files_alone(
    store: Path, sql: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    wal = store.with_name("headway.db-wal")
    before = (digest(store), digest(wal))
    assert before[1] is not None, "the -wal file holds a page"

    result = query(store, sql)

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: "), result.stderr
    assert "only reads" in result.stderr or "SQL error" in result.stderr
    assert "Traceback" not in result.output
    assert (digest(store), digest(wal)) == before
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()
    check = query(store, "SELECT count(*) FROM items", "--csv")
    assert check.stdout == "count(*)\n2\n"


@pytest.mark.parametrize(("sql", "answer"), READS.values(), ids=READS.keys())
def test_query_reads_the_latest_committed_state_without_changing_a_byte(
    store: Path, sql: str, answer: str
) -> None:
    wal = store.with_name("headway.db-wal")
    before = (digest(store), digest(wal))

    result = query(store, sql, "--csv")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == answer
    assert (digest(store), digest(wal)) == before


def test_query_on_a_store_closed_cleanly_leaves_its_bytes_and_no_wal_page(
    closed_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = digest(closed_store)

    refused = query(closed_store, "DELETE FROM items")
    accepted = query(closed_store, "SELECT count(*) FROM items", "--csv")

    assert refused.exit_code == 1, refused.output
    assert "only reads" in refused.stderr and "Traceback" not in refused.output
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout == "count(*)\n2\n"
    assert digest(closed_store) == before
    # SQLite opens a WAL database read-only by making (when the folder lets
    # it) the -wal and -shm files it reads through, and a read-only
    # connection cannot remove them when it closes: an empty -wal and the
    # shared-memory index may be left, never a page and never another file.
    left = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert set(left) <= {"headway.db", "headway.db-wal", "headway.db-shm"}, left
    assert left.get("headway.db-wal", 0) == 0, left
    # The next writer that closes cleanly removes them.
    Store.open(closed_store).close()
    assert [p.name for p in tmp_path.iterdir()] == ["headway.db"]
    assert digest(closed_store) == before


def test_the_query_connection_is_read_only_beneath_its_guards(store: Path) -> None:
    with Store.open_readonly(store) as readonly:
        readonly.conn.set_authorizer(None)
        readonly.conn.execute("PRAGMA query_only = OFF")
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            readonly.conn.execute("DELETE FROM items")
        assert readonly.conn.execute("SELECT count(*) FROM items").fetchone() == (2,)


def test_query_on_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    result = query(tmp_path / "none.db", "SELECT 1")

    assert result.exit_code == 1
    assert "no store at" in result.stderr and "headway sync" in result.stderr
    assert list(tmp_path.iterdir()) == []
