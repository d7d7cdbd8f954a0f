"""Benchmark: `headway score` on a large store, against a plain SQL scan.

Builds a synthetic store through the real sync path (Store.write_page, one
run per source): four sources (jira, github, calendar, salesforce), 30 teams,
20 objectives, 50 rules with regexes, shares, categories, attributes, team
and people conditions, and epics whose stories and subtasks inherit. Then, in
a fresh process, it times

- the baseline: ``SELECT team, SUM(effort) FROM items GROUP BY team``;
- ``score`` cold (the rule set's first classification of every item), warm
  (nothing changed since), and incremental (after a sync changed 1 % of the
  items);

and prints each against the baseline, with the peak RSS of the scoring
process. ``--growth`` does it at 100k, 300k and 1M items and prints the time
per item. Run from the repository root:

    python benchmarks/score.py              # 1,000,000 items
    python benchmarks/score.py --growth     # 100k, 300k, 1M
    python benchmarks/score.py --items 5000 # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from headway.config import load_config
from headway.connectors import Page
from headway.model import MetricPoint, WorkItem
from headway.plugins import Plugins
from headway.snapshots import score
from headway.store import Store

TEAMS = 30
MEMBERS = 8
OBJECTIVES = 20
PAGE = 5000
START = datetime(2026, 7, 1, tzinfo=UTC)
DAYS = 92
SHARES = {"jira": 0.40, "github": 0.25, "calendar": 0.20, "salesforce": 0.15}
AS_OF = date(2026, 9, 30)
NOW = datetime(2026, 10, 5, tzinfo=UTC)


def person(team: int, n: int) -> str:
    return f"p{team:02d}.{n}@acme.example"


# ---------------------------------------------------------------- config


def write_config(folder: Path) -> Path:
    """The benchmark's headway.toml: 30 teams, 20 objectives, 50 rules."""
    lines = [
        "[scorecard]",
        'name = "Benchmark"',
        'database = "headway.db"',
        'period = "2026-Q3"',
        "",
    ]
    for team in range(TEAMS):
        members = ", ".join(f'"{person(team, n)}"' for n in range(MEMBERS))
        lines += [f"[teams.t{team:02d}]", f"members = [{members}]", ""]
    for team in range(TEAMS):
        for n in range(MEMBERS):
            lines += [
                f'[people."{person(team, n)}"]',
                f'aliases = ["github:u{team:02d}{n}", "jira:acc{team:02d}{n}"]',
            ]
    perspectives = ["financial", "customer", "process", "learning"]
    for index in range(OBJECTIVES):
        lines += [
            "",
            "[[objectives]]",
            f'id = "O{index:02d}"',
            f'perspective = "{perspectives[index % 4]}"',
            f'title = "Objective {index}"',
            f'owner = "{person(index, 0)}"',
        ]
        if index < 5:
            lines.append("capacity = 0.05")
        lines += [
            "",
            "[[measures]]",
            f'id = "O{index:02d}.m"',
            f'objective = "O{index:02d}"',
            "baseline = 0",
            "target = 100",
        ]
        if index < 3:
            # A few measures scan the store, as real SQL measures do.
            lines.append(
                'sql = "select count(*) / 1000.0 from items where occurred_at >= '
                ":start and occurred_at < :end and source = 'github'\""
            )
        else:
            lines.append(f'metric = "metric{index}"')
    lines += ["", *rules_toml()]
    path = folder / "headway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rules_toml() -> list[str]:
    """Fifty rules in the shapes real scorecards use."""
    rules: list[dict[str, str]] = [
        {"category": '"overhead"', "kind": '"meeting"', "title": '"(?i)standup"'},
        {"category": '"overhead"', "kind": '"meeting"', "title": '"^1:1 "'},
        {"category": '"overhead"', "kind": '"meeting"', "title": '"(?i)all-hands"'},
        {
            "category": '"overhead"',
            "kind": '"meeting"',
            "title": '"(?i)sprint (planning|retro)"',
        },
        {
            "objective": '"O01"',
            "kind": '"meeting"',
            "title": '"(?i)^(customer call|demo)"',
        },
        {
            "objectives": "{ O02 = 0.6, O03 = 0.4 }",
            "kind": '"meeting"',
            "title": '"^QBR"',
        },
        {"objective": '"O04"', "kind": '"meeting"', "title": r'"(?i)\\bincident\\b"'},
        {"category": '"overhead"', "source": '"github"', "labels": '"dependencies"'},
    ]
    # Epics: their stories and subtasks inherit.
    for n in range(12):
        rules.append(
            {
                "objective": f'"O{(n + 5) % OBJECTIVES:02d}"',
                "source": '"jira"',
                "attributes": '{ issuetype = "Epic" }',
                "labels": f'["epic{n}", "theme{n % 4}"]',
            }
        )
    # Pull requests by repository and title.
    for n in range(12):
        pattern = ("(?i)deploy|release", r"(?i)\\bci\\b", "(?i)onboarding", "(?i)perf")[
            n % 4
        ]
        rules.append(
            {
                "objective": f'"O{(n + 3) % OBJECTIVES:02d}"',
                "source": '"github"',
                "project": f'["acme/r{n:02d}", "acme/r{n + 12:02d}"]',
                "title": f'"{pattern}"',
            }
        )
    # Salesforce records by kind and attributes.
    rules += [
        {
            "objectives": "{ O00 = 0.7, O01 = 0.3 }",
            "source": '"salesforce"',
            "kind": '"opportunity"',
        },
        {
            "objectives": "{ O02 = 0.5, O06 = 0.5 }",
            "source": '"salesforce"',
            "kind": '"case"',
            "attributes": '{ priority = ["High", "Critical"] }',
        },
        {"objective": '"O02"', "source": '"salesforce"', "kind": '"case"'},
        {
            "objective": '"O07"',
            "source": '"salesforce"',
            "kind": '"call"',
            "team": '["t00", "t01", "t02"]',
        },
        {
            "category": '"overhead"',
            "source": '"salesforce"',
            "title": '"(?i)update crm"',
        },
    ]
    # Loose jira work by label, team or person.
    for n in range(8):
        rules.append(
            {
                "objective": f'"O{(n + 10) % OBJECTIVES:02d}"',
                "source": '"jira"',
                "labels": f'"label{n}"',
            }
        )
    rules += [
        {
            "objective": '"O18"',
            "source": '"jira"',
            "team": '["t03", "t04"]',
            "title": '"(?i)research"',
        },
        {"objective": '"O19"', "people": f'["{person(5, 0)}", "{person(6, 0)}"]'},
        {
            "category": '"overhead"',
            "source": '"jira"',
            "title": '"(?i)^(chore|cleanup)"',
        },
        {"category": '"unaligned"', "source": '"jira"', "title": '"(?i)spike"'},
        {
            "objective": '"O17"',
            "source": '"calendar"',
            "title": '"(?i)training|workshop"',
        },
    ]
    assert len(rules) == 50, len(rules)
    lines = []
    for index, rule in enumerate(rules, 1):
        lines += ["[[rules]]", f'name = "rule {index}"']
        lines += [f"{key} = {value}" for key, value in rule.items()]
        lines.append("")
    return lines


# ---------------------------------------------------------------- data


JIRA_WORDS = (
    "Add",
    "Fix",
    "Refactor",
    "Test",
    "Document",
    "Migrate",
    "Research",
    "Chore:",
)
PR_WORDS = ("Deploy", "Fix CI", "Onboarding step", "Perf tweak", "Refactor", "Bump")
MEETINGS = (
    "Daily standup",
    "1:1 sync",
    "Sprint planning",
    "Customer call: Globex",
    "Demo for Initech",
    "QBR: Acme",
    "Incident review",
    "Architecture review",
    "Training: SQL",
    "Weekly status",
)


def when(rng: random.Random) -> datetime:
    return START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))


def jira_items(rng: random.Random, count: int) -> Any:
    epics: list[str] = []
    stories: list[str] = []
    for n in range(count):
        team = rng.randrange(TEAMS)
        at = when(rng)
        ident = f"J{n}"
        roll = rng.random()
        if roll < 0.03 or not epics:
            epic = len(epics)
            epics.append(ident)
            yield WorkItem(
                id=ident,
                key=f"P{team:02d}-{n}",
                kind="issue",
                title=f"Epic {epic}",
                project=f"P{team:02d}",
                team=f"t{team:02d}" if team % 3 else None,
                people=(f"jira:acc{team:02d}0",),
                labels=(f"epic{epic % 12}",) if epic % 5 else (f"theme{epic % 4}",),
                occurred_at=at,
                effort=0.0,
                attributes={"issuetype": "Epic"},
            )
            continue
        parent = None
        if roll < 0.75:
            parent = rng.choice(epics[-200:])
        elif roll < 0.85 and stories:
            parent = rng.choice(stories[-500:])
        if roll < 0.75:
            stories.append(ident)
        labels = (f"label{rng.randrange(12)}",) if rng.random() < 0.3 else ()
        yield WorkItem(
            id=ident,
            key=f"P{team:02d}-{n}",
            kind="issue",
            title=f"{rng.choice(JIRA_WORDS)} item {rng.randrange(500)}",
            project=f"P{team:02d}",
            team=f"t{team:02d}" if team % 3 else None,
            people=(
                f"jira:acc{team:02d}{rng.randrange(MEMBERS)}",
                person(team, 0),
            ),
            state=rng.choice(("open", "done", "done")),
            occurred_at=at,
            effort=round(rng.uniform(0.5, 12), 1),
            labels=labels,
            parent=parent,
            attributes={"issuetype": rng.choice(("Story", "Task", "Bug"))},
        )


def github_items(rng: random.Random, count: int) -> Any:
    for n in range(count):
        team = rng.randrange(TEAMS)
        word = rng.choice(PR_WORDS)
        bump = word == "Bump"
        yield WorkItem(
            id=f"G{n}",
            key=f"acme/r{n % 40:02d}#{n}",
            kind="pull_request",
            title=f"{word} {rng.randrange(300)}",
            project=f"acme/r{n % 40:02d}",
            people=(
                f"github:u{team:02d}{rng.randrange(MEMBERS)}",
                f"github:u{team:02d}{rng.randrange(MEMBERS)}",
            ),
            state=rng.choice(("open", "done", "cancelled")),
            occurred_at=when(rng),
            effort=0.5 if bump else 2.0,
            labels=("dependencies",) if bump else (),
        )


def calendar_items(rng: random.Random, count: int) -> Any:
    for n in range(count):
        team = rng.randrange(TEAMS)
        people = tuple(
            person(team, m) for m in rng.sample(range(MEMBERS), rng.randint(2, 6))
        )
        yield WorkItem(
            id=f"C{n}",
            kind="meeting",
            title=rng.choice(MEETINGS),
            people=people,
            state="done",
            occurred_at=when(rng),
            effort=round(len(people) * rng.choice((0.25, 0.5, 1.0)), 2),
            attributes={"attendees": len(people)},
        )


def salesforce_items(rng: random.Random, count: int) -> Any:
    for n in range(count):
        team = rng.randrange(TEAMS)
        kind = rng.choices(("opportunity", "case", "call", "task"), (3, 3, 3, 1))[0]
        yield WorkItem(
            id=f"S{n}",
            kind=kind,
            title="Update CRM notes" if kind == "task" else f"{kind} {n}",
            project=kind.title(),
            people=(person(team, rng.randrange(MEMBERS)),),
            state="done",
            occurred_at=when(rng),
            effort=round(rng.uniform(0.2, 6), 1),
            value=round(rng.uniform(1000, 90000), 2) if kind == "opportunity" else None,
            attributes={"priority": rng.choice(("Low", "Medium", "High", "Critical"))},
        )


GENERATORS = {
    "jira": jira_items,
    "github": github_items,
    "calendar": calendar_items,
    "salesforce": salesforce_items,
}


def build(folder: Path, items: int, seed: int = 7) -> Path:
    """Write the config and fill the store through sync runs; returns the config."""
    config = write_config(folder)
    store = Store.open(folder / "headway.db")
    try:
        for source, share in SHARES.items():
            rng = random.Random(f"{source}:{seed}")
            run = store.start_run(source, "benchmark")
            batch: list[Any] = []
            for work in GENERATORS[source](rng, round(items * share)):
                batch.append(work)
                if len(batch) >= PAGE:
                    store.write_page(source, run, Page(batch, stream="items"))
                    batch = []
            if batch:
                store.write_page(source, run, Page(batch, stream="items"))
            store.finish_run(run, "ok")
        run = store.start_run("metrics", "benchmark")
        points = [
            MetricPoint(f"metric{n}", START + timedelta(days=day), n + day / 2)
            for n in range(OBJECTIVES)
            for day in range(0, DAYS, 7)
        ]
        store.write_page("metrics", run, Page(points, stream="metrics"))
        store.finish_run(run, "ok")
    finally:
        store.close()
    return config


def touch(folder: Path, share: float = 0.01, seed: int = 7) -> int:
    """A sync that changes ``share`` of the jira items (their titles)."""
    store = Store.open(folder / "headway.db")
    try:
        rng = random.Random(f"touch:{seed}")
        count = store.conn.execute(
            "SELECT count(*) FROM items WHERE source = 'jira'"
        ).fetchone()[0]
        changed = 0
        run = store.start_run("jira", "benchmark")
        batch: list[Any] = []
        for work in jira_items(random.Random(f"jira:{seed}"), count):
            if rng.random() < share:
                # The run's number makes each touch a change, also of a
                # store an earlier run of the benchmark touched (--folder).
                edited = f"{work.title} (edited in run {run})"
                batch.append(attrs.evolve(work, title=edited))
                changed += 1
            if len(batch) >= PAGE:
                store.write_page("jira", run, Page(batch, stream="items"))
                batch = []
        if batch:
            store.write_page("jira", run, Page(batch, stream="items"))
        store.finish_run(run, "ok")
    finally:
        store.close()
    return changed


# ---------------------------------------------------------------- measuring


class Timer:
    """Wall-clock and CPU seconds of a block (CPU is steadier on a busy machine)."""

    def __enter__(self) -> Timer:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def baseline(path: Path, repeat: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds of one GROUP BY scan, on a fresh connection."""
    import sqlite3

    walls, cpus = [], []
    for _ in range(repeat):
        conn = sqlite3.connect(path)
        with Timer() as timer:
            conn.execute("SELECT team, SUM(effort) FROM items GROUP BY team").fetchall()
        walls.append(timer.wall)
        cpus.append(timer.cpu)
        conn.close()
    return statistics.median(walls), statistics.median(cpus)


def fresh_name(round_number: int) -> str:
    """A rule name no earlier run gave: the round and a random part, so a
    store kept with --folder meets a new rule set in every round too."""
    return f"rule 1 (round {round_number}, {os.urandom(4).hex()})"


def fresh_rules(config: Any, round_number: int) -> Any:
    """The configuration with a rule set the store has not seen: the first
    rule's name is part of the rules hash."""
    scorecard = config.scorecard
    first, *rest = scorecard.rules
    renamed = attrs.evolve(first, name=fresh_name(round_number))
    return attrs.evolve(
        config, scorecard=attrs.evolve(scorecard, rules=(renamed, *rest))
    )


SCORES = ("cold", "warm", "incremental", "command")


def measure(folder: Path, rounds: int = 3) -> dict[str, Any]:
    """Baseline and score timings in this process (run it in a fresh one).

    Each round times the baseline, then a cold score (a rule set new to the
    store), a warm one and, after a sync that changed 1 % of the jira items,
    an incremental one. Each score's ratio is taken against its own round's
    baseline, so a machine that speeds up or slows down during the run
    affects both sides of a ratio alike.
    """
    config = load_config(folder / "headway.toml")
    plugins = Plugins.create(entry_points=False)
    database = folder / "headway.db"
    result: dict[str, Any] = {"items": _count(database), "rounds": []}
    for number in range(1, rounds + 1):
        figures: dict[str, Any] = {}
        figures["baseline"], figures["baseline_cpu"] = baseline(database)
        variant = fresh_rules(config, number)
        with Store.open(database) as store:
            with Timer() as timer:
                cold = score(variant, store, plugins, as_of=AS_OF, now=NOW)
            figures["cold"], figures["cold_cpu"] = timer.wall, timer.cpu
            figures["cold_steps"] = dict(cold.timings)
            figures["cold_steps_cpu"] = dict(cold.cpu_timings)
            figures["classified"] = cold.classification.classified
            with Timer() as timer:
                warm = score(variant, store, plugins, as_of=AS_OF, now=NOW)
            figures["warm"], figures["warm_cpu"] = timer.wall, timer.cpu
            figures["warm_steps"] = dict(warm.timings)
            figures["warm_steps_cpu"] = dict(warm.cpu_timings)
            figures["alignment"] = cold.data["snapshot"]["alignment"]
        figures["command"], figures["command_cpu"] = time_command(folder, number)
        figures["changed"] = touch(folder)
        with Store.open(database) as store:
            with Timer() as timer:
                incremental = score(variant, store, plugins, as_of=AS_OF, now=NOW)
            figures["incremental"] = timer.wall
            figures["incremental_cpu"] = timer.cpu
            figures["reclassified"] = incremental.classification.classified
        result["rounds"].append(figures)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def time_command(folder: Path, round_number: int) -> tuple[float, float]:
    """Wall and CPU seconds of the command ``headway score``, cold, run in
    this process as a user runs it, less Python's start: reading the
    configuration, opening the store (its damage check reads every page),
    scoring and printing. Its configuration has a rule set new to the store."""
    from click.testing import CliRunner

    from headway.cli import build_cli

    text = (folder / "headway.toml").read_text(encoding="utf-8")
    renamed = text.replace('name = "rule 1"', f'name = "{fresh_name(round_number)}"', 1)
    variant = folder / f"headway-command-{round_number}.toml"
    variant.write_text(renamed, encoding="utf-8")
    cli = build_cli(Plugins.create(entry_points=False))
    with Timer() as timer:
        result = CliRunner().invoke(
            cli, ["--config", str(variant), "score", "--as-of", AS_OF.isoformat()]
        )
    variant.unlink()
    if result.exit_code != 0:
        raise SystemExit(f"headway score failed: {result.output}")
    return timer.wall, timer.cpu


def medians(result: dict[str, Any]) -> dict[str, float]:
    """Median seconds of each measurement and median ratio of each score
    over the rounds (``cold`` and ``cold_ratio``, ``cold_cpu`` and
    ``cold_cpu_ratio``, ...)."""
    rounds = result["rounds"]
    found: dict[str, float] = {}
    for clock in ("", "_cpu"):
        found[f"baseline{clock}"] = statistics.median(
            r[f"baseline{clock}"] for r in rounds
        )
        for name in SCORES:
            found[f"{name}{clock}"] = statistics.median(
                r[f"{name}{clock}"] for r in rounds
            )
            found[f"{name}{clock}_ratio"] = statistics.median(
                r[f"{name}{clock}"] / r[f"baseline{clock}"] for r in rounds
            )
    return found


def _count(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        conn.close()


def run_size(items: int, folder: Path, rounds: int) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not (folder / "headway.db").exists():
        build(folder, items)
    built = time.perf_counter() - started
    # What building wrote reaches the disk before anything is timed.
    os.sync()
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(folder), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise SystemExit(f"measuring failed:\n{child.stderr}")
    result = json.loads(child.stdout)
    result["build"] = built
    return result


def report(result: dict[str, Any]) -> None:
    found = medians(result)
    rounds = result["rounds"]
    print(
        f"items: {result['items']:,} (built in {result['build']:.1f} s), "
        f"{len(rounds)} round(s); medians, ratios against each round's baseline"
    )
    print(
        "  baseline  SELECT team, SUM(effort) FROM items GROUP BY team: "
        f"{found['baseline']:.2f} s wall, {found['baseline_cpu']:.2f} s CPU  "
        f"(rounds: {_list(r['baseline'] for r in rounds)})"
    )
    for name in SCORES:
        label = "headway score" if name == "command" else f"score {name}"
        print(
            f"  {label:<18} {found[name]:6.2f} s wall (ratio "
            f"{found[name + '_ratio']:5.2f})  {found[name + '_cpu']:6.2f} s CPU "
            f"(ratio {found[name + '_cpu_ratio']:5.2f})  "
            f"(rounds: {_list(r[name] for r in rounds)})"
        )
    for name in ("cold", "warm"):
        steps = _median_steps(rounds, f"{name}_steps")
        cpu = _median_steps(rounds, f"{name}_steps_cpu")
        line = ", ".join(f"{k} {v:.2f}/{cpu[k]:.2f}" for k, v in steps.items())
        print(f"    {name} steps (s, wall/CPU, medians): {line}")
    last = rounds[-1]
    print(
        f"    classified {last['classified']:,} items cold, "
        f"{last['reclassified']:,} after a sync changed {last['changed']:,}"
    )
    print(f"  peak RSS of the scoring process: {result['rss_mb']:.0f} MB")
    print(
        f"  time per item, cold: {1e6 * found['cold'] / result['items']:.2f} us wall, "
        f"{1e6 * found['cold_cpu'] / result['items']:.2f} us CPU"
    )


def _list(values: Any) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _median_steps(rounds: list[dict[str, Any]], key: str) -> dict[str, float]:
    names = rounds[0][key]
    return {n: statistics.median(r[key][n] for r in rounds) for n in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--growth", action="store_true", help="100k, 300k and 1M")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size")
    parser.add_argument("--folder", type=Path, help="keep the stores here (reused)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        print(json.dumps(measure(args.measure, args.rounds)))
        return 0
    sizes = [100_000, 300_000, 1_000_000] if args.growth else [args.items]
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.folder or Path(scratch)
        results = [run_size(n, root / f"items-{n}", args.rounds) for n in sizes]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        report(result)
    if len(results) > 1:
        found = [medians(r) for r in results]
        for name in ("cold", "cold_cpu", "warm", "warm_cpu"):
            per_item = [
                f[name] / r["items"] for f, r in zip(found, results, strict=True)
            ]
            print(
                f"growth of time per item ({name.replace('_', ' ')}), smallest to "
                f"largest: {per_item[-1] / per_item[0]:.2f}x"
            )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
