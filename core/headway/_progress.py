"""Progress on a terminal: one live line per source, on stderr."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import Progress as RichBar
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from .sync import Progress, SourceResult


class TerminalProgress(Progress):
    """A live display of items, pages and rate per source."""

    def __init__(self, console: Console):
        self._bar = RichBar(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[source]}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._bar.start()

    def start(self, source: str, plugin: str) -> None:
        self._tasks[source] = self._bar.add_task(
            source, total=None, source=source, detail=f"starting ({plugin})"
        )

    def advance(self, result: SourceResult) -> None:
        elapsed = max(time.monotonic() - result.started, 1e-9)
        detail = (
            f"{result.items:,} items, {result.pages:,} pages, "
            f"{result.items / elapsed:,.0f}/s"
        )
        self._bar.update(self._tasks[result.source], detail=detail)

    def finish(self, result: SourceResult) -> None:
        detail = f"{result.status}: {result.items:,} items, {result.pages:,} pages"
        task = self._tasks[result.source]
        self._bar.update(task, detail=detail, total=1, completed=1)

    def close(self) -> None:
        self._bar.stop()
