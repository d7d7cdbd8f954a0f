"""The sync engine: run connectors and store what they read.

Every selected source's connector is built and its table validated first;
problems in any of them stop the run before any request is made. Then each
source reads in its own thread while one writer (the calling thread) stores
pages as they come: a page's records and its cursor state in one
transaction. A source that fails does not stop the others; its run row says
why, and :attr:`SyncReport.ok` is false.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from .config import Config, SourceConfig, resolve_options, suggest
from .connectors import Connector, ConnectorType, Page, RunStats, SourceContext, State
from .errors import (
    ConfigError,
    ConnectorError,
    HeadwayError,
    PluginError,
    Problem,
    StopSource,
    StoreError,
)
from .plugins import Plugins
from .secrets import redact
from .store import PageCounts, Store

log = logging.getLogger(__name__)
#: Where :class:`LogProgress` writes; heard at the CLI's default verbosity.
progress_log = logging.getLogger("headway.progress")

# Pages waiting for the writer, per source: enough to keep the writer busy,
# few enough that memory does not grow with the size of the sync.
_QUEUE_PAGES_PER_SOURCE = 4
# How often a plain (non-terminal) progress line is written per source.
_LOG_EVERY_SECONDS = 10.0


@attrs.define
class SourceResult:
    """How one source's run went."""

    source: str
    plugin: str
    run_id: int
    status: str = "running"
    items: int = 0
    changed: int = 0
    pages: int = 0
    metrics: int = 0
    tombstones: int = 0
    rejected: int = 0
    error: str | None = None
    stats: RunStats = attrs.field(factory=RunStats)
    started: float = attrs.field(factory=time.monotonic)
    seconds: float = 0.0

    def add(self, counts: PageCounts) -> None:
        """Count a stored page."""
        self.pages += 1
        self.items += counts.items
        self.changed += counts.changed
        self.metrics += counts.metrics
        self.tombstones += counts.tombstones
        self.rejected += counts.rejected


@attrs.define
class SyncReport:
    """What a sync did, one result per source."""

    results: list[SourceResult] = attrs.field(factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Whether every source finished without failing."""
        return not self.interrupted and all(r.status != "failed" for r in self.results)


class Progress:
    """Receives progress events; the CLI shows them, the default does nothing."""

    def start(self, source: str, plugin: str) -> None:
        """A source starts reading."""

    def advance(self, result: SourceResult) -> None:
        """A page of ``result.source`` was stored."""

    def finish(self, result: SourceResult) -> None:
        """A source is done (any status)."""

    def close(self) -> None:
        """The sync is over."""


class LogProgress(Progress):
    """Progress as log lines: one per source every few seconds, and at the end.

    Lines go to the ``headway.progress`` logger, which the CLI lets through
    at the default verbosity (``-q`` silences it), so a sync run by cron or
    CI still says what it is doing.
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def start(self, source: str, plugin: str) -> None:
        progress_log.info("%s: syncing (%s)", source, plugin)
        self._last[source] = time.monotonic()

    def advance(self, result: SourceResult) -> None:
        now = time.monotonic()
        if now - self._last.get(result.source, 0.0) >= _LOG_EVERY_SECONDS:
            self._last[result.source] = now
            elapsed = max(now - result.started, 1e-9)
            progress_log.info(
                "%s: %d items in %d pages so far (%.0f items/s)",
                result.source,
                result.items,
                result.pages,
                result.items / elapsed,
            )

    def finish(self, result: SourceResult) -> None:
        elapsed = max(time.monotonic() - result.started, 1e-9)
        progress_log.info(
            "%s: %s, %d items in %d pages in %.1f s (%.0f items/s)",
            result.source,
            result.status,
            result.items,
            result.pages,
            elapsed,
            result.items / elapsed,
        )


@attrs.frozen
class _Built:
    source: SourceConfig
    kind: ConnectorType
    context: SourceContext
    connector: Connector


class _Crashed:
    """Stands for a connector that crashed reading its table: running it
    fails that source alone, with the crash."""

    def __init__(self, crash: PluginError):
        self.crash = crash

    def read(self, state: State) -> Iterator[Page]:
        raise self.crash

    def check(self) -> None:
        raise self.crash


@attrs.frozen
class _Done:
    source: str
    status: str
    error: str | None = None


def select_sources(config: Config, names: Sequence[str] = ()) -> list[SourceConfig]:
    """The sources a sync runs: those named, else every enabled one.

    :raises ConfigError: a name that is not a configured source.
    """
    if not names:
        return [s for s in config.sources.values() if s.enabled]
    problems = []
    for name in names:
        if name not in config.sources:
            known = ", ".join(config.sources) or "none configured"
            problems.append(
                Problem(
                    f"sources.{name}",
                    f"no such source{suggest(name, config.sources)}; "
                    f"configured: {known}",
                )
            )
    if problems:
        raise ConfigError(problems, file=str(config.file) if config.file else None)
    return [config.sources[name] for name in dict.fromkeys(names)]


def build_connectors(
    config: Config | None,
    plugins: Plugins,
    sources: Iterable[SourceConfig],
    *,
    full: bool = False,
    stop: threading.Event | None = None,
    environ: Any = None,
    secrets: bool = True,
    file: Path | None = None,
    keep_crashed: bool = False,
) -> list[_Built]:
    """Build and validate the connector of each source.

    :param config: the valid configuration the sources belong to; ``None``
        when the rest of it has problems, to validate the tables anyway (the
        connectors then get no scorecard).
    :param secrets: read the secrets the tables name (see
        :func:`~headway.config.resolve_options`); without them the connectors
        are built to be validated, not run.
    :param file: the configuration file, when ``config`` is ``None``.
    :param keep_crashed: a connector that crashes reading its table stands
        in the list as one that fails when run, so the other sources still
        sync; otherwise that crash is raised.
    :raises ConfigError: every problem of every source, with key paths.
    :raises PluginError: a connector crashed reading its table (unless
        ``keep_crashed``).
    """
    if config is not None:
        file = config.file
    root = file.parent if file is not None else Path.cwd()
    registry = plugins.connectors()
    stop = stop or threading.Event()
    built, problems = [], []
    for source in sources:
        kind = registry.get(source.plugin)
        if kind is None:
            problems.append(
                Problem(
                    f"sources.{source.name}.plugin",
                    f"no connector named {source.plugin!r}"
                    f"{suggest(source.plugin, registry)}; installed: "
                    f"{', '.join(sorted(registry)) or 'none'}",
                )
            )
            continue
        options, missing = resolve_options(source, environ, secrets=secrets)
        context = SourceContext(
            name=source.name,
            plugin=source.plugin,
            options=options,
            scorecard=config.scorecard if config is not None else None,
            full=full,
            stop=stop,
            root=config.root if config is not None else root,
        )
        try:
            connector = kind.factory(context)
        except ConfigError as error:
            # Missing variables first; then the connector's own problems,
            # without repeating a key the environment already explained.
            explained = {p.path for p in missing}
            problems += missing
            problems += [p for p in error.problems if p.path not in explained]
            continue
        except Exception as bug:
            crash = _crashed(kind, source.name, "reading its table", bug)
            if not keep_crashed:
                raise crash from None
            built.append(_Built(source, kind, context, _Crashed(crash)))
            continue
        problems += missing
        if not missing:
            built.append(_Built(source, kind, context, connector))
    if problems:
        raise ConfigError(problems, file=str(file) if file else None)
    return built


@attrs.frozen
class SyncPlan:
    """Validated connectors, ready to run: made before the store is touched."""

    built: list[_Built]
    full: bool
    stop: threading.Event

    def run(self, store: Store, progress: Progress | None = None) -> SyncReport:
        """Read every planned source into ``store``.

        :raises StoreLockedError: another sync holds the store.
        """
        progress = progress or Progress()
        report = SyncReport()
        if not self.built:
            log.warning(
                "no sources to sync; add a [sources.NAME] table to the configuration"
            )
            return report
        store.acquire_lock("sync")
        try:
            abandoned = store.close_abandoned_runs()
            if abandoned:
                log.warning(
                    "marked %d run(s) left unfinished by a stopped process as failed",
                    abandoned,
                )
            _run(store, self.built, report, progress, self.stop, self.full)
        finally:
            store.release_lock()
            progress.close()
        return report


def plan_sync(
    config: Config,
    plugins: Plugins,
    names: Sequence[str] = (),
    *,
    full: bool = False,
    environ: Any = None,
) -> SyncPlan:
    """Build and validate the connectors of the named sources (default: all
    enabled), without any request or write.

    :raises ConfigError: a source is unknown or its table is invalid.
    """
    stop = threading.Event()
    sources = select_sources(config, names)
    built = build_connectors(
        config,
        plugins,
        sources,
        full=full,
        stop=stop,
        environ=environ,
        keep_crashed=True,
    )
    return SyncPlan(built, full, stop)


def run_sync(
    config: Config,
    store: Store,
    plugins: Plugins,
    names: Sequence[str] = (),
    *,
    full: bool = False,
    progress: Progress | None = None,
    environ: Any = None,
) -> SyncReport:
    """Plan and run a sync into an open store (see :func:`plan_sync`).

    :raises ConfigError: a source is unknown or its table is invalid; nothing
        was read or written.
    :raises StoreLockedError: another sync holds the store.
    """
    plan = plan_sync(config, plugins, names, full=full, environ=environ)
    return plan.run(store, progress)


def _run(
    store: Store,
    built: list[_Built],
    report: SyncReport,
    progress: Progress,
    stop: threading.Event,
    full: bool,
) -> None:
    pages: queue.Queue[tuple[str, Page] | _Done] = queue.Queue(
        maxsize=_QUEUE_PAGES_PER_SOURCE * len(built)
    )
    results: dict[str, SourceResult] = {}
    threads = []
    for item in built:
        name = item.source.name
        run_id = store.start_run(name, item.kind.name, full=full)
        result = SourceResult(name, item.kind.name, run_id, stats=item.context.stats)
        results[name] = result
        report.results.append(result)
        state = State() if full else store.load_state(name)
        progress.start(name, item.kind.name)
        thread = threading.Thread(
            target=_read_source,
            args=(item, state, pages, stop),
            name=f"headway-sync-{name}",
            daemon=True,
        )
        threads.append(thread)

    for thread in threads:
        thread.start()

    running = len(threads)
    try:
        while running:
            try:
                message = pages.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(message, _Done):
                running -= 1
                _finish(store, results[message.source], message, progress)
                continue
            name, page = message
            result = results[name]
            if result.status != "running":
                continue
            try:
                counts = store.write_page(name, result.run_id, page)
            except StoreError as error:
                # The store itself failed (disk full, say): what is committed
                # stays; stop every source, as none can store anything.
                stop.set()
                result.status, result.error = "failed", str(error)
                raise
            result.add(counts)
            progress.advance(result)
    except KeyboardInterrupt:
        report.interrupted = True
        stop.set()
        for result in results.values():
            if result.status == "running":
                result.status = "partial"
                result.error = "interrupted by the user; the next sync resumes here"
                _record(store, result)
        raise
    except StoreError:
        stop.set()
        for result in results.values():
            if result.status == "running":
                result.status = "failed"
                result.error = result.error or "stopped: the store could not be written"
            try:
                _record(store, result)
            except StoreError:
                log.debug("could not record the run of %s", result.source)
        raise


def _read_source(
    built: _Built,
    state: State,
    pages: queue.Queue[Any],
    stop: threading.Event,
) -> None:
    """A source's thread: read pages and hand them to the writer."""
    name = built.source.name
    status, error = "ok", None
    try:
        for page in built.connector.read(state):
            if not isinstance(page, Page):
                raise TypeError(
                    f"connector {built.kind.name!r} yielded {type(page).__name__}, "
                    "not a headway Page"
                )
            if not _put(pages, (name, page), stop):
                status, error = "partial", "interrupted; the next sync resumes here"
                break
    except StopSource as stopped:
        status, error = "partial", str(stopped)
    except ConnectorError as failed:
        status, error = "failed", str(failed)
    except HeadwayError as failed:
        status, error = "failed", str(failed)
    except BaseException as bug:
        # A bug in the connector (or anything else that ends the thread,
        # SystemExit included): keep its traceback in the log, name the
        # plugin, and let the other sources go on. The writer must always
        # hear that this source is done, or it would wait for ever.
        status = "failed"
        error = (
            f"connector {built.kind.name!r} (plugin {built.kind.plugin}) crashed: "
            f"{type(bug).__name__}: {bug}. This is a bug in the plugin; the "
            "traceback is in the log"
        )
        log.error(
            "%s: %s\n%s", name, error, "".join(traceback.format_exception(bug)).rstrip()
        )
    _put(pages, _Done(name, status, error), stop, force=True)


def _put(
    pages: queue.Queue[Any], message: Any, stop: threading.Event, force: bool = False
) -> bool:
    while True:
        if stop.is_set() and not force:
            return False
        try:
            pages.put(message, timeout=0.2)
            return True
        except queue.Full:
            if stop.is_set() and force:
                return False


def _finish(
    store: Store, result: SourceResult, done: _Done, progress: Progress
) -> None:
    status = done.status
    error = done.error
    if status == "ok" and result.rejected:
        status = "partial"
        error = (
            f"{result.rejected} record(s) could not be stored and were set aside in "
            "the rejected table"
        )
    elif result.rejected and error:
        error = f"{error}; {result.rejected} record(s) set aside in the rejected table"
    notes = [note for note in result.stats.notes if note not in (error or "")]
    if notes:
        error = "; ".join(filter(None, [error, *notes]))
    result.status, result.error = status, redact(error) if error else None
    _record(store, result)
    if status == "failed":
        log.error("%s: failed: %s", result.source, result.error)
    elif status == "partial":
        log.warning("%s: stopped early: %s", result.source, result.error)
    progress.finish(result)


def _record(store: Store, result: SourceResult) -> None:
    result.seconds = time.monotonic() - result.started
    store.finish_run(
        result.run_id,
        result.status if result.status != "running" else "failed",
        requests=result.stats.requests,
        retries=result.stats.retries,
        waited=result.stats.waited,
        error=result.error,
    )


def source_problems(config: Config, plugins: Plugins) -> list[Problem]:
    """What a sync of the enabled sources would find wrong in their tables.

    Each connector is built and validated as :func:`plan_sync` does it, with
    no request made and no secret read: a secret-named key's variables must
    be set, and ``***`` stands in for their values, so only ``sync --check``
    tells a wrong token.

    :raises PluginError: a connector crashed reading its table.
    """
    try:
        build_connectors(config, plugins, select_sources(config), secrets=False)
    except ConfigError as error:
        return error.problems
    return []


def with_source_problems(error: ConfigError, plugins: Plugins) -> ConfigError:
    """``error`` with the problems of its enabled sources' tables added.

    A configuration whose scorecard has problems cannot be built, but its
    source tables can still be validated (without a scorecard, reading no
    secret), so that every problem is reported at once.
    """
    if not error.sources:
        return error
    file = Path(error.file) if error.file else None
    enabled = [s for s in error.sources.values() if s.enabled]
    try:
        build_connectors(None, plugins, enabled, secrets=False, file=file)
    except ConfigError as found:
        # A key the configuration already faulted (an unknown plugin) is
        # not reported again in the connector's words.
        known = {p.path for p in error.problems}
        extra = [p for p in found.problems if p.path not in known]
        if extra:
            return ConfigError(
                [*error.problems, *extra], file=error.file, sources=error.sources
            )
    except PluginError:
        # A connector that crashes on its table is reported when it runs.
        pass
    return error


def check_sources(
    config: Config,
    plugins: Plugins,
    names: Sequence[str] = (),
    *,
    environ: Any = None,
) -> list[tuple[str, str | None]]:
    """Run each connector's ``check()``: ``(source, error or None)`` per source."""
    built = build_connectors(
        config, plugins, select_sources(config, names), environ=environ
    )
    outcome = []
    for item in built:
        try:
            item.connector.check()
        except HeadwayError as error:
            outcome.append((item.source.name, redact(str(error))))
        except Exception as bug:
            # A bug in one plugin must not hide how the other sources did.
            error = _crashed(item.kind, item.source.name, "checking", bug)
            outcome.append((item.source.name, str(error)))
        else:
            outcome.append((item.source.name, None))
    return outcome


def _crashed(
    kind: ConnectorType, source: str, doing: str, bug: Exception
) -> PluginError:
    """A plugin's connector raised what no connector should: name it."""
    log.debug(
        "%s: traceback of connector %r\n%s",
        source,
        kind.name,
        "".join(traceback.format_exception(bug)).rstrip(),
    )
    return PluginError(
        redact(
            f"sources.{source}: connector {kind.name!r} (plugin {kind.plugin}) "
            f"crashed {doing}: {type(bug).__name__}: {bug}. This is a bug in the "
            "plugin; run with -vv for the traceback"
        ),
        plugin=kind.plugin,
    )
