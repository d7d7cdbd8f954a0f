"""Vendor timestamps and nested JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from headway_sdk import (
    RecordError,
    dig,
    format_timestamp,
    list_field,
    parse_timestamp,
    start_of,
)

# The recorded Jira issue the Jira connector tests ship (see its README there).
FIXTURES = Path(__file__).resolve().parents[1] / "plugins"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "2022-06-09T16:29:31.871-0700",
            datetime(2022, 6, 9, 23, 29, 31, 871000, tzinfo=UTC),
            id="jira-offset-without-colon",
        ),
        pytest.param(
            "2024-01-05T10:11:12.000+0000",
            datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC),
            id="salesforce",
        ),
        pytest.param(
            "2024-01-05T10:11:12Z", datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC), id="z"
        ),
        pytest.param(
            "2026-10-05T09:30:00+02:00",
            datetime(2026, 10, 5, 7, 30, tzinfo=UTC),
            id="google-offset",
        ),
        pytest.param(
            "2024-01-05T10:11:12.1234567Z",
            datetime(2024, 1, 5, 10, 11, 12, 123456, tzinfo=UTC),
            id="seven-fraction-digits",
        ),
        pytest.param(
            1704449472, datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC), id="epoch"
        ),
        pytest.param(
            1704449472000, datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC), id="epoch-ms"
        ),
        pytest.param(
            "1704449472", datetime(2024, 1, 5, 10, 11, 12, tzinfo=UTC), id="epoch-text"
        ),
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
    ],
)
def test_vendor_timestamps_become_aware_utc(text, expected):
    assert parse_timestamp(text) == expected


def test_the_recorded_jira_issue_dates_parse():
    issue = json.loads(
        (
            FIXTURES / "jira" / "fixtures" / "airbyte_recorded_issue_cloud_v3.json"
        ).read_text()
    )
    created = parse_timestamp(dig(issue, "issues.0.fields.created"))
    assert created is not None and created.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2024-01-05T10:11:12", id="no-zone"),
        pytest.param("2024-01-05", id="date-no-zone"),
        pytest.param("last tuesday", id="prose"),
        pytest.param(True, id="bool"),
        pytest.param(float("inf"), id="infinity"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(10**30, id="epoch-past-year-9999"),
        pytest.param("9" * 25, id="epoch-text-past-year-9999"),
        pytest.param(10**400, id="epoch-beyond-a-float"),
        pytest.param("1" + "0" * 400, id="epoch-text-beyond-a-float"),
    ],
)
def test_a_time_without_zone_or_sense_is_refused(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_a_zone_can_be_assumed():
    tz = timezone(timedelta(hours=-7))
    assert parse_timestamp("2024-01-05T10:00:00", assume=tz) == datetime(
        2024, 1, 5, 17, tzinfo=UTC
    )


def test_start_of_reads_dates_as_midnight():
    assert start_of(date(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert start_of("2026-01-01") == datetime(2026, 1, 1, tzinfo=UTC)


def test_format_timestamp_is_utc_with_z():
    when = datetime(2024, 1, 5, 11, 11, 12, 345000, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(when) == "2024-01-05T10:11:12Z"
    assert format_timestamp(when, millis=True) == "2024-01-05T10:11:12.345Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2024, 1, 5))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("fields.status.statusCategory.key", "done", id="nested"),
        pytest.param("fields.labels.1", "ci", id="list-index"),
        pytest.param("fields.parent.key", None, id="null-on-the-way"),
        pytest.param("fields.missing.deeper", None, id="absent"),
        pytest.param("fields.labels.9", None, id="index-out-of-range"),
        pytest.param(["fields", "labels", 0], "release", id="sequence-path"),
    ],
)
def test_dig(path, expected):
    issue = {
        "fields": {
            "status": {"statusCategory": {"key": "done"}},
            "labels": ["release", "ci"],
            "parent": None,
        }
    }
    assert dig(issue, path) == expected
    assert dig(issue, "fields.missing", default=0) == 0


@pytest.mark.parametrize(
    ("record", "expected"),
    [({}, []), ({"labels": []}, []), ({"labels": ["a", 1]}, ["a", 1])],
    ids=["absent", "empty", "items"],
)
def test_a_list_field_absent_means_none(record, expected):
    assert list_field(record, "labels") == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [(None, "got null"), ("ci", "got str"), ({"a": 1}, "got dict")],
    ids=["null", "text", "object"],
)
def test_a_list_field_holding_anything_but_a_list_is_a_bad_record(value, words):
    with pytest.raises(RecordError, match=f"labels: expected a list, {words}"):
        list_field({"labels": value}, "labels")
