"""The conformance suite: it passes a good connector and catches bad ones."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import sdk_tickets
from sdk_tickets import Tickets, TicketsConfig, TicketsConnector, harness

from headway.errors import ConfigError
from headway_sdk import (
    CursorRun,
    FullRefreshCursor,
    Paginator,
    WatermarkCursor,
    WorkItem,
    hookimpl,
    parse_options,
)
from headway_sdk.testing import CHECKS, Conformance, FakeApi, conformance_suite

test_tickets_conformance = conformance_suite(harness)


class _Plugin:
    """Registers a variant of the tickets connector under the same name."""

    def __init__(self, connector: type[TicketsConnector]):
        self.connector = connector

    @hookimpl
    def register_connectors(self, register: Any) -> None:
        register("tickets", self.connector.build)


def _variant(stream: type[Tickets] | None = None, **members: Any) -> _Plugin:
    if stream is not None:
        members["streams"] = lambda self: [stream(self)]
    return _Plugin(type("Variant", (TicketsConnector,), members))


def _lax_build(cls: type[TicketsConnector], context: Any) -> TicketsConnector:
    options = {k: v for k, v in context.options.items() if k in _field_names()}
    return cls(parse_options(TicketsConfig, options, "sources.x"), context)


def _field_names() -> set[str]:
    return {field.name for field in attrs.fields(TicketsConfig)}


class _FullListing(Tickets):
    def cursor(self) -> FullRefreshCursor:
        return FullRefreshCursor()


class _RunStartWatermark(WatermarkCursor):
    """Saves the run's start after every page: skips what was not read yet."""

    def begin(self, saved: Any, *, now: datetime, full: bool = False) -> CursorRun:
        run = super().begin(saved, now=now, full=full)
        run.state = lambda page: {"watermark": now.isoformat()}  # type: ignore[method-assign]
        return run


class _SkipsOnResume(Tickets):
    def cursor(self) -> WatermarkCursor:
        return _RunStartWatermark(
            start=self.config.start, lookback=self.config.lookback
        )


class _LeaksToken(Tickets):
    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        item = super().parse_record(raw, partition)
        return attrs.evolve(item, attributes={"auth": self.config.token.reveal()})


class _LogsToken(Tickets):
    """Logs the token on an SDK module logger, which redacts nothing itself."""

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        logging.getLogger("headway_sdk.cursors").debug(
            "parsing with %s", self.config.token.reveal()
        )
        return super().parse_record(raw, partition)


class _RandomIds(Tickets):
    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        return attrs.evolve(super().parse_record(raw, partition), id=uuid.uuid4().hex)


class _LosesKeyOfNewChanges(Tickets):
    """Reads what changed since the watermark as if from a feed without keys;
    what the lookback reads again is unchanged, so the counts stay right."""

    def params(self, partition: str, run: CursorRun) -> Mapping[str, Any]:
        since = run.since if run.since and run.since > self.config.start else None
        self.watermark = since + self.config.lookback if since else None
        return super().params(partition, run)

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        item = super().parse_record(raw, partition)
        new = self.watermark and item.updated_at and item.updated_at > self.watermark
        return attrs.evolve(item, key=None) if new else item


class _Unguarded(Paginator):
    """Follows the token like the real one, without any loop guard."""

    def walk(self, client: Any, request: Any, extract: Any, position: Any = None):
        from headway_sdk.pagination import PageResult

        number = 0
        while request is not None:
            number += 1
            response = client.send(request)
            token = (response.data or {}).get("next_cursor")
            following = request.with_params(cursor=token) if token else None
            yield PageResult(response, extract(response), number, None, not following)
            request = following


class _NoLoopGuard(Tickets):
    def paginator(self) -> Paginator:
        return _Unguarded()


@pytest.mark.parametrize(
    ("check", "changes", "message"),
    [
        pytest.param(
            "config",
            {"plugin": _variant(build=classmethod(_lax_build))},
            "unknown key",
            id="config-unknown-key-accepted",
        ),
        pytest.param(
            "redaction",
            {"plugin": _variant(_LeaksToken)},
            "secret shows in the store",
            id="redaction-token-in-store",
        ),
        pytest.param(
            "redaction",
            {"plugin": _variant(_LogsToken)},
            "secret shows in the log",
            id="redaction-token-in-an-sdk-log",
        ),
        pytest.param(
            "check_bad",
            {"plugin": _variant(check=lambda self: None)},
            r"check\(\) passed",
            id="check-ignores-credentials",
        ),
        pytest.param(
            "stable_ids",
            {"plugin": _variant(_RandomIds)},
            "ids differ",
            id="ids-random",
        ),
        pytest.param(
            "incremental",
            {"plugin": _variant(_FullListing)},
            "not incremental",
            id="incremental-full-listing",
        ),
        pytest.param(
            "incremental",
            {"plugin": _variant(_LosesKeyOfNewChanges)},
            "differs from a full sync",
            id="incremental-misreads-changes",
        ),
        pytest.param(
            "resume",
            {"plugin": _variant(_SkipsOnResume)},
            "store differs",
            id="resume-skips-records",
        ),
        pytest.param(
            "rate_limits",
            {
                "options": lambda url: {
                    **harness().options(url),
                    "retries": 0,
                }
            },
            "a sync through a 429",
            id="rate-limit-not-retried",
        ),
        pytest.param(
            "pagination_loop",
            {"plugin": _variant(_NoLoopGuard)},
            "looping listing ended ok",
            id="loop-not-detected",
        ),
    ],
)
def test_suite_catches_a_bad_connector(
    check: str,
    changes: Mapping[str, Any],
    message: str,
    fake_api: FakeApi,
    tmp_path: Path,
):
    fake_api.strict = False
    conformance = Conformance(harness(**changes), fake_api, tmp_path)
    with pytest.raises(AssertionError, match=message):
        conformance.run(check)
    # What a broken connector left unused is not this test's concern.
    fake_api.clear()


def test_the_log_check_sees_what_a_redacting_handler_would_mask(fake_api, tmp_path):
    # A redacting handler already on the logger (the CLI's, left by an earlier
    # run in this process) must not hide the leak from the check.
    from headway.secrets import RedactingFilter

    masking = logging.StreamHandler(io.StringIO())
    masking.addFilter(RedactingFilter())
    logger = logging.getLogger("headway_sdk")
    logger.addHandler(masking)
    try:
        fake_api.strict = False
        conformance = Conformance(
            harness(plugin=_variant(_LogsToken)), fake_api, tmp_path
        )
        with pytest.raises(AssertionError, match="secret shows in the log"):
            conformance.run("redaction")
        fake_api.clear()
    finally:
        logger.removeHandler(masking)


def test_suite_has_one_test_per_check():
    marks = test_tickets_conformance.pytestmark  # type: ignore[attr-defined]
    assert next(m for m in marks if m.name == "parametrize").args[1] == list(CHECKS)


def test_unknown_check_to_skip_is_refused():
    with pytest.raises(ValueError, match="unknown checks"):
        conformance_suite(harness, skip=["no_such_check"])


def test_lax_variant_really_builds():
    # The config variant above must differ from the real connector only in
    # accepting unknown keys, or the test of the suite proves nothing.
    with pytest.raises(ConfigError):
        TicketsConnector.build(
            _context({"url": "http://127.0.0.1:1", "token": "x" * 8, "bogus": 1})
        )


def _context(options: Mapping[str, Any]) -> Any:
    from headway.connectors import SourceContext

    return SourceContext("x", "tickets", options)


def test_module_plugin_registers_tickets(plugins):
    plugins.register(sdk_tickets, "tickets-test")
    try:
        assert "tickets" in plugins.connectors()
    finally:
        plugins.unregister("tickets-test")
