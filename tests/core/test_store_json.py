"""The read-only store answers queries over its JSON columns."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from headway.connectors import Page
from headway.model import WorkItem
from headway.store import Store


def test_table_valued_functions_work_on_a_read_only_store(tmp_path):
    path = tmp_path / "headway.db"
    with Store.open(path) as store:
        run = store.start_run("src", "test")
        store.write_page(
            "src", run, Page([WorkItem(id="1", kind="meeting", people=["a@x", "b@x"])])
        )
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    with Store.open_readonly(path) as ro:
        people = ro.conn.execute(
            "SELECT p.value FROM items, json_each(items.people) p ORDER BY 1"
        ).fetchall()
        keys = ro.conn.execute("SELECT key FROM json_tree('{\"a\": 1}')").fetchall()
        columns = ro.conn.execute(
            "SELECT name FROM pragma_table_info('runs')"
        ).fetchall()
        with pytest.raises(sqlite3.DatabaseError):
            ro.conn.execute("UPDATE sqlite_master SET type = 'x'")

    assert people == [("a@x",), ("b@x",)]
    assert ("a",) in keys
    assert ("status",) in columns
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
