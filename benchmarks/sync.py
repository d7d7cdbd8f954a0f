"""Benchmark 1: ``headway sync`` of a large Jira Cloud against a bare loop.

Run from the repository's root::

    python -m benchmarks.sync                  # 100,000 issues, 3 rounds
    python -m benchmarks.sync --issues 20000 --rounds 1 --sizes 5000,10000

A fake Jira Cloud (:mod:`benchmarks._jira_site`) serves the issues from
pre-built bytes on loopback, in threads of this process. Each round runs,
in fresh processes and alternating which goes first, the baseline
(:mod:`benchmarks._baseline`) into an empty database and ``headway sync``
into an empty workspace, then a second ``headway sync`` of that workspace
with nothing changed. The figures printed are medians over the rounds;
then one first sync at each of ``--sizes`` shows whether peak memory grows
with the number of issues. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ._jira_site import EMAIL, JQL, ROOT, TEAMS, TOKEN, Server, Site

#: Columns compared between headway's store and the baseline's table.
COMPARED = (
    "source, id, key, kind, title, url, project, team, people, status, state, "
    "created_at, updated_at, closed_at, occurred_at, effort, points, value, labels, "
    "parent, attributes"
)
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 250
TARGET_INCREMENTAL = 0.05


class BenchmarkError(Exception):
    """A run failed, or headway and the baseline stored different rows."""


@attrs.frozen
class Run:
    """One measured process."""

    seconds: float
    peak_rss_kib: int
    items: int

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.items / self.seconds if self.seconds else 0.0


@attrs.frozen
class Figures:
    """Everything one benchmark measured."""

    issues: int
    baseline: list[Run]
    first: list[Run]
    incremental: list[Run]
    memory: dict[int, int]
    same_rows: bool
    cores: int
    load: tuple[float, float, float]

    @property
    def baseline_rate(self) -> float:
        """Median items per second of the baseline."""
        return statistics.median(r.rate for r in self.baseline)

    @property
    def headway_rate(self) -> float:
        """Median items per second of headway's first sync."""
        return statistics.median(r.rate for r in self.first)

    @property
    def ratio(self) -> float:
        """headway's items per second over the baseline's (medians)."""
        return self.headway_rate / self.baseline_rate

    @property
    def incremental_share(self) -> float:
        """The median second sync's time over the median first sync's."""
        first = statistics.median(r.seconds for r in self.first)
        return statistics.median(r.seconds for r in self.incremental) / first


def write_workspace(folder: Path, url: str) -> Path:
    """A ``headway.toml`` with one Jira source at ``url``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    teams = ", ".join(f'{key} = "{team}"' for key, team in TEAMS.items())
    config = folder / "headway.toml"
    config.write_text(
        f"""\
[scorecard]
name = "Sync benchmark"
database = "headway.db"
period = "2026-Q1"

[sources.jira]
plugin = "jira"
url = "{url}"
email = "${{JIRA_EMAIL}}"
token = "${{JIRA_API_TOKEN}}"
jql = "{JQL}"
teams = {{ {teams} }}
""",
        encoding="utf-8",
    )
    return config


def _child(kind: str, *args: str) -> tuple[dict[str, Any], str]:
    with tempfile.TemporaryDirectory(prefix="headway-bench-") as scratch:
        out = Path(scratch) / "figures.json"
        env = {
            **os.environ,
            "JIRA_EMAIL": EMAIL,
            "JIRA_API_TOKEN": TOKEN,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks._child", kind, *args, str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            raise BenchmarkError(
                f"the {kind} run failed (exit {done.returncode}):\n"
                f"{done.stdout}\n{done.stderr}"
            )
        figures = json.loads(out.read_text(encoding="utf-8"))
    if figures.get("exit"):
        raise BenchmarkError(
            f"the {kind} run exited {figures['exit']}:\n{done.stdout}\n{done.stderr}"
        )
    return figures, done.stdout


def run_baseline(url: str, database: Path) -> Run:
    """The baseline into a new database."""
    figures, _ = _child("baseline", url, str(database))
    return Run(figures["seconds"], figures["peak_rss_kib"], figures["items"])


def run_headway(config: Path, expected: int | None = None) -> Run:
    """``headway sync`` of the workspace; ``items`` counts the issues read."""
    figures, stdout = _child("headway", str(config))
    (result,) = json.loads(stdout)
    if result["status"] != "ok":
        raise BenchmarkError(f"headway sync ended {result['status']}: {result}")
    if expected is not None and result["items"] != expected:
        raise BenchmarkError(
            f"headway stored {result['items']} issues, not {expected}: {result}"
        )
    return Run(figures["seconds"], figures["peak_rss_kib"], result["items"])


def same_rows(store: Path, baseline: Path) -> bool:
    """Whether headway's items and the baseline's hold the same values."""
    query = f"SELECT {COMPARED} FROM items ORDER BY source, id"
    with sqlite3.connect(store) as a, sqlite3.connect(baseline) as b:
        return a.execute(query).fetchall() == b.execute(query).fetchall()


def measure(
    issues: int,
    rounds: int,
    sizes: Sequence[int],
    folder: Path,
) -> Figures:
    """Run the benchmark: ``rounds`` side by side, then memory at ``sizes``."""
    baseline, first, incremental = [], [], []
    memory: dict[int, list[int]] = {}
    matches = True
    site = Site(issues)
    with Server(site) as server:
        for number in range(rounds):
            here = folder / f"round{number}"
            config = write_workspace(here / "workspace", server.url)
            database = here / "baseline.db"

            def headway(config: Path = config) -> None:
                run = run_headway(config, expected=issues)
                first.append(run)
                memory.setdefault(issues, []).append(run.peak_rss_kib)
                incremental.append(run_headway(config))

            def bare(database: Path = database) -> None:
                baseline.append(run_baseline(server.url, database))

            for step in (bare, headway) if number % 2 == 0 else (headway, bare):
                step()
            matches = matches and same_rows(here / "workspace" / "headway.db", database)
    del site
    for size in sizes:
        if size == issues:
            continue
        smaller = Site(size)
        with Server(smaller) as server:
            config = write_workspace(folder / f"size{size}", server.url)
            memory[size] = [run_headway(config, expected=size).peak_rss_kib]
        del smaller
    return Figures(
        issues=issues,
        baseline=baseline,
        first=first,
        incremental=incremental,
        memory={size: max(values) for size, values in sorted(memory.items())},
        same_rows=matches,
        cores=os.cpu_count() or 1,
        load=os.getloadavg(),
    )


def report(figures: Figures) -> str:
    """The figures as the lines the benchmark prints."""
    lines = [
        f"sync benchmark: {figures.issues:,} Jira issues in pages of 100, "
        f"{len(figures.first)} round(s); {figures.cores} cores, load average "
        + " ".join(f"{x:.2f}" for x in figures.load),
        "",
        f"  baseline (requests + sqlite3)  {figures.baseline_rate:10,.0f} items/s  "
        + _seconds(figures.baseline),
        f"  headway sync (first)           {figures.headway_rate:10,.0f} items/s  "
        + _seconds(figures.first),
        f"  ratio headway / baseline       {figures.ratio:10.2f}          "
        f"(target >= {TARGET_RATIO}: {_verdict(figures.ratio >= TARGET_RATIO)})",
        f"  same rows stored               {'yes' if figures.same_rows else 'NO':>10}",
        f"  incremental, nothing changed   {figures.incremental_share:10.1%} of the "
        f"first  {_seconds(figures.incremental)}  "
        f"(target <= {TARGET_INCREMENTAL:.0%}: "
        f"{_verdict(figures.incremental_share <= TARGET_INCREMENTAL)})",
        "  peak RSS of headway sync (first sync, MiB):",
    ]
    peaks = [kib / 1024 for kib in figures.memory.values()]
    for size, kib in figures.memory.items():
        lines.append(f"    {size:>9,} issues  {kib / 1024:7.1f}")
    lines.append(
        f"    growth smallest to largest: {peaks[-1] - peaks[0]:+.1f} MiB "
        f"(target <= {TARGET_RSS_MIB} MiB and flat: "
        f"{_verdict(max(peaks) <= TARGET_RSS_MIB)})"
    )
    rss = statistics.median(r.peak_rss_kib for r in figures.incremental) / 1024
    lines.append(f"    incremental sync: {rss:.1f} MiB")
    return "\n".join(lines)


def _seconds(runs: Sequence[Run]) -> str:
    return "s: " + ", ".join(f"{r.seconds:.2f}" for r in runs)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: measure, print, exit 1 if headway stored other rows."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sync")
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--sizes",
        default="25000,50000",
        help="comma-separated issue counts of the memory runs",
    )
    parser.add_argument("--keep", type=Path, help="keep the workspaces here")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    if args.keep:
        figures = measure(args.issues, args.rounds, sizes, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="headway-bench-") as folder:
            figures = measure(args.issues, args.rounds, sizes, Path(folder))
    print(report(figures))
    return 0 if figures.same_rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
