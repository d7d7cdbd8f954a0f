"""The ``[sources.NAME]`` table of a Jira source: every problem, with its path."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

import headway_jira
from headway.config import SourceConfig, resolve_options
from headway.connectors import SourceContext
from headway.errors import ConfigError
from headway.model import Period, Perspective, Scorecard, Team
from headway.plugins import Plugins
from headway_jira import JiraConfig, JiraConnector

from .fakejira import DC_ENV, ENV

CLOUD = {
    "url": "https://acme.atlassian.net",
    "email": "${JIRA_EMAIL}",
    "token": "${JIRA_API_TOKEN}",
    "jql": "project in (PLAT, WEB)",
}
DC = {"url": "https://jira.acme.example", "pat": "${JIRA_PAT}", "jql": "project = OPS"}
TEAMS = Scorecard(
    name="Acme",
    period=Period.parse("2026-Q1"),
    perspectives=(Perspective("process", "Internal process"),),
    teams=(Team("platform", "Platform"), Team("web", "Web")),
)


def build(table: dict[str, Any], scorecard: Scorecard | None = None) -> JiraConnector:
    environ = {**ENV, **DC_ENV}
    source = SourceConfig("jira", "jira", table)
    options, missing = resolve_options(source, environ)
    assert not missing
    context = SourceContext("jira", "jira", options, scorecard=scorecard)
    connector = JiraConnector.build(context)
    assert isinstance(connector, JiraConnector)
    return connector


def problems(table: dict[str, Any], scorecard: Scorecard | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        build(table, scorecard)
    return [str(problem) for problem in raised.value.problems]


def test_a_cloud_table_takes_the_documented_defaults() -> None:
    config = build(CLOUD).config

    assert config.cloud
    assert config.hours_per_point == 4.0 and config.default_hours == 1.0
    assert config.lookback == timedelta(minutes=10)
    assert config.census_every == timedelta(days=1)
    assert config.page_size == 100 and config.changelog
    assert "Won't Do" in config.cancelled_resolutions
    assert config.teams == {} and config.start is None


def test_the_issues_example_table_reads() -> None:
    table = {
        **CLOUD,
        "story_points_field": "customfield_10016",
        "hours_per_point": 4,
        "default_hours": 1,
        "teams": {"PLAT": "platform", "WEB": "web"},
        "start": date(2026, 1, 1),
    }

    config = build(table, TEAMS).config

    assert config.story_points_field == "customfield_10016"
    assert config.teams == {"PLAT": "platform", "WEB": "web"}
    assert config.start == date(2026, 1, 1)


def test_a_pat_makes_it_data_center() -> None:
    connector = build(DC)

    assert not connector.config.cloud
    assert connector.api == "/rest/api/2"
    assert "***" in repr(connector.config.pat)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"url": CLOUD["url"], "jql": "project = A"},
            "sources.jira.token: required: an API token",
        ),
        (
            {k: v for k, v in CLOUD.items() if k != "email"},
            "sources.jira.email: required with token",
        ),
        ({**CLOUD, "pat": "${JIRA_PAT}"}, "sources.jira.pat: set either pat"),
        ({**DC, "email": "a@b.c"}, "sources.jira.email: is only used with token"),
        ({**CLOUD, "jql": "  "}, "sources.jira.jql: must select some issues"),
        (
            {**CLOUD, "jql": "project = A order  by rank"},
            "sources.jira.jql: must not have an ORDER BY clause",
        ),
        ({**CLOUD, "lookback": "5m"}, "sources.jira.lookback: must be at least 10m"),
        ({**CLOUD, "page_size": 0}, "sources.jira.page_size: must be between 1"),
        ({**CLOUD, "hours_per_point": -1}, "sources.jira.hours_per_point: must be 0"),
        ({**CLOUD, "time_zone": "Mars/Base"}, "sources.jira.time_zone: unknown time"),
        ({**CLOUD, "url": "acme.atlassian.net"}, "sources.jira.url: must be an http"),
        ({**CLOUD, "start": "last year"}, "sources.jira.start: must be a date"),
        ({**CLOUD, "census_every": "often"}, "sources.jira.census_every: must be a"),
    ],
    ids=[
        "no-credentials",
        "token-without-email",
        "pat-and-token",
        "email-with-pat",
        "empty-jql",
        "order-by",
        "short-lookback",
        "page-size",
        "negative-hours",
        "zone",
        "url",
        "start",
        "census-every",
    ],
)
def test_a_bad_table_says_what_is_wrong_where(
    table: dict[str, Any], expected: str
) -> None:
    found = problems(table)

    assert any(problem.startswith(expected) for problem in found), found


def test_order_by_inside_a_quoted_value_is_allowed() -> None:
    build({**CLOUD, "jql": 'project = A AND summary ~ "order by"'})


def test_unknown_teams_are_reported_with_the_other_problems() -> None:
    found = problems({**CLOUD, "teams": {"PLAT": "platfrom"}, "bogus": 1}, TEAMS)

    assert "sources.jira.bogus: unknown key" in found[0]
    assert found[-1] == (
        "sources.jira.teams.PLAT: unknown team 'platfrom'; the [teams] are: "
        "platform, web"
    )


def test_without_teams_in_the_workspace_any_team_name_is_kept() -> None:
    assert build({**CLOUD, "teams": {"PLAT": "anything"}}).config.teams == {
        "PLAT": "anything"
    }


def test_every_key_is_documented() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "connectors" / "jira.md"
    text = docs.read_text(encoding="utf-8")

    for field in attrs.fields(JiraConfig):
        assert f"`{field.name}`" in text, f"{field.name} is not in {docs.name}"


def test_the_plugin_registers_the_connector_and_its_measures() -> None:
    plugins = Plugins.create(entry_points=False, builtins=False)
    plugins.register(headway_jira, "jira")

    assert plugins.connectors()["jira"].plugin == "jira"
    measures = plugins.measures()
    assert {name: m.kind for name, m in measures.items()} == {
        "jira.cycle_time": "outcome",
        "jira.lead_time": "outcome",
        "jira.throughput": "activity",
    }
