"""The SDK's conformance suite, against a fake Jira Cloud and Data Center."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import headway_jira
from headway_sdk.testing import FakeApi, Harness, conformance_suite

from .fakejira import (
    BAD_DC_ENV,
    BAD_ENV,
    DC_ENV,
    ENV,
    FakeJira,
    cloud_options,
    dc_options,
    hourly,
)

# The suite's clock starts at 2026-03-02 12:00 UTC; the issues are older,
# an hour apart, wider than the ten-minute lookback.
FIRST = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def _site(cloud: bool) -> FakeJira:
    site = FakeJira(cloud=cloud, dc_cap=3)
    hourly(site, 12, first=FIRST)
    return site


def _serve(fake: FakeApi, site: FakeJira) -> None:
    site.serve(fake)


def _change(site: FakeJira, now: datetime) -> int:
    for ident in list(site.issues)[:2]:
        site.update(ident, now, summary=f"edited at {now.isoformat()}")
    return 2


test_cloud_conformance = conformance_suite(
    Harness(
        plugin=headway_jira,
        connector="jira",
        options=lambda url: cloud_options(url, page_size=4),
        environ=ENV,
        bad_environ=BAD_ENV,
        dataset=lambda: _site(cloud=True),
        serve=_serve,
        change=_change,
    )
)

# Data Center caps pages at 3 here while 4 are asked for: the offsets must
# follow what the server returned.
test_data_center_conformance = conformance_suite(
    Harness(
        plugin=headway_jira,
        connector="jira",
        options=lambda url: dc_options(url, page_size=4),
        environ=DC_ENV,
        bad_environ=BAD_DC_ENV,
        dataset=lambda: _site(cloud=False),
        serve=_serve,
        change=_change,
        start=FIRST + timedelta(days=1, hours=12),
    )
)
