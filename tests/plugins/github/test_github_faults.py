"""Network faults mid-repository are retried; nothing stored is lost; an
answer echoing the request leaks no token."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

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
