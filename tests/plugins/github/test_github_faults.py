"""Network faults mid-repository are retried; nothing stored is lost; a
repository whose faults outlast the retries fails alone, but a server (or
network) that is down stops the source after two repositories; an answer
echoing the request leaks no token."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest, stored_items

from .conftest import Sync, fill
from .fakegithub import GOOD_TOKEN, FakeGitHub

HTML = "<html><body><h1>Unicorn!</h1>This page is taking too long</body></html>"


@pytest.mark.parametrize(
    "faults",
    [
        [FakeResponse(502, body="Bad gateway")] * 3,
        [FakeResponse(json=[{"id": 1}] * 50, fault="reset")],
        [FakeResponse(json=[{"id": 1}] * 50, fault="truncate")],
        [FakeResponse(200, body=HTML, headers={"Content-Type": "text/html"})],
        [FakeResponse(500, json={"message": "Server Error"}), FakeResponse(503)],
    ],
    ids=["502-burst", "reset-mid-body", "truncated-json", "html-page", "500-503"],
)
def test_a_fault_on_page_two_is_retried_and_nothing_is_lost(
    github: FakeGitHub,
    sync: Sync,
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    faults: list[FakeResponse],
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 12, every=timedelta(hours=1))
    fake_api.inject(*faults, method="GET", path=f"/repositories/{web.id}/issues")

    result = sync(repos=["acme/web"], page_size=5)

    assert result.status == "ok", result.error
    assert result.stats.retries == len(faults)
    assert len(stored_items(tmp_path / "headway.db")) == 12


def test_a_server_echoing_the_request_leaks_no_token(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))

    def echo(request: RecordedRequest) -> FakeResponse:
        return FakeResponse(500, json={"message": "boom", "echo": request.headers})

    fake_api.inject(handler=echo, times=100)

    result = sync(repos=["acme/web"], retries=1)

    fake_api.routes[:] = [r for r in fake_api.routes if r.handler is not echo]
    assert result.status == "failed"
    assert "still failed after 2 attempts (HTTP 500)" in (result.error or "")
    assert GOOD_TOKEN not in (result.error or "")
    for path in tmp_path.glob("headway.db*"):
        assert GOOD_TOKEN.encode() not in path.read_bytes()


def states(database: Path) -> dict[str, dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        found = conn.execute("SELECT partition, state FROM sync_state").fetchall()
    return {partition: json.loads(text) for partition, text in found}


def burst(times: int) -> list[FakeResponse]:
    """GitHub's 503 as often as a request is sent with ``retries=times - 1``."""
    answer = FakeResponse(503, json={"message": "Service Unavailable"})
    return [answer] * times


def test_a_repository_whose_server_keeps_failing_fails_alone(
    github: FakeGitHub,
    sync: Sync,
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = tmp_path / "headway.db"
    names = ["acme/api", "acme/web", "acme/infra"]
    repos = [github.add_repo(name) for name in names]
    for repo in repos:
        fill(github, repo, 4, every=timedelta(hours=1))
    assert sync(repos=names, retries=2).status == "ok"
    before = states(database)
    assert all("etag" in state for state in before.values())
    clock.advance(timedelta(hours=1))
    for repo in repos:
        github.touch(repo, 2, clock.now(), title="Edited")
    # Three 503s: every attempt of acme/api's first request (retries=2).
    fake_api.inject(*burst(3), method="GET", path="/repos/acme/api/issues")
    caplog.set_level(logging.ERROR)

    result = sync(repos=names, retries=2)

    assert result.status == "failed"
    error = result.error or ""
    assert error.startswith("1 of 3 repositories could not be read (the others")
    assert "acme/api: " in error and "still failed after 3 attempts (HTTP 503)" in error
    assert "seems down" not in error
    assert result.changed == 2, "the repositories after it were read"
    after = states(database)
    assert after["acme/api"] == before["acme/api"], "its state is not advanced"
    assert after["acme/web"] != before["acme/web"]
    assert after["acme/infra"] != before["acme/infra"]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(m.startswith("acme/api: ") and "HTTP 503" in m for m in logged)

    again = sync(repos=names, retries=2)

    assert again.status == "ok", again.error
    assert again.changed == 1, "the next sync reads what acme/api missed"


@pytest.mark.parametrize(
    ("faults", "failing"),
    [
        ({0: burst(3), 2: burst(3)}, ["r0", "r2"]),
        (
            {0: [FakeResponse(401, json={"message": "Bad credentials"})], 1: burst(3)},
            ["r0", "r1"],
        ),
    ],
    ids=["not-in-a-row", "different-causes"],
)
def test_failures_stop_the_source_only_two_in_a_row_of_one_cause(
    github: FakeGitHub,
    sync: Sync,
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    faults: dict[int, list[FakeResponse]],
    failing: list[str],
) -> None:
    names = [f"acme/r{index}" for index in range(4)]
    for name in names:
        fill(github, github.add_repo(name), 2, every=timedelta(hours=1))
    for index, answers in faults.items():
        fake_api.inject(*answers, method="GET", path=f"/repos/{names[index]}/issues")

    result = sync(repos=names, retries=2)

    assert result.status == "failed"
    error = result.error or ""
    assert error.startswith("2 of 4 repositories could not be read (the others were")
    assert "not tried" not in error
    projects = {row[6] for row in stored_items(tmp_path / "headway.db")}
    assert projects == {n for n in names if n.split("/")[1] not in failing}


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback address where nothing listens: every connection is refused.

    The port stays bound (not listening) for the test, so nothing else can
    take it meanwhile.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"


@pytest.mark.parametrize(
    ("server", "reason", "attempts"),
    [
        ("refused", "still failed after 3 attempts (connection refused)", 3),
        ("plain-http", "TLS certificate verification failed", 1),
    ],
)
def test_a_dead_network_stops_after_two_repositories(
    sync: Sync,
    clock: FakeClock,
    refused_url: str,
    fake_api: FakeApi,
    tmp_path: Path,
    server: str,
    reason: str,
    attempts: int,
) -> None:
    names = [f"acme/repo-{index:03}" for index in range(200)]
    # https to a server that speaks plain http: no TLS handshake, never retried.
    url = refused_url if server == "refused" else fake_api.url.replace("http", "https")

    result = sync(repos=names, api_url=url, retries=2)

    assert result.status == "failed"
    error = result.error or ""
    assert error.startswith("GitHub seems down or out of reach: 2 repositories in a")
    assert "the other 198 of 200 repositories were not tried" in error
    assert "acme/repo-000: " in error and "acme/repo-001: " in error
    assert error.count(reason) == 2, error
    assert "acme/repo-002" not in error
    assert result.stats.requests == 2 * attempts
    assert (result.stats.waited > 0) == (attempts > 1), "backoff, on the clock"
    assert result.stats.waited == pytest.approx(sum(clock.sleeps))
    assert states(tmp_path / "headway.db") == {}
