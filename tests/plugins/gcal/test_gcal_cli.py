"""``headway sync`` and ``headway score``-free commands with a gcal source:
what a user sees when things go right and wrong."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import headway_gcal
from headway.plugins import Plugins
from headway_sdk.testing import FakeApi
from tests.plugins.gcal.conftest import ENVIRON
from tests.plugins.gcal.fake_gcal import (
    ALICE,
    API,
    BAD_REFRESH_TOKEN,
    BOB,
    CAROL,
    CLIENT_SECRET,
    TOKEN_PATH,
    FakeCalendar,
)

CONFIG = """
[scorecard]
name = "Acme"
database = "headway.db"
period = "2026-Q4"

[teams.platform]
title = "Platform"
members = ["alice@acme.com", "bob@acme.com"]

[sources.calendar]
plugin = "gcal"
calendars = ["alice@acme.com", "bob@acme.com", "carol@acme.com"]
client_id = "${{GCAL_CLIENT_ID}}"
client_secret = "${{GCAL_CLIENT_SECRET}}"
refresh_token = "${{GCAL_REFRESH_TOKEN}}"
api_url = "{url}{api}"
token_url = "{url}{token}"
start = 2026-10-01
{extra}
"""


@pytest.fixture
def with_gcal(plugins: Plugins) -> Iterator[Plugins]:
    """The test's plugin set with the gcal plugin, removed afterwards.

    The CLI sets up the ``headway`` logger (a handler on the runner's stderr,
    no propagation); it is put back as it was for the tests that follow.
    """
    logger = logging.getLogger("headway")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    plugins.register(headway_gcal, "gcal")
    yield plugins
    plugins.unregister("gcal")
    handlers, level, propagate = saved
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def headway(
    with_gcal: Plugins,
    run_cli: Callable[..., Result],
    write_config: Callable[..., Path],
    fake_api: FakeApi,
    calendar: FakeCalendar,
) -> Callable[..., Result]:
    """Run headway with a configuration pointing at the fake."""

    def run(*args: str, extra: str = "", env: dict[str, str] | None = None) -> Result:
        path = write_config(
            CONFIG.format(url=fake_api.url, api=API, token=TOKEN_PATH, extra=extra)
        )
        return run_cli("--config", str(path), *args, env=env or ENVIRON)

    return run


def everything(result: Result) -> str:
    """What the user saw, on stdout and stderr."""
    try:
        return result.output + result.stderr
    except ValueError:
        return result.output


def test_sync_stores_the_meetings_and_reports_ok(headway: Any) -> None:
    result = headway("sync")

    assert result.exit_code == 0, everything(result)
    assert "calendar" in result.stdout and "ok" in result.stdout


def test_a_calendar_without_access_fails_the_sync_naming_it(
    headway: Any, calendar: FakeCalendar
) -> None:
    calendar.hidden.add(CAROL)

    result = headway("sync")

    text = everything(result)
    assert result.exit_code == 1
    assert f"calendar '{CAROL}' was not found" in text
    assert "Traceback" not in text


def test_refused_credentials_exit_1_with_advice_and_no_secret(headway: Any) -> None:
    result = headway("sync", env={**ENVIRON, "GCAL_REFRESH_TOKEN": BAD_REFRESH_TOKEN})

    text = everything(result)
    assert result.exit_code == 1
    assert "authorise again" in text
    assert "Traceback" not in text
    assert BAD_REFRESH_TOKEN not in text and CLIENT_SECRET not in text


def test_a_bad_source_table_is_a_configuration_error_before_any_request(
    headway: Any, fake_api: FakeApi
) -> None:
    result = headway("sync", extra="page_size = 0\ncalender = []")

    text = everything(result)
    assert result.exit_code == 1
    assert "sources.calendar.page_size" in text
    assert "sources.calendar.calender" in text
    assert "Traceback" not in text
    assert not fake_api.requests


def test_state_show_lists_one_cursor_per_calendar(headway: Any) -> None:
    assert headway("sync").exit_code == 0

    result = headway("state", "show", "--json")

    assert result.exit_code == 0, everything(result)
    partitions = {row["partition"] for row in json.loads(result.stdout)}
    assert partitions == {ALICE, BOB, CAROL}
