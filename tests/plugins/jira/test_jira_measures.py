"""Cycle time, lead time and throughput over the Jira issues in the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headway import MeasureContext
from headway.connectors import Page
from headway.errors import ScoringError
from headway.model import Period, Tombstone, WorkItem
from headway.store import Store
from headway_jira import cycle_time, lead_time, throughput

DAY = timedelta(days=1)
Q1 = datetime(2026, 1, 1, tzinfo=UTC)


def issue(
    ident: str,
    *,
    created: datetime,
    closed: datetime | None = None,
    started: datetime | None = None,
    state: str = "done",
    project: str = "PLAT",
    issue_type: str = "Story",
    source_kind: str = "issue",
) -> WorkItem:
    attributes: dict[str, Any] = {"issue_type": issue_type}
    if started is not None:
        attributes["started_at"] = started
    return WorkItem(
        id=ident,
        kind=source_kind,
        project=project,
        state=state if closed else "open",
        created_at=created,
        updated_at=closed or created,
        closed_at=closed,
        attributes=attributes,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A store with issues of two Jira sources and one other source."""
    path = tmp_path / "headway.db"
    with Store.open(path) as writer:
        run = writer.start_run("jira", "jira")
        writer.write_page(
            "jira",
            run,
            Page(
                [
                    # Started 2 days before closing; created 10 days before.
                    issue("1", created=Q1, started=Q1 + 8 * DAY, closed=Q1 + 10 * DAY),
                    # No start known: from creation, 4 days.
                    issue("2", created=Q1 + DAY, closed=Q1 + 5 * DAY, issue_type="Bug"),
                    # Started 6 days before closing, in WEB.
                    issue(
                        "3",
                        created=Q1,
                        started=Q1 + 14 * DAY,
                        closed=Q1 + 20 * DAY,
                        project="WEB",
                    ),
                    # Cancelled, open, closed before the period, deleted.
                    issue("4", created=Q1, closed=Q1 + DAY, state="cancelled"),
                    issue("5", created=Q1 + 3 * DAY),
                    issue("6", created=Q1 - 40 * DAY, closed=Q1 - 2 * DAY),
                    issue("7", created=Q1, closed=Q1 + 2 * DAY),
                ]
            ),
        )
        writer.write_page("jira", run, Page([Tombstone("7")]))
        other = writer.start_run("tracker", "other")
        writer.write_page(
            "tracker", other, Page([issue("1", created=Q1, closed=Q1 + 30 * DAY)])
        )
    yield path


def measure(path: Path, function: Any, **params: Any) -> float | None:
    sources = {"jira": "jira", "jira-old": "jira", "tracker": "other"}
    with Store.open_readonly(path) as reader:
        context = MeasureContext(
            db=reader.db,
            period=Period.parse("2026-Q1"),
            params=params,
            sources=sources,
        )
        return function(context)


def test_cycle_time_is_the_median_from_start_else_creation(store: Path) -> None:
    # 2, 4 and 6 days.
    assert measure(store, cycle_time) == 4.0


def test_lead_time_is_the_median_from_creation(store: Path) -> None:
    # 10, 4 and 20 days.
    assert measure(store, lead_time) == 10.0


def test_throughput_counts_done_issues_closed_in_the_period(store: Path) -> None:
    assert measure(store, throughput) == 3.0


@pytest.mark.parametrize(
    ("params", "cycle", "count"),
    [
        ({"project": "WEB"}, 6.0, 1.0),
        ({"project": ["PLAT", "WEB"]}, 4.0, 3.0),
        ({"issue_type": "Bug"}, 4.0, 1.0),
        ({"source": "tracker"}, 30.0, 1.0),
    ],
    ids=["one-project", "projects", "issue-type", "named-source"],
)
def test_params_narrow_the_issues(
    store: Path, params: dict[str, Any], cycle: float, count: float
) -> None:
    assert measure(store, cycle_time, **params) == cycle
    assert measure(store, throughput, **params) == count


def test_no_data_is_none_and_no_done_issue_is_zero_throughput(store: Path) -> None:
    assert measure(store, cycle_time, project="OPS") is None
    assert measure(store, throughput, project="OPS") == 0.0
    assert measure(store, throughput, source="jira-old") is None
    assert measure(store, cycle_time, source=[]) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"projects": "PLAT"}, "unknown params projects"),
        ({"project": 7}, "params.project must be a name or a list of names"),
    ],
    ids=["unknown", "wrong-type"],
)
def test_bad_params_are_a_scoring_error(
    store: Path, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        measure(store, cycle_time, **params)
