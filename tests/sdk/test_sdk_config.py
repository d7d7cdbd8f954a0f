"""Connector settings: types, required and unknown keys, every problem at once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import attrs
import pytest

from headway.errors import ConfigError
from headway.secrets import Secret
from headway_sdk import HttpSettings, http_url, option, parse_options, positive

PATH = "sources.acme"


@attrs.frozen
class Team:
    name: str = option(help="the team's key")
    weight: float = option(default=1.0)


@attrs.frozen
class AcmeConfig(HttpSettings):
    url: str = option(
        validator=http_url, help="the site root, such as https://acme.example"
    )
    token: Secret = option(help="an API token")
    email: str | None = option(default=None)
    projects: tuple[str, ...] = option(default=())
    teams: dict[str, str] = option(factory=dict)
    page_size: int = option(default=100, validator=positive)
    start: datetime | None = option(default=None)
    day: date | None = option(default=None)
    lookback: timedelta = option(default=timedelta(minutes=10))
    mode: Literal["cloud", "server"] = option(default="cloud")
    lead: Team | None = option(default=None)

    def validate(self) -> Iterable[tuple[str, str]]:
        yield from super().validate()
        if self.mode == "cloud" and self.email is None:
            yield "email", "required on Cloud (basic auth with the API token)"


GOOD = {"url": "https://acme.example", "token": Secret("tok-123456"), "email": "a@b.c"}


def problems(options: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as failed:
        parse_options(AcmeConfig, options, PATH)
    return {p.path: p.message for p in failed.value.problems}


def test_a_good_table_is_read_with_defaults():
    config = parse_options(
        AcmeConfig,
        {
            **GOOD,
            "projects": ["PLAT", "WEB"],
            "start": date(2026, 1, 1),
            "day": "2026-02-03",
            "lookback": "15m",
            "lead": {"name": "platform"},
            "timeout": 30,
        },
        PATH,
    )
    assert config.projects == ("PLAT", "WEB")
    assert config.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert config.day == date(2026, 2, 3)
    assert config.lookback == timedelta(minutes=15)
    assert config.lead == Team("platform")
    assert config.timeout == 30.0 and config.retries == 5 and config.max_wait == 300.0


def test_every_problem_is_reported_at_once_with_its_path():
    found = problems(
        {
            "url": "acme.example",
            "projects": "PLAT",
            "page_size": 0,
            "mode": "cloudy",
            "lead": {"weight": "heavy"},
            "tiemout": 5,
        }
    )
    assert found == {
        f"{PATH}.tiemout": found[f"{PATH}.tiemout"],
        f"{PATH}.token": "required: an API token",
        f"{PATH}.url": (
            "must be an http(s) URL such as https://example.com, got 'acme.example'"
        ),
        f"{PATH}.projects": "must be a list, got a string ('PLAT')",
        f"{PATH}.page_size": "must be greater than 0, got 0",
        f"{PATH}.mode": "must be one of 'cloud', 'server', got a string ('cloudy')",
        f"{PATH}.lead.name": "required: the team's key",
        f"{PATH}.lead.weight": "must be a number, got a string ('heavy')",
    }
    assert 'did you mean "timeout"' in found[f"{PATH}.tiemout"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        pytest.param(
            "page_size",
            True,
            "must be an integer, got a boolean (true)",
            id="bool-for-int",
        ),
        pytest.param("page_size", "10", "must be an integer", id="text-for-int"),
        pytest.param("teams", {"PLAT": 3}, "must be a string", id="dict-value"),
        pytest.param("start", "next tuesday", "must be a date or time", id="bad-date"),
        pytest.param("lookback", "soon", "must be a duration", id="bad-duration"),
        pytest.param("email", 5, "must be a string", id="optional-wrong-type"),
        pytest.param(
            "lookback", 10**30, "is too long a duration", id="duration-overflow"
        ),
        pytest.param(
            "lookback", "9" * 30 + "d", "is too long", id="duration-text-overflow"
        ),
        pytest.param(
            "timeout", 10**400, "must be a finite number", id="float-overflow"
        ),
    ],
)
def test_wrong_types_are_named(key, value, message):
    found = problems({**GOOD, key: value})
    (path,) = [p for p in found if p.startswith(f"{PATH}.{key}")]
    assert message in found[path]


def test_nested_paths_name_the_entry():
    found = problems({**GOOD, "teams": {"PLAT": "platform", "WEB": 7}})
    assert list(found) == [f"{PATH}.teams.WEB"]


def test_cross_field_checks_come_from_validate():
    found = problems({"url": "https://acme.example", "token": "x" * 8})
    assert found == {
        f"{PATH}.email": "required on Cloud (basic auth with the API token)"
    }


def test_shared_http_settings_are_checked():
    found = problems({**GOOD, "timeout": 0, "retries": -1})
    assert set(found) == {f"{PATH}.timeout", f"{PATH}.retries"}


def test_secrets_stay_secret():
    config = parse_options(AcmeConfig, {**GOOD, "token": "plain-text-token-9"}, PATH)
    assert isinstance(config.token, Secret)
    assert config.token.reveal() == "plain-text-token-9"
    assert "plain-text-token-9" not in repr(config)


def test_a_secret_field_not_typed_secret_is_a_plugin_bug():
    @attrs.frozen
    class Leaky:
        api_token: str = option()

    with pytest.raises(TypeError, match="type it as Secret"):
        parse_options(Leaky, {"api_token": "x"}, PATH)


def test_a_url_with_a_password_is_refused_without_showing_it():
    found = problems({**GOOD, "url": "https://bob:PASSW0RD@acme.example/jira"})
    message = found[f"{PATH}.url"]
    assert "must not hold a user name and password" in message
    assert "PASSW0RD" not in message and "https://acme.example/jira" in message


def test_a_key_that_is_not_bare_is_quoted_in_its_path():
    found = problems({**GOOD, "teams": {"\n": 0, "a b": 1}, "odd key": 1})
    assert found[f'{PATH}.teams."\\n"'] == "must be a string, got a number (0)"
    assert found[f'{PATH}.teams."a b"'] == "must be a string, got a number (1)"
    assert f'{PATH}."odd key"' in found
    assert all("\n" not in path for path in found)
