"""The measure functions, over a store holding known deals, cases and activities."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import headway_salesforce
from headway.connectors import Page
from headway.errors import ScoringError
from headway.measures import MeasureContext
from headway.model import Period, Tombstone, WorkItem
from headway.plugins import Plugins
from headway.store import Store
from headway_salesforce import measures

Q1 = datetime(2026, 1, 1, tzinfo=UTC)
SOURCES = {"crm": "salesforce", "crm-eu": "salesforce", "jira": "jira"}


def deal(
    ident: str, *, created: datetime, closed: datetime | None, won: bool, **extra: Any
) -> WorkItem:
    attributes = {
        "is_closed": closed is not None,
        "is_won": won,
        "type": "New Business",
    }
    attributes.update(extra.pop("attributes", {}))
    return WorkItem(
        id=ident,
        kind="opportunity",
        state="done" if closed else "open",
        created_at=created,
        closed_at=closed,
        value=extra.pop("value", 1000.0),
        attributes=attributes,
        **extra,
    )


def resolved(
    ident: str, opened: datetime, hours: float | None, **extra: Any
) -> WorkItem:
    closed = opened + timedelta(hours=hours) if hours is not None else None
    return WorkItem(
        id=ident,
        kind="case",
        state="done" if closed else "open",
        created_at=opened,
        closed_at=closed,
        attributes={"priority": extra.pop("priority", "Low")},
        **extra,
    )


def activity(ident: str, kind: str, when: datetime, **extra: Any) -> WorkItem:
    return WorkItem(id=ident, kind=kind, occurred_at=when, effort=0.25, **extra)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "headway.db"
    day = timedelta(days=1)
    crm = [
        # Won in Q1 after 10, 20 and 30 days; lost in Q1; won in Q4 2025; open.
        deal(
            "w1", created=Q1, closed=Q1 + 10 * day, won=True, value=5000.0, team="sales"
        ),
        deal(
            "w2",
            created=Q1 + 5 * day + timedelta(hours=15),
            closed=Q1 + 25 * day,
            won=True,
            value=7000.0,
        ),
        deal(
            "w3",
            created=Q1 + 30 * day,
            closed=Q1 + 60 * day,
            won=True,
            value=8000.0,
            attributes={"type": "Existing Business"},
        ),
        deal("l1", created=Q1, closed=Q1 + 40 * day, won=False, team="sales"),
        deal("old", created=Q1 - 90 * day, closed=Q1 - 2 * day, won=True, value=99.0),
        deal("open", created=Q1, closed=None, won=False),
        deal("gone", created=Q1, closed=Q1 + 3 * day, won=True, value=50_000.0),
        resolved("c1", Q1 + day, 2),
        resolved("c2", Q1 + 2 * day, 10, priority="High"),
        resolved("c3", Q1 + 3 * day, 30, priority="High"),
        resolved("c4", Q1 + 4 * day, None),
        resolved("c5", Q1 - 10 * day, 1),
        activity("a1", "call", Q1 + day, team="sales"),
        activity("a2", "call", Q1 + 2 * day),
        activity("a3", "email", Q1 + 3 * day),
        activity("a4", "meeting", Q1 - day),
    ]
    europe = [
        deal("e1", created=Q1, closed=Q1 + 50 * day, won=False),
        activity("e2", "meeting", Q1 + 5 * day),
    ]
    # A Jira source's items never count, whatever their kind.
    jira = [deal("j1", created=Q1, closed=Q1 + day, won=True, value=1e6)]
    with Store.open(path) as writer:
        for source, records in (("crm", crm), ("crm-eu", europe), ("jira", jira)):
            run = writer.start_run(source, SOURCES[source])
            writer.write_page(source, run, Page(records))
            writer.finish_run(run, "ok")
        writer.write_page("crm", 1, Page([Tombstone("gone")]))
    yield path


def measure(store: Path, function: Any, period: str = "2026-Q1", **params: Any) -> Any:
    with Store.open_readonly(store) as reader:
        context = MeasureContext(
            db=reader.db, period=Period.parse(period), params=params, sources=SOURCES
        )
        return function(context)


@pytest.mark.parametrize(
    ("function", "params", "value"),
    [
        (measures.win_rate, {}, 3 / 5),
        (measures.win_rate, {"source": "crm"}, 3 / 4),
        (measures.win_rate, {"source": ["crm-eu"]}, 0.0),
        (measures.win_rate, {"team": "sales"}, 1 / 2),
        (measures.win_rate, {"type": "Existing Business"}, 1.0),
        (measures.won_revenue, {}, 20_000.0),
        (measures.won_revenue, {"source": "crm-eu"}, 0.0),
        (measures.won_revenue, {"type": ["New Business"]}, 12_000.0),
        (measures.sales_cycle_days, {}, 20.0),
        (measures.case_resolution_hours, {}, 10.0),
        (measures.case_resolution_hours, {"priority": "High"}, 20.0),
        (measures.activity_count, {}, 4.0),
        (measures.activity_count, {"kind": "call"}, 2.0),
        (measures.activity_count, {"kind": ["email", "meeting"], "source": "crm"}, 1.0),
        (measures.activity_count, {"team": "sales"}, 1.0),
    ],
    ids=[
        "win-rate",
        "win-rate-one-source",
        "win-rate-none-won",
        "win-rate-team",
        "win-rate-type",
        "revenue",
        "revenue-none-won",
        "revenue-type",
        "cycle",
        "resolution",
        "resolution-priority",
        "activities",
        "calls",
        "kinds-of-a-source",
        "activities-team",
    ],
)
def test_a_measure_counts_the_periods_items(store, function, params, value):
    assert measure(store, function, **params) == pytest.approx(value)


@pytest.mark.parametrize(
    "function",
    [
        measures.win_rate,
        measures.won_revenue,
        measures.sales_cycle_days,
        measures.case_resolution_hours,
    ],
    ids=["win-rate", "revenue", "cycle", "resolution"],
)
def test_a_period_without_closed_deals_or_cases_has_no_data(store, function):
    assert measure(store, function, period="2026-Q3") is None


def test_activities_count_zero_in_an_empty_period_but_none_before_any_sync(store):
    assert measure(store, measures.activity_count, period="2026-Q3") == 0.0
    assert measure(store, measures.activity_count, source="never-synced") is None


def test_without_a_salesforce_source_there_is_no_data(tmp_path):
    with Store.open(tmp_path / "empty.db"):
        pass
    with Store.open_readonly(tmp_path / "empty.db") as reader:
        context = MeasureContext(
            db=reader.db, period=Period.parse("2026-Q1"), sources={"jira": "jira"}
        )
        assert measures.win_rate(context) is None


@pytest.mark.parametrize(
    ("function", "params", "words"),
    [
        (measures.win_rate, {"tpye": "x"}, "unknown parameter 'tpye'; it takes source"),
        (measures.case_resolution_hours, {"lead_source": "Web"}, "unknown parameter"),
        (measures.activity_count, {"kind": "lunch"}, "kind 'lunch' is not one of"),
    ],
    ids=["typo", "wrong-filter", "unknown-kind"],
)
def test_a_bad_parameter_is_a_scoring_error_naming_it(store, function, params, words):
    with pytest.raises(ScoringError, match=words):
        measure(store, function, **params)


def test_the_plugin_registers_every_measure_function():
    plugins = Plugins.create(entry_points=False, builtins=False)
    plugins.register(headway_salesforce, "salesforce")
    try:
        registered = plugins.measures()
    finally:
        plugins.unregister("salesforce")
    assert {name: (m.plugin, m.kind) for name, m in registered.items()} == {
        "salesforce.win_rate": ("salesforce", "outcome"),
        "salesforce.won_revenue": ("salesforce", "outcome"),
        "salesforce.sales_cycle_days": ("salesforce", "outcome"),
        "salesforce.case_resolution_hours": ("salesforce", "outcome"),
        "salesforce.activity_count": ("salesforce", "activity"),
    }


def test_a_team_filter_counts_owners_whose_team_comes_from_the_scorecard(tmp_path):
    path = tmp_path / "headway.db"
    day = timedelta(days=1)
    deals = [
        # The source set no team: the owner's team is the scorecard's to say.
        deal("m1", created=Q1, closed=Q1 + day, won=True, people=["Ann@acme.example"]),
        deal("m2", created=Q1, closed=Q1 + day, won=False, people=["bob@acme.example"]),
        deal("m3", created=Q1, closed=Q1 + day, won=False, team="sales"),
        deal("m4", created=Q1, closed=Q1 + day, won=True, team="web"),
    ]
    with Store.open(path) as writer:
        run = writer.start_run("crm", "salesforce")
        writer.write_page("crm", run, Page(deals))
        writer.finish_run(run, "ok")
    members = {"ann@acme.example": "sales", "bob@acme.example": "web"}

    def resolve(team: str | None, people: Any) -> str | None:
        return team or next((members[p.lower()] for p in people), None)

    with Store.open_readonly(path) as reader:
        context = MeasureContext(
            db=reader.db,
            period=Period.parse("2026-Q1"),
            params={"team": "sales"},
            sources={"crm": "salesforce"},
            resolve_team=resolve,
        )
        assert measures.win_rate(context) == pytest.approx(1 / 2)
