"""One measured run, in a fresh process: ``headway sync`` or the baseline.

``python -m benchmarks._child headway CONFIG OUT`` runs the real command
line (``headway --config CONFIG -q sync --json``, plugins found through
their entry points as an installed headway finds them);
``python -m benchmarks._child baseline URL DATABASE OUT`` runs the bare
loop of :mod:`benchmarks._baseline`. Either writes to OUT, as JSON, its
seconds (from this module's first line, so imports count) and the
process's peak resident memory.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402 - after the clock starts, so imports are timed
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def peak_rss_kib() -> int:
    """The process's peak resident set (``VmHWM``), in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_headway(config: str) -> dict[str, Any]:
    """``headway sync`` of every source in ``config``."""
    from headway.cli import main

    try:
        main(["--config", config, "-q", "sync", "--json"])
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    else:
        code = 0
    return {"exit": code}


def run_baseline(url: str, database: str) -> dict[str, Any]:
    """The bare ``requests`` and ``sqlite3`` loop."""
    from benchmarks import _baseline
    from benchmarks._jira_site import EMAIL, JQL, TEAMS, TOKEN

    rows = _baseline.sync(
        url, database, email=EMAIL, token=TOKEN, jql=JQL, teams=dict(TEAMS)
    )
    return {"exit": 0, "items": rows}


def main(argv: list[str]) -> None:
    """Run what ``argv`` names and write the figures."""
    kind, *args, out = argv
    if kind == "headway":
        figures = run_headway(*args)
    elif kind == "baseline":
        figures = run_baseline(*args)
    else:
        raise SystemExit(f"unknown run {kind!r}: headway or baseline")
    figures["seconds"] = time.perf_counter() - STARTED
    figures["peak_rss_kib"] = peak_rss_kib()
    Path(out).write_text(json.dumps(figures), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
