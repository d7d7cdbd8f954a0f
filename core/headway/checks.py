"""``headway check``: is the scorecard sound, and is the work classified?

The checks turn the questions a Balanced Scorecard is built on into tests of
the configuration and of the data. Every check passes or fails with a line
saying why; the verdict is ``productive`` when all pass, else ``busy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from .config import Config
from .errors import PluginError, ScoringError
from .snapshots import score
from .store import Store
from .sync import source_problems

#: A team's classified share of effort (strategic or overhead) must reach this.
CLASSIFIED_SHARE = 0.70
#: A source's last sync must have finished this recently.
RECENT_SYNC = timedelta(days=7)

_TEAM_CHECK = (
    f"each team has at least {100 * CLASSIFIED_SHARE:.0f} % of its effort classified"
)


@attrs.frozen
class Check:
    """One check: its question, whether it passed, and what it found."""

    name: str
    passed: bool
    detail: str


def run_checks(
    config: Config, plugins: Any, *, now: datetime | None = None
) -> list[Check]:
    """Every check of design.md section 6, on the configuration and its store.

    The data checks score the store without saving anything.
    """
    now = now or datetime.now(UTC)
    checks = [_valid_check(config, plugins)]
    checks += _config_checks(config)

    if not config.database.exists():
        missing = f"no store at {config.database}; run `headway sync` first"
        names = (_TEAM_CHECK, "the last sync is recent", "every measure can be read")
        return checks + [Check(name, False, missing) for name in names]

    with Store.open(config.database, create=False) as store:
        checks.append(_sync_check(config, store, now))
        try:
            data = score(config, store, plugins, now=now, save=False).data
        except ScoringError as error:
            checks.append(Check("every measure can be read", False, str(error)))
            return checks
    checks.append(_team_check(data))
    notes = [
        f"{node['key']}: {node['note']}"
        for perspective in data["scorecard"]["perspectives"]
        for objective in perspective["objectives"]
        for node in (*objective["measures"], *objective["key_results"])
        if node.get("note")
    ]
    empty = [
        node["key"]
        for perspective in data["scorecard"]["perspectives"]
        for objective in perspective["objectives"]
        for node in (*objective["measures"], *objective["key_results"])
        if node["value"] is None and not node.get("note")
    ]
    detail = "; ".join(notes) if notes else "every query and function ran"
    if empty and not notes:
        detail += f" (no data yet: {', '.join(empty)})"
    checks.append(Check("every measure can be read", not notes, detail))
    return checks


def verdict(checks: Sequence[Check]) -> str:
    """``productive`` when every check passed, else ``busy``."""
    return "productive" if all(c.passed for c in checks) else "busy"


def _valid_check(config: Config, plugins: Any) -> Check:
    """The file loaded; do the enabled sources' tables pass their connectors?"""
    name = "the configuration is valid"
    try:
        problems = source_problems(config, plugins)
    except PluginError as error:
        return Check(name, False, str(error))
    if problems:
        return Check(name, False, "; ".join(str(p) for p in problems))
    disabled = [s.name for s in config.sources.values() if not s.enabled]
    if disabled:
        skipped = ", ".join(disabled)
        return Check(
            name, True, f"every key checked but those of disabled sources ({skipped})"
        )
    return Check(name, True, "every key checked")


def _config_checks(config: Config) -> list[Check]:
    scorecard = config.scorecard
    outcomes: dict[str, int] = {}
    for measure in scorecard.measures:
        if measure.kind == "outcome":
            outcomes[measure.objective] = outcomes.get(measure.objective, 0) + 1
    for result in scorecard.key_results:
        outcomes[result.objective] = outcomes.get(result.objective, 0) + 1
    perspective_of = {o.id: o.perspective for o in scorecard.objectives}
    covered = {perspective_of[o] for o in outcomes if o in perspective_of}
    bare_perspectives = [p.key for p in scorecard.perspectives if p.key not in covered]

    measured = {m.objective for m in scorecard.measures} | {
        k.objective for k in scorecard.key_results
    }
    unmeasured = [o.id for o in scorecard.objectives if o.id not in measured]
    activity_only = [
        o.id for o in scorecard.objectives if o.id in measured and o.id not in outcomes
    ]
    ownerless = [o.id for o in scorecard.objectives if not o.owner] + [
        k.id for k in scorecard.key_results if not k.owner
    ]
    return [
        _listing(
            "every perspective has an outcome measure",
            bare_perspectives,
            "without an outcome measure or key result",
        ),
        _listing(
            "every objective has a measure or key result",
            unmeasured,
            "without one",
        ),
        _listing(
            "activity measures are not the only measures",
            activity_only,
            "measured only by activity (counting work is not progress)",
        ),
        _listing(
            "every objective and key result has an owner",
            ownerless,
            "without an owner",
        ),
    ]


def _listing(name: str, failing: Sequence[str], what: str) -> Check:
    if failing:
        return Check(name, False, f"{', '.join(failing)} {what}")
    return Check(name, True, "all do")


def _team_check(data: dict[str, Any]) -> Check:
    name = _TEAM_CHECK
    short, fine = [], []
    for team in data["teams"]:
        if not team["effort"]:
            continue
        classified = 1 - (team["unaligned_share"] or 0.0)
        label = team["team"] or "(no team)"
        entry = f"{label} {_pct(classified)}"
        (short if classified < CLASSIFIED_SHARE else fine).append(entry)
    if not short and not fine:
        return Check(name, False, "no effort in the period; run `headway sync`")
    if short:
        return Check(
            name,
            False,
            f'below: {", ".join(short)}; `headway query "select * from '
            'unaligned_items"` shows what no rule maps',
        )
    return Check(name, True, ", ".join(fine))


def _sync_check(config: Config, store: Store, now: datetime) -> Check:
    name = "the last sync is recent"
    runs = {run["source"]: run for run in store.last_runs()}
    stale = []
    for source in (s for s in config.sources.values() if s.enabled):
        run = runs.get(source.name)
        if run is None:
            stale.append(f"{source.name} never synced")
            continue
        finished = run["finished_at"] or run["started_at"]
        when = datetime.fromisoformat(finished)
        if run["status"] == "failed":
            stale.append(f"{source.name} failed at {finished}")
        elif now - when > RECENT_SYNC:
            stale.append(f"{source.name} last synced {finished}")
    if not config.sources:
        return Check(name, False, "no [sources] configured")
    if stale:
        return Check(name, False, "; ".join(stale) + "; run `headway sync`")
    days = RECENT_SYNC.days
    return Check(name, True, f"every source synced within {days} days")


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"
