"""Mapping Jira issues onto work items, from the real recorded shapes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from headway.store import item_row
from headway_jira import IssueMapper, jira_time
from headway_jira.mapping import LEFT_OUT
from headway_sdk import RecordError, WorkItem

from .fakejira import FIXTURES, RECORDED, STATUSES

CATEGORIES = {ident: category for ident, (_, category) in STATUSES.items()}


def mapper(**changes: Any) -> IssueMapper:
    base: dict[str, Any] = {
        "source": "jira",
        "browse": "https://airbyteio.atlassian.net",
        "points_fields": ("customfield_10016",),
        "teams": {"PLAT": "platform"},
        "cancelled": frozenset({"won't do", "duplicate"}),
        "categories": CATEGORIES,
    }
    base.update(changes)
    return IssueMapper(**base)


def recorded(**fields: Any) -> dict[str, Any]:
    issue = copy.deepcopy(RECORDED)
    issue["fields"].update(fields)
    return issue


def done(resolution: str | None = "Done", **fields: Any) -> dict[str, Any]:
    values = {
        "status": {
            "name": "Closed",
            "id": "10001",
            "statusCategory": {"id": 3, "key": "done", "name": "Done"},
        },
        "resolution": {"id": "1", "name": resolution} if resolution else None,
        "resolutiondate": "2022-12-08T02:22:18.889-0800",
        **fields,
    }
    return recorded(**values)


def test_the_recorded_cloud_issue_becomes_a_complete_work_item() -> None:
    # The recording holds every field (it was made with fields=*all); a
    # search names only the fields the mapper reads, as Jira then answers.
    asked = set(mapper().fields())
    issue = {
        **RECORDED,
        "fields": {k: v for k, v in RECORDED["fields"].items() if k in asked},
    }
    for extra in ("projectId", "projectKey", "created", "updated"):
        issue.pop(extra, None)  # added by the project that recorded it

    item = mapper().map(issue)

    assert item == WorkItem(
        id="10627",
        kind="issue",
        key="TESTKEY13-1",
        title="My Summary",
        url="https://airbyteio.atlassian.net/browse/TESTKEY13-1",
        project="TESTKEY13",
        team=None,
        people=["integration-test@airbyte.io"],
        status="To Do",
        state="open",
        created_at=jira_time("2022-06-09T16:29:31.871-0700"),
        updated_at=jira_time("2022-12-08T02:22:18.889-0800"),
        closed_at=None,
        occurred_at=jira_time("2022-12-08T02:22:18.889-0800"),
        effort=1.0,
        points=None,
        labels=["test"],
        parent=None,
        attributes={
            "issue_type": "Epic",
            "status_category": "new",
            "effort_basis": "default",
            "priority": "Low",
            "components": ["Component 0"],
        },
    )
    row = item_row("jira", item, "2026-03-02T12:00:00.000Z", 1)
    assert row[11:14] == (
        "2022-06-09T23:29:31.871Z",
        "2022-12-08T10:22:18.889Z",
        None,
    )


def test_fields_jira_sends_unasked_are_kept_apart_and_free_text_is_not() -> None:
    item = mapper().map(RECORDED)

    extra = item.attributes["extra"]
    asked = set(mapper().fields())
    unasked = {
        name
        for name, value in RECORDED["fields"].items()
        if name not in asked and value is not None
    }
    assert "description" in unasked and "watches" in unasked
    assert set(extra) == (unasked - LEFT_OUT) | {
        "projectId",
        "projectKey",
        "created",
        "updated",
    }
    assert extra["watches"] == RECORDED["fields"]["watches"]
    assert "description" not in extra, "free text is left out on purpose"


@pytest.mark.parametrize(
    ("fixture", "titles"),
    [
        (
            "jiracli_search_v3_jql_trimmed.json",
            ["Bug summary", "Story summary", "Task summary"],
        ),
        (
            "jiracli_search_v2_startAt_trimmed.json",
            ["Epic 1 summary", "Epic 2 summary"],
        ),
    ],
    ids=["cloud-page", "data-center-page"],
)
def test_the_trimmed_search_pages_map_once_they_have_ids(
    fixture: str, titles: list[str]
) -> None:
    page = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))

    # The trimmed recordings dropped every issue's id: an issue without its
    # stable id cannot be stored (the stream sets it aside).
    for raw in page["issues"]:
        with pytest.raises(KeyError, match="'id'"):
            mapper().map(raw)
        raw["id"] = str(10000 + int(raw["key"].split("-")[1]))
    items = [mapper().map(raw) for raw in page["issues"]]

    assert [item.title for item in items] == titles
    # Without statusCategory (trimmed away) a status is taken as open, and
    # users without an e-mail or login are nobody headway can join.
    assert all(item.state == "open" and item.people == [] for item in items)
    assert items[1].labels == ["critical", "feature"]
    assert items[1].status == "In Progress"


@pytest.mark.parametrize(
    ("fields", "effort", "points", "basis"),
    [
        ({"timespent": 5400, "customfield_10016": 3}, 1.5, 3.0, "time_spent"),
        ({"timespent": None, "customfield_10016": 3}, 12.0, 3.0, "points"),
        ({"timespent": 0, "customfield_10016": 0.5}, 2.0, 0.5, "points"),
        ({"timespent": None, "customfield_10016": None}, 1.0, None, "default"),
        ({"customfield_10016": "lots"}, 1.0, None, "default"),
    ],
    ids=["time-spent", "points", "half-point", "neither", "points-not-a-number"],
)
def test_effort_is_time_spent_else_points_else_the_default(
    fields: dict[str, Any], effort: float, points: float | None, basis: str
) -> None:
    item = mapper().map(recorded(**fields))

    assert item.effort == effort
    assert item.points == points
    assert item.attributes["effort_basis"] == basis


def test_the_first_points_field_with_a_value_wins() -> None:
    both = mapper(points_fields=("customfield_10026", "customfield_10016"))

    assert both.map(recorded(customfield_10016=5)).points == 5.0
    assert both.map(recorded(customfield_10016=5, customfield_10026=8)).points == 8.0


@pytest.mark.parametrize(
    ("resolution", "state"),
    [("Done", "done"), ("Won't Do", "cancelled"), ("DUPLICATE", "cancelled")],
    ids=["done", "wont-do", "duplicate-any-case"],
)
def test_the_done_category_is_done_unless_the_resolution_cancels(
    resolution: str, state: str
) -> None:
    item = mapper().map(done(resolution))

    assert item.state == state
    assert item.closed_at == jira_time("2022-12-08T02:22:18.889-0800")
    assert item.occurred_at == item.closed_at
    assert item.attributes["resolution"] == resolution


def test_an_in_progress_issue_is_open() -> None:
    item = mapper().map(
        recorded(
            status={
                "name": "In Progress",
                "id": "3",
                "statusCategory": {"id": 4, "key": "indeterminate"},
            },
            resolutiondate="2022-12-08T02:22:18.889-0800",
        )
    )

    assert item.state == "open" and item.status == "In Progress"
    assert item.closed_at is None  # a stale resolution date does not close it


def test_a_done_issue_without_a_resolution_closed_when_it_entered_done() -> None:
    item = mapper().map(
        done(
            resolution=None,
            resolutiondate=None,
            statuscategorychangedate="2022-12-09T00:00:00.000+0100",
        )
    )

    assert item.state == "done"
    assert item.closed_at == datetime(2022, 12, 8, 23, 0, tzinfo=UTC)


def test_people_are_emails_else_source_logins_without_repeats() -> None:
    hidden = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Private"}
    dc_user = {"name": "jsmith", "key": "JIRAUSER10100", "displayName": "J. Smith"}

    cloud = mapper().map(recorded(assignee=hidden))
    server = mapper().map(recorded(assignee=dc_user, reporter=dc_user))
    nobody = mapper().map(recorded(assignee=None, reporter={"displayName": "X"}))

    assert cloud.people == [
        "jira:5b10ac8d82e05b22cc7d4ef5",
        "integration-test@airbyte.io",
    ]
    assert server.people == ["jira:jsmith"]
    assert nobody.people == []


def test_the_team_comes_from_the_project_map() -> None:
    plat = recorded(project={"key": "PLAT", "id": "1", "name": "Platform"})

    assert mapper().map(plat).team == "platform"
    assert mapper().map(RECORDED).team is None


def test_the_parent_is_the_parent_field_else_the_epic_link_key() -> None:
    parent = {"id": "10500", "key": "TESTKEY13-0", "fields": {"summary": "Epic"}}
    linked = mapper(epic_field="customfield_10014")

    child = linked.map(recorded(parent=parent, customfield_10014="OTHER-1"))
    old = linked.map(recorded(customfield_10014="TESTKEY13-7"))

    assert child.parent == "10500"
    assert child.attributes["parent_key"] == "TESTKEY13-0"
    assert old.parent is None
    assert old.attributes["parent_key"] == "TESTKEY13-7"
    assert (
        "parent_key" not in mapper().map(recorded(customfield_10014="X-1")).attributes
    )


def _history(when: str, old: str, new: str) -> dict[str, Any]:
    return {
        "created": when,
        "items": [
            {"field": "labels", "from": None, "to": None},
            {"field": "status", "from": old, "to": new},
        ],
    }


def test_work_started_at_the_first_move_into_an_in_progress_status() -> None:
    changelog = {
        "histories": [  # Cloud: newest first
            _history("2022-12-08T02:22:18.889-0800", "3", "10001"),
            _history("2022-11-20T09:00:00.000-0800", "10004", "10002"),
            _history("2022-11-10T09:00:00.000-0800", "3", "10004"),
            _history("2022-11-01T09:00:00.000-0800", "10000", "3"),
            _history("2022-10-01T09:00:00.000-0800", "10000", "10004"),
        ]
    }
    issue = done() | {"changelog": changelog}

    item = mapper().map(issue)

    assert item.attributes["started_at"] == datetime(2022, 11, 1, 17, tzinfo=UTC)
    todo = mapper().map(RECORDED | {"changelog": changelog})
    assert "started_at" not in todo.attributes
    never = mapper().map(done() | {"changelog": {"histories": []}})
    assert "started_at" not in never.attributes


def test_a_bulk_changelog_may_write_times_as_epoch_milliseconds() -> None:
    # The bulk changelog: status changes only, oldest first.
    moved = _history("", "10000", "3") | {"created": 1667322000000}
    later = _history("", "3", "10001") | {"created": 1670494938889}
    item = mapper().map(done() | {"changelog": {"histories": [moved, later]}})

    assert item.attributes["started_at"] == datetime(2022, 11, 1, 17, tzinfo=UTC)


@pytest.mark.parametrize("field", ["labels", "components"])
def test_a_null_list_field_is_a_bad_issue_but_an_absent_one_is_none(
    field: str,
) -> None:
    # Jira sends both as lists (empty for none) whenever they are asked for.
    with pytest.raises(RecordError, match=f"^{field}: expected a list, got null$"):
        mapper().map(recorded(**{field: None}))
    with pytest.raises(RecordError, match=f"^{field}: expected a list, got str$"):
        mapper().map(recorded(**{field: "test"}))

    absent = recorded()
    del absent["fields"][field]
    empty = recorded(**{field: []})
    for raw in (absent, empty):
        item = mapper().map(raw)
        assert item.labels == ([] if field == "labels" else ["test"])
        assert ("components" in item.attributes) is (field == "labels")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-06-09T16:29:31.871-0700", datetime(2022, 6, 9, 23, 29, 31, 871000, UTC)),
        ("2024-01-05T10:11:12.000+0000", datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC)),
        ("2024-01-05T10:11:12Z", datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC)),
        ("1704449472000", datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC)),
        (None, None),
    ],
    ids=["minus-0700", "plus-0000", "z", "epoch-millis", "none"],
)
def test_jira_times_are_read_with_their_offsets(
    text: str | None, expected: datetime | None
) -> None:
    assert jira_time(text) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2024-01-05T10:11:12"], ids=["words", "no-zone"]
)
def test_a_time_that_cannot_be_placed_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        jira_time(text)


def test_a_search_asks_for_the_epic_field_only_when_there_is_one() -> None:
    assert "customfield_10014" not in mapper().fields()
    assert mapper(epic_field="customfield_10014").fields()[-1] == "customfield_10014"
