"""A Jira source in a workspace: issue keys where a user names an item."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import headway_jira
from headway.plugins import Plugins
from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi

from .fakejira import DC_ENV, ENV, FakeJira

FIRST = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def with_jira(plugins: Plugins) -> Iterator[Plugins]:
    plugins.register(headway_jira, "jira")
    yield plugins
    plugins.unregister("jira")


def _workspace(url: str, credentials: str) -> str:
    return f"""
        [scorecard]
        name = "Acme"
        period = "2026-Q1"

        [[objectives]]
        id = "P1"
        perspective = "process"
        title = "Automate the release pipeline"

        [[objectives]]
        id = "P2"
        perspective = "learning"
        title = "Grow the team"

        [[rules]]
        objective = "P1"
        source = "jira"
        parent = "PLAT-1"

        [[rules]]
        objective = "P2"
        source = "jira"
        kind = "issue"
        title = "^Epic"

        [sources.jira]
        plugin = "jira"
        url = "{url}"
        {credentials}
        jql = "project in (PLAT, WEB)"
        """


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "data-center"])
def test_keys_name_items_in_explain_and_in_a_rules_parent(
    fake_api: FakeApi,
    clock: FakeClock,
    with_jira: Plugins,
    run_cli: Callable[..., Result],
    write_config: Callable[..., Path],
    cloud: bool,
) -> None:
    site = FakeJira(cloud=cloud)
    epic = site.add(1, updated=FIRST, issuetype="Epic", summary="Epic of releases")
    child: dict[str, Any] = {}
    if cloud:
        link = {"id": epic["id"], "key": "PLAT-1", "fields": {"summary": "Epic"}}
        child = {"parent": link}
    else:
        child = {"epic_key": "PLAT-1"}  # older sites: the Epic Link field
    story = site.add(12, updated=FIRST + timedelta(hours=1), summary="Ship", **child)
    other = site.add(13, updated=FIRST + timedelta(hours=2), summary="Other")
    site.serve(fake_api)
    credentials = (
        'email = "${JIRA_EMAIL}"\n        token = "${JIRA_API_TOKEN}"'
        if cloud
        else 'pat = "${JIRA_PAT}"'
    )
    path = write_config(_workspace(fake_api.url, credentials))
    env = ENV if cloud else DC_ENV

    synced = run_cli("--config", str(path), "sync", "--json", env=env)
    assert synced.exit_code == 0, synced.output

    def explain(reference: str) -> dict[str, Any]:
        result = run_cli("--config", str(path), "explain", reference, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    by_key = explain("jira:PLAT-12")
    assert by_key == explain(f"jira:{story['id']}")
    assert by_key["item"]["id"] == story["id"]
    assert by_key["item"]["parent"] == epic["id"]
    # The rule names the parent by its key; the story matches it itself.
    assert by_key["assignment"]["shares"] == [{"objective": "P1", "share": 1.0}]
    assert by_key["assignment"]["reason"] == "rule 1"
    assert {"condition": "parent", "holds": True} in by_key["conditions"]
    assert explain("jira:PLAT-1")["assignment"]["reason"] == "rule 2"
    unmatched = explain(f"jira:{other['key']}")["assignment"]
    assert unmatched["category"] == "unaligned", unmatched


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "data-center"])
def test_a_parent_rule_names_an_epic_outside_the_jql_by_its_key(
    fake_api: FakeApi,
    clock: FakeClock,
    with_jira: Plugins,
    run_cli: Callable[..., Result],
    write_config: Callable[..., Path],
    cloud: bool,
) -> None:
    # The epic lives in OPS, which the JQL does not select: the store has
    # its id as the story's parent, and its key only in attributes.parent_key,
    # which a rule's parent condition reads.
    site = FakeJira(cloud=cloud)
    epic = site.add(1, project="OPS", updated=FIRST, issuetype="Epic")
    link = {"id": epic["id"], "key": "OPS-1", "fields": {"summary": "Epic"}}
    child: dict[str, Any] = {"parent": link} if cloud else {"epic_key": "OPS-1"}
    story = site.add(12, updated=FIRST + timedelta(hours=1), summary="Ship", **child)
    site.serve(fake_api)
    credentials = (
        'email = "${JIRA_EMAIL}"\n        token = "${JIRA_API_TOKEN}"'
        if cloud
        else 'pat = "${JIRA_PAT}"'
    )
    text = _workspace(fake_api.url, credentials).replace(
        'parent = "PLAT-1"', 'parent = "OPS-1"'
    )
    path = write_config(text)
    synced = run_cli("--config", str(path), "sync", env=ENV if cloud else DC_ENV)
    assert synced.exit_code == 0, synced.output

    result = run_cli("--config", str(path), "explain", "jira:PLAT-12", "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["item"]["id"] == story["id"] and data["item"]["parent"] == epic["id"]
    assert data["assignment"]["reason"] == "rule 1"
