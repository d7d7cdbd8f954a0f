"""Creating workspaces: ``headway init`` and the demo's folder."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from .demo import demo_config
from .errors import HeadwayError

DEMO_MARKER = "# headway demo:"
#: The store a demo workspace's configuration names.
DEMO_STORE = "headway.db"

INIT_TEMPLATE = """# headway configuration. Reference: docs/config.md
# Secrets never go in this file: write "${{VARIABLE}}" and export it.

[scorecard]
name = "My company"
database = "headway.db"       # relative to this file
period = "{period}"           # YYYY-Qn, YYYY-MM, YYYY or START..END

# The four perspectives of a Balanced Scorecard, equally weighted. Re-title,
# re-weight (weights are relative) or add your own.
[perspectives.financial]
title = "Financial"
weight = 1

[perspectives.customer]
title = "Customer"
weight = 1

[perspectives.process]
title = "Internal process"
weight = 1

[perspectives.learning]
title = "Learning and growth"
weight = 1

# Teams own effort; an item's team is its connector's, else the team of its
# first person listed here. [people] joins one person's tool identities.
# [teams.platform]
# title = "Platform"
# members = ["alice@example.com"]
#
# [people."alice@example.com"]
# aliases = ["github:alice"]

# Objectives: what the strategy needs, per perspective. `drives` draws the
# arrows of the strategy map (from learning towards financial).
# [[objectives]]
# id = "P1"
# perspective = "process"
# title = "Automate the release pipeline"
# owner = "alice@example.com"
# drives = ["C1"]

# Measures (KPIs) say whether an objective moves: from `sql` over the store,
# the latest `metric`, a plugin `function`, or values from `headway record`.
# [[measures]]
# id = "P1.lead_time"
# objective = "P1"
# title = "Median pull request lead time"
# unit = "hours"
# baseline = 72
# target = 24
# sql = "select ... from items where closed_at >= :start and closed_at < :end"

# Key results: OKRs from `start` to `target`.
# [[key_results]]
# id = "P1.KR1"
# objective = "P1"
# title = "Cut lead time from 72 h to 24 h"
# start = 72
# target = 24
# measure = "P1.lead_time"

# Rules map work onto objectives, first match wins (docs/rules.md).
# [[rules]]
# objective = "P1"
# labels = ["ci", "release"]
#
# [[rules]]
# category = "overhead"
# kind = "meeting"
# title = "(?i)standup"

# Sources: one table per tool, `plugin` names the connector.
# [sources.jira]
# plugin = "jira"
# url = "https://example.atlassian.net"
# email = "${{JIRA_EMAIL}}"
# token = "${{JIRA_API_TOKEN}}"
# jql = "project = PLAT"
"""


def write_init(folder: Path, *, force: bool = False, period: str | None = None) -> Path:
    """Write a commented ``headway.toml`` into ``folder``; returns its path.

    :raises HeadwayError: the file exists and ``force`` is not set, or the
        folder or file cannot be written.
    """
    _make_folder(folder)
    path = folder / "headway.toml"
    if path.exists() and not force:
        raise HeadwayError(f"{path} already exists; use --force to overwrite it")
    if period is None:
        today = date.today()
        period = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    _write(path, INIT_TEMPLATE.format(period=period))
    return path


def write_demo(folder: Path, *, seed: int = 7) -> Path:
    """Write (or rewrite) the demo's ``headway.toml`` and clear its old store.

    Only a store the demo made is replaced: its ``headway.toml`` must be the
    demo's, and every sync recorded in the store must be the demo
    connector's.

    :raises HeadwayError: ``folder`` holds a configuration or a store that is
        not the demo's, or cannot be written.
    """
    _make_folder(folder)
    path = folder / "headway.toml"
    is_demo = _is_demo_config(path)
    if path.exists() and not is_demo:
        raise HeadwayError(
            f"{path} exists and is not a headway demo; choose another folder: "
            "headway demo DIR"
        )
    store = folder / DEMO_STORE
    files = [folder / f"{DEMO_STORE}{suffix}" for suffix in ("", "-wal", "-shm")]
    if any(file.exists() for file in files):
        if not is_demo:
            raise HeadwayError(
                f"{store} exists and `headway demo` did not make it (there is no "
                "demo headway.toml beside it), so it was left as it is; choose "
                f"another folder (headway demo DIR) or move {store} away"
            )
        if (foreign := _foreign_data(store)) is not None:
            raise HeadwayError(
                f"{store} holds {foreign}, so `headway demo` left it as it is; "
                f"choose another folder (headway demo DIR) or move {store} away"
            )
    for file in files:
        try:
            file.unlink(missing_ok=True)
        except OSError as error:
            raise HeadwayError(
                f"cannot remove the demo's old store {file}: {error.strerror}"
            ) from None
    _write(path, demo_config(seed))
    return path


def _is_demo_config(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(len(DEMO_MARKER)) == DEMO_MARKER
    except (OSError, UnicodeDecodeError):
        return False


def _foreign_data(store: Path) -> str | None:
    """What in a demo folder's store the demo did not write, if anything.

    ``None`` when every run recorded in it is the demo connector's (or the
    store holds no run yet); a description of the rest otherwise, including
    a file that cannot be read as a store, since then nobody can tell.
    """
    if not store.exists():
        return None  # only a -wal or -shm left behind
    try:
        conn = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return "something that cannot be read as a headway store"
    try:
        tables = {
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if not tables:
            return None
        if "runs" not in tables:
            return "tables that are not a headway store's"
        plugins = sorted(
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT plugin FROM runs WHERE plugin != 'demo'"
            )
        )
    except sqlite3.Error:
        return "something that cannot be read as a headway store"
    finally:
        conn.close()
    if plugins:
        return f"data synced by other plugins than the demo's ({', '.join(plugins)})"
    return None


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HeadwayError(
            f"cannot create the folder {folder}: {error.strerror or error}"
        ) from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise HeadwayError(f"cannot write {path}: {error.strerror or error}") from None
