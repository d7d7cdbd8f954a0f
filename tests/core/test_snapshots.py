"""Snapshots: stored once, immutable, recomputable, and honest about inputs."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from headway import MeasureContext, hookimpl
from headway.config import parse_config
from headway.errors import HeadwayError, ScoringError, StoreLockedError
from headway.model import MetricPoint
from headway.plugins import Plugins
from headway.snapshots import (
    KEPT_RULE_SETS,
    load_snapshot,
    record_value,
    rescore,
    score,
    snapshot_pair,
)
from headway.store import Store

from ._scorecard import BASE, fill, item

NOW = datetime(2026, 1, 6, tzinfo=UTC)


def make_config(tmp_path: Path, **extra: Any):
    data = {
        **BASE,
        "scorecard": {**BASE["scorecard"], "database": str(tmp_path / "h.db")},
        "rules": [{"objective": "P1", "labels": "ci"}],
        "measures": [
            {
                "id": "P1.effort",
                "objective": "P1",
                "baseline": 0,
                "target": 10,
                "sql": "select sum(effort) from items where occurred_at >= :start "
                "and occurred_at < :end and deleted_at is null",
            },
            {
                "id": "C1.nps",
                "objective": "C1",
                "baseline": 0,
                "target": 50,
                "metric": "nps",
            },
        ],
        **extra,
    }
    return parse_config(data, environ={"TOKEN": "s3cr3t-value"})


def dump(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    content = {
        t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables
    }
    conn.close()
    return content


def figures(data: dict) -> dict:
    """What must not change between two scores of the same data."""
    keep = dict(data)
    keep["snapshot"] = {
        k: v for k, v in data["snapshot"].items() if k not in ("id", "created_at")
    }
    keep.pop("trends")
    keep.pop("sources")
    return keep


@pytest.fixture
def filled(tmp_path: Path):
    cfg = make_config(tmp_path)
    items = [
        item("1", labels=["ci"], effort=2, team="a"),
        item("2", effort=3, team="b", occurred_at="2026-01-08T10:00:00+00:00"),
    ]
    metrics = [
        MetricPoint("nps", "2026-01-02T00:00:00+00:00", 10, source="m"),
        MetricPoint("nps", "2026-01-08T00:00:00+00:00", 30, source="m"),
    ]
    store = fill(cfg.database, items, metrics=metrics)
    yield cfg, store
    store.close()


def test_scoring_unchanged_data_again_gives_identical_figures(filled, plugins):
    cfg, store = filled
    first = score(cfg, store, plugins, now=NOW)
    second = score(cfg, store, plugins, now=NOW)
    assert second.snapshot.id == first.snapshot.id + 1
    assert second.classification.classified == 0
    assert figures(first.data) == figures(second.data)


def test_a_snapshot_can_be_recomputed_from_the_config_it_stored(filled, plugins):
    cfg, store = filled
    stored = score(cfg, store, plugins, now=NOW)
    again = rescore(store, stored.snapshot.id, plugins)
    assert figures(again.data) == figures(load_snapshot(store, stored.snapshot.id))


def test_no_save_leaves_the_store_as_it_was(filled, plugins):
    cfg, store = filled
    score(cfg, store, plugins, now=NOW)
    before = dump(cfg.database)
    run = score(cfg, store, plugins, now=NOW, save=False, reclassify=True)
    assert run.snapshot is None and run.data["snapshot"]["id"] is None
    assert run.data["trends"][-1]["id"] is None
    assert dump(cfg.database) == before


def test_snapshot_rows_cannot_be_changed(filled, plugins):
    cfg, store = filled
    score(cfg, store, plugins, now=NOW)
    for table in ("snapshots", "scores", "allocations", "insights"):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            store.conn.execute(
                f"UPDATE {table} SET snapshot_id = 5"
                if table != "snapshots"
                else "UPDATE snapshots SET score = 1"
            )


def test_secrets_never_reach_the_snapshot(tmp_path: Path, plugins: Plugins):
    sources = {
        "tool": {"plugin": "demo", "token": "literal-secret-1234", "key": "${TOKEN}"},
        "other": {"plugin": "demo", "api_key": "${TOKEN}"},
    }
    cfg = make_config(tmp_path, sources=sources)
    store = fill(cfg.database, [item("1")])
    with store:
        score(cfg, store, plugins, now=NOW)
        text = store.conn.execute("SELECT config FROM snapshots").fetchone()[0]
    assert "literal-secret-1234" not in text and "s3cr3t-value" not in text
    stored = json.loads(text)["sources"]
    assert stored["tool"]["token"] == "***"
    assert stored["other"]["api_key"] == "${TOKEN}"


def test_as_of_scores_the_store_as_it_stood_that_day(filled, plugins):
    cfg, store = filled
    run = score(cfg, store, plugins, as_of=date(2026, 1, 5), now=NOW)
    data = run.data
    assert data["snapshot"]["taken_at"] == "2026-01-06T00:00:00.000Z"
    assert data["snapshot"]["as_of"] == "2026-01-06T00:00:00.000Z"
    assert data["snapshot"]["expected"] == pytest.approx(0.5)
    # Item 2 (8 January) and the second NPS point are after the day.
    assert data["snapshot"]["effort"] == 2
    nodes = {
        n["key"]: n
        for p in data["scorecard"]["perspectives"]
        for o in p["objectives"]
        for n in o["measures"]
    }
    assert nodes["P1.effort"]["value"] == 2
    assert nodes["C1.nps"]["value"] == 10
    later = score(cfg, store, plugins, now=datetime(2026, 1, 9, tzinfo=UTC)).data
    assert later["snapshot"]["effort"] == 5


def test_a_live_score_counts_no_effort_that_has_not_happened_yet(filled, plugins):
    cfg, store = filled
    # Scored on 6 January, item 2 (8 January: next week's meeting, say) is
    # not effort spent yet; the period's expected pace is unchanged.
    data = score(cfg, store, plugins, now=NOW).data
    assert data["snapshot"]["effort"] == 2
    assert data["snapshot"]["as_of"] is None
    assert data["snapshot"]["expected"] == pytest.approx(0.5)
    recomputed = rescore(store, data["snapshot"]["id"], plugins).data
    assert recomputed["snapshot"]["effort"] == 2
    unaligned = "SELECT id FROM unaligned_items"
    assert store.conn.execute(unaligned).fetchall() == []
    score(cfg, store, plugins, now=datetime(2026, 1, 9, tzinfo=UTC))
    assert store.conn.execute(unaligned).fetchall() == [("2",)]


def test_insights_compare_with_the_previous_snapshot_of_the_period(
    tmp_path: Path, plugins: Plugins
):
    cfg = make_config(tmp_path)
    store = fill(
        cfg.database, [item("1", labels=["ci"], effort=1), item("2", effort=9)]
    )
    with store:
        first = score(cfg, store, plugins, as_of=date(2026, 1, 3), now=NOW)
        assert not [i for i in first.data["insights"] if i["kind"] == "busy_not_moving"]
        fill(
            cfg.database,
            [item("3", labels=["ci"], effort=20, occurred_at="2026-01-04T00:00Z")],
        ).close()
        # P1's measure is total effort against a target of 10: already full, so
        # more P1 effort moves nothing.
        second = score(cfg, store, plugins, as_of=date(2026, 1, 5), now=NOW)
    kinds = {i["kind"]: i for i in second.data["insights"]}
    assert kinds["busy_not_moving"]["subject"] == "P1"
    assert kinds["busy_not_moving"]["figures"]["previous_share"] == pytest.approx(0.1)


class Watcher:
    """A snapshot_saved plugin that records what it saw, or fails."""

    def __init__(self, fail: bool = False):
        self.seen: list[Any] = []
        self.fail = fail

    @hookimpl
    def snapshot_saved(self, snapshot: Any, db: Any) -> None:
        if self.fail:
            raise RuntimeError("exporter down")
        count = db.execute("SELECT count(*) FROM snapshots").fetchone()[0]
        self.seen.append((snapshot.id, snapshot.score, count))


def test_plugins_hear_of_saved_snapshots_and_their_failures_do_not_lose_them(
    filled, plugins: Plugins
):
    cfg, store = filled
    watcher, broken = Watcher(), Watcher(fail=True)
    plugins.register(watcher, "watcher")
    plugins.register(broken, "broken")
    try:
        run = score(cfg, store, plugins, now=NOW)
        score(cfg, store, plugins, now=NOW, save=False)
    finally:
        plugins.unregister("watcher")
        plugins.unregister("broken")
    assert watcher.seen == [(run.snapshot.id, run.snapshot.score, 1)]
    assert "exporter down" in plugins.hook_errors["broken"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select nope from items", "its sql failed: no such column: nope"),
        ("select 1 union all select 2", "one row, one column"),
        ("select 1, 2", "2 columns"),
        ("select 'many'", "returned 'many', not a number"),
        ("select ?", "its sql failed"),
        ("delete from items", "its sql failed"),
    ],
    ids=["bad-column", "two-rows", "two-columns", "text", "positional", "write"],
)
def test_a_measure_whose_sql_fails_stops_the_score_and_saves_nothing(
    tmp_path: Path, plugins: Plugins, sql: str, message: str
):
    measures = [{"id": "M", "objective": "P1", "target": 1, "sql": sql}]
    cfg = make_config(tmp_path, measures=measures)
    store = fill(cfg.database, [item("1")])
    with store:
        with pytest.raises(ScoringError, match=message):
            score(cfg, store, plugins, now=NOW)
        assert store.conn.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
        assert store.conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
        # The classification the score brought up to date stays: it is right
        # whatever the measures say, and the next score need not redo it.
        kept = store.conn.execute("SELECT count(*) FROM classified").fetchone()
        assert kept == (1,)


class Measures:
    """A register_measures plugin: one good function, one that fails."""

    @hookimpl
    def register_measures(self, register: Any) -> None:
        register("count_items", self.count_items, "items in the period")
        register("team_items", self.team_items, "items of params.team")
        register("broken", self.broken)

    def count_items(self, context: MeasureContext) -> float:
        start, end = context.period.bounds()
        row = context.db.execute(
            "SELECT count(*) FROM items WHERE occurred_at >= ? AND occurred_at < ?",
            [start, end],
        ).fetchone()
        return row[0] * context.params.get("factor", 1)

    def team_items(self, context: MeasureContext) -> float:
        row = context.db.execute(
            f"SELECT count(*) FROM items WHERE {context.team_sql()} = ?",
            [context.params["team"]],
        ).fetchone()
        return row[0]

    def broken(self, context: MeasureContext) -> float:
        raise ValueError("upstream API said no")


def test_measure_functions_from_plugins(tmp_path: Path, plugins: Plugins):
    plugins.register(Measures(), "measures")
    try:
        measures = [
            {
                "id": "A",
                "objective": "P1",
                "target": 10,
                "function": "count_items",
                "params": {"factor": 3},
            },
            {"id": "B", "objective": "C1", "target": 10, "function": "broken"},
            {
                "id": "T",
                "objective": "F1",
                "target": 10,
                "function": "team_items",
                "params": {"team": "a"},
            },
        ]
        cfg = make_config(tmp_path, measures=measures)
        # Team a: the connector's team, or ann's (by an alias, first member).
        items = [
            item("1"),
            item("2", team="a"),
            item("3", people=["nobody", "jira:A1"]),
            item("4", people=["bob@x.com", "ann@x.com"]),
        ]
        store = fill(cfg.database, items)
        with store:
            data = score(cfg, store, plugins, now=NOW).data
    finally:
        plugins.unregister("measures")
    nodes = {
        n["key"]: n
        for p in data["scorecard"]["perspectives"]
        for o in p["objectives"]
        for n in o["measures"]
    }
    assert nodes["A"]["value"] == 12 and nodes["A"]["value_from"] == "function"
    assert nodes["T"]["value"] == 2
    assert nodes["B"]["value"] is None and nodes["B"]["status"] == "no data"
    assert "upstream API said no" in nodes["B"]["note"]


def test_key_results_keep_their_own_period_for_the_pace(tmp_path: Path, plugins):
    results = [
        {
            "id": "K1",
            "objective": "P1",
            "start": 0,
            "target": 10,
            "measure": "P1.effort",
        },
        {
            "id": "K2",
            "objective": "P1",
            "start": 0,
            "target": 10,
            "period": "2026-01-01..2026-01-20",
            "measure": "P1.effort",
        },
    ]
    cfg = make_config(tmp_path, key_results=results)
    store = fill(cfg.database, [item("1", effort=2)])
    with store:
        data = score(cfg, store, plugins, now=NOW).data
    kr = {
        k["key"]: k
        for k in data["scorecard"]["perspectives"][2]["objectives"][0]["key_results"]
    }
    assert kr["K1"]["expected"] == pytest.approx(0.5)
    assert kr["K2"]["expected"] == pytest.approx(0.25)
    assert kr["K2"]["value"] == 2 and kr["K2"]["value_from"] == "measure"


def test_only_the_latest_rule_sets_keep_their_cache(tmp_path: Path, plugins):
    cfg = make_config(tmp_path)
    store = fill(cfg.database, [item("1")])
    with store:
        for n in range(KEPT_RULE_SETS + 2):
            edited = make_config(
                tmp_path, rules=[{"objective": "P1", "labels": f"x{n}"}]
            )
            score(edited, store, plugins, now=NOW.replace(day=n + 1))
        counts = store.conn.execute(
            "SELECT count(*), count(DISTINCT rules_hash) FROM assignments"
        ).fetchone()
        sets = store.conn.execute("SELECT count(*) FROM rule_sets").fetchone()[0]
    assert counts == (KEPT_RULE_SETS, KEPT_RULE_SETS)
    assert sets == KEPT_RULE_SETS


def test_a_score_refuses_to_run_beside_a_sync(filled, plugins):
    cfg, store = filled
    other = Store.open(cfg.database)
    other.acquire_lock("sync")
    try:
        with pytest.raises(StoreLockedError, match="another headway run"):
            score(cfg, store, plugins, now=NOW)
    finally:
        other.close()
    assert score(cfg, store, plugins, now=NOW).snapshot is not None


def test_loading_and_pairing_snapshots(filled, plugins):
    cfg, store = filled
    with pytest.raises(HeadwayError, match="no snapshot yet"):
        load_snapshot(store)
    with pytest.raises(HeadwayError, match="diff needs two snapshots"):
        snapshot_pair(store, None, None)
    one = score(cfg, store, plugins, now=NOW).snapshot.id
    two = score(cfg, store, plugins, now=NOW).snapshot.id
    assert snapshot_pair(store, None, None) == (one, two)
    assert snapshot_pair(store, one, None) == (one, two)
    with pytest.raises(HeadwayError, match="no snapshot 99"):
        load_snapshot(store, 99)
    assert load_snapshot(store)["snapshot"]["id"] == two


def test_a_key_result_of_its_own_period_is_read_over_that_period(
    tmp_path: Path, plugins: Plugins
):
    cfg = make_config(
        tmp_path,
        key_results=[
            # The whole of January, from before the scorecard's period.
            {
                "id": "P1.KR1",
                "objective": "P1",
                "start": 0,
                "target": 10,
                "period": "2026-01",
            },
            # Another measure's value, over the key result's own period.
            {
                "id": "P1.KR2",
                "objective": "P1",
                "start": 0,
                "target": 10,
                "period": "2025-12-01..2026-01-31",
                "measure": "P1.effort",
            },
        ],
    )
    store = fill(
        cfg.database,
        [item("1", effort=2), item("2", effort=5, occurred_at="2025-12-20T00:00Z")],
    )
    with store:
        record_value(
            store, cfg.scorecard, "P1.KR1", 3, datetime(2026, 1, 3, tzinfo=UTC)
        )
        record_value(
            store, cfg.scorecard, "P1.KR1", 9, datetime(2026, 1, 20, tzinfo=UTC)
        )
        # Scored on 6 January: the value of 20 January is not there yet.
        early = values(score(cfg, store, plugins, now=NOW).data)
        late = values(
            score(cfg, store, plugins, now=datetime(2026, 1, 25, tzinfo=UTC)).data
        )
    assert early["P1.effort"] == 2  # the scorecard's period: item 1 only
    assert early["P1.KR1"] == 3
    assert early["P1.KR2"] == 7  # December's item counts in the key result's
    assert late["P1.KR1"] == 9


def values(data: dict) -> dict[str, float | None]:
    return {
        node["key"]: node["value"]
        for perspective in data["scorecard"]["perspectives"]
        for objective in perspective["objectives"]
        for node in (*objective["measures"], *objective["key_results"])
    }
