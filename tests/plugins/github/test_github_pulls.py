"""Repositories with issues turned off: their pull requests come from /pulls."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs

from headway.secrets import Secret
from headway_github import GitHubConfig, IssueMapper
from headway_sdk.testing import FakeApi

from .conftest import JANUARY, Sync, add_merged_pull, fill, rows, saved_state
from .fakegithub import FakeGitHub, Repo


def live(database: Path) -> list[tuple[str, str, str]]:
    """``(id, key, kind)`` of every item not tombstoned, by key."""
    return rows(
        database,
        "SELECT id, key, kind FROM items WHERE deleted_at IS NULL ORDER BY key, id",
    )


def add_pulls(github: FakeGitHub, repo: Repo, count: int) -> None:
    """``count`` merged pull requests, updated an hour apart from January."""
    for _ in range(count):
        add_merged_pull(github, repo, JANUARY + timedelta(hours=len(repo.issues) + 1))


def test_a_repository_with_issues_off_has_its_pull_requests_read(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    fork = github.add_repo("acme/fork", has_issues=False)
    add_pulls(github, fork, 12)
    github.add_issue(fork, pull=True, updated=JANUARY, state="closed", closed=JANUARY)

    result = sync(repos=["acme/fork", "acme/web"], page_size=5)

    assert result.status == "ok", result.error
    assert result.error is None
    database = tmp_path / "headway.db"
    pulls = rows(
        database,
        "SELECT id, key, status, state, json_extract(attributes, '$.merged_at') "
        "FROM items WHERE project = 'acme/fork' "
        "ORDER BY json_extract(attributes, '$.number')",
    )
    assert len(pulls) == 13
    assert all(row[0] == f"pull:{fork.pull_ids[n]}" for n, row in enumerate(pulls, 1))
    assert [row[2:4] for row in pulls].count(("merged", "done")) == 12
    assert pulls[-1][2:] == ("closed", "cancelled", None)
    assert len(rows(database, "SELECT 1 FROM items WHERE project = 'acme/web'")) == 3
    first = fake_api.requests_to("/repos/acme/fork/pulls")[0]
    assert first.query == {
        "state": "all",
        "sort": "updated",
        "direction": "desc",
        "per_page": "5",
    }
    # Three pages, the next two through the repository-id links GitHub writes.
    assert len(fake_api.requests_to(f"/repositories/{fork.id}/pulls")) == 2
    state = saved_state(database, "acme/fork")
    assert state == {"listing": "pulls", "watermark": "2026-01-05T21:00:00.000Z"}


def test_an_org_repository_with_issues_off_is_read_through_pulls(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fill(github, github.add_repo("acme/web"), 3, every=timedelta(hours=1))
    add_pulls(github, github.add_repo("acme/fork", has_issues=False), 4)

    result = sync(org="acme")

    assert result.status == "ok", result.error
    projects = rows(
        tmp_path / "headway.db", "SELECT project, count(*) FROM items GROUP BY 1"
    )
    assert dict(projects) == {"acme/fork": 4, "acme/web": 3}
    # The org listing said so: /issues is not asked at all.
    assert fake_api.requests_to("/repos/acme/fork/issues") == []
    assert len(fake_api.requests_to("/repos/acme/fork/pulls")) == 1


def test_a_second_sync_reads_only_the_pages_of_what_changed(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fork = github.add_repo("acme/fork", has_issues=False)
    add_pulls(github, fork, 30)
    first = sync(repos=["acme/fork"], page_size=5)
    assert first.status == "ok", first.error
    assert len(fake_api.requests_to(f"/repositories/{fork.id}/pulls")) == 5
    fake_api.requests.clear()
    for number in range(1, 7):
        later = JANUARY + timedelta(days=10, hours=number)
        github.touch(fork, number, later, title=f"Changed {number}")

    second = sync(repos=["acme/fork"], page_size=5)

    assert second.status == "ok", second.error
    # The six changed fill page 1; page 2 reaches past the watermark: stop.
    assert len(fake_api.requests_to("/repos/acme/fork/pulls")) == 1
    assert len(fake_api.requests_to(f"/repositories/{fork.id}/pulls")) == 1
    assert second.changed == 6
    titles = rows(
        tmp_path / "headway.db",
        "SELECT count(*) FROM items WHERE title LIKE 'Changed%'",
    )
    assert titles == [(6,)]
    state = saved_state(tmp_path / "headway.db", "acme/fork")
    assert state["watermark"] == "2026-01-15T15:00:00.000Z"


def test_an_interrupted_pulls_listing_keeps_its_watermark(
    github: FakeGitHub, sync: Sync, fake_api: FakeApi, tmp_path: Path
) -> None:
    fork = github.add_repo("acme/fork", has_issues=False)
    add_pulls(github, fork, 10)
    database = tmp_path / "headway.db"
    assert sync(repos=["acme/fork"], page_size=3).status == "ok"
    before = saved_state(database, "acme/fork")
    for number in range(1, 6):
        github.touch(fork, number, JANUARY + timedelta(days=10, hours=number))
    fake_api.inject(
        github.error(404, "Not Found"), path=f"/repositories/{fork.id}/pulls"
    )

    broken = sync(repos=["acme/fork"], page_size=3)

    assert broken.status == "failed"
    assert saved_state(database, "acme/fork") == before

    again = sync(repos=["acme/fork"], page_size=3)

    assert again.status == "ok", again.error
    assert saved_state(database, "acme/fork")["watermark"] == "2026-01-15T14:00:00.000Z"


def test_issues_turned_off_and_on_never_store_a_pull_request_twice(
    github: FakeGitHub, sync: Sync, tmp_path: Path
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 9, every=timedelta(hours=1))
    database = tmp_path / "headway.db"
    assert sync(repos=["acme/web"]).status == "ok"
    from_issues = live(database)
    assert [kind for _, _, kind in from_issues].count("pull_request") == 3

    web.has_issues = False
    off = sync(repos=["acme/web"])

    assert off.status == "ok", off.error
    pulls = [row for row in live(database) if row[2] == "pull_request"]
    assert sorted(key for _, key, _ in pulls) == [
        "acme/web#1",
        "acme/web#4",
        "acme/web#7",
    ]
    assert all(id.startswith("pull:") for id, _, _ in pulls)
    # The issues stay: GitHub hides them, it does not delete them.
    assert [row for row in live(database) if row[2] == "issue"] == [
        row for row in from_issues if row[2] == "issue"
    ]

    web.has_issues = True
    on = sync(repos=["acme/web"])

    assert on.status == "ok", on.error
    assert live(database) == from_issues


def test_a_pull_maps_as_the_same_pull_request_from_issues(github: FakeGitHub) -> None:
    repo = github.add_repo("acme/web")
    when = JANUARY + timedelta(days=1)
    issue = github.add_issue(
        repo,
        pull=True,
        created=JANUARY,
        updated=when,
        state="closed",
        closed=when,
        merged=when,
        assignees=["hubot"],
        labels=["bug"],
        milestone="v1",
    )
    mapper = IssueMapper(
        GitHubConfig(token=Secret("ghp_pulls0000"), repos=("acme/web",)), "github"
    )

    from_issues = mapper.item(issue, "acme/web")
    from_pulls = mapper.pull(github.pull_json(repo, issue), "acme/web")

    assert from_pulls.id == f"pull:{repo.pull_ids[1]}"
    same = ("id", "attributes")
    assert attrs.evolve(from_pulls, **{k: None for k in same}) == attrs.evolve(
        from_issues, **{k: None for k in same}
    )
    for name in ("merged_at", "author", "author_type", "milestone", "repository"):
        assert from_pulls.attributes[name] == from_issues.attributes[name]
    assert "head" not in from_pulls.attributes.get("extra", {})
