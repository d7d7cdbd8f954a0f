"""What a user sees when Jira refuses, limits or fails: clear, secret-free."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import headway_jira
from headway.config import SourceConfig, resolve_options
from headway.connectors import SourceContext
from headway.errors import ConnectorError
from headway.plugins import Plugins
from headway_sdk import AuthError, FakeClock
from headway_sdk.testing import FakeApi, FakeResponse, run_source

from .fakejira import (
    BAD_DC_ENV,
    BAD_ENV,
    BAD_PAT,
    BAD_TOKEN,
    DC_ENV,
    ENV,
    GONE_BODY,
    PAT,
    TOKEN,
    FakeJira,
    cloud_options,
    dc_options,
    hourly,
    rate_limited,
)

FIRST = datetime(2026, 3, 1, tzinfo=UTC)
SECRETS = (TOKEN, BAD_TOKEN, PAT, BAD_PAT)


@pytest.fixture
def site(fake_api: FakeApi) -> FakeJira:
    """A Cloud site with a few issues, served."""
    site = FakeJira(page_cap=2)
    hourly(site, 6, first=FIRST)
    return site.serve(fake_api)


def sync(fake_api: FakeApi, tmp_path: Path, environ: Any = None, **options: Any) -> Any:
    table = cloud_options(fake_api.url, **options)
    return run_source(
        headway_jira, "jira", table, tmp_path / "h.db", environ=environ or ENV
    )


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def build(table: dict[str, Any], environ: dict[str, str]) -> Any:
    source = SourceConfig("jira", "jira", table)
    options, missing = resolve_options(source, environ)
    assert not missing
    return headway_jira.JiraConnector.build(SourceContext("jira", "jira", options))


# ---------------------------------------------------------------- credentials


def test_refused_cloud_credentials_name_the_site_and_what_to_check(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    result = sync(fake_api, tmp_path, BAD_ENV)

    assert result.status == "failed"
    error = result.error or ""
    assert f"Jira at {fake_api.url} refused the credentials (HTTP 401" in error
    assert "check email and token" in error
    assert "id.atlassian.com" in error
    assert_no_secret(error)
    assert len(fake_api.requests) == 1  # no retries, nothing else tried


def test_refused_data_center_token_says_to_check_the_pat(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    dc = FakeJira(cloud=False)
    hourly(dc, 2, first=FIRST)
    dc.serve(fake_api)
    table = dc_options(fake_api.url)

    result = run_source(
        headway_jira, "jira", table, tmp_path / "h.db", environ=BAD_DC_ENV
    )

    assert result.status == "failed"
    assert "check pat (a personal access token" in (result.error or "")
    assert_no_secret(result.error or "")


def test_a_403_without_a_rate_limit_stops_the_source_as_refused(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    forbidden = {"errorMessages": ["You do not have permission to browse."]}
    fake_api.inject(FakeResponse(403, json=forbidden), path="/rest/api/3/search/jql")

    result = sync(fake_api, tmp_path)

    assert result.status == "failed"
    assert "refused the credentials (HTTP 403: You do not have permission" in (
        result.error or ""
    )
    assert not list(tmp_path.glob("*.db")) or _count(tmp_path / "h.db") == 0


def _count(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]


def test_check_reports_refused_credentials_without_the_token(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock
) -> None:
    connector = build(cloud_options(fake_api.url), BAD_ENV)

    with pytest.raises(AuthError) as raised:
        connector.check()

    assert "check email and token" in str(raised.value)
    assert_no_secret(str(raised.value))
    assert_no_secret(repr(connector))


def test_check_validates_the_jql_too(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock
) -> None:
    build(cloud_options(fake_api.url), ENV).check()
    connector = build(cloud_options(fake_api.url, jql="project = NOPE"), ENV)

    with pytest.raises(ConnectorError) as raised:
        connector.check()

    assert "The value 'NOPE' does not exist for the field 'project'" in str(
        raised.value
    )


# ---------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("jql", "shown"),
    [
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("project ~~ PLAT", "Error in the JQL Query: The character 'p' is a reserved"),
    ],
    ids=["unknown-project", "bad-syntax"],
)
def test_a_bad_jql_shows_jiras_error_messages(
    site: FakeJira,
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    jql: str,
    shown: str,
) -> None:
    result = sync(fake_api, tmp_path, jql=jql)

    assert result.status == "failed"
    error = result.error or ""
    assert f"Jira at {fake_api.url} rejected the search (HTTP 400: {shown}" in error
    assert "check jql in [sources.src]" in error
    assert error.count("rejected the search") == 1


def test_the_removed_search_api_says_the_site_needs_the_new_one(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    # A Cloud site reached with a bearer token (an OAuth access token set as
    # pat): the old search endpoint answers 410.
    dc = FakeJira(cloud=False)
    dc.serve(fake_api)
    fake_api.inject(
        FakeResponse(410, json=GONE_BODY), path="/rest/api/2/search", repeat=True
    )

    result = run_source(
        headway_jira,
        "jira",
        dc_options(fake_api.url),
        tmp_path / "h.db",
        environ=DC_ENV,
    )

    assert result.status == "failed"
    error = result.error or ""
    assert "answered HTTP 410 Gone to /rest/api/2/search" in error
    assert "Please migrate to the /rest/api/3/search/jql API" in error
    assert "set email and token (an API token) instead of pat" in error


def test_a_410_to_a_cloud_source_does_not_ask_for_what_it_has(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    fake_api.inject(
        FakeResponse(410, json=GONE_BODY), path="/rest/api/3/search/jql", repeat=True
    )

    result = sync(fake_api, tmp_path)

    assert result.status == "failed"
    error = result.error or ""
    assert "answered HTTP 410 Gone to /rest/api/3/search/jql" in error
    assert "Please migrate" in error and "instead of pat" not in error
    assert "the site has removed this API" in error


def test_a_wrong_url_says_to_give_the_site_root(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    fake_api.strict = False
    table = cloud_options(fake_api.url + "/jira")

    result = run_source(headway_jira, "jira", table, tmp_path / "h.db", environ=ENV)

    assert result.status == "failed"
    assert "has no /jira/rest/api/3/myself (HTTP 404)" in (result.error or "")
    assert "is the site root" in (result.error or "")


def test_a_cloud_source_pointed_at_data_center_says_to_use_a_pat(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    # Data Center serves /rest/api/2 only: /rest/api/3/myself is not found.
    FakeJira(cloud=False).serve(fake_api)
    fake_api.strict = False

    result = sync(fake_api, tmp_path)

    assert result.status == "failed"
    assert "has no /rest/api/3/myself (HTTP 404)" in (result.error or "")
    assert "if it is Jira Data Center, set pat" in (result.error or "")


@pytest.mark.parametrize(
    "limited",
    [
        rate_limited(17),
        rate_limited(17, html=True),
        rate_limited(17, status=503),
        FakeResponse(
            403,
            headers={"Retry-After": "17", "X-RateLimit-Remaining": "0"},
            json={"errorMessages": ["Rate limit exceeded."]},
        ),
    ],
    ids=["429", "429-html-page", "503", "403-limited"],
)
def test_rate_limits_wait_as_retry_after_says(
    site: FakeJira,
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    limited: FakeResponse,
) -> None:
    # The third page of the listing is limited twice.
    site.hooks[2] = lambda: fake_api.inject(
        limited, limited, path="/rest/api/3/search/jql"
    )

    result = sync(fake_api, tmp_path)

    assert result.status == "ok", result.error
    assert result.items == 6
    assert clock.sleeps == [17.0, 17.0]
    assert result.stats.retries == 2 and result.stats.waited == 34.0


def test_a_limit_longer_than_max_wait_stops_with_what_was_read(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site.hooks[1] = lambda: fake_api.inject(
        rate_limited(900), path="/rest/api/3/search/jql"
    )

    stopped = sync(fake_api, tmp_path, max_wait=600)

    assert stopped.status == "partial"
    assert "over max_wait (600 s)" in (stopped.error or "")
    assert stopped.items == 2
    assert clock.sleeps == []
    assert sync(fake_api, tmp_path, max_wait=600).status == "ok"
    assert _count(tmp_path / "h.db") == 6


def test_a_server_that_keeps_failing_ends_the_run_saying_so(
    site: FakeJira, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    fake_api.inject(
        FakeResponse(500, body="<html>oops</html>"),
        path="/rest/api/3/myself",
        repeat=True,
    )

    result = sync(fake_api, tmp_path, retries=2)

    assert result.status == "failed"
    assert "still failed after 3 attempts (HTTP 500)" in (result.error or "")


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def with_jira(plugins: Plugins) -> Iterator[Plugins]:
    plugins.register(headway_jira, "jira")
    yield plugins
    plugins.unregister("jira")


def test_the_cli_prints_one_line_and_exits_1_for_refused_credentials(
    site: FakeJira,
    fake_api: FakeApi,
    clock: FakeClock,
    with_jira: Plugins,
    run_cli: Callable[..., Result],
    write_config: Callable[..., Path],
) -> None:
    path = write_config(
        f"""
        [scorecard]
        name = "Acme"
        period = "2026-Q1"

        [sources.jira]
        plugin = "jira"
        url = "{fake_api.url}"
        email = "${{JIRA_EMAIL}}"
        token = "${{JIRA_API_TOKEN}}"
        jql = "project in (PLAT, WEB)"
        """
    )

    result = run_cli("--config", str(path), "sync", "--json", env=BAD_ENV)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert "check email and token" in json.dumps(report)
    assert_no_secret(result.output)


def test_the_cli_reports_config_problems_with_their_paths(
    with_jira: Plugins,
    run_cli: Callable[..., Result],
    write_config: Callable[..., Path],
) -> None:
    path = write_config(
        """
        [scorecard]
        name = "Acme"
        period = "2026-Q1"

        [teams.platform]
        members = ["alice@acme.example"]

        [sources.jira]
        plugin = "jira"
        url = "https://acme.atlassian.net"
        token = "${JIRA_API_TOKEN}"
        jql = "project = PLAT ORDER BY created"
        teams = { PLAT = "platfrom" }
        """
    )

    result = run_cli("--config", str(path), "sync", env=ENV)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "sources.jira.jql: must not have an ORDER BY clause" in result.output
    assert "sources.jira.email: required with token" in result.output
    assert "sources.jira.teams.PLAT: unknown team 'platfrom'" in result.output
    assert_no_secret(result.output)
