"""How scores, snapshots, diffs, explanations and checks read on a terminal.

Every function takes the plain data the library returns and prints it:
aligned columns, status words (colour only as an extra), numbers rounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import click

from ._output import print_table

INSIGHT_WORDS = {
    "busy_not_moving": "busy, not moving",
    "trade_off": "trade-off",
    "neglected": "neglected",
    "busywork": "busywork",
}


def pct(value: float | None, digits: int = 0) -> str:
    """A share as a percentage (``77 %``), or ``-`` when unknown."""
    return "-" if value is None else f"{100 * value:.{digits}f} %"


def num(value: float | None) -> str:
    """A measured value for reading, or ``-``: thousands grouped, at most two
    decimals and no trailing zeros, so 99.95 stays 99.95 and 24.0 reads 24."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def score_text(value: float | None) -> str:
    """A 0..100 score as a whole number, or ``-``."""
    return "-" if value is None else f"{value:.0f}"


def as_of_day(as_of: str) -> str:
    """The ``--as-of`` day of a snapshot (``as_of`` is the next midnight)."""
    return (datetime.fromisoformat(as_of) - timedelta(days=1)).date().isoformat()


def heading(text: str) -> None:
    """A section title with a blank line before it."""
    click.echo()
    click.echo(click.style(text, bold=True))


def print_score(data: Mapping[str, Any]) -> None:
    """The scorecard, team alignment, capacity and insights of a snapshot."""
    snapshot = data["snapshot"]
    when = f"as of {as_of_day(snapshot['as_of'])}" if snapshot.get("as_of") else None
    where = "not saved" if snapshot.get("id") is None else f"snapshot {snapshot['id']}"
    title = ", ".join(filter(None, [snapshot["period"], when, where]))
    click.echo(click.style(f"{snapshot['name']}  ", bold=True) + title)
    overall = data["overall"]
    click.echo(
        f"score {_whole(snapshot['score'])}  balance {_whole(snapshot['balance'])}  "
        f"alignment {pct(snapshot['alignment'])} (overhead "
        f"{pct(snapshot['overhead'])}, unaligned {pct(snapshot['unaligned'])})  "
        f"{overall['effort']:,.0f} h in {snapshot['items']:,} items, "
        f"period {pct(snapshot['expected'])} gone"
    )
    print_scorecard(data["scorecard"])
    print_measures(data["scorecard"])
    print_teams(data["teams"], data.get("team"))
    if data["capacity"]:
        print_capacity(data["capacity"])
    print_insights(data["insights"])


def print_scorecard(tree: Mapping[str, Any]) -> None:
    """Perspectives and their objectives: score, pace, status, effort, owner."""
    heading("Scorecard")
    rows = []
    for perspective in tree["perspectives"]:
        rows.append(_scorecard_row(perspective["title"], perspective))
        for objective in perspective["objectives"]:
            label = f"  {objective['key']}  {objective['title']}"
            rows.append(_scorecard_row(label, objective, objective.get("owner")))
    print_table(
        ["perspective / objective", "score", "pace", "status", "effort", "owner"],
        rows,
        right=["score", "pace", "effort"],
        status_column="status",
    )


def _scorecard_row(
    label: str, node: Mapping[str, Any], owner: str | None = None
) -> list[str]:
    return [
        label,
        score_text(node["score"]),
        pct(node["expected"]),
        node["status"],
        pct(node.get("share"), 1),
        owner or "",
    ]


def print_measures(tree: Mapping[str, Any]) -> None:
    """Every measure and key result with its value against its target."""
    heading("Measures and key results")
    rows = []
    for perspective in tree["perspectives"]:
        for objective in perspective["objectives"]:
            for node in (*objective["measures"], *objective["key_results"]):
                kind = "KR" if node["level"] == "key_result" else node.get("kind")
                rows.append(
                    [
                        node["key"],
                        node["title"],
                        kind or "",
                        num(node["value"]),
                        f"{num(node['start'])} -> {num(node['target'])}",
                        node.get("unit") or "",
                        pct(node["achievement"]),
                        node["status"],
                    ]
                )
    print_table(
        [
            "id",
            "title",
            "kind",
            "value",
            "from -> target",
            "unit",
            "achieved",
            "status",
        ],
        rows,
        right=["value", "from -> target", "achieved"],
        status_column="status",
    )


def print_teams(teams: Sequence[Mapping[str, Any]], only: str | None = None) -> None:
    """Each team's effort and how it splits: strategic, overhead, unaligned."""
    heading(f"Team alignment: {only}" if only else "Team alignment")
    rows = []
    for team in teams:
        top = max(team["objectives"].items(), key=lambda kv: kv[1] or 0, default=None)
        rows.append(
            [
                team["title"],
                f"{team['effort']:,.0f}",
                pct(team["alignment"]),
                pct(team["overhead_share"]),
                pct(team["unaligned_share"]),
                f"{top[0]} ({pct(top[1])})" if top else "",
            ]
        )
    print_table(
        ["team", "effort h", "strategic", "overhead", "unaligned", "most effort"],
        rows,
        right=["effort h", "strategic", "overhead", "unaligned"],
    )


def print_capacity(capacity: Sequence[Mapping[str, Any]]) -> None:
    """Planned against actual share of effort, per objective with a plan."""
    heading("Capacity: planned against actual share of all effort")
    print_table(
        ["objective", "title", "planned", "actual", "effort h"],
        [
            [
                c["objective"],
                c["title"],
                pct(c["planned"], 1),
                pct(c["actual"], 1),
                f"{c['effort']:,.0f}",
            ]
            for c in capacity
        ],
        right=["planned", "actual", "effort h"],
    )


def print_insights(insights: Sequence[Mapping[str, Any]]) -> None:
    """Each insight as a line: its kind in words, then its message."""
    heading("Insights")
    if not insights:
        click.echo("  none")
        return
    for insight in insights:
        word = INSIGHT_WORDS.get(insight["kind"], insight["kind"])
        click.echo(f"  - {word}: {insight['message']}")


def print_snapshots(rows: Sequence[Mapping[str, Any]]) -> None:
    """The stored snapshots, oldest first."""
    print_table(
        ["id", "taken at", "period", "score", "balance", "alignment", "effort h"],
        [
            [
                r["id"],
                f"end of {as_of_day(r['as_of'])}"
                if r["as_of"]
                else r["taken_at"][:16].replace("T", " "),
                r["period"],
                score_text(r["score"]),
                score_text(r["balance"]),
                pct(r["alignment"], 1),
                f"{r['effort']:,.0f}",
            ]
            for r in rows
        ],
        right=["score", "balance", "alignment", "effort h"],
    )


def _when(snapshot: Mapping[str, Any]) -> str:
    if snapshot.get("as_of"):
        return f"as of {as_of_day(snapshot['as_of'])}"
    return snapshot["taken_at"][:16].replace("T", " ")


def print_diff(data: Mapping[str, Any]) -> None:
    """What moved between two snapshots."""
    a, b = data["a"], data["b"]
    click.echo(f"Snapshot {a['id']} ({_when(a)}) -> {b['id']} ({_when(b)})")
    heading("Scores")
    print_table(
        ["level", "key", "title", "before", "after", "change", "status"],
        [
            [
                s["level"],
                s["key"],
                s["title"],
                score_text(s["before"]),
                score_text(s["after"]),
                _signed(s["change"]),
                _arrow(s["status_before"], s["status_after"]),
            ]
            for s in data["scores"]
        ],
        right=["before", "after", "change"],
    )
    heading("Where effort went (share of all effort)")
    rows = [
        [c["category"], pct(c["before"], 1), pct(c["after"], 1), _points(c["change"])]
        for c in data["effort"]
    ]
    rows += [
        [
            f"  {s['key']} {s['title']}",
            pct(s["share_before"], 1),
            pct(s["share_after"], 1),
            _points(_minus(s["share_after"], s["share_before"])),
        ]
        for s in data["scores"]
        if s["level"] == "objective"
    ]
    print_table(
        ["effort", "before", "after", "change"],
        rows,
        right=["before", "after", "change"],
    )
    heading("Team alignment")
    print_table(
        ["team", "before", "after", "change"],
        [
            [t["title"], pct(t["before"], 1), pct(t["after"], 1), _points(t["change"])]
            for t in data["teams"]
        ],
        right=["before", "after", "change"],
    )


def _whole(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f} pt"


def _arrow(before: str | None, after: str | None) -> str:
    if before == after:
        return after or ""
    return f"{before or '-'} -> {after or '-'}"


def print_explanation(data: Mapping[str, Any]) -> None:
    """Where an item goes and why."""
    item = data["item"]
    click.echo(click.style(item["label"], bold=True) + f"  {item['title']}")
    facts = [
        ("kind", item["kind"]),
        ("project", item["project"]),
        (
            "state",
            f"{item['state']} ({item['status']})" if item["status"] else item["state"],
        ),
        ("occurred", item["occurred_at"]),
        ("effort", f"{item['effort']:g} h"),
        ("people", ", ".join(item["people"])),
        ("labels", ", ".join(item["labels"])),
        ("team", f"{data['team'] or 'none'} ({data['team_from']})"),
        ("link", item["url"]),
    ]
    for name, value in facts:
        if value:
            click.echo(f"  {name:<9} {value}")
    click.echo()
    if not data["live"]:
        click.echo(
            f"Deleted at the source ({item['deleted_at']}): it counts nowhere and "
            "passes nothing to its children."
        )
        return
    assignment = data["assignment"]
    if assignment["shares"]:
        where = ", ".join(
            f"{s['objective']} ({pct(s['share'])})" for s in assignment["shares"]
        )
        click.echo(f"Goes to {where}: strategic.")
    else:
        click.echo(f"Counts as {assignment['category']}.")
    click.echo(f"Why: {assignment['reason']}.")
    if data["conditions"]:
        held = ", ".join(
            f"{c['condition']} {'yes' if c['holds'] else 'no'}"
            for c in data["conditions"]
        )
        click.echo(f"  conditions of rule {assignment['rule']}: {held}")
    others = [m for m in data["matching_rules"] if m["rule"] != assignment["rule"]]
    if others:
        later = ", ".join(m["reason"] for m in others)
        click.echo(f"  also matched, but a rule before them won: {later}")
    if data["ancestors"]:
        click.echo("  parents:")
        for node in data["ancestors"]:
            own = node["reason"] or "no rule of its own"
            click.echo(
                f"    {'  ' * node['depth']}{node['item']}  {node['title']}: {own}"
            )
    cached = data["latest_snapshot"]
    if cached:
        before = ", ".join(c["objective"] or c["category"] for c in cached)
        click.echo(f"In the latest snapshot ({cached[0]['snapshot_id']}): {before}.")


def print_checks(checks: Sequence[Any], verdict: str) -> None:
    """Each check as pass or fail with what it found, then the verdict."""
    print_table(
        ["check", "result", "detail"],
        [[c.name, "pass" if c.passed else "fail", c.detail] for c in checks],
        status_column="result",
    )
    failed = sum(1 for c in checks if not c.passed)
    summary = "all checks pass" if not failed else f"{failed} check(s) fail"
    click.echo(f"\nVerdict: {verdict} ({summary})")
