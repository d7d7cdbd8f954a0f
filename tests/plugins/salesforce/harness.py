"""The Salesforce connector's conformance harness and shared test helpers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import headway_salesforce
from headway.sync import SourceResult
from headway_sdk.testing import (
    FakeApi,
    FakeResponse,
    Harness,
    RecordedRequest,
    run_source,
)

from .fake_salesforce import (
    BAD_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    GOOD_TOKEN,
    REFRESH_TOKEN,
    VERSION,
    Org,
    serve,
    sf_id,
)

ENV = {"SF_ACCESS_TOKEN": GOOD_TOKEN}
OAUTH_ENV = {
    "SF_CLIENT_ID": CLIENT_ID,
    "SF_CLIENT_SECRET": CLIENT_SECRET,
    "SF_REFRESH_TOKEN": REFRESH_TOKEN,
}
OAUTH_KEYS = {
    "client_id": "${SF_CLIENT_ID}",
    "client_secret": "${SF_CLIENT_SECRET}",
    "refresh_token": "${SF_REFRESH_TOKEN}",
}


def table(url: str, **extra: Any) -> dict[str, Any]:
    """A source table for a fake org at ``url``, with the access token."""
    return {
        "instance_url": url,
        "token": "${SF_ACCESS_TOKEN}",
        "api_version": VERSION,
        "page_size": 200,
        "start": "2026-01-01",
        # Tokens come from the fake too: no test ever asks the real service.
        "login_url": url,
        **extra,
    }


def sync(
    fake: FakeApi,
    database: Path,
    *,
    environ: dict[str, str] | None = None,
    full: bool = False,
    **extra: Any,
) -> SourceResult:
    """One sync of a Salesforce source against the fake, through the engine."""
    return run_source(
        headway_salesforce,
        "salesforce",
        table(fake.url, **extra),
        database,
        environ=ENV if environ is None else environ,
        full=full,
        source="crm",
    )


def make_org() -> Org:
    """The conformance data set: 450 opportunities over three batches, some
    cases, tasks and events, and one deleted record of each object."""
    org = Org()
    org.fill("Opportunity", 450, every=timedelta(hours=2))
    for name in ("Case", "Task", "Event"):
        org.fill(name, 12, every=timedelta(hours=3))
    later = datetime(2026, 2, 20, tzinfo=UTC)
    for name, prefix in (
        ("Opportunity", "006"),
        ("Case", "500"),
        ("Task", "00T"),
        ("Event", "00U"),
    ):
        org.delete(name, sf_id(prefix, 2), later)
    return org


def change_two(org: Org, now: datetime) -> int:
    """Rename an opportunity and close a case, both changed ``now``."""
    org.touch("Opportunity", sf_id("006", 10), now, Name="Renamed deal")
    org.touch("Case", sf_id("500", 3), now, Status="Closed", IsClosed=True)
    return 2


def serve_loop(fake: FakeApi, org: Org) -> None:
    """Listings that never end: each next batch has a new locator offset but
    the same records, as a service that ignores the locator would send."""
    first: dict[str, list[Any]] = {}
    more = re.compile(
        rf"/services/data/v{re.escape(VERSION)}/(query|queryAll)/(01g\w+)-(\d+)"
    )

    def start(request: RecordedRequest) -> FakeResponse:
        resource = request.path.rsplit("/", 1)[-1]
        _, body = org.run(resource, request.query["q"], 200)
        locator = f"01gLOOP{len(first):012d}"
        first[locator] = body["records"]
        return _loop_page(locator, 0, body["records"])

    def again(request: RecordedRequest) -> FakeResponse:
        match = more.fullmatch(request.path)
        assert match is not None
        locator, offset = match[2], int(match[3])
        return _loop_page(locator, offset, first[locator])

    fake.handle("GET", more, again)
    fake.handle(
        "GET",
        re.compile(rf"/services/data/v{re.escape(VERSION)}/(query|queryAll)"),
        start,
    )


def _loop_page(locator: str, offset: int, records: list[Any]) -> FakeResponse:
    # An empty batch cannot repeat itself visibly, so it points back at itself.
    # Like Salesforce, the next batch of a queryAll listing is under /query.
    following = offset + 200 if records else offset
    path = f"/services/data/v{VERSION}/query/{locator}-{following}"
    return FakeResponse(
        json={
            "totalSize": 100_000,
            "done": False,
            "nextRecordsUrl": path,
            "records": records,
        },
        headers={"Sforce-Limit-Info": "api-usage=10/15000"},
    )


def harness() -> Harness:
    """The Salesforce connector under the SDK's conformance suite."""
    return Harness(
        plugin=headway_salesforce,
        connector="salesforce",
        options=table,
        environ=ENV,
        bad_environ={"SF_ACCESS_TOKEN": BAD_TOKEN},
        dataset=make_org,
        serve=serve,
        change=change_two,
        serve_loop=serve_loop,
        source="crm",
    )
