"""The conformance suite: what every headway connector must get right.

A connector's tests run it in one line, given a :class:`Harness` that says
how to configure the connector against a fake and how the fake serves a
data set::

    from headway_sdk.testing import Harness, conformance_suite

    test_conformance = conformance_suite(
        Harness(
            plugin=headway_tickets,
            connector="tickets",
            options=lambda url: {"url": url, "token": "${TICKETS_TOKEN}"},
            environ={"TICKETS_TOKEN": "good-token-0123"},
            bad_environ={"TICKETS_TOKEN": "refused-token-0123"},
            dataset=make_tickets,
            serve=serve_tickets,
            change=touch_one_ticket,
        )
    )

pytest then collects one test per check (``test_conformance[resume]``, ...).
Every check runs the connector through headway's real sync engine and
store, with a fake clock, against the ``fake_api`` fixture:

``config``
    a good table builds; an unknown key and each missing required key are
    reported together, at ``sources.NAME.KEY``; no secret in a ``repr`` or
    in the error.
``redaction``
    a sync, and a sync whose every answer is a 401 that echoes the request
    (headers included): no secret in the log lines (as logged, before any
    redacting filter, on whatever logger), the run's error, or the database
    file.
``check_good`` / ``check_bad``
    ``check()`` passes with the good credentials, and fails with a
    :class:`~headway.errors.ConnectorError` naming no secret with the bad.
``stable_ids``
    two full syncs store the same, non-empty set of ids.
``incremental``
    after ``change``, a second sync stores exactly the changed items and
    reads fewer records than the first.
``resume``
    a sync interrupted after page *k*, then resumed, stores what an
    uninterrupted sync stores, for every *k*.
``rate_limits``
    a 429 with ``Retry-After: 7`` then a 503 are waited out (asserted on the
    clock, counted in the run's row) and the sync succeeds.
``pagination_loop``
    a listing that keeps serving the same page ends the run as failed with
    a message about the loop, after few requests.

The harness's fake must refuse credentials other than the good ones, spread
its records' update times wider than the connector's lookback, and hold
enough records for at least three pages (set a small page size in
``options``).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from headway.config import SourceConfig, parse_config, resolve_options
from headway.connectors import Connector, Page, SourceContext, State
from headway.errors import ConfigError, ConnectorError, StopSource
from headway.plugins import Plugins, hookimpl
from headway.secrets import is_secret_key, redact
from headway.store import Store
from headway.sync import SourceResult, run_sync

from ..clock import FakeClock, set_clock
from .fake import FakeApi, FakeResponse, RecordedRequest

#: Every check, in the order they run.
CHECKS = (
    "config",
    "redaction",
    "check_good",
    "check_bad",
    "stable_ids",
    "incremental",
    "resume",
    "rate_limits",
    "pagination_loop",
)

_UNKNOWN_KEY = "no_such_setting"
_MAX_LOOP_REQUESTS = 60
_LOOP_ANSWERS = 200


@attrs.frozen
class Harness:
    """How the conformance suite drives one connector against its fake.

    :param plugin: the plugin object (module) whose ``register_connectors``
        registers the connector.
    :param connector: the registered connector name.
    :param options: the source table for a fake at a URL (may hold
        ``${VAR}`` references, read from ``environ``).
    :param environ: environment variables with the good credentials.
    :param bad_environ: the same variables with credentials the fake refuses.
    :param dataset: makes a fresh data set (any object ``serve`` and
        ``change`` understand).
    :param serve: installs the fake's routes serving a data set (handlers
        that read it on every request, so ``change`` shows).
    :param change: changes some records of a data set (their update time
        set to the given time); returns how many items changed.
    :param secrets: values that must never show; default, the values of the
        secret-named variables of ``environ`` and ``bad_environ``.
    :param serve_loop: scripts a listing that never ends, for
        ``pagination_loop``; default, the first page of the first listing
        served again for every request to its path.
    :param start: the fake clock's time at the start of each check.
    :param source: the source's name in the configuration.
    """

    plugin: Any
    connector: str
    options: Callable[[str], Mapping[str, Any]]
    environ: Mapping[str, str]
    bad_environ: Mapping[str, str]
    dataset: Callable[[], Any]
    serve: Callable[[FakeApi, Any], None]
    change: Callable[[Any, datetime], int]
    secrets: Sequence[str] | None = None
    serve_loop: Callable[[FakeApi, Any], None] | None = None
    start: datetime = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    source: str = "conformance"

    def secret_values(self) -> list[str]:
        """Every value that must never appear in logs, errors or the store."""
        if self.secrets is not None:
            return list(self.secrets)
        values = [
            value
            for env in (self.environ, self.bad_environ)
            for name, value in env.items()
            if is_secret_key(name)
        ]
        return sorted(set(values))


def conformance_suite(
    harness: Harness | Callable[[], Harness], *, skip: Sequence[str] = ()
) -> Callable[..., None]:
    """A pytest test function running every check on the harness's connector.

    Assign it to a ``test_`` name in a test module. The function takes the
    ``fake_api`` and ``tmp_path`` fixtures and is parametrized by check.

    :param skip: checks that do not apply (say why in a comment).
    """
    import pytest

    unknown = set(skip) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks to skip: {', '.join(sorted(unknown))}")
    chosen = [check for check in CHECKS if check not in skip]

    @pytest.mark.parametrize("check", chosen, ids=chosen)
    def test_conformance(check: str, fake_api: FakeApi, tmp_path: Path) -> None:
        resolved = harness() if callable(harness) else harness
        Conformance(resolved, fake_api, tmp_path).run(check)

    return test_conformance


class Conformance:
    """Runs the checks of one harness (``conformance_suite`` uses it).

    :param harness: the connector under test.
    :param fake: a started fake API, routes empty.
    :param folder: a folder for the checks' databases.
    """

    def __init__(self, harness: Harness, fake: FakeApi, folder: Path):
        self.harness = harness
        self.fake = fake
        self.folder = folder
        self.clock = FakeClock(harness.start)
        self.data = harness.dataset()
        harness.serve(fake, self.data)

    def run(self, check: str) -> None:
        """Run one check by name, with the fake clock installed."""
        previous = set_clock(self.clock)
        try:
            getattr(self, f"check_{check}")()
        finally:
            set_clock(previous)

    # ------------------------------------------------------------ plumbing

    def table(self) -> dict[str, Any]:
        """The source table for the running fake."""
        return dict(self.harness.options(self.fake.url))

    def plugins(self, connectors: Any = None) -> Plugins:
        """A fresh plugin set with the harness's plugin (or a stand-in)."""
        plugins = Plugins.create(entry_points=False, builtins=False)
        plugins.register(connectors or self.harness.plugin, "conformance-plugin")
        return plugins

    def build(
        self,
        environ: Mapping[str, str] | None = None,
        table: Mapping[str, Any] | None = None,
    ) -> Connector:
        """The connector built from a table, as the engine builds it.

        :raises ConfigError: the table is invalid or a variable is missing.
        """
        environ = self.harness.environ if environ is None else environ
        source = SourceConfig(
            self.harness.source,
            self.harness.connector,
            self.table() if table is None else dict(table),
        )
        options, missing = resolve_options(source, environ)
        if missing:
            raise ConfigError(missing)
        factory = self.plugins().connectors()[self.harness.connector].factory
        context = SourceContext(source.name, source.plugin, options)
        return factory(context)

    def sync(
        self,
        database: Path,
        *,
        environ: Mapping[str, str] | None = None,
        full: bool = False,
        plugins: Plugins | None = None,
    ) -> SourceResult:
        """One sync of the source into ``database`` through the real engine."""
        return run_source(
            plugins or self.plugins(),
            self.harness.connector,
            self.table(),
            database,
            environ=self.harness.environ if environ is None else environ,
            full=full,
            source=self.harness.source,
        )

    def items(self, database: Path) -> list[tuple[Any, ...]]:
        """The stored items, without the columns that say when they were stored."""
        return stored_items(database)

    def run_row(self, database: Path, run_id: int) -> dict[str, Any]:
        """A run's row in the store."""
        with contextlib.closing(sqlite3.connect(database)) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row)

    def assert_no_secret(self, text: str, where: str) -> None:
        """Fail if a secret value shows in ``text``."""
        for secret in self.harness.secret_values():
            assert secret not in text, f"a secret shows in {where}"

    def assert_ok(self, result: SourceResult, what: str) -> None:
        """Fail unless a sync ended ``ok``."""
        assert result.status == "ok", f"{what}: {result.status}: {result.error}"

    # ------------------------------------------------------------ checks

    def check_config(self) -> None:
        """A good table builds; bad ones report every problem with its path."""
        connector = self.build()
        self.assert_no_secret(repr(connector), "the connector's repr")
        config = getattr(connector, "config", None)
        if config is not None:
            self.assert_no_secret(repr(config), "the config's repr")
        prefix = f"sources.{self.harness.source}"

        table = {**self.table(), _UNKNOWN_KEY: 1}
        try:
            self.build(table=table)
        except ConfigError as error:
            paths = {p.path for p in error.problems}
            assert f"{prefix}.{_UNKNOWN_KEY}" in paths, error.problems
            self.assert_no_secret(str(error), "a config error")
        else:
            raise AssertionError(f"an unknown key {_UNKNOWN_KEY!r} was accepted")

        try:
            self.build(table={_UNKNOWN_KEY: 1})
        except ConfigError as error:
            paths = {p.path for p in error.problems}
            assert all(p.startswith(prefix) for p in paths), error.problems
            assert f"{prefix}.{_UNKNOWN_KEY}" in paths, "problems are not all reported"
            required = _required_keys(connector)
            missing = {f"{prefix}.{key}" for key in required} - paths
            assert not missing, f"required keys not reported: {sorted(missing)}"
        else:
            raise AssertionError("an empty source table was accepted")

    def check_redaction(self) -> None:
        """No secret in logs, errors or the store, even when a service echoes."""
        database = self.folder / "redaction.db"
        with _capture_logs() as lines:
            self.assert_ok(self.sync(database), "the first sync")

            def echo(request: RecordedRequest) -> FakeResponse:
                return FakeResponse(
                    401,
                    json={
                        "message": "Bad credentials",
                        "echo": {"headers": request.headers, "query": request.query},
                        "body": request.body.decode("utf-8", "replace"),
                    },
                )

            self.fake.inject(handler=echo, times=10_000)
            failed = self.sync(database, full=True)
        self.fake.routes[:] = [r for r in self.fake.routes if r.handler is not echo]
        assert failed.status == "failed", "a sync refused with 401 did not fail"
        self.assert_no_secret(failed.error or "", "the failed run's error")
        self.assert_no_secret("\n".join(lines), "the log")
        for path in database.parent.glob(database.name + "*"):
            if path.is_file():
                self.assert_no_secret(
                    path.read_bytes().decode("latin-1"), f"the store file {path.name}"
                )

    def check_check_good(self) -> None:
        """``check()`` passes with good credentials."""
        self.build().check()

    def check_check_bad(self) -> None:
        """``check()`` fails clearly with refused credentials."""
        connector = self.build(self.harness.bad_environ)
        try:
            connector.check()
        except ConnectorError as error:
            self.assert_no_secret(redact(str(error)), "the check's error")
            self.assert_no_secret(str(error), "the check's error (unredacted)")
        else:
            raise AssertionError("check() passed with refused credentials")

    def check_stable_ids(self) -> None:
        """Two full syncs store the same, non-empty set of ids."""
        first, second = self.folder / "ids-1.db", self.folder / "ids-2.db"
        self.assert_ok(self.sync(first, full=True), "the first sync")
        self.assert_ok(self.sync(second, full=True), "the second sync")
        ids = [row[1] for row in self.items(first)]
        assert ids, "the sync stored no items"
        assert all(ids), "an item has an empty id"
        assert ids == [row[1] for row in self.items(second)], "ids differ between runs"

    def check_incremental(self) -> None:
        """The second sync reads only what changed."""
        database = self.folder / "incremental.db"
        first = self.sync(database)
        self.assert_ok(first, "the first sync")
        self.clock.advance(timedelta(hours=1))
        changed = self.harness.change(self.data, self.clock.now())
        second = self.sync(database)
        self.assert_ok(second, "the second sync")
        assert second.changed == changed, (
            f"the second sync changed {second.changed} items, expected {changed}"
        )
        assert second.items < first.items, (
            f"the second sync read {second.items} items, the first {first.items}: "
            "it is not incremental"
        )
        fresh = self.folder / "incremental-fresh.db"
        self.assert_ok(self.sync(fresh, full=True), "a full sync of the changed data")
        assert _live(self.items(database)) == _live(self.items(fresh)), (
            "after the incremental sync the store differs from a full sync of the "
            "same data: a change was missed or misread"
        )

    def check_resume(self) -> None:
        """Interrupted after page k and resumed equals uninterrupted, for all k."""
        reference = self.folder / "resume-reference.db"
        whole = self.sync(reference)
        self.assert_ok(whole, "the uninterrupted sync")
        assert whole.pages >= 3, (
            f"the data set fits in {whole.pages} page(s); give the harness a page "
            "size that makes at least 3"
        )
        expected = self.items(reference)
        factory = self.plugins().connectors()[self.harness.connector].factory
        for after in range(1, whole.pages):
            database = self.folder / f"resume-{after}.db"
            stand_in = _InterruptingPlugin(self.harness.connector, factory, after)
            cut = self.sync(database, plugins=self.plugins(stand_in))
            assert cut.status == "partial", f"interrupted after {after}: {cut.error}"
            resumed = self.sync(database)
            self.assert_ok(resumed, f"the sync resumed after page {after}")
            assert self.items(database) == expected, (
                f"interrupted after page {after} and resumed, the store differs "
                "from an uninterrupted sync"
            )

    def check_rate_limits(self) -> None:
        """A 429 with Retry-After and a 503 are waited out and counted."""
        database = self.folder / "rate-limits.db"
        self.fake.inject(
            FakeResponse(
                429,
                headers={"Retry-After": "7"},
                json={"message": "rate limited by the conformance suite"},
            ),
            FakeResponse(503, json={"message": "unavailable (conformance suite)"}),
        )
        result = self.sync(database)
        self.assert_ok(result, "a sync through a 429 and a 503")
        assert 7.0 in self.clock.sleeps, (
            f"Retry-After not honoured: {self.clock.sleeps}"
        )
        row = self.run_row(database, result.run_id)
        assert row["retries"] >= 2, f"retries not counted in the run's row: {row}"
        assert row["waited"] >= 7.0, f"waits not counted in the run's row: {row}"

    def check_pagination_loop(self) -> None:
        """A listing that keeps pointing back is stopped and reported."""
        self.assert_ok(self.sync(self.folder / "loop-probe.db"), "the probing sync")
        if self.harness.serve_loop is not None:
            self.fake.clear()
            self.harness.serve_loop(self.fake, self.data)
        else:
            method, path, response = _first_paged_listing(self.fake.requests)
            self.fake.clear()
            self.harness.serve(self.fake, self.data)
            # Bounded, so a connector without a loop guard ends the check
            # (failing it) instead of hanging the test run.
            self.fake.inject(
                method=method,
                path=path,
                handler=lambda request: response,
                times=_LOOP_ANSWERS,
            )
        result = self.sync(self.folder / "loop.db")
        assert result.status == "failed", f"a looping listing ended {result.status}"
        assert "loop" in (result.error or ""), result.error
        assert result.stats.requests <= _MAX_LOOP_REQUESTS, (
            f"the loop was stopped only after {result.stats.requests} requests"
        )


def run_source(
    plugin: Any,
    connector: str,
    options: Mapping[str, Any],
    database: Path,
    *,
    environ: Mapping[str, str] | None = None,
    full: bool = False,
    source: str = "src",
) -> SourceResult:
    """Sync one source into ``database`` with headway's real engine and store.

    For a connector's own tests beyond the conformance suite (thousands of
    items over many pages, a limit hit mid-sync)::

        result = run_source(headway_jira, "jira", {"url": fake_api.url, ...},
                            tmp_path / "headway.db", environ={"JIRA_TOKEN": "t"})
        assert result.status == "ok" and result.items == 2500

    :param plugin: the plugin object (module) registering the connector, or
        a :class:`~headway.plugins.Plugins` already holding it.
    :param options: the source table (``${VAR}`` read from ``environ``).
    :returns: the source's result: status, error, items, changed, pages,
        rejected, tombstones and the request stats.
    """
    if isinstance(plugin, Plugins):
        plugins = plugin
    else:
        plugins = Plugins.create(entry_points=False, builtins=False)
        plugins.register(plugin, "plugin-under-test")
    environ = dict(environ or {})
    config = parse_config(
        {
            "scorecard": {"name": "test", "period": "2026-Q1"},
            "sources": {source: {"plugin": connector, **options}},
        },
        environ=environ,
    )
    with Store.open(database) as store:
        report = run_sync(config, store, plugins, full=full, environ=environ)
    assert len(report.results) == 1, report
    return report.results[0]


def stored_items(database: Path) -> list[tuple[Any, ...]]:
    """Every stored item by id, without the columns that say when it was stored.

    ``deleted_at`` becomes whether the item is deleted, so two stores that
    hold the same items compare equal.
    """
    columns = (
        "source, id, key, kind, title, url, project, team, people, status, "
        "state, created_at, updated_at, closed_at, occurred_at, effort, points, "
        "value, labels, parent, attributes, deleted_at IS NOT NULL"
    )
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(f"SELECT {columns} FROM items ORDER BY id").fetchall()


def _live(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows of :func:`stored_items` that are not deleted."""
    return [row for row in rows if not row[-1]]


def _required_keys(connector: Any) -> list[str]:
    config = getattr(connector, "config", None)
    if config is None or not attrs.has(type(config)):
        return []
    return [
        field.alias or field.name
        for field in attrs.fields(type(config))
        if field.default is attrs.NOTHING
    ]


def _first_paged_listing(
    requests: Sequence[RecordedRequest],
) -> tuple[str, str, FakeResponse]:
    counts: dict[tuple[str, str], int] = {}
    for request in requests:
        counts[(request.method, request.path)] = (
            counts.get((request.method, request.path), 0) + 1
        )
    for request in requests:
        response = request.response
        paged = counts[(request.method, request.path)] >= 2
        if paged and response is not None and response.status == 200:
            return request.method, request.path, response
    raise AssertionError(
        "no listing was read over two pages or more; give the harness a smaller "
        "page size, or a serve_loop"
    )


class _InterruptingPlugin:
    """Registers a stand-in of the connector that stops after some pages."""

    def __init__(self, name: str, factory: Callable[[SourceContext], Any], after: int):
        self.name = name
        self.factory = factory
        self.after = after

    @hookimpl
    def register_connectors(self, register: Callable[..., None]) -> None:
        """Register the stand-in under the connector's own name."""

        def build(context: SourceContext) -> _Interrupting:
            return _Interrupting(self.factory(context), self.after)

        register(self.name, build)


class _Interrupting:
    def __init__(self, inner: Any, after: int):
        self.inner = inner
        self.after = after

    def check(self) -> None:
        self.inner.check()

    def read(self, state: State) -> Iterator[Page]:
        pages = iter(self.inner.read(state))
        try:
            for count, page in enumerate(pages, start=1):
                yield page
                if count >= self.after:
                    raise StopSource(
                        f"interrupted by the conformance suite after {count} pages"
                    )
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()


class _Lines(logging.Handler):
    def __init__(self, lines: list[str]):
        super().__init__(logging.DEBUG)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # The text as logged, before any redacting filter: a secret that only
        # the CLI's handler would mask still shows wherever else the record
        # goes (a handler of the user's, a logger the CLI does not serve).
        self.lines.append(self.format(record))


@contextlib.contextmanager
def _capture_logs() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = _Lines(lines)
    names = ("", "headway", "headway_sdk", "urllib3", "requests")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        # First in line, so a redacting handler already there (the CLI's)
        # cannot mask the record before it is captured.
        logger.handlers.insert(0, handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


__all__ = [
    "CHECKS",
    "Conformance",
    "Harness",
    "conformance_suite",
    "run_source",
    "stored_items",
]
