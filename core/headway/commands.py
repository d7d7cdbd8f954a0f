"""headway's own commands. Each one parses, calls the library, prints."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import attrs
import click

from ._output import print_csv, print_json, print_table
from ._views import (
    print_checks,
    print_diff,
    print_explanation,
    print_score,
    print_snapshots,
)
from .cli import (
    App,
    exclusive,
    json_option,
    parse_params,
    pass_app,
    print_sync_report,
    run_query,
    store_path_for_query,
    sync_sources,
)
from .config import Config, load_config
from .errors import HeadwayError
from .model import Period
from .secrets import redact
from .store import Store
from .sync import check_sources

# The scorecard's modules (rules, scoring, snapshots, the report) are imported
# by the commands that use them: `headway sync`, run on a schedule, starts a
# tenth of a second sooner without them.


class PeriodType(click.ParamType):
    """A period (``2026-Q4``, ``2026-10``, ``2026``, ``START..END``), checked
    when the command line is read: a bad one is a usage error (exit 2)."""

    name = "period"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            return Period.parse(value).label
        except ValueError as error:
            self.fail(str(error), param, ctx)


class MomentType(click.ParamType):
    """A date (``2026-09-30``) or an ISO 8601 time with a zone, in UTC."""

    name = "date"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        from . import snapshots

        if isinstance(value, datetime):
            return value
        try:
            return snapshots.parse_moment(value)
        except HeadwayError as error:
            self.fail(str(error), param, ctx)


class ItemType(click.ParamType):
    """An item named ``SOURCE:ID`` or ``SOURCE:KEY``, its shape checked when
    the command line is read."""

    name = "item"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        source, sep, name = str(value).partition(":")
        if not sep or not source or not name:
            self.fail(
                f"{value!r} does not name an item; write SOURCE:ID or SOURCE:KEY, "
                "e.g. jira:PLAT-12 or github:acme/web#42",
                param,
                ctx,
            )
        return str(value)


class FiniteFloatType(click.ParamType):
    """A number that is neither infinite nor NaN."""

    name = "number"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


PERIOD = PeriodType()
MOMENT = MomentType()
ITEM = ItemType()
FINITE = FiniteFloatType()


@click.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing headway.toml.")
@click.option(
    "--period", type=PERIOD, help="The scorecard's period (default: this quarter)."
)
def init(folder: str, force: bool, period: str | None) -> None:
    """Write a commented headway.toml with the four perspectives."""
    from .workspace import write_init

    path = write_init(Path(folder), force=force, period=period)
    click.echo(f"Wrote {path}. Next: add objectives and sources, then `headway check`.")


@click.command()
@click.argument("folder", default="headway-demo", type=click.Path(file_okay=False))
@click.option(
    "--seed", default=7, show_default=True, help="Seed of the generated data."
)
@pass_app
def demo(app: App, folder: str, seed: int) -> None:
    """Build a demo workspace: generated data, synced, scored and reported."""
    from .workspace import write_demo

    path = write_demo(Path(folder), seed=seed)
    config = load_config(
        path,
        plugins=app.plugins.connectors().keys(),
        unavailable=app.plugins.unavailable(),
        functions=app.plugins.measures().keys(),
    )
    app.use_config(config)
    report = sync_sources(app, config)
    if not report.ok:
        print_sync_report(report, as_json=False)
        raise HeadwayError("the demo sync failed; run again with -v for details")
    items = sum(r.items for r in report.results)
    click.echo(
        f"Demo workspace: {path.parent}\n"
        f"  configuration: {path}\n"
        f"  store:         {config.database} ({items:,} items from "
        f"{len(report.results)} sources)"
    )
    for step in DEMO_STEPS:
        step(app, config)


#: Days the demo scores "as of", building the history that insights compare.
DEMO_HISTORY = (
    date(2026, 7, 15),
    date(2026, 7, 31),
    date(2026, 8, 14),
    date(2026, 8, 31),
    date(2026, 9, 15),
    date(2026, 9, 30),
)


def demo_score(app: App, config: Config) -> None:
    """Score the demo through its quarter, then print the final scorecard."""
    from . import snapshots

    with app.store(config) as store:
        for day in DEMO_HISTORY:
            run = snapshots.score(config, store, app.plugins, as_of=day)
    click.echo(
        f"  snapshots:     {len(DEMO_HISTORY)}, scored as of "
        f"{DEMO_HISTORY[0]:%d %b} to {DEMO_HISTORY[-1]:%d %b %Y}\n"
    )
    print_score(run.data)


def demo_report(app: App, config: Config) -> None:
    """Write the demo's HTML report beside its store and say where it is."""
    from .report import write_report

    with app.store(config) as store:
        written = write_report(store, config=config)
    click.echo(f"\nReport: {written.path}\n  open it in a browser to see the dashboard")


#: What ``headway demo`` does after the sync, in order (scoring, the report).
DEMO_STEPS: list = [demo_score, demo_report]


@click.command(name="plugins")
@json_option
@pass_app
def plugins_command(app: App, as_json: bool) -> None:
    """List installed plugins: version, connectors, hooks, load errors."""
    infos = app.plugins.info()
    if as_json:
        print_json(
            [
                {
                    "name": i.name,
                    "version": i.version,
                    "package": i.package,
                    "builtin": i.builtin,
                    "connectors": list(i.connectors),
                    "measures": list(i.measures),
                    "hooks": list(i.hooks),
                    "error": i.error,
                }
                for i in infos
            ]
        )
        return
    print_table(
        ["plugin", "version", "connectors", "measures", "hooks", "status"],
        [
            [
                i.name,
                i.version or "",
                ", ".join(i.connectors),
                ", ".join(i.measures),
                ", ".join(i.hooks),
                f"error: {i.error}" if i.error else "ok",
            ]
            for i in infos
        ],
    )


@click.command()
@exclusive("check_only", "full")
@click.argument("sources", nargs=-1)
@click.option(
    "--full", is_flag=True, help="Ignore saved cursors and read everything again."
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Only test each source's credentials and reachability; store nothing.",
)
@json_option
@pass_app
def sync(
    app: App, sources: tuple[str, ...], full: bool, check_only: bool, as_json: bool
) -> None:
    """Run connectors and store what they read (incremental by default).

    Name SOURCES to sync only those; by default every enabled source runs.
    """
    config = app.config(sources=True)
    if check_only:
        outcome = check_sources(config, app.plugins, sources)
        if as_json:
            print_json([{"source": s, "ok": e is None, "error": e} for s, e in outcome])
        else:
            print_table(
                ["source", "status", "error"],
                [[s, "ok" if e is None else "failed", e or ""] for s, e in outcome],
                status_column="status",
            )
        if any(error for _, error in outcome):
            raise SystemExit(1)
        return
    report = sync_sources(app, config, sources, full=full)
    print_sync_report(report, as_json)
    if not report.ok:
        raise SystemExit(1)


@click.command()
@exclusive("as_json", "as_csv")
@click.argument("sql")
@click.option(
    "--param", "-p", "params", multiple=True, help="Bind :name to a value (name=value)."
)
@click.option(
    "--db",
    "database",
    type=click.Path(dir_okay=False),
    help="Read this store instead of the configuration's.",
)
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Print rows as CSV.")
@pass_app
def query(
    app: App,
    sql: str,
    params: tuple[str, ...],
    database: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Run read-only SQL on the store (docs/store.md lists the tables)."""
    bound = parse_params(params)
    path = store_path_for_query(app, database)
    with Store.open_readonly(path) as store:
        columns, rows = run_query(store, sql, bound)
    if as_json:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
    elif as_csv:
        print_csv(columns, rows)
    else:
        print_table(columns, rows)


@click.group()
def state() -> None:
    """Inspect or reset sync cursors."""


@state.command(name="show")
@click.argument("source", required=False)
@json_option
@pass_app
def state_show(app: App, source: str | None, as_json: bool) -> None:
    """Show saved cursors, of one SOURCE or all."""
    config = app.config()
    with app.store(config, create=False) as store:
        if source is not None:
            _known_source(store, config, source)
        sql = (
            "SELECT source, stream, partition, state, updated_at, run_id "
            "FROM sync_state"
        )
        args: list = []
        if source:
            sql += " WHERE source = ?"
            args.append(source)
        rows = list(store.db.query(sql + " ORDER BY source, stream, partition", args))
    if as_json:
        print_json([{**row, "state": json.loads(row["state"])} for row in rows])
        return
    print_table(
        ["source", "stream", "partition", "state", "updated_at", "run_id"],
        [list(row.values()) for row in rows],
    )


@state.command(name="reset")
@click.argument("source")
@click.option("--stream", help="Reset one stream only.")
@pass_app
def state_reset(app: App, source: str, stream: str | None) -> None:
    """Forget SOURCE's cursors, so its next sync reads everything again."""
    config = app.config()
    with app.store(config) as store:
        _known_source(store, config, source)
        store.acquire_lock("state reset")
        dropped = store.reset_state(source, stream)
    click.echo(f"Dropped {dropped} cursor(s) of {source}; its next sync is a full one.")


def _known_source(store: Store, config: Config, source: str) -> None:
    """Refuse a source neither configured nor holding cursors (a source
    renamed or removed keeps its cursors until they are reset)."""
    if source in config.sources:
        return
    found = store.conn.execute(
        "SELECT 1 FROM sync_state WHERE source = ? LIMIT 1", (source,)
    ).fetchone()
    if found is None:
        raise HeadwayError(
            f"no source {source!r} in the configuration or among the store's "
            "cursors; `headway state show` lists them"
        )


def _as_of(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command()
@click.option("--team", help="Show this team's alignment only.")
@click.option("--no-save", is_flag=True, help="Score without storing anything.")
@click.option(
    "--period", type=PERIOD, help="Score this period instead of [scorecard] period."
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Score as the store stood at the end of this day (YYYY-MM-DD).",
)
@click.option(
    "--reclassify", is_flag=True, help="Classify every item again, ignoring the cache."
)
@json_option
@pass_app
def score(
    app: App,
    team: str | None,
    no_save: bool,
    period: str | None,
    as_of: datetime | None,
    reclassify: bool,
    as_json: bool,
) -> None:
    """Classify work, score the scorecard and save a snapshot."""
    from . import snapshots

    config = app.config(period=period)
    teams = [t.key for t in config.scorecard.teams]
    if team:
        snapshots.for_team({"teams": [], "allocations": []}, team, teams)
    with app.store(config, create=False) as store:
        run = snapshots.score(
            config,
            store,
            app.plugins,
            as_of=_as_of(as_of),
            save=not no_save,
            reclassify=reclassify,
        )
    data = snapshots.for_team(run.data, team, teams) if team else run.data
    if as_json:
        print_json(data)
    else:
        print_score(data)


@click.command()
@click.option(
    "--snapshot",
    "snapshot_id",
    type=int,
    help="The snapshot to show (default: the latest; `headway snapshots` lists them).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="The file to write, or a folder for headway-report.html "
    "(default: headway-report.html beside the database).",
)
@pass_app
def report(app: App, snapshot_id: int | None, output: str | None) -> None:
    """Write the HTML dashboard of a snapshot: one self-contained file."""
    from .report import write_report

    config = app.config()
    with app.store(config, create=False) as store:
        written = write_report(store, output, snapshot_id, config=config)
    click.echo(
        f"Wrote {written.path.resolve()} (snapshot {written.snapshot_id}, "
        f"{_size(written.size)})."
    )


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


@click.command(name="snapshots")
@json_option
@pass_app
def snapshots_command(app: App, as_json: bool) -> None:
    """List stored snapshots, oldest first."""
    from . import snapshots

    config = app.config()
    with app.store(config, create=False) as store:
        rows = snapshots.list_snapshots(store)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo("No snapshots yet; run `headway score`.")
    else:
        print_snapshots(rows)


@click.command()
@click.argument("first", type=int, required=False)
@click.argument("second", type=int, required=False)
@json_option
@pass_app
def diff(app: App, first: int | None, second: int | None, as_json: bool) -> None:
    """Compare two snapshots (default: the last two; one ID: it and the latest)."""
    from . import snapshots

    config = app.config()
    with app.store(config, create=False) as store:
        a, b = snapshots.snapshot_pair(store, first, second)
        data = snapshots.diff(
            snapshots.load_snapshot(store, a), snapshots.load_snapshot(store, b)
        )
    if as_json:
        print_json(data)
    else:
        print_diff(data)


@click.command()
@click.argument("item", type=ITEM)
@json_option
@pass_app
def explain(app: App, item: str, as_json: bool) -> None:
    """Say where an item goes and why: ITEM is SOURCE:ID or SOURCE:KEY."""
    from .rules import explain as explain_item
    from .rules import rule_set

    config = app.config()
    with app.store(config, create=False) as store:
        data = explain_item(
            store, rule_set(config.scorecard, app.plugins), app.plugins, item
        )
    if as_json:
        print_json(data)
    else:
        print_explanation(data)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("measure")
@click.argument("value", type=FINITE)
@click.option(
    "--at",
    type=MOMENT,
    help="When the value was true: a date or an ISO time (default: now).",
)
@pass_app
def record(app: App, measure: str, value: float, at: datetime | None) -> None:
    """Record a value of a measure or key result that has no sql or metric."""
    from . import snapshots

    config = app.config()
    moment = at
    with app.store(config) as store:
        row = snapshots.record_value(store, config.scorecard, measure, value, moment)
    click.echo(f"Recorded {measure} = {value:g} at {row['at']}.")
    if not row["in_period"]:
        click.echo(
            f"Note: that is outside the period {row['period']}, so scores of this "
            "period do not use it.",
            err=True,
        )


@click.command()
@click.option("--strict", is_flag=True, help="Exit 1 when a check fails.")
@json_option
@pass_app
def check(app: App, strict: bool, as_json: bool) -> None:
    """Check the scorecard and the data: pass or fail per check, and a verdict."""
    from . import checks as checks_module

    config = app.config(sources=True)
    results = [
        attrs.evolve(c, detail=redact(c.detail))
        for c in checks_module.run_checks(config, app.plugins)
    ]
    verdict = checks_module.verdict(results)
    if as_json:
        print_json(
            {
                "verdict": verdict,
                "checks": [
                    {"name": c.name, "passed": c.passed, "detail": c.detail}
                    for c in results
                ],
            }
        )
    else:
        print_checks(results, verdict)
    if strict and verdict != "productive":
        raise SystemExit(1)


def all_commands() -> list[click.Command]:
    """headway's own commands, in the order ``--help`` lists them."""
    return [
        init,
        demo,
        plugins_command,
        sync,
        score,
        report,
        snapshots_command,
        diff,
        explain,
        record,
        check,
        query,
        state,
    ]
