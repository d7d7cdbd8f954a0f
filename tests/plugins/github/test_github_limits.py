"""Rate limits: the budget read from every answer, primary and secondary
limits, and a repository that a limit interrupts is never taken as done."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi, FakeResponse, stored_items

from .conftest import Sync, fill
from .fakegithub import FakeGitHub, RecordedRequest, secondary_limit


def states(database: Path) -> dict[str, dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        found = conn.execute("SELECT partition, state FROM sync_state").fetchall()
    return {partition: json.loads(text) for partition, text in found}


def run_row(database: Path, run_id: int) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.row_factory = sqlite3.Row
        return dict(
            conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        )


def test_every_answer_carries_rate_limit_headers(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi
) -> None:
    fill(github, github.add_repo("acme/web"), 12, every=timedelta(hours=1))

    assert sync(repos=["acme/web"], page_size=5).status == "ok"
    assert sync(repos=["acme/web"], page_size=5).status == "ok"

    answers = [r.response for r in fake_api.requests]
    assert {a.status for a in answers if a} == {200, 304}
    for answer in answers:
        assert answer is not None
        assert {"X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(answer.headers)


def test_requests_slow_down_as_the_quota_runs_low(
    github: FakeGitHub, sync: Sync, clock: FakeClock, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 12, every=timedelta(hours=1))
    # 900 of 5000 left (under a fifth), the reset an hour away: the 650
    # requests above the reserve of 250 are spread over that hour.
    github.quota.remaining = 900

    result = sync(repos=["acme/web"], page_size=5)

    assert result.status == "ok", result.error
    paced = [wait for wait in clock.sleeps if wait > 0]
    assert len(paced) == result.stats.requests - 1
    assert all(5.0 < wait < 6.0 for wait in paced), paced
    waited = run_row(tmp_path / "headway.db", result.run_id)["waited"]
    assert waited == pytest.approx(sum(paced), abs=0.01)


def test_the_reserve_is_left_for_other_tools(
    github: FakeGitHub, sync: Sync, clock: FakeClock, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 12, every=timedelta(hours=1))
    github.quota.remaining = 252

    result = sync(repos=["acme/web"], page_size=5)

    assert result.status == "partial"
    assert "rate budget low" in (result.error or "")
    assert "resumes" in (result.error or "")
    assert github.quota.remaining >= 250, "stops at the reserve, not at zero"
    assert len(stored_items(tmp_path / "headway.db")) == 5
    assert "watermark" in states(tmp_path / "headway.db")["acme/web"]


def test_a_primary_limit_mid_repository_ends_partial_and_resumes(
    github: FakeGitHub, sync: Sync, clock: FakeClock, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 14, every=timedelta(hours=1))
    fill(github, github.add_repo("acme/infra"), 4, every=timedelta(hours=1))
    database = tmp_path / "headway.db"
    served = []

    def spend_elsewhere(request: RecordedRequest) -> None:
        # Another tool with the same token spends the hour's quota after
        # this sync's second page.
        served.append(request)
        if len(served) == 3:
            github.quota.remaining = 0

    github.before.append(spend_elsewhere)
    first = sync(repos=["acme/web", "acme/infra"], page_size=4)

    assert first.status == "partial"
    error = first.error or ""
    assert "HTTP 403 (rate limited)" in error
    assert "over max_wait" in error and "resumes" in error
    assert len(stored_items(database)) == 8, "the two pages read are kept"
    saved = states(database)
    assert set(saved) == {"acme/web"}
    assert "etag" not in saved["acme/web"], "an interrupted repository is not done"

    github.before.clear()
    clock.advance(timedelta(hours=1))
    second = sync(repos=["acme/web", "acme/infra"], page_size=4)

    assert second.status == "ok", second.error
    ids = [row[1] for row in stored_items(database)]
    assert len(ids) == len(set(ids)) == 18
    assert set(states(database)) == {"acme/web", "acme/infra"}


def test_a_429_with_nothing_remaining_is_a_primary_limit(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 10, every=timedelta(hours=1))
    spent = github.error(
        429, "API rate limit exceeded", **{"X-RateLimit-Remaining": "0"}
    )
    fake_api.inject(spent, method="GET", path=f"/repositories/{web.id}/issues")

    first = sync(repos=["acme/web"], page_size=4)

    assert first.status == "partial"
    assert "HTTP 429 (rate limited)" in (first.error or "")
    assert "rate-limit reset" in (first.error or ""), "the reset, not a backoff"
    assert not clock.sleeps, "an hour is over max_wait: nothing is slept"
    assert len(stored_items(tmp_path / "headway.db")) == 4
    assert set(states(tmp_path / "headway.db")["acme/web"]) == {"watermark"}

    clock.advance(timedelta(hours=1))
    second = sync(repos=["acme/web"], page_size=4)

    assert second.status == "ok", second.error
    assert len(stored_items(tmp_path / "headway.db")) == 10


def test_a_primary_limit_within_max_wait_is_waited_out(
    github: FakeGitHub, sync: Sync, clock: FakeClock, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 10, every=timedelta(hours=1))
    served = []

    def spend_elsewhere(request: RecordedRequest) -> None:
        served.append(request)
        if len(served) == 2:
            github.quota.remaining = 0

    github.before.append(spend_elsewhere)
    result = sync(repos=["acme/web"], page_size=4, max_wait=7200)

    assert result.status == "ok", result.error
    assert len(stored_items(tmp_path / "headway.db")) == 10
    # Until the reset the 403 announced, plus a second for clock drift.
    assert any(3590 <= wait <= 3602 for wait in clock.sleeps), clock.sleeps


def test_a_secondary_limit_without_retry_after_waits_a_minute_then_more(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 10, every=timedelta(hours=1))
    fake_api.inject(secondary_limit(github.quota), secondary_limit(github.quota))

    result = sync(repos=["acme/web"], page_size=4)

    assert result.status == "ok", result.error
    first, second = clock.sleeps[:2]
    assert 60 <= first <= 66, "at least a minute, with a little jitter"
    assert 120 <= second <= 132, "then a growing backoff"
    row = run_row(tmp_path / "headway.db", result.run_id)
    assert row["retries"] == 2 and row["waited"] >= 180
    assert len(stored_items(tmp_path / "headway.db")) == 10


def test_a_secondary_limit_with_retry_after_waits_that_long(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fake_api.inject(secondary_limit(github.quota, **{"Retry-After": "30"}))

    assert sync(repos=["acme/web"]).status == "ok"

    assert clock.sleeps[0] == 30.0


def test_a_429_without_retry_after_is_a_secondary_limit(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fake_api.inject(
        FakeResponse(
            429,
            json={"message": "Too many requests"},
            headers={"X-RateLimit-Remaining": "4000", "X-RateLimit-Reset": "1"},
        )
    )

    assert sync(repos=["acme/web"]).status == "ok"

    assert 60 <= clock.sleeps[0] <= 66


def test_a_secondary_limit_that_does_not_lift_ends_partial_and_resumes(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 12, every=timedelta(hours=1))
    database = tmp_path / "headway.db"
    served = []

    def limited(request: RecordedRequest) -> FakeResponse:
        served.append(request)
        return secondary_limit(github.quota)

    # The third request and every retry of it meet the secondary limit.
    fake_api.inject(
        method="GET", path=f"/repositories/{web.id}/issues", handler=limited, times=6
    )
    first = sync(repos=["acme/web"], page_size=5, retries=2)

    assert first.status == "partial"
    assert "rate limit (secondary rate limit) did not lift after 3 attempts" in (
        first.error or ""
    )
    assert "resumes" in (first.error or "")
    assert len(stored_items(database)) == 5
    assert "etag" not in states(database)["acme/web"]

    second = sync(repos=["acme/web"], page_size=5)

    assert second.status == "ok", second.error
    assert len(stored_items(database)) == 12
    fake_api.routes[:] = [r for r in fake_api.routes if r.handler is not limited]


def test_an_org_listing_held_by_a_secondary_limit_ends_partial(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fake_api.inject(
        *[secondary_limit(github.quota)] * 3, method="GET", path="/orgs/acme/repos"
    )

    first = sync(org="acme", retries=2)

    assert first.status == "partial"
    assert (first.error or "").startswith(
        "organisation 'acme': GitHub's rate limit (secondary rate limit) did not "
        "lift after 3 attempts"
    )
    first_wait, second_wait = clock.sleeps
    assert 60 <= first_wait <= 66 and 120 <= second_wait <= 132

    second = sync(org="acme")

    assert second.status == "ok", second.error
    assert second.changed == 3


def test_a_limit_after_a_failed_repository_keeps_that_failure_in_the_error(
    github: FakeGitHub, sync: Sync
) -> None:
    fill(github, github.add_repo("acme/web"), 6, every=timedelta(hours=1))
    served = []

    def spend_elsewhere(request: RecordedRequest) -> None:
        # acme/gone answers 404 first; then another tool spends the quota.
        served.append(request)
        if len(served) == 2:
            github.quota.remaining = 0

    github.before.append(spend_elsewhere)
    result = sync(repos=["acme/gone", "acme/web"], page_size=4)

    assert result.status == "partial"
    error = result.error or ""
    assert "over max_wait" in error
    assert "before that, 1 repository(ies) could not be read" in error
    assert "acme/gone: not found (HTTP 404)" in error


def test_requests_stay_paced_after_a_secondary_limit(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock
) -> None:
    # 900 of 5000 left: paced. A secondary limit carries that same quota, so
    # the pace goes on after it.
    fill(github, github.add_repo("acme/web"), 12, every=timedelta(hours=1))
    github.quota.remaining = 900
    fake_api.inject(secondary_limit(github.quota))

    result = sync(repos=["acme/web"], page_size=5)

    assert result.status == "ok", result.error
    # Every request after the first is paced, the retry of the limited one
    # included: the limit's answer did not make the quota look fresh.
    paced = [wait for wait in clock.sleeps if 5.0 < wait < 6.0]
    assert len(paced) == result.stats.requests - 1, clock.sleeps
