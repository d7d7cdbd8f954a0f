"""The source table: good ones build, bad ones name every problem's key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import headway_github
from headway.connectors import SourceContext
from headway.errors import ConfigError
from headway.model import Period, Scorecard, Team
from headway.plugins import Plugins
from headway_github import GitHubConnector
from headway_sdk import Secret

TOKEN = "ghp_configTestToken0123456789"


def build(scorecard: Scorecard | None = None, **options: Any) -> GitHubConnector:
    table = {"token": Secret(TOKEN), **options}
    context = SourceContext("github", "github", table, scorecard=scorecard)
    return GitHubConnector.build(context)


def problems(**options: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        build(**options)
    assert TOKEN not in str(caught.value)
    return {p.path: p.message for p in caught.value.problems}


def test_the_issue_s_example_table_builds() -> None:
    connector = build(
        repos=["acme/web", "acme/infra"],
        api_url="https://api.github.com",
        teams={"acme/web": "web"},
        hours_per_pull_request=4,
        hours_per_issue=0,
        start="2026-01-01",
    )

    config = connector.config
    assert config.repos == ("acme/web", "acme/infra")
    assert config.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert config.lookback == timedelta(minutes=10)
    assert (config.page_size, config.max_wait, config.rate_reserve) == (100, 300, 0.05)
    assert TOKEN not in repr(connector) and TOKEN not in repr(config)


def test_an_org_builds_with_exclusions() -> None:
    config = build(org="acme", exclude=["acme/tmp-*"], lookback="1h").config

    assert config.org == "acme" and config.exclude == ("acme/tmp-*",)
    assert config.lookback == timedelta(hours=1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"sources.github.repos": "required: give repos"}),
        (
            {"repos": ["acme/web"], "org": "acme"},
            {"sources.github.org": "give either repos or org, not both"},
        ),
        (
            {"repos": ["acme/web", "web", "ACME/Web"]},
            {
                "sources.github.repos[1]": "must be owner/name such as acme/web, "
                "got 'web'",
                "sources.github.repos[2]": "'ACME/Web' is listed twice",
            },
        ),
        ({"org": "acme/web"}, {"sources.github.org": "must be an organisation's"}),
        ({"repos": ["a/b"], "exclude": ["a/*"]}, {"sources.github.exclude": "only"}),
        (
            {"repos": ["acme/web"], "teams": {"acme/infra": "ops", "web": "x"}},
            {
                'sources.github.teams."acme/infra"': "'acme/infra' is not one of repos",
                "sources.github.teams.web": "must be a repository as owner/name",
            },
        ),
        (
            {"org": "acme", "teams": {"other/web": "web"}},
            {'sources.github.teams."other/web"': "not a repository of the org"},
        ),
        (
            {"repos": ["a/b"], "api_url": "https://github.com"},
            {"sources.github.api_url": "is the web site; GitHub's API is"},
        ),
        (
            {"repos": ["a/b"], "api_url": "api.github.com"},
            {"sources.github.api_url": ""},
        ),
        (
            {"repos": ["a/b"], "hours_per_issue": -1, "page_size": 101},
            {
                "sources.github.hours_per_issue": "must be 0 or more hours",
                "sources.github.page_size": "must be between 1 and 100",
            },
        ),
        ({"repos": ["a/b"], "start": "soon"}, {"sources.github.start": ""}),
        (
            {"repos": "acme/web", "tiemout": 3},
            {
                "sources.github.repos": "must be a list",
                "sources.github.tiemout": 'unknown key (did you mean "timeout"?)',
            },
        ),
    ],
    ids=[
        "neither-repos-nor-org",
        "both",
        "bad-and-duplicate-repos",
        "bad-org",
        "exclude-without-org",
        "teams-of-other-repos",
        "teams-outside-the-org",
        "web-site-url",
        "not-a-url",
        "negative-hours-big-pages",
        "bad-start",
        "wrong-type-and-typo",
    ],
)
def test_every_problem_is_reported_at_its_key(
    options: dict[str, Any], expected: dict[str, str]
) -> None:
    found = problems(**options)

    for path, message in expected.items():
        assert path in found, found
        assert message in found[path], found[path]


def test_a_missing_token_is_reported_with_the_rest() -> None:
    table = {"repos": "acme/web", "org": 7, "no_such_key": 1}
    context = SourceContext("github", "github", table)

    with pytest.raises(ConfigError) as caught:
        GitHubConnector.build(context)

    paths = {p.path for p in caught.value.problems}
    assert paths == {
        "sources.github.token",
        "sources.github.repos",
        "sources.github.org",
        "sources.github.no_such_key",
    }


def test_teams_must_be_teams_of_the_scorecard() -> None:
    scorecard = Scorecard(
        "Acme",
        Period.parse("2026-Q1"),
        (),
        teams=(Team("web", "Web"), Team("platform", "Platform")),
    )

    with pytest.raises(ConfigError) as caught:
        build(scorecard, repos=["acme/web"], teams={"acme/web": "frontend"})

    (problem,) = caught.value.problems
    assert problem.path == 'sources.github.teams."acme/web"'
    assert problem.message == "unknown team 'frontend'; teams: web, platform"
    assert build(scorecard, repos=["acme/web"], teams={"acme/web": "web"})


def test_the_plugin_registers_the_connector_and_its_measures() -> None:
    plugins = Plugins.create(entry_points=False, builtins=False)
    plugins.register(headway_github, "github")

    assert "github" in plugins.connectors()
    measures = plugins.measures()
    assert measures["github.pull_request_lead_time"].kind == "outcome"
    assert measures["github.merged_pull_requests"].kind == "activity"


def test_a_config_file_with_the_github_source_loads(tmp_path: Path) -> None:
    from headway.config import load_config

    path = tmp_path / "headway.toml"
    path.write_text(
        '[scorecard]\nname = "Acme"\nperiod = "2026-Q1"\n'
        '[sources.github]\nplugin = "github"\ntoken = "${GITHUB_TOKEN}"\n'
        'repos = ["acme/web"]\nteams = { "acme/web" = "web" }\nstart = 2026-01-01\n',
        encoding="utf-8",
    )

    config = load_config(path, environ={"GITHUB_TOKEN": TOKEN})

    assert config.sources["github"].plugin == "github"
