"""Syncing from the fake GitHub: paging, incremental reads, 304s, renames,
failures per repository, organisations, deletions, Enterprise."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from headway_sdk.testing import FakeApi, stored_items

from .conftest import JANUARY, Sync, fill, rows, saved_state
from .fakegithub import FakeGitHub, RecordedRequest


def listing_requests(api: FakeApi) -> list[RecordedRequest]:
    return [r for r in api.requests if r.path.endswith("/issues")]


def test_pages_follow_the_link_header_to_repositories_urls(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 25, every=timedelta(hours=1))

    result = sync(repos=["acme/web"], page_size=10)

    assert result.status == "ok", result.error
    assert len(stored_items(tmp_path / "headway.db")) == 25
    first, *rest = listing_requests(fake_api)
    assert first.path == "/repos/acme/web/issues"
    assert first.query == {
        "state": "all",
        "sort": "updated",
        "direction": "asc",
        "per_page": "10",
    }
    # The next links GitHub writes point at the repository's id, page by page.
    assert [r.path for r in rest[:2]] == [f"/repositories/{web.id}/issues"] * 2
    assert [r.query["page"] for r in rest[:2]] == ["2", "3"]
    assert all(r.query["sort"] == "updated" for r in rest[:2])


def test_three_repositories_with_a_thousand_items(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    sizes = {"acme/web": 450, "acme/infra": 330, "acme/docs": 220}
    for name, count in sizes.items():
        fill(github, github.add_repo(name), count, every=timedelta(minutes=37))
    repos = list(sizes)
    database = tmp_path / "headway.db"

    first = sync(repos=repos, start="2026-01-01")

    assert first.status == "ok", first.error
    items = stored_items(database)
    assert len(items) == 1000
    assert len({row[1] for row in items}) == 1000
    by_project = dict(rows(database, "SELECT project, count(*) FROM items GROUP BY 1"))
    assert by_project == sizes
    kinds = dict(rows(database, "SELECT kind, count(*) FROM items GROUP BY 1"))
    assert kinds == {"pull_request": 150 + 110 + 74, "issue": 1000 - 334}
    # Five, four and three pages of 100, and one request each for the ETag
    # of the next sync's request.
    assert first.stats.requests == 5 + 4 + 3 + 3

    quota = github.quota.remaining
    fake_api.requests.clear()
    second = sync(repos=repos, start="2026-01-01")

    assert second.status == "ok", second.error
    assert (second.items, second.changed, second.pages) == (0, 0, 0)
    assert [r.response.status for r in fake_api.requests] == [304, 304, 304]
    assert all("if-none-match" in r.headers for r in fake_api.requests)
    assert github.quota.remaining == quota, "a 304 must cost no quota"

    infra = github.repos["acme/infra"]
    for number in (1, 2, 3, 4, 5):
        github.touch(infra, number, JANUARY + timedelta(days=40), title="Edited")
    third = sync(repos=repos, start="2026-01-01")

    assert third.status == "ok", third.error
    assert third.changed == 5
    assert third.items < 20
    assert len(stored_items(database)) == 1000


def test_an_unchanged_repository_costs_a_304_and_keeps_its_state(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 12, every=timedelta(hours=3))
    database = tmp_path / "headway.db"
    assert sync(repos=["acme/web"], page_size=5).status == "ok"
    state = saved_state(database, "acme/web")
    assert set(state) == {"watermark", "etag", "etag_since"}

    fake_api.requests.clear()
    second = sync(repos=["acme/web"], page_size=5)

    (request,) = fake_api.requests
    assert request.headers["if-none-match"] == state["etag"]
    assert request.query["since"] == state["etag_since"]
    assert request.response is not None and request.response.status == 304
    assert request.response.headers["X-RateLimit-Remaining"]
    assert (second.status, second.items) == ("ok", 0)
    assert saved_state(database, "acme/web") == state
    assert github.not_modified == 1


def test_a_change_after_a_304_is_read(
    github: FakeGitHub, sync: Sync, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 12, every=timedelta(hours=3))
    assert sync(repos=["acme/web"], page_size=5).status == "ok"
    assert sync(repos=["acme/web"], page_size=5).items == 0

    github.touch(web, 2, JANUARY + timedelta(days=30), title="Changed")
    github.add_issue(web, updated=JANUARY + timedelta(days=31), title="New")
    third = sync(repos=["acme/web"], page_size=5)

    assert third.status == "ok", third.error
    assert third.changed == 2
    titles = {row[4] for row in stored_items(tmp_path / "headway.db")}
    assert {"Changed", "New"} <= titles


def test_a_renamed_repository_keeps_its_ids_and_its_configured_name(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 9, every=timedelta(hours=2))
    teams = {"acme/web": "web"}
    assert sync(repos=["acme/web"], page_size=4, teams=teams).status == "ok"
    database = tmp_path / "headway.db"
    before = {row[1]: row[2] for row in stored_items(database)}

    github.rename("acme/web", "acme/webapp")
    github.touch(web, 1, JANUARY + timedelta(days=20), title="Touched after rename")
    fake_api.requests.clear()
    result = sync(repos=["acme/web"], page_size=4, teams=teams)

    assert result.status == "ok", result.error
    assert "acme/web is now acme/webapp" in (result.error or ""), "noted in the run"
    assert fake_api.requests[0].response.status == 301
    assert fake_api.requests[1].path == f"/repositories/{web.id}/issues"
    items = {row[1]: row for row in stored_items(database)}
    assert {id: row[2] for id, row in items.items()} == before, (
        "same ids, same keys: nothing duplicated, rules and explain still apply"
    )
    touched = next(row for row in items.values() if row[4] == "Touched after rename")
    assert (touched[2], touched[6], touched[7]) == ("acme/web#1", "acme/web", "web")
    assert json.loads(touched[20])["repository"] == "acme/webapp"

    # The user takes the new name: every item is read again under it.
    renamed = sync(repos=["acme/webapp"], page_size=4, teams={"acme/webapp": "app"})

    assert renamed.status == "ok", renamed.error
    assert not renamed.error, "no rename left to note"
    items = {row[1]: row for row in stored_items(database)}
    assert set(items) == set(before), "the same items, none duplicated"
    assert {row[2] for row in items.values()} == {
        f"acme/webapp#{number}" for number in range(1, 10)
    }
    assert {(row[6], row[7]) for row in items.values()} == {("acme/webapp", "app")}
    assert renamed.tombstones == 0


def test_a_missing_repository_fails_alone_and_says_what_to_do(
    github: FakeGitHub, sync: Sync, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fill(github, github.add_repo("acme/infra"), 4, every=timedelta(hours=1))

    result = sync(repos=["acme/web", "acme/gone", "acme/infra"])

    assert result.status == "failed"
    error = result.error or ""
    assert error.startswith("1 of 3 repositories could not be read")
    assert "acme/gone: not found (HTTP 404)" in error
    assert "check the name in repos" in error
    projects = {row[6] for row in stored_items(tmp_path / "headway.db")}
    assert projects == {"acme/web", "acme/infra"}


def test_a_401_on_one_repository_lets_the_others_sync(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fill(github, github.add_repo("acme/infra"), 4, every=timedelta(hours=1))
    fake_api.inject(
        github.error(401, "Bad credentials"),
        method="GET",
        path="/repos/acme/web/issues",
    )

    result = sync(repos=["acme/web", "acme/infra"])

    assert result.status == "failed"
    assert "acme/web: GitHub refused the token (HTTP 401: Bad credentials)" in (
        result.error or ""
    )
    projects = {row[6] for row in stored_items(tmp_path / "headway.db")}
    assert projects == {"acme/infra"}


def test_a_refused_token_is_one_clear_message(
    github: FakeGitHub, sync: Sync, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.add_repo("acme/web")
    github.add_repo("acme/infra")
    monkeypatch.setattr("tests.plugins.github.conftest.GOOD_TOKEN", "ghp_wrong0000")

    result = sync(repos=["acme/web", "acme/infra"])

    assert result.status == "failed"
    assert (result.error or "").startswith(
        "GitHub refused the token for every repository (HTTP 401: Bad credentials)"
    )
    assert "ghp_wrong0000" not in (result.error or "")


def test_a_refused_token_fails_even_when_the_address_quota_is_nearly_spent(
    github: FakeGitHub, sync: Sync, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shared CI runner: its address has used up most of the anonymous 60
    # an hour, which GitHub's 401s carry. That is not this token's quota.
    github.anonymous.remaining = 8
    for name in ("acme/web", "acme/infra", "acme/api"):
        github.add_repo(name)
    monkeypatch.setattr("tests.plugins.github.conftest.GOOD_TOKEN", "ghp_wrong0000")

    result = sync(repos=["acme/web", "acme/infra", "acme/api"])

    assert result.status == "failed", result.error
    assert "refused the token" in (result.error or "")
    assert "rate budget" not in (result.error or "")


def test_a_refused_token_stops_after_two_repositories(
    github: FakeGitHub,
    sync: Sync,
    fake_api: FakeApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"acme/repo-{index:03}" for index in range(200)]
    for name in names[:3]:
        fill(github, github.add_repo(name), 2, every=timedelta(hours=1))
    monkeypatch.setattr("tests.plugins.github.conftest.GOOD_TOKEN", "ghp_wrong0000")

    result = sync(repos=names)

    assert result.status == "failed"
    error = result.error or ""
    assert error.startswith(
        "GitHub refused the token for 2 repositories in a row (HTTP 401: Bad "
        "credentials); it is wrong, expired or revoked: make a new one"
    )
    assert "the other 198 of 200 repositories were not tried" in error
    assert [r.path for r in fake_api.requests] == [
        "/repos/acme/repo-000/issues",
        "/repos/acme/repo-001/issues",
    ]
    assert "ghp_wrong0000" not in error
    assert stored_items(tmp_path / "headway.db") == []


def test_a_repository_with_issues_turned_off_is_read_through_pulls(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fill(
        github,
        github.add_repo("acme/fork", has_issues=False),
        3,
        every=timedelta(hours=1),
    )

    result = sync(repos=["acme/fork", "acme/web"])

    assert result.status == "ok", result.error
    assert result.error is None
    assert len(fake_api.requests_to("/repos/acme/fork/issues")) == 1
    assert len(fake_api.requests_to("/repos/acme/fork/pulls")) == 1
    # acme/web's three items, and acme/fork's one pull request (its issues
    # are not listed anywhere while issues are off).
    assert len(stored_items(tmp_path / "headway.db")) == 4


def test_an_org_is_listed_afresh_on_every_sync(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    github.add_repo("acme/empty")
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fill(github, github.add_repo("acme/tmp-scratch"), 2, every=timedelta(hours=1))
    github.add_repo("acme/fork", has_issues=False)
    fill(github, github.add_repo("other/web"), 2, every=timedelta(hours=1))
    # Four repositories of acme: two pages of the org listing.
    options = {"org": "acme", "exclude": ["acme/tmp-*"], "page_size": 3}

    first = sync(**options)

    assert first.status == "ok", first.error
    listings = fake_api.requests_to("/orgs/acme/repos")
    assert len(listings) == 1
    assert listings[0].query["per_page"] == "3"
    assert len(fake_api.requests_to(f"/organizations/{github.orgs['acme']}/repos")) == 1
    assert first.error is None
    # acme/fork has issues off: its (no) pull requests are read from /pulls.
    assert fake_api.requests_to("/repos/acme/fork/issues") == []
    assert len(fake_api.requests_to("/repos/acme/fork/pulls")) == 1
    assert {row[6] for row in stored_items(tmp_path / "headway.db")} == {"acme/web"}

    fill(github, github.add_repo("acme/api"), 2, every=timedelta(hours=1))
    second = sync(**options)

    assert second.status == "ok", second.error
    projects = {row[6] for row in stored_items(tmp_path / "headway.db")}
    assert projects == {"acme/web", "acme/api"}


def test_an_org_with_a_refused_token_fails_clearly(
    github: FakeGitHub, sync: Sync, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.add_repo("acme/web")
    monkeypatch.setattr("tests.plugins.github.conftest.GOOD_TOKEN", "ghp_wrong0000")

    result = sync(org="acme")

    assert result.status == "failed"
    assert (result.error or "").startswith(
        "organisation 'acme': GitHub refused the token (HTTP 401: Bad credentials)"
    )


def test_an_unknown_org_fails_clearly(github: FakeGitHub, sync: Sync) -> None:
    result = sync(org="nobody")

    assert result.status == "failed"
    assert "organisation 'nobody': not found (HTTP 404)" in (result.error or "")


def test_a_full_sync_tombstones_deleted_issues(
    github: FakeGitHub, sync: Sync, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    infra = github.add_repo("acme/infra")
    fill(github, web, 8, every=timedelta(hours=1))
    fill(github, infra, 3, every=timedelta(hours=1))
    database = tmp_path / "headway.db"
    assert sync(repos=["acme/web", "acme/infra"], page_size=3).status == "ok"
    gone = web.issues[4]["id"]
    github.remove(web, 4)

    incremental = sync(repos=["acme/web", "acme/infra"], page_size=3)
    assert incremental.tombstones == 0, "an incremental listing cannot see deletions"

    full = sync(repos=["acme/web", "acme/infra"], page_size=3, full=True)

    assert full.status == "ok", full.error
    assert full.tombstones == 1
    deleted = rows(database, "SELECT id FROM items WHERE deleted_at IS NOT NULL")
    assert deleted == [(str(gone),)]


def test_an_item_updated_mid_listing_is_not_lost(
    github: FakeGitHub, sync: Sync, clock: Any, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 30, every=timedelta(hours=1))
    database = tmp_path / "headway.db"
    moved = []

    def move_one(request: RecordedRequest) -> None:
        # Seven pages in, someone comments on the first issue: it moves to
        # the end, and GitHub's page 8 starts one item later than it would
        # have, so issue 22 is on no page of this listing.
        if request.query.get("page") == "8" and not moved:
            github.touch(web, 1, clock.now(), title="Commented")
            moved.append(True)

    github.before.append(move_one)
    first = sync(repos=["acme/web"], page_size=3, full=True)

    assert first.status == "ok", first.error
    numbers = {row[2] for row in stored_items(database)}
    assert len(numbers) == 29 and "acme/web#22" not in numbers
    assert first.tombstones == 0, "a listing that shifted must not sweep"
    state = saved_state(database, "acme/web")
    assert state["watermark"] == "2026-01-05T10:00:00.000Z", "held at the move"
    assert "etag" not in state

    second = sync(repos=["acme/web"], page_size=3)

    assert second.status == "ok", second.error
    assert len(stored_items(database)) == 30


def test_a_bad_record_is_set_aside_and_the_rest_stored(
    github: FakeGitHub, sync: Sync, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 6, every=timedelta(hours=1))
    web.issues[3]["state"] = "exploded"
    del web.issues[5]["title"]

    result = sync(repos=["acme/web"])

    assert result.status == "partial"
    assert result.rejected == 2
    reasons = rows(tmp_path / "headway.db", "SELECT record_id, reason FROM rejected")
    assert sorted(reason for _, reason in reasons) == [
        "required field 'title' is missing",
        "state must be open or closed, got 'exploded'",
    ]
    assert len(stored_items(tmp_path / "headway.db")) == 4


def test_enterprise_server_answers_under_api_v3(
    fake_api: FakeApi, sync: Sync, tmp_path: Path, clock: Any
) -> None:
    enterprise = FakeGitHub(prefix="/api/v3").install(fake_api)
    fill(
        enterprise, enterprise.add_repo("platform/deploy"), 7, every=timedelta(hours=1)
    )

    result = sync(repos=["platform/deploy"], page_size=3, api_url=enterprise.url)

    assert result.status == "ok", result.error
    assert all(r.path.startswith("/api/v3/") for r in fake_api.requests)
    assert any(r.path.startswith("/api/v3/repositories/") for r in fake_api.requests)
    keys = sorted(row[2] for row in stored_items(tmp_path / "headway.db"))
    assert keys[0] == "platform/deploy#1"


def test_teams_come_from_the_repository_else_stay_unset(
    github: FakeGitHub, sync: Sync, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 2, every=timedelta(hours=1))
    fill(github, github.add_repo("acme/infra"), 2, every=timedelta(hours=1))

    result = sync(repos=["acme/web", "Acme/Infra"], teams={"ACME/web": "frontend"})

    assert result.status == "ok", result.error
    teams = dict(
        rows(tmp_path / "headway.db", "SELECT DISTINCT project, team FROM items")
    )
    assert teams == {"acme/web": "frontend", "acme/infra": None}


def test_requests_ask_for_githubs_json_and_api_version(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi
) -> None:
    fill(github, github.add_repo("acme/web"), 2, every=timedelta(hours=1))

    assert sync(repos=["acme/web"]).status == "ok"

    request = fake_api.requests[0]
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert re.match(
        r"headway/\S+ headway-sdk/\S+ headway-github/", request.headers["user-agent"]
    )
