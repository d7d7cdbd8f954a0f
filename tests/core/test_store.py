"""The store: migrations, refusing files it must not touch, read-only access."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from headway.connectors import Page
from headway.errors import StoreError
from headway.model import MetricPoint, Rejected, Sweep, Tombstone, WorkItem
from headway.store import MIGRATIONS, Store


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "headway.db") as store:
        yield store


def test_a_new_store_has_every_migration_and_wal(store):
    assert store.version == MIGRATIONS[-1].version
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = set(store.db.table_names())
    assert {
        "items",
        "metrics",
        "runs",
        "sync_state",
        "rejected",
        "migrations",
    } <= tables
    columns = [c.name for c in store.db["items"].columns]
    for name in (
        "source",
        "id",
        "kind",
        "title",
        "url",
        "project",
        "team",
        "people",
        "status",
        "state",
        "created_at",
        "updated_at",
        "closed_at",
        "occurred_at",
        "effort",
        "points",
        "value",
        "labels",
        "parent",
        "attributes",
        "synced_at",
        "run_id",
        "deleted_at",
    ):
        assert name in columns


def test_migrations_apply_in_order_and_only_once(tmp_path, monkeypatch):
    path = tmp_path / "headway.db"
    Store.open(path).close()
    from headway import store as store_module

    applied = []
    extra = store_module.Migration(
        MIGRATIONS[-1].version + 1,
        "test table",
        lambda conn: applied.append(conn.execute("CREATE TABLE extra (x)")),
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, extra])
    with Store.open(path) as store:
        assert "extra" in store.db.table_names()
        assert store.version == extra.version
    Store.open(path).close()
    assert len(applied) == 1


def test_a_store_from_a_newer_headway_is_refused_untouched(tmp_path):
    path = tmp_path / "headway.db"
    with Store.open(path) as store:
        store.conn.execute("INSERT INTO migrations VALUES (999, 'future', 'x')")
    before = digest(path)
    with pytest.raises(StoreError, match=r"written by a newer headway.*Upgrade"):
        Store.open(path)
    assert digest(path) == before


@pytest.mark.parametrize(
    "content",
    [b"name,value\n1,2\n", b"SQLite format 3\x00" + b"\x00" * 84 + b"garbage" * 200],
    ids=["csv-file", "damaged-sqlite"],
)
def test_a_file_that_is_not_a_store_is_refused_and_left_alone(tmp_path, content):
    path = tmp_path / "headway.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as error:
        Store.open(path)
    assert "left" in str(error.value)
    assert path.read_bytes() == content
    assert not (tmp_path / "headway.db-wal").exists()


def item(id: str, **fields) -> WorkItem:
    fields.setdefault("title", f"t{id}")
    return WorkItem(id=id, kind="issue", **fields)


def test_pages_upsert_items_and_save_state_together(store):
    run = store.start_run("src", "test")
    store.write_page(
        "src", run, Page([item("1"), item("2")], stream="s", state={"n": 2})
    )
    counts = store.write_page(
        "src", run, Page([item("2", effort=5), item("3")], stream="s", state={"n": 3})
    )
    assert (counts.items, counts.changed) == (2, 2)
    rows = store.conn.execute("SELECT id, effort FROM items ORDER BY id").fetchall()
    assert rows == [("1", 0.0), ("2", 5.0), ("3", 0.0)]
    assert store.load_state("src").get("s") == {"n": 3}
    again = store.write_page("src", run, Page([item("3")], stream="s"))
    assert (again.items, again.changed) == (1, 0)  # unchanged: no write


def test_tombstones_and_sweeps_mark_items_deleted_without_dropping_them(store):
    run = store.start_run("src", "test")
    items = [item(str(i), project="A" if i < 3 else "B") for i in range(5)]
    store.write_page("src", run, Page(items))
    store.write_page("src", run, Page([Tombstone("0")]))
    counts = store.write_page(
        "src", run, Page([Sweep(keep={"1"}, scope={"project": "A"})])
    )
    assert counts.tombstones == 1  # item 2: project A, not kept
    deleted = store.conn.execute(
        "SELECT id FROM items WHERE deleted_at IS NOT NULL ORDER BY id"
    ).fetchall()
    assert deleted == [("0",), ("2",)]
    assert store.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 5
    store.write_page("src", run, Page([item("2", project="A")]))
    assert store.conn.execute(
        "SELECT deleted_at FROM items WHERE id = '2'"
    ).fetchone() == (None,)


def test_a_sweep_sent_in_parts_keeps_the_ids_of_every_part(store):
    run = store.start_run("src", "test")
    items = [item(str(i), project="A" if i < 6 else "B") for i in range(8)]
    store.write_page("src", run, Page(items))

    # A listing of project A, page by page: 0 and 1, then 2, then the end.
    first = store.write_page(
        "src", run, Page([Sweep(keep={"0", "1"}, scope={"project": "A"}, final=False)])
    )
    store.write_page(
        "src", run, Page([Sweep(keep={"2"}, scope={"project": "A"}, final=False)])
    )
    # A part of another scope does not keep anything in project A.
    store.write_page(
        "src", run, Page([Sweep(keep={"3"}, scope={"project": "B"}, final=False)])
    )
    last = store.write_page(
        "src", run, Page([Sweep(keep={"4"}, scope={"project": "A"})])
    )

    assert first.tombstones == 0
    assert last.tombstones == 2  # 3 and 5: project A, in no part
    deleted = store.conn.execute(
        "SELECT id FROM items WHERE deleted_at IS NOT NULL ORDER BY id"
    ).fetchall()
    assert deleted == [("3",), ("5",)]
    # The parts were used up: a new listing of A starts from nothing.
    again = store.write_page(
        "src", run, Page([Sweep(keep={"0"}, scope={"project": "A"})])
    )
    assert again.tombstones == 3  # 1, 2 and 4


def test_the_parts_of_an_unfinished_sweep_are_forgotten_by_the_next_run(store):
    run = store.start_run("src", "test")
    store.write_page("src", run, Page([item("1"), item("2")]))
    store.write_page("src", run, Page([Sweep(keep={"1", "2"}, final=False)]))
    store.finish_run(run, "partial")

    later = store.start_run("src", "test")
    counts = store.write_page("src", later, Page([Sweep(keep={"1"})]))

    assert counts.tombstones == 1
    assert store.conn.execute(
        "SELECT id FROM items WHERE deleted_at IS NOT NULL"
    ).fetchall() == [("2",)]


def test_bad_records_are_set_aside_and_the_rest_of_the_page_is_kept(store):
    run = store.start_run("src", "test")
    bad_text = item("2", title="caf\udce9")  # not encodable as UTF-8
    odd = item("3", attributes={"when": object()})
    page = Page(
        [item("1"), bad_text, odd, Rejected("missing id", {"fields": {}}), item("4")]
    )
    counts = store.write_page("src", run, page)
    assert counts.items == 2 and counts.rejected == 3
    assert [r[0] for r in store.conn.execute("SELECT id FROM items ORDER BY id")] == [
        "1",
        "4",
    ]
    reasons = [
        r[0] for r in store.conn.execute("SELECT reason FROM rejected ORDER BY id")
    ]
    assert "missing id" in reasons
    assert any("not JSON" in reason for reason in reasons)
    assert "cannot be stored: title holds bytes that are not UTF-8 text" in " ".join(
        reasons
    )


def test_metric_points_upsert_by_name_time_and_dims(store):
    run = store.start_run("src", "test")
    at = "2026-10-01T00:00:00+00:00"
    store.write_page("src", run, Page([MetricPoint("nps", at, 30, {"region": "eu"})]))
    store.write_page("src", run, Page([MetricPoint("nps", at, 35, {"region": "eu"})]))
    assert store.conn.execute("SELECT name, dims, value FROM metrics").fetchall() == [
        ("nps", '{"region": "eu"}', 35.0)
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM items",
        "INSERT INTO items (source, id, kind, fingerprint, synced_at) "
        "VALUES ('a', 'b', 'c', 'd', 'e')",
        "UPDATE items SET title = 'x'",
        "DROP TABLE items",
        "CREATE TABLE evil (x)",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA user_version = 7",
        "SELECT load_extension('libevil')",
        "VACUUM",
        "REINDEX",
    ],
    ids=lambda s: (
        s.split()[0].lower() + ("-" + s.split()[1].lower() if " " in s else "")
    ),
)
def test_read_only_store_refuses_every_write_and_keeps_the_bytes(tmp_path, sql):
    path = tmp_path / "headway.db"
    with Store.open(path) as store:
        run = store.start_run("src", "test")
        store.write_page("src", run, Page([item("1")]))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(path)
    with Store.open_readonly(path) as ro, pytest.raises(sqlite3.DatabaseError):
        ro.conn.execute(sql).fetchall()
    with Store.open_readonly(path) as ro:
        assert ro.conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
        assert ro.conn.execute("PRAGMA table_info(items)").fetchall()
    assert digest(path) == before


def test_read_only_open_of_a_missing_store_says_to_sync_first(tmp_path):
    with pytest.raises(StoreError, match="run `headway sync`"):
        Store.open_readonly(tmp_path / "none.db")


def test_a_full_disk_fails_clearly_and_keeps_committed_pages(tmp_path):
    path = tmp_path / "headway.db"
    with Store.open(path) as store:
        run = store.start_run("src", "test")
        store.write_page("src", run, Page([item("1")], state={"n": 1}))
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        big = [item(str(i), title="x" * 5000) for i in range(2, 200)]
        with pytest.raises(StoreError, match=r"cannot grow.*kept"):
            store.write_page("src", run, Page(big, state={"n": 2}))
    with Store.open(path) as store:
        assert store.conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
        assert store.load_state("src").get() == {"n": 1}
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "x" * 1_048_576}, "title is 1,048,576 characters"),
        ({"attributes": {"blob": "y" * 1_100_000}}, "attributes are 1,100,"),
        ({"people": None}, None),
        ({"people": "alice"}, "people must be a list of strings, got str"),
        ({"labels": [1, 2]}, "labels must be a list of strings, got int in it"),
        ({"created_at": "yesterday"}, "created_at 'yesterday' is not an ISO 8601 time"),
        ({"updated_at": "2026-10-01T10:00:00"}, "has no time zone"),
        ({"effort": -2}, "effort must be a finite number of hours >= 0"),
        ({"effort": "3h"}, "effort must be a number, got str"),
        ({"state": "closed"}, "state must be one of open, done, cancelled"),
        ({"id": ""}, "id must not be empty"),
        ({"id": None}, "id must be a string, got NoneType"),
        ({"kind": None}, "kind must be a non-empty string"),
        ({"title": b"bytes"}, "title must be a string, got bytes"),
    ],
    ids=[
        "1mb-title",
        "huge-attributes",
        "null-list-is-empty",
        "string-for-list",
        "numbers-in-labels",
        "unparseable-date",
        "naive-date",
        "negative-effort",
        "text-effort",
        "unknown-state",
        "empty-id",
        "null-id",
        "null-kind",
        "bytes-title",
    ],
)
def test_each_malformed_field_is_rejected_with_its_reason(store, fields, reason):
    run = store.start_run("src", "test")
    base = {"id": "bad", "kind": "issue"}
    bad = WorkItem(**{**base, **fields})
    counts = store.write_page("src", run, Page([item("good"), bad]))
    if reason is None:
        assert (counts.items, counts.rejected) == (2, 0)
        return
    assert (counts.items, counts.rejected) == (1, 1)
    stored_reason, raw = store.conn.execute(
        "SELECT reason, raw FROM rejected"
    ).fetchone()
    assert reason in stored_reason
    assert raw  # the record is kept as it came
