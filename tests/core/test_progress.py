"""Sync progress: a live line per source on a terminal, log lines elsewhere."""

from __future__ import annotations

import io
import time

from rich.console import Console

from headway._progress import TerminalProgress
from headway.sync import SourceResult

TWO_SOURCES = """
[sources.alpha]
plugin = "scripted"
count = 12
page_size = 5

[sources.beta]
plugin = "scripted"
count = 3
prefix = "B"
"""


def test_without_a_terminal_each_source_says_it_started_and_how_it_ended(
    run_cli, write_config, scripted
):
    path = write_config(TWO_SOURCES)

    result = run_cli("--config", str(path), "sync")

    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "info: alpha: syncing (scripted)" in lines
    assert "info: beta: syncing (scripted)" in lines
    assert any(x.startswith("info: alpha: ok, 12 items in 3 pages") for x in lines)
    assert any(x.startswith("info: beta: ok, 3 items in 1 pages") for x in lines)
    # Progress is stderr's: the results on stdout stay clean.
    assert "syncing" not in result.stdout


def test_quiet_silences_the_progress_lines(run_cli, write_config, scripted):
    path = write_config(TWO_SOURCES)

    result = run_cli("--config", str(path), "-q", "sync")

    assert result.exit_code == 0, result.output
    assert "syncing" not in result.stderr and "items in" not in result.stderr


def test_a_terminal_shows_one_live_line_per_source():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    progress = TerminalProgress(console)
    result = SourceResult("jira", "jira", 1, started=time.monotonic() - 2)

    progress.start("jira", "jira")
    result.items, result.pages = 250, 3
    progress.advance(result)
    result.status = "ok"
    progress.finish(result)
    progress.close()

    text = out.getvalue()
    assert "jira" in text
    assert "250 items, 3 pages" in text
    assert "ok: 250 items, 3 pages" in text
