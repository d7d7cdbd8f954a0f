"""Benchmark: ``headway report`` on a large store with a long history (issue 10).

Builds a synthetic store: ``--items`` work items (1,000,000 by default) over
four sources and 30 teams, a scorecard of 50 objectives with measures and key
results, 50 rules (labels, regexes, shares, overhead, parent inheritance),
and ``--snapshots`` snapshots (200). Then, in this one process, it times

- the baseline: one ``SELECT team, SUM(effort) FROM items GROUP BY team`` scan;
- ``headway report``: the command as a user runs it (configuration, store,
  the snapshot with its trends over every stored snapshot, the page, the
  file);

and prints both and their ratio. Target: the report takes at most 3 times
the scan.

Scoring a million items 200 times would take this machine many minutes and
tell nothing about the report, which reads only the snapshot tables: so
``--scored`` snapshots (4) come from real ``headway score`` runs at dates
through the quarter, and the rest are copies of them (same rows, earlier
times). Every snapshot has the rows a real one has: 50 objectives' scores,
30 teams' allocations, insights.

    python benchmarks/report.py                      # the issue's size
    python benchmarks/report.py --items 100000 --keep /tmp/bench
    python benchmarks/report.py --keep /tmp/bench --reuse   # time it again
    python benchmarks/report.py --browser            # also time Chromium
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from headway.cli import build_cli
from headway.config import load_config
from headway.connectors import Page
from headway.model import MetricPoint, WorkItem, format_utc
from headway.plugins import Plugins
from headway.snapshots import record_value, score
from headway.store import Store

SOURCES = ("jira", "github", "calendar", "crm")
TEAMS = 30
#: Objectives per perspective: 50 in all.
OBJECTIVES = {"financial": 8, "customer": 12, "process": 18, "learning": 12}
PREFIX = {"financial": "F", "customer": "C", "process": "P", "learning": "L"}
QUARTER_START = date(2026, 7, 1)
QUARTER_DAYS = 92
PAGE = 5000
BASELINE_SQL = "SELECT team, SUM(effort) FROM items GROUP BY team"
TARGET = 3.0


# ---------------------------------------------------------------- the store


def objective_ids() -> list[tuple[str, str]]:
    """``(id, perspective)`` of the 50 objectives."""
    return [
        (f"{PREFIX[key]}{n}", key)
        for key, count in OBJECTIVES.items()
        for n in range(1, count + 1)
    ]


def config_text() -> str:
    """The benchmark's ``headway.toml``."""
    lines = [
        "[scorecard]",
        'name = "Benchmark Corp"',
        'database = "headway.db"',
        'period = "2026-Q3"',
        "",
    ]
    for team in range(1, TEAMS + 1):
        members = ", ".join(f'"p{team:02d}{k}@bench.example"' for k in range(3))
        lines += [f"[teams.t{team:02d}]", f'title = "Team {team:02d}"']
        lines += [f"members = [{members}]", ""]
    counts = OBJECTIVES
    for index, (id, perspective) in enumerate(objective_ids()):
        number = int(id[1:])
        drives = {
            "financial": [],
            "customer": [f"F{(number - 1) % counts['financial'] + 1}"],
            "process": [f"C{(number - 1) % counts['customer'] + 1}"],
            "learning": [
                f"P{(number - 1) % counts['process'] + 1}",
                f"P{(number + 5) % counts['process'] + 1}",
            ],
        }[perspective]
        lines += [
            "[[objectives]]",
            f'id = "{id}"',
            f'perspective = "{perspective}"',
            f'title = "Objective {id}: improve area {index + 1}"',
            f'owner = "p{index % TEAMS + 1:02d}0@bench.example"',
            f"drives = {json.dumps(sorted(set(drives)))}",
        ]
        if perspective == "process":
            lines.append("capacity = 0.02")
        lines += [
            "",
            "[[measures]]",
            f'id = "{id}.m"',
            f'objective = "{id}"',
            f'title = "Indicator of {id}"',
            'unit = "points"',
            "baseline = 0",
            "target = 100",
            f'metric = "m_{id}"',
            "",
            "[[key_results]]",
            f'id = "{id}.KR1"',
            f'objective = "{id}"',
            f'title = "Deliver milestone of {id}"',
            f'owner = "p{index % TEAMS + 1:02d}1@bench.example"',
            "start = 0",
            "target = 10",
            "",
        ]
    lines += [
        "[[measures]]",
        'id = "F1.won"',
        'objective = "F1"',
        'title = "Won deal value"',
        'unit = "USD"',
        "baseline = 0",
        "target = 50000000",
        'sql = """select coalesce(sum(value), 0) from items where source = \'crm\'',
        'and state = \'done\' and closed_at >= :start and closed_at < :end"""',
        "",
        "[[measures]]",
        'id = "P1.merged"',
        'objective = "P1"',
        'title = "Pull requests merged"',
        'kind = "activity"',
        "target = 100000",
        'sql = """select count(*) from items where source = \'github\'',
        'and state = \'done\' and closed_at >= :start and closed_at < :end"""',
        "",
    ]
    lines += _rules()
    for source in SOURCES:
        system = {"crm": "crm", "calendar": "calendar"}.get(source, source)
        lines += [f"[sources.{source}]", 'plugin = "demo"', f'system = "{system}"', ""]
    return "\n".join(lines) + "\n"


def _rules() -> list[str]:
    ids = [id for id, _ in objective_ids()]
    rules: list[list[str]] = [
        [
            'name = "standups"',
            'category = "overhead"',
            'kind = "meeting"',
            "title = '(?i)standup|status sync|1:1'",
        ],
        ['name = "support"', 'category = "overhead"', 'labels = ["support-rotation"]'],
        [
            'name = "shared"',
            "objectives = { C1 = 0.6, P1 = 0.4 }",
            'labels = ["shared"]',
        ],
        ['name = "migrations"', 'objective = "P2"', "title = '(?i)\\bmigrat(e|ion)'"],
        [
            'name = "infra pulls"',
            'objective = "P3"',
            'source = "github"',
            'project = "bench/infra"',
        ],
    ]
    # 45 label rules; the last five objectives have none, so they show up
    # as neglected, as some objectives of a real scorecard do.
    for id in ids[:45]:
        rules.append(
            [f'name = "{id} work"', f'objective = "{id}"', f'labels = ["obj-{id}"]']
        )
    lines = []
    for rule in rules:
        lines += ["[[rules]]", *rule, ""]
    return lines


def generate(source: str, count: int, rng: random.Random) -> Iterator[WorkItem]:
    """``count`` work items of one source, spread over the quarter."""
    ids = [id for id, _ in objective_ids()]
    epics: list[str] = []
    for n in range(count):
        day = rng.random() * QUARTER_DAYS
        at = datetime(2026, 7, 1, tzinfo=UTC) + timedelta(days=day)
        team = f"t{rng.randrange(TEAMS) + 1:02d}"
        labels: list[str] = []
        roll = rng.random()
        if roll < 0.55:
            labels = [f"obj-{rng.choice(ids)}"]
        elif roll < 0.6:
            labels = ["support-rotation"]
        elif roll < 0.63:
            labels = ["shared"]
        fields: dict[str, Any] = {
            "id": f"{source}-{n}",
            "source": source,
            "team": team if rng.random() < 0.9 else None,
            "people": [f"p{team[1:]}{rng.randrange(3)}@bench.example"],
            "occurred_at": at,
            "updated_at": at,
            "effort": round(rng.uniform(0.5, 8.0), 2),
            "labels": labels,
        }
        if source == "jira":
            parent = (
                rng.choice(epics)
                if epics and not labels and rng.random() < 0.5
                else None
            )
            if n % 50 == 0:
                epics.append(fields["id"])
                fields["labels"] = [f"obj-{rng.choice(ids)}"]
            verb = rng.choice(("Fix", "Add", "Migrate", "Refactor", "Update"))
            fields |= {
                "kind": "issue",
                "key": f"B{int(team[1:])}-{n}",
                "title": f"{verb} component {rng.randrange(400)}",
                "url": f"https://bench.atlassian.example/browse/B-{n}",
                "project": f"B{int(team[1:])}",
                "parent": parent,
                "state": "done" if rng.random() < 0.6 else "open",
                "closed_at": at,
            }
        elif source == "github":
            repo = rng.choice(("bench/infra", "bench/web", "bench/api", "bench/legacy"))
            fields |= {
                "kind": "pull_request",
                "key": f"{repo}#{n}",
                "title": f"{rng.choice(('Bump', 'Fix', 'Add'))} module "
                f"{rng.randrange(300)}",
                "url": f"https://github.example/{repo}/pull/{n}",
                "project": repo,
                "state": "done" if rng.random() < 0.8 else "open",
                "closed_at": at,
            }
        elif source == "calendar":
            title = rng.choice(
                ("Daily standup", "Weekly status sync", "Design review", "Planning")
            )
            fields |= {"kind": "meeting", "title": title, "state": "done"}
        else:
            won = rng.random() < 0.3
            fields |= {
                "kind": "opportunity",
                "key": f"OPP-{n}",
                "title": f"Deal with account {rng.randrange(2000)}",
                "url": f"https://crm.example/opportunity/{n}",
                "value": round(rng.uniform(5000, 200000), 2),
                "state": "done" if won else "open",
                "closed_at": at if won else None,
            }
        yield WorkItem(**fields)


def build(
    folder: Path,
    items: int,
    snapshots: int,
    scored: int,
    seed: int = 7,
    *,
    keep_items: bool = False,
) -> dict[str, Any]:
    """Write the benchmark's workspace into ``folder``; returns what it built.

    :param keep_items: keep the items and metrics a build already stored
        there (after an interrupted build), and score and copy again.
    """
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "headway.toml"
    if not keep_items:
        for name in ("headway.db", "headway.db-wal", "headway.db-shm"):
            (folder / name).unlink(missing_ok=True)
    path.write_text(config_text(), encoding="utf-8")
    plugins = Plugins.create(entry_points=False)
    config = load_config(
        path, plugins=plugins.connectors().keys(), functions=plugins.measures().keys()
    )
    rng = random.Random(seed)
    with Store.open(config.database) as store:
        if keep_items:
            with store.transaction() as conn:
                for table in ("insights", "allocations", "scores", "snapshots"):
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("DELETE FROM manual_values")
            (items,) = store.conn.execute("SELECT count(*) FROM items").fetchone()
        else:
            _items(store, items, rng)
            _metrics(store, rng)
        days = _score_days(scored)
        for index, day in enumerate(days):
            for id, _ in objective_ids():
                record_value(
                    store,
                    config.scorecard,
                    f"{id}.KR1",
                    min(10.0, (index + 1) * rng.uniform(1.0, 3.0)),
                    datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                )
            score(config, store, plugins, as_of=day)
        copies = _copy_snapshots(store, snapshots - len(days))
    return {
        "items": items,
        "snapshots": len(days) + copies,
        "scored": len(days),
        "objectives": len(objective_ids()),
        "teams": TEAMS,
        "seconds": time.perf_counter() - started,
        "config": str(path),
        "database": str(config.database),
    }


def _items(store: Store, items: int, rng: random.Random) -> None:
    """Store ``items`` work items over the four sources, a run per source,
    page by page as a sync does."""
    per_source = [items // len(SOURCES)] * len(SOURCES)
    per_source[0] += items - sum(per_source)
    for source, count in zip(SOURCES, per_source, strict=True):
        run = store.start_run(source, "demo", full=True)
        batch: list[Any] = []
        for item in generate(source, count, rng):
            batch.append(item)
            if len(batch) == PAGE:
                store.write_page(source, run, Page(batch, stream="bench"))
                batch = []
        if batch:
            store.write_page(source, run, Page(batch, stream="bench"))
        store.finish_run(run, "ok")


def describe(folder: Path) -> dict[str, Any]:
    """What an earlier :func:`build` left in ``folder``."""
    database = folder / "headway.db"
    if not database.exists():
        raise SystemExit(f"no benchmark store in {folder}; build it without --reuse")
    conn = sqlite3.connect(database)
    try:
        (items,) = conn.execute("SELECT count(*) FROM items").fetchone()
        snapshots, scored = conn.execute(
            "SELECT count(*), count(as_of) FROM snapshots"
        ).fetchone()
    finally:
        conn.close()
    return {
        "items": items,
        "snapshots": snapshots,
        "scored": scored,
        "objectives": len(objective_ids()),
        "teams": TEAMS,
        "seconds": 0.0,
        "config": str(folder / "headway.toml"),
        "database": str(database),
    }


def _metrics(store: Store, rng: random.Random) -> None:
    run = store.start_run("metrics", "demo", full=True)
    points = []
    for id, _ in objective_ids():
        level = rng.uniform(10, 60)
        for week in range(13):
            level += rng.uniform(-2, 5)
            at = datetime(2026, 7, 3, tzinfo=UTC) + timedelta(weeks=week)
            points.append(MetricPoint(name=f"m_{id}", at=at, value=round(level, 2)))
    store.write_page("metrics", run, Page(points, stream="bench"))
    store.finish_run(run, "ok")


def _score_days(scored: int) -> list[date]:
    scored = max(1, scored)
    last = QUARTER_DAYS - 1
    step = last / scored
    return [
        QUARTER_START + timedelta(days=round(last - step * (scored - 1 - i)))
        for i in range(scored)
    ]


def _copy_snapshots(store: Store, count: int) -> int:
    """Add ``count`` copies of the scored snapshots, spread over the times
    before the latest one, so that it stays the latest."""
    if count <= 0:
        return 0
    conn = store.conn
    real = conn.execute(
        "SELECT id, taken_at FROM snapshots ORDER BY taken_at, id"
    ).fetchall()
    first = datetime.fromisoformat(real[0][1]) - timedelta(days=30)
    last = datetime.fromisoformat(real[-1][1])
    columns = {
        table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        for table in ("snapshots", "scores", "allocations", "insights")
    }
    kept = [c for c in columns["snapshots"] if c not in ("id", "taken_at", "as_of")]
    step = (last - first) / (count + 1)
    with store.transaction() as tx:
        for n in range(count):
            moment = first + step * (n + 1)
            stamp = format_utc(moment)
            source = max(
                (r for r in real if r[1] <= stamp), key=lambda r: r[1], default=real[0]
            )[0]
            cursor = tx.execute(
                f"INSERT INTO snapshots (taken_at, as_of, {', '.join(kept)}) "
                f"SELECT ?, NULL, {', '.join(kept)} FROM snapshots WHERE id = ?",
                (stamp, source),
            )
            new = cursor.lastrowid
            for table in ("scores", "allocations", "insights"):
                rest = [c for c in columns[table] if c != "snapshot_id"]
                tx.execute(
                    f"INSERT INTO {table} (snapshot_id, {', '.join(rest)}) "
                    f"SELECT ?, {', '.join(rest)} FROM {table} WHERE snapshot_id = ?",
                    (new, source),
                )
    return count


# ---------------------------------------------------------------- timing


def time_baseline(database: Path, repeat: int) -> float:
    """The best time of one ``SELECT team, SUM(effort)`` scan over ``items``."""
    conn = sqlite3.connect(database)
    try:
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            conn.execute(BASELINE_SQL).fetchall()
            best = min(best, time.perf_counter() - started)
    finally:
        conn.close()
    return best


def time_report(config: Path, output: Path, repeat: int) -> float:
    """The best time of ``headway --config CONFIG report -o OUTPUT``."""
    cli = build_cli(Plugins.create(entry_points=False))
    runner = CliRunner()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = runner.invoke(
            cli, ["--config", str(config), "report", "-o", str(output)]
        )
        seconds = time.perf_counter() - started
        if result.exit_code != 0:
            raise SystemExit(f"headway report failed: {result.output}")
        best = min(best, seconds)
    return best


def time_browser(page: Path) -> float | None:
    """Milliseconds until Chromium has loaded and painted the report, or
    ``None`` when Chromium or ChromeDriver is not installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="headway-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(page.resolve().as_uri())
        return float(
            driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "const p = performance.getEntriesByType('paint').map(e => e.startTime);"
                "return Math.max(n.loadEventEnd, ...p);"
            )
        )
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Build, time and print; returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--scored", type=int, default=4, help="real score runs")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs to take the best of"
    )
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the store --keep built before (after an interrupted build: "
        "keep its items, score again)",
    )
    parser.add_argument("--browser", action="store_true", help="time Chromium too")
    args = parser.parse_args(argv)
    if args.reuse and args.keep is None:
        parser.error("--reuse needs --keep FOLDER")

    folder = args.keep or Path(tempfile.mkdtemp(prefix="headway-bench-report-"))
    try:
        built = describe(folder) if args.reuse else None
        if built is None or built["snapshots"] < args.snapshots:
            built = build(
                folder,
                args.items,
                args.snapshots,
                args.scored,
                keep_items=built is not None and built["items"] > 0,
            )
        copies = built["snapshots"] - built["scored"]
        print(
            f"store: {built['items']:,} items, {len(SOURCES)} sources, {TEAMS} teams, "
            f"{built['objectives']} objectives, 50 rules, "
            f"{built['snapshots']} snapshots ({built['scored']} scored, {copies} "
            "copies); "
            + (f"built in {built['seconds']:.1f} s" if built["seconds"] else "reused")
        )
        output = folder / "headway-report.html"
        baseline = time_baseline(Path(built["database"]), args.repeat)
        report = time_report(Path(built["config"]), output, args.repeat)
        size = output.stat().st_size
        ratio = report / baseline
        print(f"baseline: {BASELINE_SQL}: {baseline:.3f} s (best of {args.repeat})")
        print(
            f"headway report: {report:.3f} s (best of {args.repeat}), "
            f"{size / 1024 / 1024:.2f} MB"
        )
        print(f"ratio: {ratio:.2f} (target: at most {TARGET:g})")
        figures = {
            **built,
            "baseline": baseline,
            "report": report,
            "ratio": ratio,
            "size": size,
        }
        if args.browser:
            shown = time_browser(output)
            figures["browser_ms"] = shown
            print(
                "Chromium: not installed"
                if shown is None
                else f"Chromium: loaded and painted in {shown:.0f} ms"
            )
        return figures
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    figures = main()
    sys.exit(0 if figures["ratio"] <= TARGET else 1)
