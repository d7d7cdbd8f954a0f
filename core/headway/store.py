"""The store: one SQLite file that anyone can query.

SQLite through sqlite-utils, in WAL mode, with ordered migrations recorded in
the ``migrations`` table. Writes happen in explicit transactions: a sync
page's records and its cursor state commit together or not at all, so a
crash loses at most the page in flight.

Opening checks the file before touching it: a file that is not SQLite, is
another application's database, was written by a newer headway, or (when
opened for writing) fails SQLite's ``quick_check`` is refused with a message
and left exactly as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import logging
import math
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import sqlite_utils

from .connectors import DEFAULT_PARTITION, Page, State
from .errors import StoreError, StoreLockedError
from .model import (
    STATES,
    MetricPoint,
    Rejected,
    Sweep,
    Tombstone,
    WorkItem,
    format_utc,
    to_utc,
)
from .secrets import redact

log = logging.getLogger(__name__)

_SQLITE_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 30_000

#: Columns of ``items`` that come from a WorkItem, in storage order.
ITEM_FIELDS = (
    "source",
    "id",
    "key",
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
)
ITEM_COLUMNS = (*ITEM_FIELDS, "version", "synced_at", "run_id", "deleted_at")

_CONTENT = ITEM_FIELDS[2:]
_ITEM_VALUES = f"({', '.join('?' for _ in ITEM_FIELDS)}, ?, ?)"
_UPSERT_ITEM = (
    f"INSERT INTO items ({', '.join(ITEM_FIELDS)}, synced_at, run_id) "
    f"VALUES {_ITEM_VALUES} "
    "ON CONFLICT(source, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _CONTENT)
    + ", version = items.version + 1, synced_at = excluded.synced_at, "
    "run_id = excluded.run_id, deleted_at = NULL "
    # An unchanged item re-read in a lookback window costs no write; SQLite
    # compares the row values itself, cheaper than hashing them in Python.
    f"WHERE ({', '.join(f'items.{c}' for c in _CONTENT)}) IS NOT "
    f"({', '.join(f'excluded.{c}' for c in _CONTENT)}) "
    "OR items.deleted_at IS NOT NULL"
)
_UPSERT_METRIC = (
    "INSERT INTO metrics (source, name, at, dims, value, run_id, synced_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(source, name, at, dims) DO UPDATE SET value = excluded.value, "
    "run_id = excluded.run_id, synced_at = excluded.synced_at"
)
_TOMBSTONE = (
    "UPDATE items SET deleted_at = ?, synced_at = ?, run_id = ? "
    "WHERE source = ? AND id = ? AND deleted_at IS NULL"
)
_INSERT_REJECTED = (
    "INSERT INTO rejected "
    "(source, run_id, record_id, stream, reason, raw, rejected_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SAVE_STATE = (
    "INSERT INTO sync_state (source, stream, partition, state, updated_at, run_id) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(source, stream, partition) DO UPDATE SET state = excluded.state, "
    "updated_at = excluded.updated_at, run_id = excluded.run_id"
)

RUN_STATUSES = ("running", "ok", "partial", "failed")

#: Longest title stored. Jira and GitHub cap titles at 255 and 256; a longer
#: one is a broken record, set aside rather than stored.
MAX_TITLE = 10_000
#: Largest ``attributes`` JSON stored for one item.
MAX_ATTRIBUTES = 1_000_000


@attrs.frozen
class Migration:
    """One step of the schema: applied once, in order, in a transaction."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _sql(script: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        for statement in _split_statements(script):
            conn.execute(statement)

    return apply


def _split_statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


# The columns of `items` as schema 1 made them; schema 4 numbers the rows.
_ITEMS_COLUMNS = """\
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    url TEXT,
    project TEXT,
    team TEXT,
    people TEXT NOT NULL DEFAULT '[]',
    status TEXT,
    state TEXT NOT NULL DEFAULT 'open',
    created_at TEXT,
    updated_at TEXT,
    closed_at TEXT,
    occurred_at TEXT,
    effort REAL NOT NULL DEFAULT 0,
    points REAL,
    value REAL,
    labels TEXT NOT NULL DEFAULT '[]',
    parent TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 1,
    synced_at TEXT NOT NULL,
    run_id INTEGER,
    deleted_at TEXT,
"""

_CORE_TABLES = (
    "\nCREATE TABLE items (\n"
    + _ITEMS_COLUMNS
    + """    PRIMARY KEY (source, id)
);
CREATE TABLE metrics (
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    at TEXT NOT NULL,
    dims TEXT NOT NULL DEFAULT '{}',
    value REAL NOT NULL,
    run_id INTEGER,
    synced_at TEXT,
    PRIMARY KEY (source, name, at, dims)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    plugin TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    full INTEGER NOT NULL DEFAULT 0,
    items INTEGER NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0,
    metrics INTEGER NOT NULL DEFAULT 0,
    tombstones INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    waited REAL NOT NULL DEFAULT 0,
    error TEXT,
    pid INTEGER
);
CREATE INDEX runs_source ON runs (source, started_at);
CREATE TABLE sync_state (
    source TEXT NOT NULL,
    stream TEXT NOT NULL,
    partition TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (source, stream, partition)
);
CREATE TABLE rejected (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    run_id INTEGER,
    record_id TEXT,
    stream TEXT,
    reason TEXT NOT NULL,
    raw TEXT,
    rejected_at TEXT NOT NULL
);
"""
)


# The first columns of the `unaligned_items` view, in every schema.
_UNALIGNED_ITEM_COLUMNS = """\
    s.id AS snapshot_id,
    i.source,
    i.id,
    i.key,
    i.kind,
    i.title,
    i.url,
    i.project,
"""


def _unaligned_view(end: str) -> str:
    """The ``unaligned_items`` view, counting what occurred before ``end``."""
    return f"""CREATE VIEW unaligned_items AS
SELECT
{_UNALIGNED_ITEM_COLUMNS}    a.team,
    i.occurred_at,
    i.effort,
    a.reason
FROM latest_snapshot AS s
JOIN assignments AS a ON a.rules_hash = s.rules_hash AND a.category = 'unaligned'
JOIN items AS i ON i.source = a.source AND i.id = a.item_id
WHERE a.occurred_at >= s.period_start
    AND a.occurred_at < {end};
"""


# What scoring writes. Snapshot rows are immutable (triggers refuse UPDATE);
# `assignments` is a cache of classification per rule set, derived from
# `items` and rewritten as items change. docs/store.md describes each column.
_SNAPSHOT_TABLES = """
CREATE INDEX items_parent ON items (source, parent) WHERE parent IS NOT NULL;
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    as_of TEXT,
    period TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    expected REAL,
    score REAL,
    balance REAL,
    alignment REAL,
    overhead REAL,
    unaligned REAL,
    effort REAL NOT NULL DEFAULT 0,
    items INTEGER NOT NULL DEFAULT 0,
    rules_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    version TEXT NOT NULL
);
CREATE INDEX snapshots_taken_at ON snapshots (taken_at, id);
CREATE TABLE scores (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    level TEXT NOT NULL,
    key TEXT NOT NULL,
    parent TEXT,
    perspective TEXT,
    title TEXT NOT NULL,
    kind TEXT,
    unit TEXT,
    owner TEXT,
    value_from TEXT,
    value REAL,
    start REAL,
    target REAL,
    achievement REAL,
    expected REAL,
    health REAL,
    status TEXT NOT NULL,
    score REAL,
    weight REAL,
    drives TEXT,
    capacity REAL,
    note TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (snapshot_id, level, key)
);
CREATE TABLE allocations (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    team TEXT,
    perspective TEXT,
    objective TEXT,
    category TEXT NOT NULL,
    effort REAL NOT NULL,
    items INTEGER NOT NULL
);
CREATE INDEX allocations_snapshot ON allocations (snapshot_id, team);
CREATE TABLE insights (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    figures TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (snapshot_id, seq)
);
CREATE TABLE rule_sets (
    rules_hash TEXT PRIMARY KEY,
    rules TEXT NOT NULL,
    classified_through INTEGER NOT NULL DEFAULT 0,
    classified_at TEXT NOT NULL
);
CREATE TABLE assignments (
    rules_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    item_id TEXT NOT NULL,
    objective TEXT,
    category TEXT NOT NULL,
    share REAL NOT NULL,
    effort REAL NOT NULL,
    reason TEXT NOT NULL,
    rule INTEGER,
    via TEXT NOT NULL,
    depth INTEGER,
    team TEXT,
    occurred_at TEXT,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX assignments_key
    ON assignments (rules_hash, source, item_id, ifnull(objective, ''));
CREATE TABLE manual_values (
    measure TEXT NOT NULL,
    at TEXT NOT NULL,
    value REAL NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (measure, at)
);
CREATE TRIGGER snapshots_immutable BEFORE UPDATE ON snapshots
BEGIN SELECT RAISE(ABORT, 'snapshots are immutable'); END;
CREATE TRIGGER scores_immutable BEFORE UPDATE ON scores
BEGIN SELECT RAISE(ABORT, 'snapshot scores are immutable'); END;
CREATE TRIGGER allocations_immutable BEFORE UPDATE ON allocations
BEGIN SELECT RAISE(ABORT, 'snapshot allocations are immutable'); END;
CREATE TRIGGER insights_immutable BEFORE UPDATE ON insights
BEGIN SELECT RAISE(ABORT, 'snapshot insights are immutable'); END;
CREATE VIEW latest_snapshot AS
SELECT * FROM snapshots ORDER BY taken_at DESC, id DESC LIMIT 1;
CREATE VIEW latest_scores AS
SELECT * FROM scores WHERE snapshot_id = (SELECT id FROM latest_snapshot);
CREATE VIEW latest_allocations AS
SELECT * FROM allocations WHERE snapshot_id = (SELECT id FROM latest_snapshot);
CREATE VIEW team_alignment AS
SELECT
    snapshot_id,
    team,
    sum(effort) AS effort,
    sum(CASE WHEN category = 'strategic' THEN effort ELSE 0 END)
        / nullif(sum(effort), 0) AS alignment,
    sum(CASE WHEN category = 'overhead' THEN effort ELSE 0 END)
        / nullif(sum(effort), 0) AS overhead,
    sum(CASE WHEN category = 'unaligned' THEN effort ELSE 0 END)
        / nullif(sum(effort), 0) AS unaligned
FROM allocations
GROUP BY snapshot_id, team;
""" + _unaligned_view("min(s.period_end, coalesce(s.as_of, s.period_end))")

# A snapshot counts the effort that occurred by its moment (``taken_at``),
# not what is scheduled later in the period.
_UNALIGNED_BY_MOMENT = "DROP VIEW unaligned_items;\n" + _unaligned_view(
    "min(s.period_end, s.taken_at)"
)

# Schema 4: a compact classification cache. Each item gets a stable number
# (`rid`, an INTEGER PRIMARY KEY, so VACUUM keeps it), and a rule set's
# classification is one narrow row per item in `classified` that points at
# what decided it (`outcomes`), instead of one wide row per item and
# objective: a million items cost a tenth of the writes. `assignments`
# becomes a view with the columns the table had; `effort`, `occurred_at` and
# the reason's ancestor are read from `items`. The old cache is dropped: the
# next score classifies every item once.
_ITEMS_WITH_NUMBERS = (
    "\nCREATE TABLE items_numbered (\n"
    + _ITEMS_COLUMNS
    + """    rid INTEGER PRIMARY KEY,
    UNIQUE (source, id)
);
"""
)
# An assignment's reason: its decider's own, with the ancestor it was
# inherited from named in front (c: classified, o: outcomes, g: the origin).
_REASON = (
    "CASE WHEN c.origin IS NULL THEN o.reason\n"
    "        ELSE 'inherited from ' || g.source || ':' || "
    "coalesce(nullif(g.key, ''), g.id)\n"
    "            || ' (' || o.reason || ')' END"
)
_COMPACT_CACHE = f"""
DROP VIEW unaligned_items;
DROP TABLE assignments;
DROP TABLE rule_sets;
{_ITEMS_WITH_NUMBERS}
INSERT INTO items_numbered ({", ".join(ITEM_COLUMNS)}, rid)
SELECT {", ".join(ITEM_COLUMNS)}, rowid FROM items ORDER BY rowid;
DROP TABLE items;
ALTER TABLE items_numbered RENAME TO items;
CREATE INDEX items_parent ON items (source, parent) WHERE parent IS NOT NULL;
CREATE TABLE rule_sets (
    id INTEGER PRIMARY KEY,
    rules_hash TEXT NOT NULL UNIQUE,
    rules TEXT NOT NULL,
    classified_through INTEGER NOT NULL DEFAULT 0,
    classified_at TEXT NOT NULL
);
CREATE TABLE team_names (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE outcomes (
    rule_set INTEGER NOT NULL,
    outcome INTEGER NOT NULL,
    part INTEGER NOT NULL,
    objective TEXT,
    category TEXT NOT NULL,
    share REAL NOT NULL,
    reason TEXT NOT NULL,
    rule INTEGER,
    via TEXT NOT NULL,
    PRIMARY KEY (rule_set, outcome, part)
) WITHOUT ROWID;
CREATE TABLE classified (
    rule_set INTEGER NOT NULL,
    item INTEGER NOT NULL,
    outcome INTEGER NOT NULL,
    origin INTEGER,
    depth INTEGER,
    team INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (rule_set, item)
) WITHOUT ROWID;
CREATE VIEW assignments AS
SELECT
    s.rules_hash,
    i.source,
    i.id AS item_id,
    o.objective,
    o.category,
    o.share,
    i.effort * o.share AS effort,
    {_REASON} AS reason,
    o.rule,
    CASE WHEN c.origin IS NULL THEN o.via ELSE 'inherited' END AS via,
    c.depth,
    t.name AS team,
    i.occurred_at,
    c.version
FROM classified AS c
JOIN rule_sets AS s ON s.id = c.rule_set
JOIN items AS i ON i.rid = c.item
JOIN outcomes AS o ON o.rule_set = c.rule_set AND o.outcome = c.outcome
LEFT JOIN team_names AS t ON t.id = c.team
LEFT JOIN items AS g ON g.rid = c.origin;
CREATE VIEW unaligned_items AS
SELECT
{_UNALIGNED_ITEM_COLUMNS}    t.name AS team,
    i.occurred_at,
    i.effort,
    {_REASON} AS reason
FROM latest_snapshot AS s
JOIN rule_sets AS r ON r.rules_hash = s.rules_hash
JOIN outcomes AS o ON o.rule_set = r.id AND o.category = 'unaligned'
JOIN classified AS c ON c.rule_set = r.id AND c.outcome = o.outcome
JOIN items AS i ON i.rid = c.item
LEFT JOIN team_names AS t ON t.id = c.team
LEFT JOIN items AS g ON g.rid = c.origin
WHERE i.occurred_at >= s.period_start
    AND i.occurred_at < min(s.period_end, s.taken_at);
"""

#: The schema, in order. Append; never edit a migration that has shipped.
MIGRATIONS: list[Migration] = [
    Migration(
        1, "core tables: items, metrics, runs, sync_state, rejected", _sql(_CORE_TABLES)
    ),
    Migration(
        2,
        "snapshot tables: snapshots, scores, allocations, insights, assignments, "
        "rule_sets, manual_values",
        _sql(_SNAPSHOT_TABLES),
    ),
    Migration(
        3,
        "unaligned_items counts what occurred by the snapshot's moment",
        _sql(_UNALIGNED_BY_MOMENT),
    ),
    Migration(
        4,
        "items numbered (rid); the classification cache as one row per item "
        "(classified, outcomes, team_names) behind the assignments view",
        _sql(_COMPACT_CACHE),
    ),
]


@attrs.frozen
class Scratch:
    """A scratch database attached to a store's connection (:meth:`Store.scratch`).

    :param path: its file, for other connections to open.
    :param name: the schema name it has on the store's connection.
    """

    path: Path
    name: str


@attrs.frozen
class PageCounts:
    """What writing one page stored."""

    items: int = 0
    changed: int = 0
    metrics: int = 0
    tombstones: int = 0
    rejected: int = 0


def now_text() -> str:
    """The current time in the store's text form."""
    return format_utc(datetime.now(UTC))  # type: ignore[return-value]


class Store:
    """An open ``headway.db``.

    Use :meth:`open` for commands that write and :meth:`open_readonly` for
    ``headway query``. ``db`` is the sqlite-utils view of the same
    connection, for queries that read.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool):
        self.path = path
        self.conn = conn
        self.readonly = readonly
        self._db: sqlite_utils.Database | None = None
        self._lock_fd: int | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils view of the connection, made when first asked for
        (a sync never asks: it starts sooner without importing sqlite-utils)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True) -> Store:
        """Open (or create) a store for writing and bring its schema up to date.

        :raises StoreError: the file is not a headway store, is damaged, was
            written by a newer headway, or cannot be created.
        """
        path = Path(path)
        exists = path.is_dir() or (path.exists() and path.stat().st_size > 0)
        if exists:
            _check_header(path)
            _check_existing(path, writing=True)
        elif not create:
            raise StoreError(
                f"no store at {path}; run `headway sync` (or `headway demo`) first",
                path=str(path),
            )
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the folder of {path}: {error.strerror}",
                    path=str(path),
                ) from None
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL keeps every committed transaction across a
            # killed process; only a power cut may lose the latest ones.
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as error:
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            raise _translate(error, path, untouched=False) from None
        store = cls(path, conn, readonly=False)
        store.migrate()
        return store

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> Store:
        """Open a store so that nothing can change it: read-only file, no
        writes, no ``ATTACH``, no extensions.

        :raises StoreError: the file is missing, not a headway store, or damaged.
        """
        path = Path(path)
        if not path.exists() or path.stat().st_size == 0:
            raise StoreError(
                f"no store at {path}; run `headway sync` (or `headway demo`) first",
                path=str(path),
            )
        _check_header(path)
        _check_existing(path, writing=False)
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = ON")
            store = cls(path, conn, readonly=True)
            store.db  # noqa: B018 - sqlite-utils sets a pragma when it starts
            # Last, so nothing after it (sqlite-utils's pragma) is refused.
            conn.set_authorizer(_read_only_authorizer)
        except sqlite3.DatabaseError as error:
            raise _translate(error, path) from None
        return store

    def close(self) -> None:
        """Close the connection (and release a sync lock, if held)."""
        self.release_lock()
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ schema

    @property
    def version(self) -> int:
        """The schema version of this store."""
        return _schema_version(self.conn)

    def migrate(self) -> None:
        """Apply every migration this store lacks, each in its own transaction."""
        with self._errors():
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            if self.version >= MIGRATIONS[-1].version:
                return
            for migration in MIGRATIONS:
                with self.transaction():
                    # Read the version inside the write transaction: two
                    # processes opening a new store at once must not both
                    # apply the same step.
                    if _schema_version(self.conn) >= migration.version:
                        continue
                    migration.apply(self.conn)
                    self.conn.execute(
                        "INSERT INTO migrations (version, name, applied_at) "
                        "VALUES (?, ?, ?)",
                        (migration.version, migration.name, now_text()),
                    )
                log.debug(
                    "store %s: applied migration %d", self.path, migration.version
                )
                # A migration may rewrite a large table (schema 4 copies
                # `items`): fold each into the file, so the write-ahead log
                # never holds more than one of them, and at the end give its
                # space back rather than leave a log as big as the store.
                self._checkpoint("PASSIVE")
            self._checkpoint("TRUNCATE")

    def _checkpoint(self, mode: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute(f"PRAGMA wal_checkpoint({mode})")

    # ------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def transaction(
        self, *, rollback: bool = False, lock_attached: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any error.

        :param rollback: roll back even on success (``headway score
            --no-save`` computes with writes that must not stay).
        :param lock_attached: lock the attached databases too, as ``BEGIN
            IMMEDIATE`` does. Without it only the store is locked for writing
            at once, and an attached scratch database (:meth:`scratch`) stays
            free for other connections until this one first reads it.
        """
        with self._errors():
            if lock_attached:
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                self.conn.execute("BEGIN")
                # A write to the store (that changes nothing) takes its write
                # lock now, waiting for another writer as BEGIN IMMEDIATE would.
                self.conn.execute("UPDATE main.migrations SET name = name WHERE 0")
            try:
                yield self.conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("ROLLBACK" if rollback else "COMMIT")

    @contextlib.contextmanager
    def scratch(self, count: int) -> Iterator[list[Scratch]]:
        """``count`` private databases for work done beside this connection.

        Each is a new file in a temporary folder, attached to this
        connection (outside any transaction) as ``hw_scratch0``,
        ``hw_scratch1``, ...; another connection fills it, and this one reads
        it once that is done (see ``lock_attached`` of :meth:`transaction`).
        They are detached and deleted afterwards.
        """
        if count <= 0:
            yield []
            return
        try:
            folder = Path(tempfile.mkdtemp(prefix="headway-scratch-"))
        except OSError as error:
            log.warning(
                "no scratch folder for work on several threads (%s); working on "
                "one. Set TMPDIR to a folder with room to use them",
                error.strerror or error,
            )
            yield []
            return
        attached: list[Scratch] = []
        try:
            try:
                for number in range(count):
                    scratch = Scratch(
                        folder / f"part{number}.db", f"hw_scratch{number}"
                    )
                    self.conn.execute(
                        f"ATTACH DATABASE ? AS {scratch.name}", (str(scratch.path),)
                    )
                    attached.append(scratch)
            except sqlite3.Error as error:
                log.warning(
                    "cannot make a scratch database in %s (%s); working on %d "
                    "thread(s)",
                    folder,
                    error,
                    len(attached) + 1,
                )
            yield attached
        finally:
            for scratch in attached:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute(f"DETACH DATABASE {scratch.name}")
            shutil.rmtree(folder, ignore_errors=True)

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[sqlite3.Connection]:
        """Reads that all see one committed state of the store."""
        with self._errors():
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise _translate(error, self.path, untouched=self.readonly) from error

    # ------------------------------------------------------------ locking

    def acquire_lock(self, purpose: str = "sync") -> None:
        """Take the store's writer lock, or fail saying who holds it.

        The lock is an ``flock`` on ``DB.lock``: the kernel releases it when
        its process dies, so a killed sync never leaves a stale lock.

        :raises StoreLockedError: another headway process holds it.
        """
        if self._lock_fd is not None:
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            # A raw descriptor, unbuffered: on a full disk a note that cannot
            # be written must not linger in a buffer and fail the close.
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreError(
                f"cannot create the lock file {lock_path} ({error.strerror}); check "
                "the folder's permissions and free disk space",
                path=str(self.path),
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise StoreError(f"cannot lock {lock_path}: {error.strerror}") from None
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise StoreLockedError(
                f"another headway run holds the store {self.path} "
                f"({holder or 'another headway process'}); wait for it to finish, "
                "then try again",
                path=str(self.path),
            ) from None
        note = f"{purpose}, pid {os.getpid()}, since {now_text()}\n"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode("utf-8"), 0)
        except OSError as error:
            # Who holds the lock is only for the message another run shows;
            # a full disk must not stop this one before the store says so.
            log.debug("could not note the lock's holder in %s: %s", lock_path, error)
        self._lock_fd = fd

    def release_lock(self) -> None:
        """Release the writer lock if this store holds it."""
        if self._lock_fd is None:
            return
        fd, self._lock_fd = self._lock_fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(fd)

    # ------------------------------------------------------------ runs

    def start_run(self, source: str, plugin: str, *, full: bool = False) -> int:
        """Record a sync run that is starting; returns its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (source, plugin, started_at, status, full, pid) "
                "VALUES (?, ?, ?, 'running', ?, ?)",
                (source, plugin, now_text(), int(full), os.getpid()),
            )
            # Parts of a sweep that an earlier run of this connection never
            # finished (its listing stopped) must not keep items now.
            conn.execute(_KEEP_TABLE)
            conn.execute("DELETE FROM temp.sweep_keep WHERE source = ?", (source,))
        return int(cursor.lastrowid)  # type: ignore[arg-type]

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        requests: int = 0,
        retries: int = 0,
        waited: float = 0.0,
        error: str | None = None,
    ) -> None:
        """Record how a run ended."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, requests = ?, "
                "retries = ?, waited = ?, error = ? WHERE id = ?",
                (
                    now_text(),
                    status,
                    requests,
                    retries,
                    round(waited, 3),
                    redact(error) if error else None,
                    run_id,
                ),
            )

    def close_abandoned_runs(self) -> int:
        """Mark runs left ``running`` by a process that died as failed.

        Call it holding the lock: then no other run can be in progress.
        """
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = 'failed', finished_at = ?, error = "
                "'interrupted: the process stopped before the run finished; the "
                "pages stored before it are kept' WHERE status = 'running'",
                (now_text(),),
            )
        return cursor.rowcount

    def last_runs(self) -> list[dict[str, Any]]:
        """The latest run of every source, with ``last_ok_at``: when the
        source's latest ``ok`` run finished (``None`` if none did)."""
        return list(
            self.db.query(
                "SELECT r.*, (SELECT max(o.finished_at) FROM runs AS o "
                "WHERE o.source = r.source AND o.status = 'ok') AS last_ok_at "
                "FROM runs AS r WHERE r.id IN "
                "(SELECT max(id) FROM runs GROUP BY source) ORDER BY r.source"
            )
        )

    # ------------------------------------------------------------ state

    def load_state(self, source: str) -> State:
        """The cursors saved for a source."""
        with self._errors():
            rows = self.conn.execute(
                "SELECT stream, partition, state FROM sync_state WHERE source = ?",
                (source,),
            ).fetchall()
        return State({(stream, part): json.loads(text) for stream, part, text in rows})

    def reset_state(self, source: str, stream: str | None = None) -> int:
        """Forget a source's cursors (all streams, or one), so the next sync is
        a full one. Returns how many were dropped."""
        with self.transaction() as conn:
            if stream is None:
                cursor = conn.execute(
                    "DELETE FROM sync_state WHERE source = ?", (source,)
                )
            else:
                cursor = conn.execute(
                    "DELETE FROM sync_state WHERE source = ? AND stream = ?",
                    (source, stream),
                )
        return cursor.rowcount

    # ------------------------------------------------------------ pages

    def write_page(self, source: str, run_id: int, page: Page) -> PageCounts:
        """Store one page's records and its cursor state in one transaction.

        Records that cannot be stored are kept in ``rejected`` with the reason;
        the rest of the page is stored.
        """
        now = now_text()
        items: list[tuple[Any, ...]] = []
        metrics: list[tuple[Any, ...]] = []
        tombstones: list[tuple[Any, ...]] = []
        sweeps: list[Sweep] = []
        rejected: list[tuple[Any, ...]] = []
        for record in page.records:
            kind = type(record)
            try:
                if kind is WorkItem:
                    items.append(item_row(source, record, now, run_id))
                elif kind is MetricPoint:
                    metrics.append(_metric_row(source, record, run_id, now))
                elif kind is Tombstone:
                    deleted = format_utc(record.deleted_at) or now
                    tombstones.append((deleted, now, run_id, source, record.id))
                elif kind is Rejected:
                    rejected.append(
                        _rejected_row(source, run_id, page.stream, record, now)
                    )
                elif kind is Sweep:
                    sweeps.append(record)
                else:
                    raise TypeError(
                        f"a connector yielded {kind.__name__}, not a record"
                    )
            except (TypeError, ValueError) as error:
                reason = f"cannot be stored: {error}"
                bad = Rejected(reason, _raw_of(record), getattr(record, "id", None))
                rejected.append(_rejected_row(source, run_id, page.stream, bad, now))

        with self.transaction() as conn:
            before = conn.total_changes
            stored = self._insert_items(
                conn, items, source, run_id, page.stream, now, rejected
            )
            changed = conn.total_changes - before
            if metrics:
                conn.executemany(_UPSERT_METRIC, metrics)
            buried = 0
            if tombstones:
                before = conn.total_changes
                conn.executemany(_TOMBSTONE, tombstones)
                buried = conn.total_changes - before
            for sweep in sweeps:
                buried += _apply_sweep(conn, source, sweep, run_id, now)
            if rejected:
                conn.executemany(_INSERT_REJECTED, rejected)
            if page.reset:
                conn.execute(
                    "DELETE FROM sync_state "
                    "WHERE source = ? AND stream = ? AND partition = ?",
                    (source, page.stream, page.partition),
                )
            if page.state is not None:
                conn.execute(
                    _SAVE_STATE,
                    (
                        source,
                        page.stream,
                        page.partition or DEFAULT_PARTITION,
                        json.dumps(page.state, sort_keys=True, default=str),
                        now,
                        run_id,
                    ),
                )
            conn.execute(
                "UPDATE runs SET items = items + ?, pages = pages + 1, "
                "metrics = metrics + ?, tombstones = tombstones + ?, "
                "rejected = rejected + ? WHERE id = ?",
                (stored, len(metrics), buried, len(rejected), run_id),
            )
        return PageCounts(stored, changed, len(metrics), buried, len(rejected))

    def _insert_items(
        self,
        conn: sqlite3.Connection,
        rows: list[tuple[Any, ...]],
        source: str,
        run_id: int,
        stream: str,
        now: str,
        rejected: list[tuple[Any, ...]],
    ) -> int:
        if not rows:
            return 0
        conn.execute("SAVEPOINT page_items")
        try:
            # Many rows to a statement: executemany gives up Python's lock
            # after every row, and the sync's reading thread takes it each
            # time, so the writer waits for it a hundred times a page.
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                chunk = rows[start : start + _ROWS_PER_STATEMENT]
                conn.execute(
                    _upsert_items(len(chunk)),
                    [value for row in chunk for value in row],
                )
        except (
            sqlite3.InterfaceError,
            sqlite3.ProgrammingError,
            UnicodeError,
            OverflowError,
        ):
            # One row SQLite cannot take (text that is not valid UTF-8, say):
            # redo the page row by row and set the bad ones aside.
            conn.execute("ROLLBACK TO page_items")
            stored = 0
            for row in rows:
                try:
                    conn.execute(_UPSERT_ITEM, row)
                    stored += 1
                except (
                    sqlite3.InterfaceError,
                    sqlite3.ProgrammingError,
                    UnicodeError,
                    OverflowError,
                ) as error:
                    reason = f"cannot be stored: {_unstorable(row) or error}"
                    raw = dict(zip(ITEM_FIELDS, row, strict=False))
                    bad = Rejected(reason, raw, row[1])
                    rejected.append(_rejected_row(source, run_id, stream, bad, now))
            conn.execute("RELEASE page_items")
            return stored
        conn.execute("RELEASE page_items")
        return len(rows)


#: Items upserted by one statement of many rows (SQLite's limit on bound
#: values, 32,766, allows 1,400 rows of 23).
_ROWS_PER_STATEMENT = 500


@functools.lru_cache(maxsize=8)
def _upsert_items(count: int) -> str:
    """The upsert of ``count`` items in one statement."""
    return _UPSERT_ITEM.replace(
        f"VALUES {_ITEM_VALUES}", "VALUES " + ", ".join([_ITEM_VALUES] * count), 1
    )


# ---------------------------------------------------------------- rows


def item_row(source: str, item: WorkItem, synced_at: str, run_id: int | None) -> tuple:
    """The ``items`` row of a work item, checked: its fields, then ``synced_at``
    and ``run_id``.

    This is where a work item is validated: it runs once per stored item, so
    it is written for speed, one pass over the fields.

    :raises TypeError: a field has the wrong type (the message names it).
    :raises ValueError: a field has an impossible value.
    """
    id = item.id
    if type(id) is not str:
        if type(id) is not int:
            raise TypeError(f"id must be a string, got {_type(id)}")
        id = str(id)
    if not id:
        raise ValueError("id must not be empty")
    kind = item.kind
    if type(kind) is not str or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    title = item.title
    if type(title) is not str:
        if title is not None:
            raise TypeError(f"title must be a string, got {_type(title)}")
        title = ""
    if len(title) > MAX_TITLE:
        raise ValueError(
            f"title is {len(title):,} characters, over the limit of {MAX_TITLE:,}; "
            "no tool's real titles are this long, so the record looks broken"
        )
    state = item.state
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}")
    created = _time(item.created_at, "created_at")
    updated = _time(item.updated_at, "updated_at")
    closed = _time(item.closed_at, "closed_at")
    occurred = _time(item.occurred_at, "occurred_at") or closed or updated or created
    effort = item.effort
    if type(effort) is not float:
        effort = _number(effort, "effort")
        if effort is None:
            effort = 0.0
    if not 0.0 <= effort < math.inf:
        raise ValueError(f"effort must be a finite number of hours >= 0, got {effort}")
    return (
        source,
        id,
        _text(item.key, "key"),
        kind,
        title,
        _text(item.url, "url"),
        _text(item.project, "project"),
        _text(item.team, "team"),
        _text_list(item.people, "people"),
        _text(item.status, "status"),
        state,
        created,
        updated,
        closed,
        occurred,
        effort,
        _number(item.points, "points"),
        _number(item.value, "value"),
        _text_list(item.labels, "labels"),
        _text(item.parent, "parent"),
        _attributes(item.attributes),
        synced_at,
        run_id,
    )


def _attributes(values: Any) -> str:
    text = _json_object(values, "attributes")
    if len(text) > MAX_ATTRIBUTES:
        raise ValueError(
            f"attributes are {len(text):,} characters of JSON, over the limit of "
            f"{MAX_ATTRIBUTES:,}; keep only the fields that matter"
        )
    return text


def item_from_row(row: Mapping[str, Any]) -> WorkItem:
    """The work item an ``items`` row holds (the inverse of :func:`item_row`)."""
    return WorkItem(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        source=row["source"],
        key=row["key"],
        url=row["url"],
        project=row["project"],
        team=row["team"],
        people=json.loads(row["people"] or "[]"),
        status=row["status"],
        state=row["state"],
        created_at=to_utc(row["created_at"]),
        updated_at=to_utc(row["updated_at"]),
        closed_at=to_utc(row["closed_at"]),
        occurred_at=to_utc(row["occurred_at"]),
        effort=row["effort"],
        points=row["points"],
        value=row["value"],
        labels=json.loads(row["labels"] or "[]"),
        parent=row["parent"],
        attributes=json.loads(row["attributes"] or "{}"),
    )


def _type(value: Any) -> str:
    return type(value).__name__


def _time(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} {value!r} is not an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {_type(value)}")
    zone = value.tzinfo
    if zone is not UTC:
        if zone is None or value.utcoffset() is None:
            raise ValueError(f"{name} {value.isoformat()} has no time zone")
        value = value.astimezone(UTC)
    # Plain isoformat is the fastest; cut or pad it to milliseconds and "Z".
    text = value.isoformat()
    return text[:23] + "Z" if value.microsecond else text[:19] + ".000Z"


def _text(value: Any, name: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise TypeError(f"{name} must be a string, got {_type(value)}")


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if type(value) is float or (
        isinstance(value, int | float) and type(value) is not bool
    ):
        value = float(value)
        if math.isfinite(value):
            return value
        raise ValueError(f"{name} must be a finite number, got {value}")
    raise TypeError(f"{name} must be a number, got {_type(value)}")


def _text_list(values: Any, name: str) -> str:
    if not values:
        if values is None or isinstance(values, list | tuple):
            return "[]"
        raise TypeError(f"{name} must be a list of strings, got {_type(values)}")
    if type(values) is str or not isinstance(values, list | tuple):
        raise TypeError(f"{name} must be a list of strings, got {_type(values)}")
    for value in values:
        if type(value) is not str:
            raise TypeError(
                f"{name} must be a list of strings, got {_type(value)} in it"
            )
    return "[" + ", ".join(map(_quote, values)) + "]"


def _json_object(values: Any, name: str = "attributes") -> str:
    if not values and (values is None or isinstance(values, Mapping)):
        return "{}"
    if not isinstance(values, Mapping):
        raise TypeError(f"{name} must be a table, got {_type(values)}")
    try:
        return _encode_object(values)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value) if value.tzinfo else value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"attribute value of type {type(value).__name__} is not JSON")


def _make_object_encoder() -> Callable[[Any], str]:
    # json.dumps builds a new C encoder on every call; building it once halves
    # the cost of the attributes column, the priciest part of an item row.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        encoder = json.JSONEncoder(
            ensure_ascii=False, sort_keys=True, allow_nan=False, default=_json_default
        )
        return encoder.encode
    chunks = make(
        {}, _json_default, json.encoder.encode_basestring, None, ": ", ", ",
        True, False, False,
    )  # fmt: skip
    return lambda value: "".join(chunks(value, 0))


_encode_object = _make_object_encoder()
_quote = json.encoder.encode_basestring


def _metric_row(source: str, point: MetricPoint, run_id: int, now: str) -> tuple:
    if not math.isfinite(point.value):
        raise ValueError(f"metric {point.name} value {point.value} is not finite")
    return (
        source,
        point.name,
        format_utc(point.at),
        _json_object(point.dims, "dims"),
        point.value,
        run_id,
        now,
    )


def _rejected_row(
    source: str, run_id: int, stream: str, record: Rejected, now: str
) -> tuple:
    return (
        source,
        run_id,
        None if record.id is None else _storable_text(str(record.id)),
        stream,
        _storable_text(redact(str(record.reason))[:2000]),
        redact(_safe_raw(record.raw)),
        now,
    )


def _storable_text(text: str) -> str:
    """``text`` as SQLite can store it: a lone surrogate (a byte that was not
    UTF-8, as Python's ``surrogateescape`` keeps it) becomes ``\\udcNN``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _unstorable(row: tuple[Any, ...]) -> str | None:
    """Which field of an item row SQLite cannot take, and why; ``None`` when
    it is not a text that is not UTF-8."""
    for name, value in zip(ITEM_FIELDS, row, strict=False):
        if isinstance(value, str) and _storable_text(value) != value:
            return (
                f"{name} holds bytes that are not UTF-8 text "
                f"({_storable_text(value)[:80]}); the service sent text in "
                "another encoding"
            )
    return None


def _raw_of(record: Any) -> Any:
    if attrs.has(type(record)):
        return {
            field.name: getattr(record, field.name, None)
            for field in attrs.fields(type(record))
        }
    return record


def _safe_raw(raw: Any) -> str:
    """Any raw record as text that SQLite takes: JSON when possible."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "backslashreplace")
    if isinstance(raw, str):
        return raw.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        text = json.dumps(raw, ensure_ascii=True, default=repr, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(raw)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _apply_sweep(
    conn: sqlite3.Connection, source: str, sweep: Sweep, run_id: int, now: str
) -> int:
    conditions, params = ["source = ?", "deleted_at IS NULL"], [source]
    for name, value in sweep.scope.items():
        if name.startswith("attributes."):
            conditions.append("json_extract(attributes, ?) = ?")
            params += [f"$.{name.removeprefix('attributes.')}", value]
        elif name in ("kind", "project", "team", "parent"):
            conditions.append(f"{name} = ?")
            params.append(value)
        else:
            raise ValueError(f"a sweep cannot be scoped by {name!r}")
    # The ids to keep wait in a temporary table: on disk, like SQLite's
    # other temporary data, so a listing of millions of ids sent page by
    # page (final=False) holds none of them in memory.
    scope = json.dumps(dict(sweep.scope), sort_keys=True, default=str)
    conn.execute(_KEEP_TABLE)
    keep = list(sweep.keep)
    if all(type(i) is str for i in keep):
        # One statement a page, its ids as one JSON list: executemany gives
        # up Python's lock after every row, and the sync's reading thread
        # takes it each time.
        conn.execute(
            "INSERT OR IGNORE INTO temp.sweep_keep (source, scope, id) "
            "SELECT ?, ?, value FROM json_each(?)",
            (source, scope, json.dumps(keep, ensure_ascii=False)),
        )
    else:
        conn.executemany(
            "INSERT OR IGNORE INTO temp.sweep_keep (source, scope, id) "
            "VALUES (?, ?, ?)",
            ((source, scope, i) for i in keep),
        )
    if not sweep.final:
        return 0
    cursor = conn.execute(
        f"UPDATE items SET deleted_at = ?, synced_at = ?, run_id = ? "
        f"WHERE {' AND '.join(conditions)} AND NOT EXISTS (SELECT 1 FROM "
        "temp.sweep_keep AS k WHERE k.source = ? AND k.scope = ? AND k.id = items.id)",
        [now, now, run_id, *params, source, scope],
    )
    conn.execute(
        "DELETE FROM temp.sweep_keep WHERE source = ? AND scope = ?", (source, scope)
    )
    return cursor.rowcount


_KEEP_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS sweep_keep (source TEXT NOT NULL, "
    "scope TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (source, scope, id)) "
    "WITHOUT ROWID"
)


# ---------------------------------------------------------------- checks


def _check_header(path: Path) -> None:
    if path.is_dir():
        raise StoreError(
            f"{path} is a folder, not a store; set [scorecard] database to a file "
            "path such as headway.db",
            path=str(path),
        )
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as error:
        raise StoreError(
            f"cannot read {path}: {error.strerror}", path=str(path)
        ) from None
    if header != _SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a SQLite database, so not a headway store; it was "
            "left untouched. Point [scorecard] database at another file, or move "
            "this one away",
            path=str(path),
        )


def _check_existing(path: Path, *, writing: bool) -> None:
    """Refuse, before anything writes to it, a file headway must not change.

    Every check runs on a read-only connection of its own. A store from a
    newer headway is always refused; when opening for ``writing``, so are
    another application's SQLite database and a damaged file. The damage
    check is SQLite's ``quick_check``, which reads every page of the file
    (docs/store.md gives its cost).
    """
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as error:
        raise _translate(error, path) from None
    try:
        if writing:
            _check_is_headway(conn, path)
        version = _schema_version(conn)
        known = MIGRATIONS[-1].version
        if version > known:
            raise StoreError(
                f"{path} was written by a newer headway (schema version {version}; "
                f"this headway knows up to {known}). Upgrade headway: "
                "pip install -U headway",
                path=str(path),
            )
        if not writing:
            return
        found = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
        if found != ["ok"]:
            # Each row may hold several lines under a "*** in database main
            # ***" heading; the first few say enough.
            problems = [
                line.strip()
                for text in found
                for line in str(text).splitlines()
                if line.strip() and not line.startswith("***")
            ]
            raise StoreError(
                f"the store {path} is damaged ({'; '.join(problems[:3])}); it was "
                f"left as it is. {_RECOVERY.format(path)}",
                path=str(path),
            )
    except sqlite3.DatabaseError as error:
        raise _translate(error, path) from None
    finally:
        conn.close()


def _check_is_headway(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite database with tables but no headway ``migrations`` one.

    An empty database (no tables) becomes a store; so does one with
    headway's ``migrations`` table, even if a user added tables of their own.
    """
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    if not tables:
        return
    if "migrations" in tables:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(migrations)")}
        if {"version", "name", "applied_at"} <= columns:
            return
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    raise StoreError(
        f"{path} is a SQLite database of another application (tables: {shown}), "
        "not a headway store; it was left untouched. Point [scorecard] database "
        "at a new file such as headway.db",
        path=str(path),
    )


def _schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT max(version) FROM migrations").fetchone()
    return int(row[0] or 0)


#: What to do with a damaged store; ``{0}`` is its path.
_RECOVERY = (
    "Restore it from a backup, or salvage it: `sqlite3 {0} .recover | sqlite3 "
    "recovered.db`, then use recovered.db instead (docs/store.md, Damaged stores)"
)


def _translate(
    error: sqlite3.DatabaseError, path: Path, *, untouched: bool = True
) -> StoreError:
    """A store error a user can act on, from a SQLite error.

    :param untouched: nothing was written to the file yet (a check before
        opening, a read-only connection), so the message may say so.
    """
    text = str(error)
    code = getattr(error, "sqlite_errorname", "")
    if code in ("SQLITE_BUSY", "SQLITE_LOCKED") or "database is locked" in text:
        return StoreLockedError(
            f"the store {path} is busy: another headway run, or another program "
            "with the file open (a sqlite3 shell, say), is writing to it; wait for "
            "it to finish, then try again",
            path=str(path),
        )
    if code == "SQLITE_FULL" or "database or disk is full" in text:
        return StoreError(
            f"the store {path} cannot grow: the disk (or its size limit) is full. "
            "Everything committed before is kept; free some space and run again",
            path=str(path),
        )
    if (
        code in ("SQLITE_CORRUPT", "SQLITE_NOTADB")
        or "malformed" in text
        or ("not a database" in text)
    ):
        done = (
            "it was left as it is"
            if untouched
            else "the command stopped there, keeping what it had committed before"
        )
        return StoreError(
            f"the store {path} is damaged ({text}); {done}. {_RECOVERY.format(path)}",
            path=str(path),
        )
    if code in (
        "SQLITE_READONLY",
        "SQLITE_CANTOPEN",
        "SQLITE_PERM",
        "SQLITE_IOERR",
    ) or ("readonly" in text or "unable to open" in text):
        return StoreError(
            f"cannot write to the store {path} ({text}); check the file's permissions "
            "and free disk space",
            path=str(path),
        )
    return StoreError(f"the store {path} failed: {text}", path=str(path))


# SQLite authorizer action codes that a read-only query may use.
_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
# PRAGMAs that only read.
_READ_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "database_list",
    "collation_list",
    "function_list",
    "pragma_list",
    "compile_options",
    "integrity_check",
    "quick_check",
    "user_version",
    "schema_version",
    "page_count",
    "page_size",
    "freelist_count",
    "encoding",
    "journal_mode",
}


def _read_only_authorizer(
    action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
) -> int:
    if action in _ALLOWED_ACTIONS:
        if (
            action == sqlite3.SQLITE_FUNCTION
            and arg2
            and arg2.lower() == "load_extension"
        ):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        # A pragma with an argument sets something, except the ones that
        # take a table name.
        takes_table = name.startswith(("table_", "index_", "foreign_key")) or name in (
            "integrity_check",
            "quick_check",
        )
        if name in _READ_PRAGMAS and (arg2 is None or takes_table):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_TRANSACTION:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and arg1 in ("sqlite_master", "sqlite_schema"):
        # SQLite asks this when it first declares a table-valued function
        # (json_each, json_tree, pragma_table_info); refusing it breaks every
        # query over the JSON lists. No statement can change the schema here:
        # the file is open read-only with query_only on.
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY
