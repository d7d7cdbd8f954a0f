"""The ``[sources.NAME]`` table of the gcal connector: every problem, with its key."""

from __future__ import annotations

from typing import Any

import pytest

from headway.config import SourceConfig, resolve_options
from headway.errors import ConfigError
from headway.secrets import Secret
from headway_gcal.config import DEFAULT_API_URL, DEFAULT_TOKEN_URL, GcalConfig
from headway_sdk import BearerAuth, OAuth2RefreshToken
from tests.plugins.gcal.conftest import gcal_connector, source_table

URL = "http://127.0.0.1:9"


def problems(environ: dict[str, str] | None = None, **changes: Any) -> dict[str, str]:
    """The problems building the connector reports, by key path."""
    with pytest.raises(ConfigError) as failed:
        gcal_connector(URL, environ, **changes)
    return {problem.path: problem.message for problem in failed.value.problems}


def test_the_issue_example_builds_with_the_documented_defaults() -> None:
    connector = gcal_connector(
        URL,
        {"GCAL_ACCESS_TOKEN": "ya29.example-token"},
        token="${GCAL_ACCESS_TOKEN}",
        client_id=None,
        client_secret=None,
        refresh_token=None,
        api_url=None,
        token_url=None,
        page_size=None,
    )

    config = connector.config
    assert isinstance(config, GcalConfig)
    assert config.api_url == DEFAULT_API_URL
    assert config.token_url == DEFAULT_TOKEN_URL
    assert config.page_size == 2500
    assert config.start is not None and config.start.isoformat() == (
        "2026-10-01T00:00:00+00:00"
    )
    assert isinstance(config.token, Secret)
    assert isinstance(connector.auth(), BearerAuth)
    assert "ya29.example-token" not in repr(connector)


def test_the_refresh_token_flow_is_used_when_configured() -> None:
    connector = gcal_connector(URL)

    assert isinstance(connector.auth(), OAuth2RefreshToken)
    assert connector.config.token_url == URL + "/token"


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        (
            {"client_id": None, "client_secret": None, "refresh_token": None},
            "sources.calendar.token",
            "client_id, client_secret and refresh_token",
        ),
        (
            {"client_secret": None},
            "sources.calendar.client_secret",
            "required with client_id and refresh_token",
        ),
        ({"calendars": []}, "sources.calendar.calendars", "at least one calendar"),
        (
            {"calendars": ["alice@acme.com", "Alice@acme.com"]},
            "sources.calendar.calendars[1]",
            "listed twice",
        ),
        (
            {"calendars": ["alice@acme.com", " "]},
            "sources.calendar.calendars[1]",
            "empty",
        ),
        ({"calendars": "alice@acme.com"}, "sources.calendar.calendars", "a list"),
        ({"page_size": 5000}, "sources.calendar.page_size", "between 1 and 2500"),
        ({"start": "last monday"}, "sources.calendar.start", "such as 2026-01-01"),
        ({"api_url": "www.googleapis.com"}, "sources.calendar.api_url", "http(s) URL"),
        ({"calender": ["x"]}, "sources.calendar.calender", 'did you mean "calendars"'),
    ],
    ids=[
        "no-credentials",
        "partial-refresh",
        "no-calendars",
        "duplicate",
        "blank",
        "not-a-list",
        "page-size",
        "start",
        "url",
        "typo",
    ],
)
def test_a_bad_table_names_the_key_and_what_to_do(
    changes: dict[str, Any], path: str, words: str
) -> None:
    found = problems(**changes)

    assert path in found, found
    assert words in found[path]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(calendars=[], page_size=0, client_secret=None)

    assert set(found) == {
        "sources.calendar.calendars",
        "sources.calendar.page_size",
        "sources.calendar.client_secret",
    }


def test_a_missing_variable_names_the_key_and_the_variable() -> None:
    table = source_table(URL)
    table.pop("plugin")
    _, missing = resolve_options(SourceConfig("calendar", "gcal", table), {})

    paths = {problem.path: problem.message for problem in missing}
    assert "GCAL_REFRESH_TOKEN is not set" in paths["sources.calendar.refresh_token"]
