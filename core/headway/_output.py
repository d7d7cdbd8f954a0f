"""Printing results: readable tables for people, JSON and CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

# Words shown beside every status, so status never depends on colour alone.
STATUS_STYLES = {
    "achieved": "bold green",
    "on track": "green",
    "behind": "yellow",
    "at risk": "red",
    "no data": "dim",
    "ok": "green",
    "partial": "yellow",
    "failed": "red",
    "running": "cyan",
    "pass": "green",
    "fail": "red",
    "warn": "yellow",
}


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (results) or stderr (progress, messages)."""
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for reading in full or for scripts: never truncate it.
    width = None if stream.isatty() else 1000
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout: strict JSON, so an infinite or
    NaN number (SQLite's ``1e999``) is written as ``null``."""
    options = {"indent": 2, "default": _json_default, "ensure_ascii": False}
    try:
        text = json.dumps(data, allow_nan=False, **options)
    except ValueError:
        text = json.dumps(_finite(data), allow_nan=False, **options)
    click.echo(text)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def print_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows as CSV with a header line on stdout."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    click.echo(buffer.getvalue(), nl=False)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Iterable[str] = (),
    status_column: str | None = None,
) -> None:
    """Print an aligned table on stdout; numbers right-aligned."""
    rows = [list(row) for row in rows]
    right = set(right) | {
        name
        for index, name in enumerate(columns)
        if _numeric_column(row[index] for row in rows)
    }
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left")
    status_index = columns.index(status_column) if status_column in columns else None
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            text = format_value(value)
            if index == status_index and text in STATUS_STYLES:
                text = f"[{STATUS_STYLES[text]}]{text}[/]"
            else:
                text = text.replace("[", r"\[")
            cells.append(text)
        table.add_row(*cells)
    console().print(table)


def _numeric_column(values: Iterable[Any]) -> bool:
    seen = False
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        seen = True
    return seen


def format_value(value: Any) -> str:
    """A cell's text: numbers rounded for reading, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
