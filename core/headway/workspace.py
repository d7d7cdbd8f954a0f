"""Creating workspaces: ``headway init`` and the demo's folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .demo import demo_config
from .errors import HeadwayError

DEMO_MARKER = "# headway demo:"

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

    :raises HeadwayError: the file exists and ``force`` is not set.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "headway.toml"
    if path.exists() and not force:
        raise HeadwayError(f"{path} already exists; use --force to overwrite it")
    if period is None:
        today = date.today()
        period = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    path.write_text(INIT_TEMPLATE.format(period=period), encoding="utf-8")
    return path


def write_demo(folder: Path, *, seed: int = 7) -> Path:
    """Write (or rewrite) the demo's ``headway.toml`` and clear its old store.

    :raises HeadwayError: ``folder`` holds a configuration that is not the demo's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "headway.toml"
    if path.exists() and not path.read_text(encoding="utf-8").startswith(DEMO_MARKER):
        raise HeadwayError(
            f"{path} exists and is not a headway demo; choose another folder: "
            "headway demo DIR"
        )
    for name in ("headway.db", "headway.db-wal", "headway.db-shm"):
        (folder / name).unlink(missing_ok=True)
    path.write_text(demo_config(seed), encoding="utf-8")
    return path
