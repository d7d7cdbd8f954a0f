"""The rate budget: pacing before the limit, the reserve, and a spent quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from headway.errors import StopSource
from headway_sdk import (
    AuthError,
    HttpClient,
    Quota,
    RateBudget,
    RetryPolicy,
    read_rate_headers,
)
from headway_sdk.ratelimit import reset_wait
from headway_sdk.testing import FakeResponse

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _limits(remaining: int, limit: int = 5000, reset_in: int = 600) -> dict[str, str]:
    reset = int((NOW + timedelta(seconds=reset_in)).timestamp())
    return {
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Reset": str(reset),
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param(
            {
                "x-ratelimit-remaining": "12",
                "x-ratelimit-limit": "5000",
                "x-ratelimit-reset": str(int(NOW.timestamp()) + 60),
            },
            Quota(12, 5000, NOW + timedelta(seconds=60)),
            id="github-epoch-reset",
        ),
        pytest.param(
            {
                "ratelimit-remaining": "3",
                "ratelimit-limit": "100",
                "ratelimit-reset": "30",
            },
            Quota(3, 100, NOW + timedelta(seconds=30)),
            id="ietf-delta-reset",
        ),
        pytest.param(
            {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Reset": "2026-03-02T12:05Z",
            },
            Quota(0, 100, NOW + timedelta(minutes=5)),
            id="jira-iso-reset",
        ),
        pytest.param(
            {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "soon"},
            Quota(1, None, None),
            id="unreadable-reset",
        ),
    ],
)
def test_quota_headers_are_read(headers, expected):
    assert read_rate_headers(headers, NOW) == expected


def test_an_iso_reset_header_gives_the_wait_until_then():
    wait = reset_wait({"X-RateLimit-Reset": "2026-03-02T12:01:00+00:00"}, NOW)
    assert wait is not None and 60 <= wait <= 62


def test_no_pause_while_the_budget_is_ample():
    budget = RateBudget()
    budget.observe(_limits(4000), NOW)
    assert budget.pause(NOW) is None


def test_pacing_spreads_what_is_left_until_the_reset():
    budget = RateBudget(reserve=100, slow_below=0.2)
    budget.observe(_limits(700, reset_in=600), NOW)
    seconds, why = budget.pause(NOW)
    assert seconds == pytest.approx(600 / 600)
    assert "700 of 5000" in why


def test_at_the_reserve_the_budget_waits_for_the_reset():
    budget = RateBudget(reserve=0.05)
    budget.observe(_limits(250, reset_in=120), NOW)
    seconds, why = budget.pause(NOW)
    assert seconds == 121.0 and "reserve of 250" in why


def test_a_window_that_has_reset_is_forgotten():
    budget = RateBudget()
    budget.observe(_limits(0, reset_in=60), NOW)
    assert budget.pause(NOW + timedelta(seconds=61)) is None
    assert budget.quota is None


def test_a_spent_quota_without_a_reset_stops_the_source(fake_api, clock):
    def usage(headers, now):
        used, _, limit = (
            headers.get("Sforce-Limit-Info", "").partition("=")[2].partition("/")
        )
        return Quota(int(limit) - int(used), int(limit)) if limit else None

    fake_api.add(
        "GET",
        "/x",
        FakeResponse(
            json={"n": 1}, headers={"Sforce-Limit-Info": "api-usage=4400/5000"}
        ),
        FakeResponse(
            json={"n": 2}, headers={"Sforce-Limit-Info": "api-usage=4501/5000"}
        ),
    )
    client = HttpClient(
        fake_api.url, clock=clock, budget=RateBudget(reserve=0.1, read=usage)
    )
    client.get("/x")
    client.get("/x")
    with pytest.raises(StopSource, match="nearly spent"):
        client.get("/x")
    assert len(fake_api.requests) == 2


def test_the_client_paces_and_counts_the_wait(fake_api, clock):
    reset = str(int(clock.now().timestamp()) + 300)
    headers = {
        "X-RateLimit-Remaining": "5",
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Reset": reset,
    }
    fake_api.add("GET", "/x", FakeResponse(json={}, headers=headers), repeat=True)
    client = HttpClient(fake_api.url, clock=clock, budget=RateBudget(reserve=0))
    client.get("/x")
    client.get("/x")
    # 5 requests left for the 300 s until the reset: one every 60 s.
    assert clock.sleeps == [pytest.approx(60.0)]
    assert client.stats.waited == pytest.approx(60.0)


def test_a_pause_over_max_wait_stops_the_source(fake_api, clock):
    reset = str(int(clock.now().timestamp()) + 3000)
    headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Reset": reset,
    }
    fake_api.add("GET", "/x", FakeResponse(json={}, headers=headers))
    client = HttpClient(
        fake_api.url, clock=clock, budget=RateBudget(), retry=RetryPolicy(max_wait=300)
    )
    client.get("/x")
    with pytest.raises(StopSource, match="over max_wait"):
        client.get("/x")
    assert clock.sleeps == []


def test_a_refused_tokens_answer_does_not_count_against_the_budget(fake_api, clock):
    # GitHub answers a bad token with the anonymous quota of the address
    # (60 an hour, nearly spent on a shared runner): not this token's.
    anonymous = {
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Reset": str(int(clock.now().timestamp()) + 3000),
    }
    fake_api.add(
        "GET",
        "/x",
        FakeResponse(401, json={"message": "Bad credentials"}, headers=anonymous),
        repeat=True,
    )
    client = HttpClient(fake_api.url, clock=clock, budget=RateBudget())
    for _ in range(2):
        with pytest.raises(AuthError, match="Bad credentials"):
            client.get("/x")
    assert clock.sleeps == [] and client.budget.quota is None
