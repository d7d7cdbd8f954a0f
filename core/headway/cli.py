"""The ``headway`` command line.

Commands are thin: parse options, call a library function, print. Errors
that headway raises for a user's mistake become one message and exit 1;
misuse of the command line exits 2; anything else is a bug and keeps its
traceback (``HEADWAY_DEBUG=1`` shows one for everything).
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sqlite3
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import click

from . import __version__
from ._output import print_json, print_table
from .config import Config, load_config
from .errors import ConfigError, HeadwayError, StoreError, UsageError
from .plugins import Plugins, get_plugins
from .secrets import RedactingFilter, redact
from .store import Store
from .sync import LogProgress, Progress, SyncReport, plan_sync, with_source_problems

DEBUG_ENV = "HEADWAY_DEBUG"

log = logging.getLogger("headway")


@attrs.define
class App:
    """What every command shares: plugins, the config's path, verbosity."""

    plugins: Plugins
    config_path: str | None = None
    verbosity: int = 0
    _config: Config | None = None

    def config(self, *, period: str | None = None, sources: bool = False) -> Config:
        """The validated configuration (loaded once per command).

        :param sources: for commands that build connectors (``sync``,
            ``check``): when the scorecard has problems, validate the source
            tables too, so every problem is reported at once.
        """
        if self._config is None or period is not None:
            try:
                self._config = load_config(
                    self.config_path,
                    plugins=self.plugins.connectors().keys(),
                    unavailable=self.plugins.unavailable(),
                    functions=self.plugins.measures().keys(),
                    period=period,
                )
            except ConfigError as error:
                if not sources:
                    raise
                raise with_source_problems(error, self.plugins) from None
        return self._config

    def use_config(self, config: Config) -> None:
        """Make ``config`` the one later steps of this command use."""
        self._config = config

    def store(self, config: Config | None = None, *, create: bool = True) -> Store:
        """The configuration's store, open for writing."""
        config = config or self.config()
        return Store.open(config.database, create=create)


class HeadwayGroup(click.Group):
    """A click group that turns headway's errors into messages and exit codes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["headway.args"] = list(args)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            if error.ctx is None:
                error.ctx = ctx
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            # click raises "Option '--seed' requires an argument" without a
            # context, so it would print no usage line; give it the one of
            # the command that was being parsed.
            if error.ctx is None:
                error.ctx = _deepest_context(ctx)
            raise
        except HeadwayError as error:
            if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
                raise
            _fail(error)
        except KeyboardInterrupt:
            click.echo("Interrupted; what was stored is kept.", err=True)
            ctx.exit(130)


def _deepest_context(ctx: click.Context) -> click.Context:
    """A context for the innermost command named on the command line."""
    command: click.Command = ctx.command
    for token in ctx.meta.get("headway.args", ()):
        if not isinstance(command, click.Group):
            break
        found = command.commands.get(token)
        if found is not None:
            ctx = click.Context(found, info_name=token, parent=ctx)
            command = found
    return ctx


def _fail(error: HeadwayError) -> None:
    message = redact(str(error))
    if isinstance(error, UsageError):
        raise click.UsageError(message, ctx=click.get_current_context(silent=True))
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(error.exit_code)


#: Loggers the CLI's handler always serves: headway's own and the SDK's.
CORE_LOGGERS = ("headway", "headway_sdk")
#: Third-party loggers, heard only with ``-vvv``.
THIRD_PARTY_LOGGERS = ("urllib3", "requests")


def configure_logging(verbosity: int, names: Sequence[str] = ()) -> Callable[[], None]:
    """Send log records to stderr, at a level set by ``-v`` and ``-q``.

    One handler, which masks every registered secret, serves headway's
    loggers, the SDK's (``headway_sdk.*``), the top-level package of each
    plugin (``names``, say ``headway_jira``) and the HTTP libraries, so a
    record logged on any of them is redacted and obeys ``-q``/``-v`` the
    same way. Called once, by the CLI; library code only logs.

    :param names: more logger names (plugins' packages) to serve.
    :returns: a function putting the loggers back as they were (the CLI
        calls it when the command ends, so a test's run leaves no trace).
    """
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-1, min(verbosity, 2)), logging.DEBUG
    )
    # Third-party libraries speak up only when asked for everything.
    chatty = logging.DEBUG if verbosity >= 3 else max(level, logging.WARNING)
    levels = dict.fromkeys((*CORE_LOGGERS, *names), level)
    levels.update(dict.fromkeys(THIRD_PARTY_LOGGERS, chatty))
    handler = logging.StreamHandler(sys.stderr)
    handler._headway = True  # type: ignore[attr-defined]
    detail = "%(name)s: " if verbosity >= 2 else ""
    handler.setFormatter(
        _LowercaseLevelFormatter(f"%(levelname)s: {detail}%(message)s")
    )
    handler.addFilter(RedactingFilter())
    saved: list[tuple[logging.Logger, int, list[logging.Handler]]] = []
    for name, wanted in levels.items():
        if _nested(name, levels):
            # A child of a served logger: its records reach the parent's
            # handler already; a second handler would print them twice.
            continue
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, list(logger.handlers)))
        for old in list(logger.handlers):
            if getattr(old, "_headway", False):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(wanted)

    # Progress lines of a sync without a terminal are heard unless -q.
    progress = logging.getLogger("headway.progress")
    saved.append((progress, progress.level, list(progress.handlers)))
    progress.setLevel(logging.INFO if verbosity >= 0 else logging.ERROR)

    def restore() -> None:
        for logger, old_level, old_handlers in saved:
            logger.removeHandler(handler)
            for old in old_handlers:
                if old not in logger.handlers:
                    logger.addHandler(old)
            logger.setLevel(old_level)

    return restore


#: Log records made before the logging was configured (see :func:`main`).
_EARLY_RECORDS: list[logging.LogRecord] = []


class _Keep(logging.Handler):
    """Keeps records aside, for :func:`main` while plugins load."""

    def emit(self, record: logging.LogRecord) -> None:
        _EARLY_RECORDS.append(record)


def _nested(name: str, names: Iterable[str]) -> bool:
    return any(name.startswith(other + ".") for other in names if other != name)


def plugin_packages(plugins: Plugins) -> list[str]:
    """The top-level package of every registered plugin, for its loggers."""
    found: list[str] = []
    for _name, plugin in plugins.manager.list_name_plugin():
        module = (
            plugin.__name__
            if isinstance(plugin, types.ModuleType)
            else type(plugin).__module__
        )
        top = (module or "").partition(".")[0]
        if top and top not in ("builtins", *CORE_LOGGERS) and top not in found:
            found.append(top)
    return found


class _LowercaseLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Format a copy: the record is shared with every other handler.
        record = logging.makeLogRecord(record.__dict__)
        record.levelname = record.levelname.lower()
        return super().format(record)


def exclusive(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Options of a command that exclude each other: giving more than one of
    them is a usage error (exit 2), ``use either --json or --csv, not both``.

    Put it below ``@click.command()``. The names (the options' parameter
    names) are kept on the callback as ``exclusive_options``, so the
    command-line tests try every such pair of every command.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            given = [name for name in names if kwargs.get(name)]
            if len(given) > 1:
                ctx = click.get_current_context()
                flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts}
                shown = " or ".join(flags.get(name, name) for name in given)
                raise click.UsageError(f"use either {shown}, not both", ctx=ctx)
            return function(*args, **kwargs)

        checked.exclusive_options = (  # type: ignore[attr-defined]
            *getattr(function, "exclusive_options", ()),
            names,
        )
        return checked

    return decorate


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: print the result as JSON for scripts."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON."
    )(function)


def build_cli(plugins: Plugins | None = None) -> click.Group:
    """The ``headway`` command group, with every plugin's commands added.

    :param plugins: the plugin set to use; default, the installed plugins.
    """

    @click.group(
        cls=HeadwayGroup, context_settings={"help_option_names": ["-h", "--help"]}
    )
    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="HEADWAY_CONFIG",
        help="The configuration file (default: $HEADWAY_CONFIG, else ./headway.toml).",
    )
    @click.option("-v", "--verbose", count=True, help="Say more (-vv for debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
    @click.version_option(__version__, prog_name="headway")
    @exclusive("verbose", "quiet")
    @click.pass_context
    def cli(
        ctx: click.Context, config_path: str | None, verbose: int, quiet: bool
    ) -> None:
        """headway: is your team's work moving the strategy?

        Syncs work from Jira, GitHub, Google Calendar and Salesforce, maps it
        onto a Balanced Scorecard, and scores it into snapshots you can query.
        """
        verbosity = -1 if quiet else verbose
        ctx.call_on_close(configure_logging(verbosity, plugin_packages(chosen)))
        # What loading the plugins said before -q or -v was known.
        for record in _EARLY_RECORDS:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        _EARLY_RECORDS.clear()
        ctx.obj = App(plugins=chosen, config_path=config_path, verbosity=verbosity)

    chosen = plugins or get_plugins()
    for command in _core_commands():
        cli.add_command(command)
    chosen.add_commands(cli)
    return cli


def _core_commands() -> list[click.Command]:
    from . import commands

    return commands.all_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``headway`` script."""
    # Plugins load before the options are read: keep what they log until
    # the logging is set up from -v and -q.
    early = _Keep()
    logger = logging.getLogger("headway")
    level, propagate = logger.level, logger.propagate
    # Every level is kept (a failed plugin's traceback is a debug record),
    # and none goes further until -v or -q says which are shown.
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(early)
    try:
        plugins = get_plugins()
    finally:
        logger.removeHandler(early)
        logger.setLevel(level)
        logger.propagate = propagate
    cli = build_cli(plugins)
    # What starting made (modules, classes, plugins) lives as long as the
    # process. Frozen, the collector stops scanning it over and over during
    # a long sync, where parsing pages of JSON makes it run every few pages.
    gc.freeze()
    # A page of JSON is tens of thousands of objects made at once and freed
    # together by reference counting, not by the cycle collector. At the
    # default threshold (700 more objects made than freed) it ran about 35
    # times a page for nothing: 6 % of a sync's time. Cycles (a traceback
    # kept with its error, say) are still collected, only less often.
    gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])
    cli.main(args=list(argv) if argv is not None else None, prog_name="headway")


#: The cycle collector's first threshold in the command line (see main).
_GC_THRESHOLD = 10_000


# ---------------------------------------------------------------- shared bits


pass_app = click.make_pass_decorator(App)


def print_sync_report(report: SyncReport, as_json: bool) -> None:
    """Print a sync's results, one row per source."""
    rows = [
        {
            "source": r.source,
            "plugin": r.plugin,
            "status": r.status,
            "items": r.items,
            "changed": r.changed,
            "pages": r.pages,
            "tombstones": r.tombstones,
            "rejected": r.rejected,
            "requests": r.stats.requests,
            "retries": r.stats.retries,
            "waited": round(r.stats.waited, 1),
            "seconds": round(r.seconds, 1),
            "run": r.run_id,
            "error": r.error,
        }
        for r in report.results
    ]
    if as_json:
        print_json(rows)
        return
    columns = [
        "source",
        "status",
        "items",
        "changed",
        "pages",
        "requests",
        "retries",
        "waited",
        "seconds",
    ]
    print_table(
        columns,
        [[row[c] for c in columns] for row in rows],
        right=columns[2:],
        status_column="status",
    )


def make_progress(app: App) -> Progress:
    """A live display on a terminal, else log lines."""
    if app.verbosity >= 0 and sys.stderr.isatty():
        from rich.console import Console

        from ._progress import TerminalProgress

        return TerminalProgress(Console(file=sys.stderr))
    return LogProgress()


def sync_sources(
    app: App, config: Config, names: Sequence[str] = (), full: bool = False
) -> SyncReport:
    """Validate the sources, then open the store and sync with progress.

    The store is not opened (or created) until every source table is valid.
    """
    plan = plan_sync(config, app.plugins, names, full=full)
    with app.store(config) as store:
        return plan.run(store, make_progress(app))


def run_query(
    store: Store, sql: str, params: dict[str, Any]
) -> tuple[list[str], list[tuple]]:
    """Run one read-only statement; returns its columns and rows.

    :raises HeadwayError: the statement writes, or is not valid SQL.
    """
    try:
        cursor = store.conn.execute(sql, params)
        rows = cursor.fetchall()
    except sqlite3.DatabaseError as error:
        text = str(error)
        if "not authorized" in text or "readonly" in text or "query_only" in text:
            raise HeadwayError(
                "headway query only reads: statements that write, ATTACH, PRAGMA "
                "changes and extensions are refused. Use the sqlite3 shell on a copy "
                "to change data"
            ) from None
        if "no such table" in text or "no such column" in text:
            raise HeadwayError(
                f"{text}; the tables are described in docs/store.md"
            ) from None
        raise HeadwayError(f"SQL error: {text}") from None
    except (ValueError, sqlite3.ProgrammingError) as error:
        raise HeadwayError(f"SQL error: {error}") from None
    columns = [d[0] for d in cursor.description or ()]
    return columns, rows


def parse_params(values: Sequence[str]) -> dict[str, Any]:
    """``name=value`` pairs for ``:name`` parameters."""
    params = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(
                f"{value!r} is not name=value", param_hint="--param"
            )
        params[name] = text
    return params


def store_path_for_query(app: App, database: str | None) -> Path:
    """The store ``headway query`` reads: ``--db`` else the configuration's."""
    if database:
        return Path(database)
    try:
        return app.config().database
    except HeadwayError as error:
        raise StoreError(f"{error}; or name the store with --db PATH") from None
