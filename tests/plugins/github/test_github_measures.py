"""The measures over stored pull requests: lead time and merged count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import headway_github
from headway.errors import ScoringError
from headway.measures import MeasureContext
from headway.model import Period
from headway.store import Store
from headway_github import merged_pull_requests, pull_request_lead_time
from headway_sdk import FakeClock, set_clock
from headway_sdk.testing import FakeApi, run_source

from .fakegithub import GOOD_TOKEN, FakeGitHub, Repo

FEBRUARY = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def merged_pull(
    github: FakeGitHub, repo: Repo, opened: datetime, hours: float, **fields: Any
) -> None:
    merged = opened + timedelta(hours=hours)
    github.add_issue(
        repo,
        pull=True,
        created=opened,
        updated=merged,
        state="closed",
        closed=merged,
        merged=merged,
        **fields,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """acme/web: pull requests merged in February after 2, 4, 10 and 30
    hours, one by a bot after 50, one merged in January, one closed
    unmerged, one open, and an issue; acme/api: one merged after 100 hours.

    Built once for the module: the measures only read it.
    """
    github = FakeGitHub()
    web = github.add_repo("acme/web")
    for day, hours in enumerate((2, 4, 10, 30)):
        merged_pull(github, web, FEBRUARY + timedelta(days=day), hours)
    merged_pull(
        github,
        web,
        FEBRUARY + timedelta(days=10),
        50,
        author="dependabot[bot]",
        author_type="Bot",
    )
    merged_pull(github, web, datetime(2026, 1, 20, tzinfo=UTC), 1)
    closed = FEBRUARY + timedelta(hours=3)
    github.add_issue(
        web, pull=True, created=FEBRUARY, updated=closed, state="closed", closed=closed
    )
    github.add_issue(web, pull=True, created=FEBRUARY, updated=FEBRUARY)
    github.add_issue(web, updated=FEBRUARY, state="closed", closed=FEBRUARY)
    merged_pull(github, github.add_repo("acme/api"), FEBRUARY, 100)

    path = tmp_path_factory.mktemp("measures") / "headway.db"
    previous = set_clock(FakeClock())
    try:
        with FakeApi() as api:
            github.install(api)
            result = run_source(
                headway_github,
                "github",
                {
                    "token": "${GITHUB_TOKEN}",
                    "api_url": github.url,
                    "repos": ["acme/web", "acme/api"],
                },
                path,
                environ={"GITHUB_TOKEN": GOOD_TOKEN},
                source="github",
            )
    finally:
        set_clock(previous)
    assert result.status == "ok", result.error
    yield path


@pytest.fixture
def measure(database: Path) -> Iterator[Any]:
    """Evaluate a measure function on the store, read-only."""
    store = Store.open_readonly(database)

    def evaluate(function: Any, period: str = "2026-02", **params: Any) -> Any:
        context = MeasureContext(
            db=store.db,
            period=Period.parse(period),
            params=params,
            sources={"github": "github", "crm": "salesforce"},
        )
        return function(context)

    yield evaluate
    store.close()


def test_lead_time_is_the_median_hours_to_merge_in_the_period(measure: Any) -> None:
    # 2, 4, 10, 30 and 100 hours: the bot, January's and unmerged PRs are out.
    assert measure(pull_request_lead_time) == 10.0


def test_lead_time_of_some_repositories(measure: Any) -> None:
    assert measure(pull_request_lead_time, project="acme/web") == 7.0
    assert measure(pull_request_lead_time, project=["ACME/API"]) == 100.0


def test_bots_are_counted_when_asked(measure: Any) -> None:
    assert measure(pull_request_lead_time, include_bots=True) == 20.0
    assert measure(merged_pull_requests, include_bots=True) == 6.0


def test_merged_pull_requests_in_the_period(measure: Any) -> None:
    assert measure(merged_pull_requests) == 5.0
    assert measure(merged_pull_requests, period="2026-01") == 1.0
    assert measure(merged_pull_requests, project="acme/api") == 1.0


@pytest.mark.parametrize(
    "params",
    [{"period": "2025-Q4"}, {"source": "crm"}, {"project": "acme/none"}],
    ids=["empty-period", "another-source", "another-project"],
)
def test_no_data_is_none_not_zero(measure: Any, params: dict[str, Any]) -> None:
    assert measure(pull_request_lead_time, **params) is None
    assert measure(merged_pull_requests, **params) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"repos": ["acme/web"]}, "unknown params repos"),
        ({"project": 3}, "params.project must be a repository or a list"),
        ({"include_bots": "yes"}, "params.include_bots must be true or false"),
    ],
    ids=["unknown", "project", "include-bots"],
)
def test_bad_params_say_what_is_wrong(
    measure: Any, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        measure(pull_request_lead_time, **params)


def test_the_store_is_left_unchanged(measure: Any, database: Path) -> None:
    before = database.read_bytes()

    measure(pull_request_lead_time)
    measure(merged_pull_requests)

    assert database.read_bytes() == before
