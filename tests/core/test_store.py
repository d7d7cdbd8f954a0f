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


def test_schema_4_numbers_the_items_and_drops_the_old_classification_cache(
    tmp_path, monkeypatch
):
    path = tmp_path / "headway.db"
    from headway import store as store_module

    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:3])
    with Store.open(path) as old:
        run = old.start_run("src", "test")
        old.write_page(
            "src", run, Page([item("1"), item("2", parent="1"), item("3")], stream="s")
        )
        old.write_page("src", run, Page([Tombstone("3")], stream="s"))
        old.conn.execute(
            "INSERT INTO rule_sets VALUES ('h', '{}', 1, '2026-01-01T00:00:00.000Z')"
        )
        old.conn.execute(
            "INSERT INTO assignments (rules_hash, source, item_id, category, share, "
            "effort, reason, via, version) "
            "VALUES ('h', 'src', '1', 'unaligned', 1, 0, 'no rule matched', "
            "'default', 1)"
        )
        before = old.conn.execute("SELECT rowid, * FROM items ORDER BY id").fetchall()
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)

    with Store.open(path) as store:
        assert store.version == 4
        # The copy of `items` went into the file: no write-ahead log as big
        # as the store is left beside it.
        assert (tmp_path / "headway.db-wal").stat().st_size == 0
        after = store.conn.execute(
            "SELECT rid, source, id, key, kind, title, url, project, team, people, "
            "status, state, created_at, updated_at, closed_at, occurred_at, effort, "
            "points, value, labels, parent, attributes, version, synced_at, run_id, "
            "deleted_at FROM items ORDER BY id"
        ).fetchall()
        assert after == before
        for table in ("rule_sets", "classified", "outcomes", "assignments"):
            count = store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count == (0,), table
        assert store.conn.execute("SELECT count(*) FROM unaligned_items").fetchone()
        indexes = {row[1] for row in store.conn.execute("PRAGMA index_list(items)")}
        assert "items_parent" in indexes
        # Syncs go on as before: an item keeps its number when it changes.
        run = store.start_run("src", "test")
        store.write_page("src", run, Page([item("1", effort=2.0)], stream="s"))
        assert store.conn.execute(
            "SELECT rid, effort, version FROM items WHERE id = '1'"
        ).fetchone() == (before[0][0], 2.0, 2)


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


# ---------------------------------------------------------------- refusals


def filled(path: Path, count: int = 400) -> Path:
    """A closed store whose ``items`` b-tree spans many pages."""
    with Store.open(path) as store:
        run = store.start_run("src", "test")
        items = [item(str(i), title=f"item {i} " + "x" * 300) for i in range(count)]
        store.write_page("src", run, Page(items, stream="s", state={"n": count}))
    return path


def items_pages(path: Path) -> tuple[int, int, int]:
    """The page size, the root page of ``items`` and one of its leaves."""
    conn = sqlite3.connect(path)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'items'"
    ).fetchone()[0]
    conn.close()
    with open(path, "rb") as handle:
        handle.seek((root - 1) * size)
        header = handle.read(12)
    assert header[0] == 0x05, "the items root should be an interior page"
    leaf = int.from_bytes(header[8:12], "big")  # its right-most child
    return size, root, leaf


def damage(path: Path, page: int, size: int, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek((page - 1) * size + offset)
        handle.write(data)


@pytest.mark.parametrize("where", ["leaf-cell-bounds", "root-page-type"])
def test_a_damaged_store_is_refused_before_anything_is_written(tmp_path, where):
    path = filled(tmp_path / "headway.db")
    size, root, leaf = items_pages(path)
    if where == "leaf-cell-bounds":  # quick_check lists the problems
        damage(path, leaf, size, 5, b"\x00\x00\x00\x00")
    else:  # SQLite raises "malformed" as soon as it reads the page
        damage(path, root, size, 0, b"\x07" * 64)
    before = digest(path)
    with pytest.raises(StoreError) as error:
        Store.open(path)
    message = str(error.value)
    assert f"the store {path} is damaged (" in message
    assert "it was left as it is" in message
    assert f"sqlite3 {path} .recover | sqlite3 recovered.db" in message
    assert digest(path) == before
    # Read-only access still works for what can be read.
    with Store.open_readonly(path) as store:
        assert store.conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_damage_met_in_the_middle_of_a_command_is_not_called_untouched(tmp_path):
    path = filled(tmp_path / "headway.db")
    size, root, _leaf = items_pages(path)
    with Store.open(path) as store:
        damage(path, root, size, 0, b"\x07" * 64)  # after the open-time check
        run = store.start_run("src", "test")  # committed: the runs table is fine
        with pytest.raises(StoreError) as error:
            store.write_page("src", run, Page([item("new")], stream="s"))
    message = str(error.value)
    assert "is damaged" in message and ".recover" in message
    assert "left as it is" not in message
    assert "keeping what it had committed before" in message


def test_a_damaged_store_fails_sync_with_one_message(run_cli, write_config, scripted):
    config = write_config('[sources.alpha]\nplugin = "scripted"\ncount = 3\n')
    path = filled(config.parent / "headway.db")
    size, _root, leaf = items_pages(path)
    damage(path, leaf, size, 5, b"\x00\x00\x00\x00")
    before = digest(path)
    result = run_cli("--config", str(config), "sync", "--full")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: the store {path} is damaged")
    assert digest(path) == before


def other_application(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    return path


def test_another_applications_database_is_refused_untouched(tmp_path):
    path = other_application(tmp_path / "crm.db")
    before = digest(path)
    with pytest.raises(StoreError) as error:
        Store.open(path)
    assert str(error.value) == (
        f"{path} is a SQLite database of another application (tables: customers), "
        "not a headway store; it was left untouched. Point [scorecard] database "
        "at a new file such as headway.db"
    )
    assert digest(path) == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_a_migrations_table_of_another_application_is_not_headways(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE migrations (id INTEGER, migration TEXT, batch INT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another application"):
        Store.open(path)


def test_an_empty_sqlite_file_or_a_store_with_extra_tables_opens(tmp_path):
    empty = tmp_path / "empty.db"
    conn = sqlite3.connect(empty)
    conn.execute("PRAGMA user_version = 1")  # a valid file with no table
    conn.close()
    assert empty.stat().st_size > 0
    with Store.open(empty) as store:
        assert store.version == MIGRATIONS[-1].version
    with Store.open(empty) as store:
        store.conn.execute("CREATE TABLE my_notes (text TEXT)")
    with Store.open(empty) as store:
        assert "my_notes" in store.db.table_names()


def test_sync_into_another_applications_database_fails_clearly(
    run_cli, write_config, scripted
):
    path = other_application(Path(write_config("").parent) / "crm.db")
    config = write_config(
        '[scorecard]\ndatabase = "crm.db"\n'
        '[sources.alpha]\nplugin = "scripted"\ncount = 3\n'
    )
    before = digest(path)
    result = run_cli("--config", str(config), "sync")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "is a SQLite database of another application" in result.stderr
    assert digest(path) == before


def test_a_busy_store_names_the_other_writers_a_user_can_check(tmp_path):
    from headway.errors import StoreLockedError
    from headway.store import _translate

    error = _translate(
        sqlite3.OperationalError("database is locked"), tmp_path / "h.db"
    )
    assert isinstance(error, StoreLockedError)
    assert "another headway run, or another program" in str(error)
    assert "wait for it to finish" in str(error)
