"""Scoring: the formulas of docs/scoring.md, as pure functions.

Nothing here reads the store. :mod:`headway.snapshots` gathers the inputs
(measure values, the effort each team put into each objective) and calls
these functions, so every figure can be checked by hand.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from .model import KeyResult, Measure, Scorecard, Thresholds

#: A share of effort "rose" or "fell" when it moved by at least this much.
SHARE_STEP = 0.01
#: A score "improved" or "fell" when it moved by at least this many points.
SCORE_STEP = 1.0
#: How far two perspectives must move apart to be called a trade-off.
TRADE_OFF_POINTS = 5.0
#: How many busywork candidates a snapshot lists.
BUSYWORK_GROUPS = 5
#: A title pattern is listed on its own when it holds at least this share of
#: all effort and at least :data:`BUSYWORK_MIN_ITEMS` items; smaller patterns
#: of the same source, kind and project are listed together.
BUSYWORK_MIN_SHARE = 0.005
BUSYWORK_MIN_ITEMS = 3

STATUSES = ("achieved", "on track", "behind", "at risk", "no data", "not scored")


# ---------------------------------------------------------------- formulas


def achievement(value: float | None, start: float, target: float) -> float | None:
    """``(value - start) / (target - start)``, raw; ``None`` without a value.

    Serves both directions: a lower-is-better measure has ``target < start``.
    """
    if value is None:
        return None
    return (value - start) / (target - start)


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` limited to ``[low, high]``."""
    return min(high, max(low, value))


def health(achieved: float | None, expected: float | None) -> float | None:
    """``achievement / expected``, when both are known and ``expected > 0``."""
    if achieved is None or expected is None or expected <= 0:
        return None
    return achieved / expected


def status(
    achieved: float | None, expected: float | None, thresholds: Thresholds
) -> str:
    """``achieved``, ``on track``, ``behind``, ``at risk`` or ``no data``.

    Nothing expected yet (``expected == 0``, a period that has not started)
    is ``on track`` unless the target is already reached.
    """
    if achieved is None:
        return "no data"
    if achieved >= 1:
        return "achieved"
    ratio = health(achieved, expected)
    if ratio is None:
        return "on track"
    if ratio >= thresholds.on_track:
        return "on track"
    if ratio >= thresholds.behind:
        return "behind"
    return "at risk"


def weighted_mean(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """The mean of the values that are not ``None``, weights normalised
    among them; ``None`` when no value is known."""
    total = weight_sum = 0.0
    for value, weight in pairs:
        if value is None:
            continue
        total += value * weight
        weight_sum += weight
    if weight_sum <= 0:
        return None
    return total / weight_sum


def score_of(achieved: float | None) -> float | None:
    """A score 0..100 from an achievement: ``100 * clamp(a, 0, 1)``."""
    return None if achieved is None else 100.0 * clamp(achieved)


def balance(scores: Iterable[float | None]) -> float | None:
    """100 minus the spread between the best and worst perspective score."""
    known = [score for score in scores if score is not None]
    if not known:
        return None
    return 100.0 - (max(known) - min(known))


def share(part: float, whole: float) -> float | None:
    """``part / whole``, or ``None`` when there is nothing to share."""
    return part / whole if whole > 0 else None


# ---------------------------------------------------------------- the tree


@attrs.frozen
class Reading:
    """The current value of a measure or key result, with where it came from.

    :param note: why there is no value, when that is worth saying (a
        measure function that failed).
    """

    value: float | None
    source: str
    note: str | None = None


@attrs.frozen
class Node:
    """One scored node: a row of the ``scores`` table."""

    level: str
    key: str
    title: str
    status: str
    parent: str | None = None
    perspective: str | None = None
    kind: str | None = None
    unit: str | None = None
    owner: str | None = None
    value_from: str | None = None
    value: float | None = None
    start: float | None = None
    target: float | None = None
    achievement: float | None = None
    expected: float | None = None
    health: float | None = None
    score: float | None = None
    weight: float | None = None
    drives: tuple[str, ...] | None = None
    capacity: float | None = None
    note: str | None = None
    position: int = 0

    def row(self) -> dict[str, Any]:
        """The node as a ``scores`` row (without ``snapshot_id``)."""
        data = attrs.asdict(self)
        data["drives"] = list(self.drives) if self.drives is not None else None
        return data


def score_scorecard(
    scorecard: Scorecard,
    readings: Mapping[str, Reading],
    now: datetime,
) -> list[Node]:
    """Every node of the scorecard, scored: measures and key results first
    within their objective, then objectives, perspectives and the whole.

    :param readings: the value of each measure and key result by id.
    :param now: the moment pace is measured at (``--as-of``, else the time
        of scoring).
    """
    thresholds = scorecard.thresholds
    nodes: list[Node] = []
    position = 0

    def leaf(entry: Measure | KeyResult, expected: float, start: float) -> Node:
        nonlocal position
        position += 1
        reading = readings.get(entry.id, Reading(None, entry.source))
        achieved = achievement(reading.value, start, entry.target)
        activity = isinstance(entry, Measure) and entry.kind == "activity"
        return Node(
            level="measure" if isinstance(entry, Measure) else "key_result",
            key=entry.id,
            title=entry.title,
            parent=entry.objective,
            perspective=objective_perspective[entry.objective],
            kind=entry.kind if isinstance(entry, Measure) else None,
            unit=entry.unit or None,
            owner=entry.owner,
            value_from=reading.source,
            value=reading.value,
            start=start,
            target=entry.target,
            achievement=achieved,
            expected=expected,
            health=None if activity else health(achieved, expected),
            status="not scored" if activity else status(achieved, expected, thresholds),
            score=None if activity else score_of(achieved),
            weight=entry.weight,
            note=reading.note,
            position=position,
        )

    objective_perspective = {o.id: o.perspective for o in scorecard.objectives}
    by_objective: dict[str, list[Node]] = defaultdict(list)
    for measure in scorecard.measures:
        by_objective[measure.objective].append(leaf(measure, 1.0, measure.baseline))
    for result in scorecard.key_results:
        period = result.period or scorecard.period
        node = leaf(result, period.elapsed(now), result.start)
        by_objective[result.objective].append(node)

    objectives: dict[str, list[Node]] = defaultdict(list)
    for objective in scorecard.objectives:
        children = by_objective.get(objective.id, [])
        nodes += children
        scored = [c for c in children if c.status != "not scored"]
        position += 1
        node = _roll_up(
            "objective",
            objective.id,
            objective.title,
            [
                (clamp(c.achievement), c.expected, c.weight or 1.0)
                for c in scored
                if c.achievement is not None
            ],
            thresholds,
            parent=objective.perspective,
            perspective=objective.perspective,
            owner=objective.owner,
            weight=objective.weight,
            drives=objective.drives,
            capacity=objective.capacity,
            position=position,
        )
        objectives[objective.perspective].append(node)
        nodes.append(node)

    perspectives = []
    for perspective in scorecard.perspectives:
        children = objectives.get(perspective.key, [])
        position += 1
        node = _roll_up(
            "perspective",
            perspective.key,
            perspective.title,
            [_child(c) for c in children if c.achievement is not None],
            thresholds,
            parent=scorecard.name,
            perspective=perspective.key,
            weight=perspective.weight,
            position=position,
        )
        perspectives.append(node)
        nodes.append(node)

    position += 1
    nodes.append(
        _roll_up(
            "scorecard",
            scorecard.name,
            scorecard.name,
            [_child(p) for p in perspectives if p.achievement is not None],
            thresholds,
            position=position,
        )
    )
    return nodes


def _child(node: Node) -> tuple[float, float | None, float]:
    assert node.achievement is not None
    return node.achievement, node.expected, node.weight or 1.0


def _roll_up(
    level: str,
    key: str,
    title: str,
    children: Sequence[tuple[float, float | None, float]],
    thresholds: Thresholds,
    **fields: Any,
) -> Node:
    """A node whose achievement and pace are weighted means of its children's."""
    achieved = weighted_mean((a, w) for a, _, w in children)
    expected = weighted_mean((e, w) for _, e, w in children)
    return Node(
        level=level,
        key=key,
        title=title,
        achievement=achieved,
        expected=expected,
        health=health(achieved, expected),
        status=status(achieved, expected, thresholds),
        score=score_of(achieved),
        **fields,
    )


# ---------------------------------------------------------------- effort


@attrs.frozen
class Allocation:
    """Effort of one team in one objective or category: an ``allocations`` row."""

    team: str | None
    perspective: str | None
    objective: str | None
    category: str
    effort: float
    items: int

    def row(self) -> dict[str, Any]:
        """The allocation as a row (without ``snapshot_id``)."""
        return attrs.asdict(self)


@attrs.frozen
class Alignment:
    """How a group's effort splits: strategic, overhead, unaligned.

    Shares are ``None`` when the group has no effort: no effort means no
    alignment, not zero.
    """

    effort: float
    strategic: float
    overhead: float
    unaligned: float
    perspectives: Mapping[str, float] = attrs.field(factory=dict)
    objectives: Mapping[str, float] = attrs.field(factory=dict)

    @property
    def alignment(self) -> float | None:
        """The strategic share of effort."""
        return share(self.strategic, self.effort)

    @property
    def overhead_share(self) -> float | None:
        """The overhead share of effort."""
        return share(self.overhead, self.effort)

    @property
    def unaligned_share(self) -> float | None:
        """The unaligned share of effort."""
        return share(self.unaligned, self.effort)

    def perspective_share(self, key: str) -> float | None:
        """The share of all effort that went to a perspective's objectives."""
        return share(self.perspectives.get(key, 0.0), self.effort)

    def objective_share(self, id: str) -> float | None:
        """The share of all effort that went to an objective."""
        return share(self.objectives.get(id, 0.0), self.effort)


def align(allocations: Iterable[Allocation]) -> Alignment:
    """The alignment of a group, from its allocations."""
    effort = {"strategic": 0.0, "overhead": 0.0, "unaligned": 0.0}
    perspectives: dict[str, float] = defaultdict(float)
    objectives: dict[str, float] = defaultdict(float)
    for row in allocations:
        effort[row.category] += row.effort
        if row.objective is not None:
            objectives[row.objective] += row.effort
        if row.perspective is not None:
            perspectives[row.perspective] += row.effort
    return Alignment(
        effort=sum(effort.values()),
        strategic=effort["strategic"],
        overhead=effort["overhead"],
        unaligned=effort["unaligned"],
        perspectives=dict(perspectives),
        objectives=dict(objectives),
    )


def by_team(allocations: Iterable[Allocation]) -> dict[str | None, Alignment]:
    """The alignment of every team (``None``: effort no team was found for)."""
    groups: dict[str | None, list[Allocation]] = defaultdict(list)
    for row in allocations:
        groups[row.team].append(row)
    return {team: align(rows) for team, rows in groups.items()}


@attrs.frozen
class Capacity:
    """An objective's planned share of all effort against the actual one."""

    objective: str
    planned: float
    actual: float | None
    effort: float


def capacity_plan(
    objectives: Iterable[tuple[str, float | None]], overall: Alignment
) -> list[Capacity]:
    """Planned against actual share for every objective with a capacity.

    :param objectives: ``(id, capacity)`` of each objective, in order.
    """
    return [
        Capacity(
            id,
            capacity,
            overall.objective_share(id),
            overall.objectives.get(id, 0.0),
        )
        for id, capacity in objectives
        if capacity is not None
    ]


# ---------------------------------------------------------------- insights


@attrs.frozen
class Insight:
    """One insight of a snapshot: an ``insights`` row."""

    kind: str
    subject: str
    message: str
    figures: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Picture:
    """What insights compare: one snapshot's scores and effort shares."""

    scores: Mapping[tuple[str, str], float | None]
    shares: Mapping[str, float | None]
    effort: Mapping[str, float]

    def score(self, level: str, key: str) -> float | None:
        """A node's score, if it had one."""
        return self.scores.get((level, key))


def picture(nodes: Iterable[Node], overall: Alignment) -> Picture:
    """The figures of a snapshot that insights compare."""
    scores = {(n.level, n.key): n.score for n in nodes}
    shares = {id: overall.objective_share(id) for id in overall.objectives}
    return Picture(scores, shares, dict(overall.objectives))


def busy_not_moving(
    scorecard: Scorecard, now: Picture, before: Picture | None
) -> list[Insight]:
    """Objectives whose effort share rose (or is at or over capacity) while
    their score did not improve since the previous snapshot."""
    if before is None:
        return []
    found = []
    for objective in scorecard.objectives:
        effort = now.effort.get(objective.id, 0.0)
        share_now = now.shares.get(objective.id) or 0.0
        share_before = before.shares.get(objective.id) or 0.0
        score_now = now.score("objective", objective.id)
        score_before = before.score("objective", objective.id)
        if effort <= 0 or score_now is None or score_before is None:
            continue
        rose = share_now >= share_before + SHARE_STEP
        full = objective.capacity is not None and share_now >= objective.capacity
        if not (rose or full) or score_now >= score_before + SCORE_STEP:
            continue
        why = (
            f"its share of effort rose from {_pct(share_before)} to {_pct(share_now)}"
            if rose
            else f"it takes {_pct(share_now)} of all effort"
        )
        if full:
            why += f" (planned: {_pct(objective.capacity)})"
        found.append(
            Insight(
                "busy_not_moving",
                objective.id,
                f"{objective.id} {objective.title}: {why}, while its score went "
                f"from {score_before:.0f} to {score_now:.0f}. Check that this work "
                "moves its measures.",
                {
                    "objective": objective.id,
                    "effort": effort,
                    "share": share_now,
                    "previous_share": share_before,
                    "capacity": objective.capacity,
                    "score": score_now,
                    "previous_score": score_before,
                },
            )
        )
    return found


def trade_offs(
    scorecard: Scorecard, now: Picture, before: Picture | None
) -> list[Insight]:
    """Perspectives moving apart, and drivers losing effort while what they
    drive falls behind."""
    if before is None:
        return []
    moves = {}
    for perspective in scorecard.perspectives:
        a = before.score("perspective", perspective.key)
        b = now.score("perspective", perspective.key)
        if a is not None and b is not None:
            moves[perspective.key] = b - a
    found = []
    titles = {p.key: p.title for p in scorecard.perspectives}
    for up, rise in moves.items():
        for down, fall in moves.items():
            if rise >= TRADE_OFF_POINTS and -fall >= TRADE_OFF_POINTS:
                found.append(
                    Insight(
                        "trade_off",
                        f"{up}/{down}",
                        f"{titles[up]} rose {rise:.0f} points while {titles[down]} "
                        f"fell {-fall:.0f}: one may be bought at the other's cost.",
                        {"rose": up, "rose_by": rise, "fell": down, "fell_by": -fall},
                    )
                )
    objectives = {o.id: o for o in scorecard.objectives}
    for driver in scorecard.objectives:
        share_now = now.shares.get(driver.id) or 0.0
        share_before = before.shares.get(driver.id) or 0.0
        if share_now > share_before - SHARE_STEP:
            continue
        for driven_id in driver.drives:
            a = before.score("objective", driven_id)
            b = now.score("objective", driven_id)
            if a is None or b is None or b > a - SCORE_STEP:
                continue
            driven = objectives[driven_id]
            found.append(
                Insight(
                    "trade_off",
                    f"{driver.id}->{driven_id}",
                    f"{driver.id} {driver.title} lost effort ({_pct(share_before)} to "
                    f"{_pct(share_now)} of all) while {driven_id} {driven.title}, "
                    f"which it drives, fell from {a:.0f} to {b:.0f}.",
                    {
                        "driver": driver.id,
                        "driven": driven_id,
                        "share": share_now,
                        "previous_share": share_before,
                        "score": b,
                        "previous_score": a,
                    },
                )
            )
    return found


def neglected(scorecard: Scorecard, now: Picture) -> list[Insight]:
    """Perspectives and objectives with no effort or no data."""
    found = []
    for perspective in scorecard.perspectives:
        members = [o for o in scorecard.objectives if o.perspective == perspective.key]
        effort = sum(now.effort.get(o.id, 0.0) for o in members)
        has_data = now.score("perspective", perspective.key) is not None
        if effort > 0 and has_data:
            continue
        found.append(
            Insight(
                "neglected",
                perspective.key,
                f"Perspective {perspective.title} has {_lack(effort, has_data)}.",
                {"level": "perspective", "effort": effort, "has_data": has_data},
            )
        )
    for objective in scorecard.objectives:
        effort = now.effort.get(objective.id, 0.0)
        has_data = now.score("objective", objective.id) is not None
        if effort > 0 and has_data:
            continue
        found.append(
            Insight(
                "neglected",
                objective.id,
                f"{objective.id} {objective.title} has {_lack(effort, has_data)}.",
                {"level": "objective", "effort": effort, "has_data": has_data},
            )
        )
    return found


def _lack(effort: float, has_data: bool) -> str:
    if effort <= 0 and not has_data:
        return "no effort and no data"
    if effort <= 0:
        return "no effort this period"
    return "no data: none of its measures or key results has a value"


@attrs.frozen
class WorkGroup:
    """Unaligned effort of one source, kind and project, by title pattern or
    by parent.

    Items with a parent (stories of an epic) are grouped under the parent;
    others by ``pattern``, their title with numbers masked. ``pattern`` and
    ``parent`` are both ``None`` for the rest of a source, kind and project,
    whose titles are too scattered to list one by one.
    """

    source: str
    kind: str
    project: str | None
    pattern: str | None
    effort: float
    items: int
    examples: tuple[Mapping[str, Any], ...] = ()
    parent: Mapping[str, Any] | None = None


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Commit hashes and the like: hex with at least one digit ("defaced" stays).
_HEX = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b")
_SPACE = re.compile(r"\s+")


def title_pattern(title: str) -> str:
    """A title with its variable parts masked: numbers and hashes become ``#``."""
    text = _HEX.sub("#", title.strip())
    text = _NUMBER.sub("#", text)
    return _SPACE.sub(" ", text)


def rank_groups(groups: Sequence[WorkGroup]) -> list[WorkGroup]:
    """Groups of unaligned work, largest first (ties in a stable order)."""
    return sorted(
        groups,
        key=lambda g: (
            -g.effort,
            g.source,
            g.kind,
            g.project or "",
            g.pattern or "",
            (g.parent or {}).get("id", ""),
        ),
    )


def busywork(groups: Sequence[WorkGroup], total: float) -> list[Insight]:
    """The largest groups of unaligned effort: the first things to stop doing.

    :param groups: unaligned effort by source, kind, project and pattern.
    :param total: all effort of the snapshot, to express each as a share.
    """
    if total <= 0:
        return []
    found = []
    for group in rank_groups(groups)[:BUSYWORK_GROUPS]:
        what = f"{group.source} {group.kind}"
        where = f" in {group.project}" if group.project else ""
        if group.parent is not None:
            parent = group.parent
            subject = parent.get("label") or str(parent["id"])
            titles = f"under {subject}"
            if parent.get("title"):
                titles += f' "{parent["title"]}"'

        elif group.pattern:
            titles = f'titled "{group.pattern}"'
            subject = group.pattern
        else:
            titles = "with various titles"
            subject = "*"
        portion = group.effort / total
        found.append(
            Insight(
                "busywork",
                f"{what}{where}: {subject}",
                f"{group.items} unaligned {what} items{where} {titles} took "
                f"{group.effort:,.0f} h ({_pct(portion)} of all effort): stop it, or "
                "write a rule that maps it to an objective.",
                {
                    "source": group.source,
                    "kind": group.kind,
                    "project": group.project,
                    "pattern": group.pattern,
                    "parent": dict(group.parent) if group.parent else None,
                    "effort": group.effort,
                    "share": portion,
                    "items": group.items,
                    "examples": [dict(e) for e in group.examples],
                },
            )
        )
    return found


def group_work(
    rows: Iterable[
        tuple[
            str,
            str,
            str | None,
            str | None,
            str | None,
            float,
            int,
            Sequence[Mapping[str, Any]],
        ]
    ],
    total: float,
) -> list[WorkGroup]:
    """Unaligned work grouped by parent or title pattern (and the rest).

    :param rows: ``(source, kind, project, parent, title, effort, items,
        examples)``, each the unaligned items of one parent (``title`` is
        then ``None``) or of one exact title without a parent; ``examples``
        are the largest of them, as the snapshot shows items (id, key,
        title, link, effort).
    :param total: all effort, to decide which patterns are big enough to list.
    """
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for source, kind, project, parent, title, effort, count, examples in rows:
        if parent is not None:
            key = (source, kind, project, None, parent)
        else:
            # Idempotent: a pattern given in place of a title stays as it is.
            key = (source, kind, project, title_pattern(title or ""), None)
        group = groups.setdefault(key, [0.0, 0, []])
        group[0] += effort
        group[1] += count
        group[2] += list(examples)
    listed: list[WorkGroup] = []
    rest: dict[tuple[str, str, str | None], list[Any]] = {}
    for (source, kind, project, pattern, parent), (
        effort,
        count,
        examples,
    ) in groups.items():
        if effort >= BUSYWORK_MIN_SHARE * total and count >= BUSYWORK_MIN_ITEMS:
            listed.append(
                WorkGroup(
                    source,
                    kind,
                    project,
                    pattern if parent is None else None,
                    effort,
                    count,
                    _top(examples),
                    {"id": parent} if parent is not None else None,
                )
            )
            continue
        group = rest.setdefault((source, kind, project), [0.0, 0, []])
        group[0] += effort
        group[1] += count
        group[2] += examples
    for (source, kind, project), (effort, count, examples) in rest.items():
        listed.append(
            WorkGroup(source, kind, project, None, effort, count, _top(examples))
        )
    return listed


def _top(examples: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    ranked = sorted(examples, key=lambda e: (-e["effort"], str(e.get("id"))))
    return tuple(ranked[:3])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"
