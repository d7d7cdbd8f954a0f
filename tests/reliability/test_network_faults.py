"""Network faults from the fake servers, through the four real connectors.

A fault on the second listing request, after a page was stored: a reset
mid-body, a body cut short on the wire (its full length announced), a whole
200 whose JSON is cut off (its ``Content-Length`` fits the cut body, so only
the JSON parser can tell), an answer slower than the timeout, a burst of 500,
502 and 503, and a 200 carrying an HTML error page. Each is retried and
the sync ends as if nothing happened, counted in the run's row; one that
outlasts the retries fails the run with a message saying what, keeps every
page stored before it, and the next sync picks up from there.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi, FakeResponse, stored_items

from .faults import FaultPlan, cut_json, html_page, reset, slow, status, truncated
from .sources import SOURCES, Source

#: Seconds the client waits for a read in these tests, and how late a slow
#: answer comes (real time: the fake sleeps in its own thread).
TIMEOUT = 1.0
LATE = 2.5


def sequence(*changes: Callable[[FakeResponse], FakeResponse]) -> Any:
    """A change that applies ``changes`` in turn, one per request."""
    given = iter(changes)
    return lambda answer: next(given)(answer)


FAULTS = {
    "reset-mid-body": ([reset], "connection reset"),
    "body-cut-short": ([truncated], "cut"),
    "truncated-json": ([cut_json], "the JSON body is cut short or invalid"),
    "slower-than-the-timeout": ([slow(LATE)], "read timeout"),
    "burst-of-500-502-503": ([status(500), status(502), status(503)], "HTTP 50"),
    "html-error-page": ([html_page], "HTML page"),
}
CASES = [(source, fault) for source in SOURCES for fault in FAULTS]


def run_row(database: Path, run_id: int) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.row_factory = sqlite3.Row
        return dict(
            conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        )


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="headway")
    return caplog


@pytest.mark.parametrize(
    ("source", "fault"), CASES, ids=[f"{s.name}-{f}" for s, f in CASES]
)
def test_a_fault_mid_sync_is_retried_and_nothing_is_lost(
    source: Source,
    fault: str,
    fake_api: FakeApi,
    clock: FakeClock,
    tmp_path: Path,
    warnings: pytest.LogCaptureFixture,
) -> None:
    source.harness.serve(fake_api, source.harness.dataset())
    reference = tmp_path / "reference.db"
    assert source.sync(fake_api, reference, timeout=TIMEOUT).status == "ok"
    changes, reason = FAULTS[fault]
    FaultPlan(fake_api).on(
        source.listing, sequence(*changes), nth=2, times=len(changes)
    )

    database = tmp_path / "headway.db"
    result = source.sync(fake_api, database, timeout=TIMEOUT)

    assert result.status == "ok", result.error
    assert stored_items(database) == stored_items(reference)
    row = run_row(database, result.run_id)
    assert (row["status"], row["retries"], row["error"]) == ("ok", len(changes), None)
    assert row["waited"] > 0
    retried = [r.getMessage() for r in warnings.records if "retry" in r.getMessage()]
    assert len(retried) == len(changes)
    assert all(reason in message for message in retried), retried


GIVE_UP = {
    "503-past-the-retries": (status(503), "still failed after 3 attempts (HTTP 503)"),
    "html-page-past-the-retries": (
        html_page,
        "still failed after 3 attempts (an HTML page came instead of JSON)",
    ),
    "resets-past-the-retries": (reset, "still failed after 3 attempts (connection"),
    "cut-json-past-the-retries": (
        cut_json,
        "still failed after 3 attempts (the JSON body is cut short or invalid)",
    ),
}
GIVE_UP_CASES = [(source, fault) for source in SOURCES for fault in GIVE_UP]


@pytest.mark.parametrize(
    ("source", "fault"), GIVE_UP_CASES, ids=[f"{s.name}-{f}" for s, f in GIVE_UP_CASES]
)
def test_a_fault_that_outlasts_the_retries_fails_clearly_and_keeps_what_was_stored(
    source: Source, fault: str, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    source.harness.serve(fake_api, source.harness.dataset())
    reference = tmp_path / "reference.db"
    assert source.sync(fake_api, reference).status == "ok"
    expected = stored_items(reference)
    change, message = GIVE_UP[fault]
    plan = FaultPlan(fake_api)
    plan.on(source.listing, change, nth=2, times=3)

    database = tmp_path / "headway.db"
    failed = source.sync(fake_api, database, retries=2)

    assert failed.status == "failed"
    assert message in (failed.error or ""), failed.error
    assert "try again later" in (failed.error or "")
    row = run_row(database, failed.run_id)
    assert (row["status"], row["error"], row["retries"]) == ("failed", failed.error, 2)
    kept = stored_items(database)
    assert kept, "the page stored before the fault is kept"
    assert set(kept) < set(expected)

    plan.clear()
    resumed = source.sync(fake_api, database, retries=2)
    assert resumed.status == "ok", resumed.error
    assert stored_items(database) == expected
