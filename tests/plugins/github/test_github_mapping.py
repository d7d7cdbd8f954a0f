"""What becomes of an issue or pull request: state, people, effort, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headway_github import GitHubConfig, IssueMapper
from headway_github.mapping import repository_of
from headway_sdk import RecordError, Secret

from .fakegithub import FakeGitHub

OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CLOSED = OPENED + timedelta(hours=30)
UPDATED = CLOSED + timedelta(hours=1)


def mapper(**settings: Any) -> IssueMapper:
    config = GitHubConfig(
        token=Secret("ghp_mapping0000"), repos=("acme/web",), **settings
    )
    return IssueMapper(config, "github")


def raw(**fields: Any) -> dict[str, Any]:
    github = FakeGitHub()
    repo = github.add_repo("acme/web")
    return github.add_issue(repo, created=OPENED, updated=UPDATED, **fields)


@pytest.mark.parametrize(
    ("fields", "kind", "state", "status", "effort"),
    [
        ({}, "issue", "open", "open", 0.0),
        ({"state": "closed", "closed": CLOSED}, "issue", "done", "closed", 0.0),
        (
            {"state": "closed", "closed": CLOSED, "state_reason": "completed"},
            "issue",
            "done",
            "closed",
            0.0,
        ),
        (
            {"state": "closed", "closed": CLOSED, "state_reason": "not_planned"},
            "issue",
            "cancelled",
            "closed",
            0.0,
        ),
        (
            {"state": "closed", "closed": CLOSED, "state_reason": "duplicate"},
            "issue",
            "cancelled",
            "closed",
            0.0,
        ),
        ({"state_reason": "reopened"}, "issue", "open", "open", 0.0),
        ({"pull": True}, "pull_request", "open", "open", 4.0),
        ({"pull": True, "draft": True}, "pull_request", "open", "draft", 4.0),
        (
            {"pull": True, "state": "closed", "closed": CLOSED, "merged": CLOSED},
            "pull_request",
            "done",
            "merged",
            4.0,
        ),
        (
            {"pull": True, "state": "closed", "closed": CLOSED},
            "pull_request",
            "cancelled",
            "closed",
            0.0,
        ),
    ],
    ids=[
        "open-issue",
        "closed-issue-without-reason",
        "completed-issue",
        "not-planned-issue",
        "duplicate-issue",
        "reopened-issue",
        "open-pull-request",
        "draft-pull-request",
        "merged-pull-request",
        "closed-unmerged-pull-request",
    ],
)
def test_state_status_and_effort(
    fields: dict[str, Any], kind: str, state: str, status: str, effort: float
) -> None:
    item = mapper().item(raw(**fields), "acme/web")

    assert (item.kind, item.state, item.status, item.effort) == (
        kind,
        state,
        status,
        effort,
    )


def test_hours_per_issue_counts_issues_that_are_not_cancelled() -> None:
    count = mapper(hours_per_issue=1.5, hours_per_pull_request=6)

    assert count.item(raw(), "acme/web").effort == 1.5
    assert count.item(raw(pull=True), "acme/web").effort == 6.0
    cancelled = raw(state="closed", closed=CLOSED, state_reason="not_planned")
    assert count.item(cancelled, "acme/web").effort == 0.0


def test_a_merged_pull_request_as_a_work_item() -> None:
    record = raw(
        pull=True,
        title="Cut the release pipeline time",
        state="closed",
        closed=CLOSED,
        merged=CLOSED,
        author="alice",
        assignees=["bob", "alice"],
        labels=["ci", "release"],
        milestone="Q1",
    )

    item = mapper(teams={"acme/web": "platform"}).item(record, "acme/web")

    assert item.id == str(record["id"])
    assert item.key == "acme/web#1"
    assert item.title == "Cut the release pipeline time"
    assert item.url == "https://github.com/acme/web/pull/1"
    assert item.project == "acme/web"
    assert item.team == "platform"
    assert item.people == ("github:alice", "github:bob")
    assert item.labels == ("ci", "release")
    assert (item.created_at, item.closed_at, item.updated_at) == (
        OPENED,
        CLOSED,
        UPDATED,
    )
    assert item.occurred_at == CLOSED, "the merge is when the effort landed"
    assert item.attributes["merged_at"] == CLOSED
    assert item.attributes["milestone"] == "Q1"
    assert item.attributes["author"] == "alice"
    assert item.attributes["draft"] is False
    assert item.attributes["number"] == 1
    assert "body" not in item.attributes and "html_url" not in item.attributes


@pytest.mark.parametrize(
    ("partition", "project"),
    [("acme/web", "acme/web"), ("ACME/Web", "acme/web"), ("acme/site", "acme/site")],
    ids=["same", "other-case", "renamed"],
)
def test_the_configured_name_survives_a_rename(partition: str, project: str) -> None:
    item = mapper(teams={partition: "web"}).item(raw(), partition)

    assert (item.project, item.key, item.team) == (project, f"{project}#1", "web")
    assert item.attributes["repository"] == "acme/web", "GitHub's name, as it is now"


def test_occurred_at_is_the_close_else_the_last_update() -> None:
    closed = mapper().item(raw(state="closed", closed=CLOSED), "acme/web")
    opened = mapper().item(raw(), "acme/web")

    assert closed.occurred_at == CLOSED
    assert opened.occurred_at == UPDATED


def test_a_team_is_left_unset_without_a_mapping() -> None:
    assert mapper().item(raw(), "acme/web").team is None


def test_an_unknown_field_is_kept_plain_among_attributes_else_apart() -> None:
    record = {**raw(), "sub_issues_total": 3, "type": {"name": "Bug"}}

    attributes = mapper().item(record, "acme/web").attributes

    assert attributes["sub_issues_total"] == 3
    assert attributes["extra"] == {"type": {"name": "Bug"}}
    assert "type" not in attributes


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"state": "merged"}, "state must be open or closed, got 'merged'"),
        ({"number": "7"}, "number must be an integer, got '7'"),
        ({"title": None}, "title must be text, got NoneType"),
        ({"updated_at": ""}, "updated_at is empty"),
        ({"labels": "bug"}, "labels: expected a list, got str"),
    ],
    ids=["state", "number", "title", "updated_at", "labels"],
)
def test_a_malformed_record_is_refused_with_its_reason(
    change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(RecordError, match=reason.replace("(", r"\(")):
        mapper().item({**raw(), **change}, "acme/web")


@pytest.mark.parametrize("field", ["labels", "assignees"])
def test_a_null_list_is_a_bad_record_but_an_absent_one_is_none(field: str) -> None:
    # GitHub sends both on every issue and pull request, [] for none.
    record = raw(author="alice", assignees=["bob"], labels=["bug"])
    with pytest.raises(RecordError, match=f"^{field}: expected a list, got null$"):
        mapper().item({**record, field: None}, "acme/web")

    absent = {k: v for k, v in record.items() if k != field}
    for kept in (absent, {**record, field: []}):
        item = mapper().item(kept, "acme/web")
        if field == "labels":
            assert (item.labels, item.people) == ((), ("github:alice", "github:bob"))
        else:
            assert (item.labels, item.people) == (("bug",), ("github:alice",))


def test_a_missing_required_field_is_a_key_error() -> None:
    record = raw()
    del record["updated_at"]

    with pytest.raises(KeyError):
        mapper().item(record, "acme/web")


@pytest.mark.parametrize(
    ("record", "repository"),
    [
        ({"repository_url": "https://api.github.com/repos/acme/web"}, "acme/web"),
        (
            {"repository_url": "https://ghe.acme.com/api/v3/repos/Plat/deploy"},
            "Plat/deploy",
        ),
        ({"html_url": "https://github.com/acme/web/pull/12"}, "acme/web"),
        ({"html_url": "https://github.com/acme"}, None),
        ({}, None),
    ],
    ids=["github.com", "enterprise", "from-html-url", "unreadable", "none"],
)
def test_repository_of(record: dict[str, Any], repository: str | None) -> None:
    assert repository_of(record) == repository
