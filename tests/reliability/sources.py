"""The four first-party connectors, driven the same way against their fakes.

Each :class:`Source` holds the connector's conformance harness (its fake,
data set, source table and credentials) and what the reliability tests
need on top: which requests list records, where a listing answer keeps its
records, how to break one record, and which item a raw record becomes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

import headway_jira
from headway.sync import SourceResult
from headway_gcal._events import event_item_id
from headway_sdk.testing import (
    FakeApi,
    FakeResponse,
    Harness,
    RecordedRequest,
    run_source,
)
from tests.plugins.gcal import test_gcal_conformance as gcal
from tests.plugins.gcal.fake_gcal import CLIENT_SECRET, REFRESH_TOKEN
from tests.plugins.github.test_github_conformance import harness as github_harness
from tests.plugins.jira.fakejira import (
    BAD_ENV,
    ENV,
    FakeJira,
    cloud_options,
    hourly,
)
from tests.plugins.salesforce.harness import harness as salesforce_harness

#: Replaced by bytes that are not UTF-8 once a body is encoded.
NOT_UTF8_MARK = "@@not-utf-8@@"
NOT_UTF8_BYTES = b"caf\xe9 \xff\xfe broken"
MEGABYTE_TITLE = "x" * 1_048_576

# The suite's clock stands on 2026-03-02 12:00 UTC; the issues are older.
_JIRA_FIRST = datetime.fromisoformat("2026-03-01T00:00:00+00:00")


def _jira_site() -> FakeJira:
    site = FakeJira()
    hourly(site, 12, first=_JIRA_FIRST)
    return site


def _jira_change(site: FakeJira, now: datetime) -> int:
    for ident in list(site.issues)[:2]:
        site.update(ident, now, summary=f"edited at {now.isoformat()}")
    return 2


JIRA = Harness(
    plugin=headway_jira,
    connector="jira",
    options=lambda url: cloud_options(url, page_size=4),
    environ=ENV,
    bad_environ=BAD_ENV,
    dataset=_jira_site,
    serve=lambda fake, site: site.serve(fake),
    change=_jira_change,
)

GCAL = Harness(
    plugin=gcal.headway_gcal,
    connector="gcal",
    options=gcal.options,
    environ=gcal.ENVIRON,
    bad_environ={**gcal.ENVIRON, "GCAL_CLIENT_SECRET": "GOCSPX-refused-0000"},
    dataset=gcal.dataset,
    serve=gcal.serve,
    change=gcal.change,
    secrets=[CLIENT_SECRET, REFRESH_TOKEN],
)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets the value at a dotted path of a raw record."""
    *parents, last = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    """A change that removes the value at a dotted path of a raw record."""
    *parents, last = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node = raw
        for part in parents:
            node = node[part]
        del node[last]

    return change


@attrs.frozen
class Bad:
    """One way to break a record, and what must come of it.

    :param change: edits the raw record in place.
    :param reason: words the rejection's reason must hold; ``None`` when
        the record is fine after all and must be stored.
    """

    change: Callable[[dict[str, Any]], None]
    reason: str | None


@attrs.frozen
class Source:
    """One connector under the reliability tests.

    :param name: the connector's name (and the test id).
    :param harness: its conformance harness.
    :param listing: true for the requests that list records.
    :param records: the records list of a listing answer's body.
    :param item_ids: the ids of the items a raw record becomes.
    :param title: the path of the field that becomes the item's title.
    :param bad: ways to break a record, by name.
    :param extra: where an unknown field of a record shows up among the
        item's attributes: ``(field, value, attribute path)``.
    :param pick: which record of a page the tests change (default: the
        second).
    """

    name: str
    harness: Harness
    listing: Callable[[RecordedRequest], bool]
    records: Callable[[Any], list[Any]]
    item_ids: Callable[[Mapping[str, Any]], set[str]]
    title: str
    bad: Mapping[str, Bad]
    extra: tuple[str, Any, str]
    pick: Callable[[list[Any]], int] = lambda records: 1

    def __str__(self) -> str:
        return self.name

    def sync(self, fake: FakeApi, database: Path, **options: Any) -> SourceResult:
        """One sync of this source against ``fake`` through the real engine;
        ``options`` change the source table."""
        harness = self.harness
        return run_source(
            harness.plugin,
            harness.connector,
            {**harness.options(fake.url), **options},
            database,
            environ=harness.environ,
            source=harness.source,
        )

    def break_record(
        self, answer: FakeResponse, change: Callable[[dict[str, Any]], None]
    ) -> tuple[FakeResponse, dict[str, Any]]:
        """The answer with its second record changed; and that record."""
        body = json.loads(answer.payload()[0])
        records = self.records(body)
        raw = records[self.pick(records)]
        original = copy.deepcopy(raw)
        change(raw)
        text = json.dumps(body).encode()
        if NOT_UTF8_MARK.encode() in text:
            text = text.replace(NOT_UTF8_MARK.encode(), NOT_UTF8_BYTES)
        return attrs.evolve(answer, body=text, json=FakeResponse().json), original


def _common_bad(
    title: str, date: str, required: str, reasons: tuple[str, str]
) -> dict[str, Bad]:
    missing, wrong_date = reasons
    return {
        "missing-required-field": Bad(_drop(required), missing),
        "date-in-another-format": Bad(_set(date, "03/01/2026 10:00"), wrong_date),
        "megabyte-title": Bad(_set(title, MEGABYTE_TITLE), "1,048,576 characters"),
        "not-utf-8": Bad(_set(title, NOT_UTF8_MARK), "utf-8"),
    }


JIRA_SOURCE = Source(
    name="jira",
    harness=JIRA,
    listing=lambda r: r.path.endswith("/search/jql") and r.query.get("fields") != "id",
    records=lambda body: body["issues"],
    item_ids=lambda raw: {str(raw["id"])},
    title="fields.summary",
    bad={
        **_common_bad(
            "fields.summary", "fields.updated", "key", ("'key'", "03/01/2026")
        ),
        "wrong-type": Bad(_set("fields.summary", 12345), "title must be a string"),
        "null-for-a-list": Bad(
            _set("fields.labels", None), "labels: expected a list, got null"
        ),
    },
    extra=("fields.customfield_19999", {"value": "Gold"}, "extra.customfield_19999"),
)

GITHUB_SOURCE = Source(
    name="github",
    harness=github_harness(),
    listing=lambda r: r.path.endswith("/issues"),
    records=lambda body: body,
    item_ids=lambda raw: {str(raw["id"])},
    title="title",
    bad={
        **_common_bad(
            "title", "updated_at", "updated_at", ("'updated_at'", "03/01/2026")
        ),
        "wrong-type": Bad(_set("title", 12345), "title must be text"),
        "null-for-a-list": Bad(
            _set("labels", None), "labels: expected a list, got null"
        ),
    },
    extra=(
        "sub_issues_summary",
        {"total": 3, "completed": 1},
        "extra.sub_issues_summary",
    ),
)

GCAL_SOURCE = Source(
    name="gcal",
    harness=GCAL,
    listing=lambda r: r.path.endswith("/events"),
    records=lambda body: body["items"],
    item_ids=lambda raw: {event_item_id(raw), str(raw.get("id"))},
    title="summary",
    bad={
        **_common_bad("summary", "start.dateTime", "start", ("start", "03/01/2026")),
        "wrong-type": Bad(_set("attendees", "everyone"), "attendees: expected a list"),
        "null-for-a-list": Bad(
            _set("attendees", None), "attendees: expected a list, got null"
        ),
    },
    extra=("conferenceRating", {"stars": 5}, "extra.conferenceRating"),
    # The organizer's own copy of a meeting is the one stored.
    pick=lambda events: next(
        n for n, e in enumerate(events) if e.get("organizer", {}).get("self")
    ),
)

SALESFORCE_SOURCE = Source(
    name="salesforce",
    harness=salesforce_harness(),
    listing=lambda r: "/query" in r.path,
    records=lambda body: body["records"],
    item_ids=lambda raw: {str(raw["Id"])},
    title="Name",
    bad={
        **_common_bad("Name", "CloseDate", "Id", ("Id", "CloseDate")),
        "wrong-type": Bad(_set("Amount", "lots"), "Amount must be a number"),
        # Salesforce records hold no lists; the nearest is a relationship
        # (an object) that comes as null, which an owner may.
        "null-for-an-object": Bad(_set("Owner", None), None),
    },
    extra=("Region__c", "EMEA", "extra.Region__c"),
)

SOURCES = [JIRA_SOURCE, GITHUB_SOURCE, GCAL_SOURCE, SALESFORCE_SOURCE]
