"""The scoring model: formulas, a scorecard scored on paper, and properties."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.config import load_config
from headway.model import MetricPoint, Thresholds
from headway.plugins import Plugins
from headway.scoring import (
    Allocation,
    Picture,
    Reading,
    WorkGroup,
    achievement,
    align,
    balance,
    busy_not_moving,
    busywork,
    group_work,
    neglected,
    score_scorecard,
    status,
    title_pattern,
    trade_offs,
    weighted_mean,
)
from headway.snapshots import record_value, score

from ._scorecard import config, fill, item

# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("value", "start", "target", "expected"),
    [
        (150, 100, 200, 0.5),
        (250, 100, 200, 1.5),
        (40, 50, 30, 0.5),
        (55, 50, 30, -0.25),
        (30, 50, 30, 1.0),
        (None, 0, 1, None),
    ],
    ids=["up", "up-beyond", "down", "down-wrong-way", "down-reached", "no-value"],
)
def test_achievement_serves_both_directions_and_stays_raw(
    value, start, target, expected
):
    assert achievement(value, start, target) == expected


@pytest.mark.parametrize(
    ("achieved", "expected", "word"),
    [
        (None, 0.5, "no data"),
        (1.0, 0.5, "achieved"),
        (1.2, 1.0, "achieved"),
        (0.475, 0.5, "on track"),
        (0.45, 0.5, "behind"),
        (0.425, 0.5, "behind"),
        (0.42, 0.5, "at risk"),
        (-0.2, 1.0, "at risk"),
        (0.1, 0.0, "on track"),
    ],
    ids=[
        "no-data",
        "reached-early",
        "beyond",
        "on-track-edge",
        "behind",
        "behind-edge",
        "at-risk",
        "negative",
        "nothing-expected-yet",
    ],
)
def test_status_follows_health_against_the_pace(achieved, expected, word):
    assert status(achieved, expected, Thresholds()) == word


def test_thresholds_are_configurable():
    assert status(0.45, 0.5, Thresholds(on_track=0.9, behind=0.5)) == "on track"
    assert status(0.3, 0.5, Thresholds(on_track=0.9, behind=0.5)) == "behind"


def test_weighted_means_leave_out_what_has_no_data():
    assert weighted_mean([(1.0, 1), (None, 5), (0.0, 3)]) == 0.25
    assert weighted_mean([(None, 1)]) is None


def test_balance_is_100_minus_the_spread():
    assert balance([80, None, 12.5, 67.5]) == 32.5
    assert balance([50]) == 100
    assert balance([None]) is None


def test_no_effort_means_no_alignment_not_zero():
    empty = align([])
    assert empty.effort == 0
    assert empty.alignment is None and empty.unaligned_share is None


# ---------------------------------------------------------------- on paper

PAPER = """
[scorecard]
name = "Paper"
database = "headway.db"
period = "2026-01-01..2026-01-10"

[perspectives.financial]
weight = 2

[teams.a]
members = ["ann@x.com"]
[teams.b]
members = ["bob@x.com"]
[people."ann@x.com"]
aliases = ["gh:ann"]

[[objectives]]
id = "F1"
perspective = "financial"
title = "Grow revenue"
owner = "ann@x.com"
[[objectives]]
id = "C1"
perspective = "customer"
title = "Delight customers"
owner = "ann@x.com"
[[objectives]]
id = "P1"
perspective = "process"
title = "Plan well"
owner = "bob@x.com"
capacity = 0.5
[[objectives]]
id = "L1"
perspective = "learning"
title = "Learn"
owner = "bob@x.com"

[[measures]]
id = "F1.revenue"
objective = "F1"
baseline = 100
target = 200
metric = "revenue"
[[measures]]
id = "F1.cost"
objective = "F1"
baseline = 50
target = 30
weight = 3
sql = "select 55"
[[measures]]
id = "C1.nps"
objective = "C1"
baseline = 0
target = 10
[[key_results]]
id = "C1.KR1"
objective = "C1"
owner = "ann@x.com"
start = 0
target = 10
metric = "deals"
[[measures]]
id = "P1.effort"
objective = "P1"
baseline = 10
target = 5
sql = '''select sum(effort) from items where source = 'jira'
  and occurred_at >= :start and occurred_at < :end and deleted_at is null'''
[[measures]]
id = "P1.count"
objective = "P1"
kind = "activity"
target = 10
sql = '''select count(*) from items
  where occurred_at >= :start and occurred_at < :end and deleted_at is null'''
[[key_results]]
id = "P1.KR1"
objective = "P1"
owner = "bob@x.com"
start = 0
target = 4
[[measures]]
id = "L1.hours"
objective = "L1"
baseline = 0
target = 10
metric = "training"

[[rules]]
name = "planning epics"
objective = "P1"
labels = "plan"
[[rules]]
objectives = { F1 = 0.6, C1 = 0.4 }
source = "gh"
title = "(?i)fix"
[[rules]]
category = "overhead"
kind = "meeting"
title = "(?i)standup"
[[rules]]
category = "unaligned"
title = "^Side"
"""

NOW = datetime(2026, 1, 6, tzinfo=UTC)  # half of the ten-day period is gone


def paper_store(tmp_path: Path):
    path = tmp_path / "headway.toml"
    path.write_text(textwrap.dedent(PAPER), encoding="utf-8")
    cfg = load_config(path)
    meeting = {"kind": "meeting", "source": "calendar", "people": ["bob@x.com"]}
    items = [
        item("E1", key="PLAT-1", labels=["plan"], team="a"),
        item("S1", parent="E1", effort=4, team="a"),
        item("T1", parent="S1", effort=2, team="a"),
        item("E2", title="Side project", parent="E1", team="a"),
        item("S2", parent="E2", effort=1, team="a"),
        item("OLD", effort=10, team="a", occurred_at="2025-12-20T10:00:00+00:00"),
        item("GONE", effort=5, team="a"),
        item(
            "PR1",
            source="gh",
            kind="pull_request",
            title="Fix bug",
            effort=3,
            people=["GH:ANN"],
        ),
        item("M1", title="Daily standup", effort=1, **meeting),
        item("M2", title="Lunch", effort=2, **meeting),
    ]
    metrics = [
        MetricPoint("revenue", "2025-12-31T12:00:00+00:00", 999, source="m"),
        MetricPoint("revenue", "2026-01-02T12:00:00+00:00", 120, source="m"),
        MetricPoint("revenue", "2026-01-05T12:00:00+00:00", 150, source="m"),
        MetricPoint("deals", "2026-01-04T12:00:00+00:00", 8, source="m"),
    ]
    store = fill(cfg.database, items, metrics=metrics, deleted=[("jira", "GONE")])
    for at, value in (("2025-12-20", 4), ("2026-01-02", 1), ("2026-01-03", 3)):
        moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
        record_value(store, cfg.scorecard, "P1.KR1", value, moment)
    return cfg, store


def nodes_of(data: dict) -> dict[str, dict]:
    found = {
        "scorecard": data["scorecard"],
        data["scorecard"]["key"]: data["scorecard"],
    }
    for perspective in data["scorecard"]["perspectives"]:
        found[perspective["key"]] = perspective
        for objective in perspective["objectives"]:
            found[objective["key"]] = objective
            for node in (*objective["measures"], *objective["key_results"]):
                found[node["key"]] = node
    return found


def test_a_scorecard_scored_on_paper(tmp_path: Path, plugins: Plugins):
    cfg, store = paper_store(tmp_path)
    with store:
        data = score(cfg, store, plugins, now=NOW).data
    nodes = nodes_of(data)

    def check(key, value, achieved, expected, word, points):
        node = nodes[key]
        if value is not None:
            assert node["value"] == pytest.approx(value)
        assert node["achievement"] == pytest.approx(achieved)
        assert node["expected"] == pytest.approx(expected)
        assert node["status"] == word
        assert node["score"] == (pytest.approx(points) if points is not None else None)

    # Measures (no period: expected 1) and key results (half the period gone).
    check("F1.revenue", 150, 0.5, 1, "at risk", 50)  # latest point in the period
    check("F1.cost", 55, -0.25, 1, "at risk", 0)  # lower is better, went up
    assert nodes["C1.nps"]["value"] is None and nodes["C1.nps"]["status"] == "no data"
    assert nodes["C1.nps"]["score"] is None
    check("C1.KR1", 8, 0.8, 0.5, "on track", 80)
    check("P1.effort", 7, 0.6, 1, "at risk", 60)  # 4 + 2 + 1 h of live jira work
    check("P1.count", 8, 0.8, 1, "not scored", None)  # activity: shown only
    check("P1.KR1", 3, 0.75, 0.5, "on track", 75)  # latest manual value in period
    # Objectives: weighted means of clamped achievements of what has data.
    check("F1", None, (0.5 * 1 + 0 * 3) / 4, 1, "at risk", 12.5)
    check("C1", None, 0.8, 0.5, "on track", 80)
    check("P1", None, 0.675, 0.75, "behind", 67.5)  # health 0.9
    assert nodes["L1"]["status"] == "no data" and nodes["L1"]["score"] is None
    # Perspectives, then the whole (financial weighs 2; learning has no data).
    check("financial", None, 0.125, 1, "at risk", 12.5)
    check("customer", None, 0.8, 0.5, "on track", 80)
    check("process", None, 0.675, 0.75, "behind", 67.5)
    assert nodes["learning"]["score"] is None
    check("scorecard", None, 0.43125, 0.8125, "at risk", 43.125)

    snapshot = data["snapshot"]
    assert snapshot["score"] == pytest.approx(43.125)
    assert snapshot["balance"] == pytest.approx(32.5)
    assert snapshot["expected"] == pytest.approx(0.5)
    # Effort in the period: P1 4 + 2 (inherited), F1 1.8 and C1 1.2 (shares),
    # overhead 1 (standup), unaligned 2 (lunch) + 1 (child of "Side project").
    assert snapshot["effort"] == pytest.approx(13)
    assert snapshot["items"] == 8
    assert snapshot["alignment"] == pytest.approx(9 / 13)
    assert snapshot["overhead"] == pytest.approx(1 / 13)
    assert snapshot["unaligned"] == pytest.approx(3 / 13)
    teams = {t["team"]: t for t in data["teams"]}
    assert teams["a"]["effort"] == pytest.approx(10)
    assert teams["a"]["alignment"] == pytest.approx(0.9)
    assert teams["b"]["alignment"] == 0
    assert teams["b"]["overhead_share"] == pytest.approx(1 / 3)
    assert nodes["P1"]["share"] == pytest.approx(6 / 13)
    assert nodes["F1"]["effort"] == pytest.approx(1.8)
    assert nodes["process"]["share"] == pytest.approx(6 / 13)
    assert data["capacity"] == [
        {
            "objective": "P1",
            "title": "Plan well",
            "planned": 0.5,
            "actual": pytest.approx(6 / 13),
            "effort": pytest.approx(6),
        }
    ]
    kinds = [(i["kind"], i["subject"]) for i in data["insights"]]
    assert kinds == [
        ("neglected", "learning"),
        ("neglected", "L1"),
        ("busywork", "calendar meeting: *"),
        ("busywork", "jira issue: *"),
    ]


def test_the_stored_snapshot_holds_the_same_figures(tmp_path: Path, plugins: Plugins):
    cfg, store = paper_store(tmp_path)
    with store:
        data = score(cfg, store, plugins, now=NOW).data
        rows = dict(
            store.conn.execute(
                "SELECT key, score FROM latest_scores WHERE level != 'measure' "
                "OR kind = 'outcome'"
            ).fetchall()
        )
        alignment = dict(
            store.conn.execute(
                "SELECT team, alignment FROM team_alignment "
                "WHERE snapshot_id = (SELECT id FROM latest_snapshot)"
            ).fetchall()
        )
        unaligned = sorted(
            r[0] for r in store.conn.execute("SELECT id FROM unaligned_items")
        )
    nodes = nodes_of(data)
    assert rows == {key: nodes[key]["score"] for key in rows}
    assert rows["Paper"] == pytest.approx(43.125)
    assert alignment == {t["team"]: t["alignment"] for t in data["teams"]}
    assert unaligned == ["E2", "M2", "S2"]


# ---------------------------------------------------------------- insights


def picture_of(scores: dict, shares: dict, total: float = 100.0) -> Picture:
    parsed = {tuple(key.split(":")): value for key, value in scores.items()}
    return Picture(
        parsed,
        shares,
        {objective: share * total for objective, share in shares.items()},
    )


def test_busy_not_moving_needs_more_effort_and_no_progress():
    scorecard = config(
        [],
        objectives=[
            {"id": "P1", "perspective": "process", "title": "A"},
            {"id": "P2", "perspective": "process", "title": "B", "capacity": 0.1},
            {"id": "P3", "perspective": "process", "title": "C"},
        ],
    ).scorecard
    before = picture_of(
        {"objective:P1": 30, "objective:P2": 30, "objective:P3": 30},
        {"P1": 0.10, "P2": 0.12, "P3": 0.10},
    )
    now = picture_of(
        {"objective:P1": 30.5, "objective:P2": 29, "objective:P3": 40},
        {"P1": 0.15, "P2": 0.12, "P3": 0.20},
    )
    found = busy_not_moving(scorecard, now, before)
    # P1: share up, score flat. P2: over capacity, score down. P3 improved.
    assert [i.subject for i in found] == ["P1", "P2"]
    assert found[0].figures["previous_share"] == 0.10
    assert busy_not_moving(scorecard, now, None) == []


def test_trade_offs_between_perspectives_and_along_drives():
    scorecard = config(
        [],
        objectives=[
            {
                "id": "L1",
                "perspective": "learning",
                "title": "Skills",
                "drives": ["P1"],
            },
            {"id": "P1", "perspective": "process", "title": "Ship"},
        ],
    ).scorecard
    before = picture_of(
        {"perspective:customer": 40, "perspective:financial": 60, "objective:P1": 50},
        {"L1": 0.10, "P1": 0.3},
    )
    now = picture_of(
        {"perspective:customer": 46, "perspective:financial": 54, "objective:P1": 45},
        {"L1": 0.05, "P1": 0.3},
    )
    found = trade_offs(scorecard, now, before)
    assert [i.subject for i in found] == ["customer/financial", "L1->P1"]
    small = picture_of(
        {"perspective:customer": 44, "perspective:financial": 54}, {"L1": 0.1}
    )
    assert trade_offs(scorecard, small, before) == []


def test_neglected_names_no_effort_and_no_data():
    scorecard = config([]).scorecard
    now = picture_of(
        {
            "objective:F1": 50,
            "objective:C1": None,
            "objective:P1": 10,
            "perspective:financial": 50,
            "perspective:process": 10,
            "perspective:customer": None,
        },
        {"F1": 0.5, "C1": 0.5, "P1": 0.0},
    )
    found = {i.subject: i.message for i in neglected(scorecard, now)}
    assert set(found) == {"customer", "process", "learning", "C1", "P1", "L1"}
    assert "no data" in found["C1"] and "no effort" in found["P1"]
    assert "no effort and no data" in found["L1"]


def test_busywork_groups_by_pattern_parent_and_the_rest():
    def rows(source, kind, project, parent, title, effort, count):
        example = {"id": f"{title or parent}", "effort": effort}
        return (source, kind, project, parent, title, effort, count, [example])

    grouped = [
        *(
            rows("gh", "pull_request", "legacy", None, f"Patch crash {n}", 2, 1)
            for n in range(4)
        ),
        rows("cal", "meeting", None, None, "Status sync", 3, 3),
        rows("cal", "meeting", None, None, "Coffee", 1, 1),
        rows("jira", "issue", "WEB", "E-1", None, 3, 3),
        rows("jira", "issue", "WEB", "E-2", None, 0.2, 1),
    ]
    groups = group_work(grouped, total=100)
    assert {
        (g.source, g.pattern, (g.parent or {}).get("id"), g.effort) for g in groups
    } == {
        ("gh", "Patch crash #", None, 8.0),
        ("cal", "Status sync", None, 3.0),
        ("cal", None, None, 1.0),
        ("jira", None, None, 0.2),
        ("jira", None, "E-1", 3.0),
    }
    patches = next(g for g in groups if g.source == "gh")
    assert patches.items == 4 and len(patches.examples) == 3
    found = busywork(groups, 100)
    assert [i.subject for i in found][:2] == [
        "gh pull_request in legacy: Patch crash #",
        "cal meeting: Status sync",
    ]
    assert found[0].figures["share"] == 0.08
    assert busywork([WorkGroup("a", "b", None, None, 1, 1)], 0) == []


@pytest.mark.parametrize(
    ("title", "pattern"),
    [
        ("Bump lodash from 1.2 to 1.13", "Bump lodash from # to #"),
        ("Deploy  a1b2c3d4e5", "Deploy #"),
        ("Weekly status sync", "Weekly status sync"),
        ("Fix defaced logo", "Fix defaced logo"),
    ],
    ids=["numbers", "hash", "plain", "hex-letters-word"],
)
def test_title_patterns_mask_what_varies(title, pattern):
    assert title_pattern(title) == pattern


# ---------------------------------------------------------------- properties

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(
    readings=st.lists(st.one_of(st.none(), finite), min_size=8, max_size=8),
    targets=st.lists(
        st.tuples(finite, finite).filter(lambda t: abs(t[0] - t[1]) > 1e-3),
        min_size=8,
        max_size=8,
    ),
    elapsed=st.floats(min_value=0, max_value=1),
)
def test_roll_ups_stay_within_0_and_100(readings, targets, elapsed):
    measures = [
        {
            "id": f"M{n}",
            "objective": ("F1", "C1", "P1", "L1")[n % 4],
            "baseline": start,
            "target": target,
            "weight": 1 + n,
        }
        for n, (start, target) in enumerate(targets)
    ]
    scorecard = config([], measures=measures).scorecard
    now = scorecard.period.start_at + elapsed * (
        scorecard.period.end_at - scorecard.period.start_at
    )
    values = {f"M{n}": Reading(v, "manual") for n, v in enumerate(readings)}
    for node in score_scorecard(scorecard, values, now):
        if node.score is not None:
            assert 0 <= node.score <= 100
        if node.level != "measure" and node.achievement is not None:
            assert 0 <= node.achievement <= 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", None]),
            st.sampled_from(["strategic", "overhead", "unaligned"]),
            st.floats(min_value=0, max_value=1e4),
        ),
        max_size=30,
    )
)
def test_alignment_overhead_and_unaligned_add_up_to_one(rows):
    allocations = [
        Allocation(
            team, None, "P1" if category == "strategic" else None, category, e, 1
        )
        for team, category, e in rows
    ]
    for group in [align(allocations), *(align([a]) for a in allocations)]:
        if group.effort > 0:
            total = group.alignment + group.overhead_share + group.unaligned_share
            assert total == pytest.approx(1)
        else:
            assert group.alignment is None
