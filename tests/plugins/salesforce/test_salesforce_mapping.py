"""Salesforce records as work items: kinds, states, times, effort, owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headway.secrets import Secret
from headway_salesforce.config import SalesforceConfig
from headway_salesforce.mapping import Mapper, modstamp_of
from headway_sdk import RecordError, Tombstone, WorkItem, parse_options

from .fake_salesforce import T0, case, event, opportunity, sf_id, task

WHEN = T0 + timedelta(days=10, hours=9)


def mapper(**options: Any) -> Mapper:
    config = parse_options(
        SalesforceConfig,
        {
            "instance_url": "https://acme.my.salesforce.com",
            "token": Secret("t0k3n"),
            **options,
        },
        "sources.crm",
    )
    return Mapper(config, lambda: "https://acme.my.salesforce.com")


def shaped(sobject: str, record: dict[str, Any]) -> dict[str, Any]:
    """A stored fake record as /query returns it: with attributes."""
    record = {k: v for k, v in record.items() if k != "IsDeleted"}
    record["attributes"] = {
        "type": sobject,
        "url": f"/sobjects/{sobject}/{record['Id']}",
    }
    return record


def item(sobject: str, record: dict[str, Any], **options: Any) -> WorkItem:
    result = mapper(**options).record(sobject, shaped(sobject, record))
    assert isinstance(result, WorkItem)
    return result


def test_a_won_opportunity_is_done_with_its_amount_and_close_date():
    won = item("Opportunity", opportunity(3, WHEN, Amount=42_000))

    assert (won.kind, won.state, won.status, won.value) == (
        "opportunity",
        "done",
        "Closed Won",
        42_000.0,
    )
    assert won.closed_at == won.occurred_at == datetime(2026, 1, 11, tzinfo=UTC)
    assert won.updated_at == WHEN and won.created_at == WHEN - timedelta(days=20)
    assert won.project == "Opportunity" and won.people == ("edsger@acme.com",)
    assert won.url == (
        f"https://acme.my.salesforce.com/lightning/r/Opportunity/{sf_id('006', 3)}/view"
    )
    assert won.effort == 0.0
    assert won.attributes == {
        "object": "Opportunity",
        "stage": "Closed Won",
        "is_closed": True,
        "is_won": True,
        "type": "New Business",
        "lead_source": "Web",
        "close_date": "2026-01-11",
        "probability": 100.0,
        "forecast_category": "Closed",
        "account": "Account 3",
        "account_id": sf_id("001", 3),
        "owner": "Edsger Dijkstra",
        "owner_id": sf_id("005", 3),
        "system_modstamp": "2026-01-11T09:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("number", "state", "closed"),
    [(4, "done", True), (5, "open", False)],
    ids=["lost-is-done", "open"],
)
def test_an_opportunity_is_done_once_closed_whatever_the_outcome(number, state, closed):
    deal = item("Opportunity", opportunity(number, WHEN))
    assert deal.state == state
    assert (deal.closed_at is not None) is closed
    assert deal.attributes["is_won"] is False


def test_a_case_has_its_number_as_key_and_its_close_time():
    closed = item("Case", case(2, WHEN))
    nameless = item("Case", case(3, WHEN, Subject=None))

    assert (closed.kind, closed.key, closed.state) == ("case", "00001002", "done")
    assert closed.closed_at == WHEN - timedelta(days=20) + timedelta(hours=6)
    assert (
        closed.attributes["priority"] == "Low" and closed.attributes["origin"] == "Web"
    )
    assert (nameless.title, nameless.state, nameless.closed_at) == (
        "Case 00001003",
        "open",
        None,
    )


@pytest.mark.parametrize(
    ("subtype", "task_type", "kind"),
    [
        ("Call", None, "call"),
        ("Email", None, "email"),
        ("ListEmail", None, "email"),
        ("Task", "Call", "call"),
        ("Task", "Email", "email"),
        ("Task", "Meeting", "meeting"),
        ("Task", "Other", "task"),
        (None, None, "task"),
        ("Cadence", None, "task"),
    ],
    ids=[
        "logged-call",
        "email",
        "list-email",
        "type-call",
        "type-email",
        "type-meeting",
        "other",
        "nothing",
        "cadence",
    ],
)
def test_a_task_is_a_call_email_meeting_or_task(subtype, task_type, kind):
    record = task(
        1, WHEN, TaskSubtype=subtype, Type=task_type, CallDurationInSeconds=None
    )
    assert item("Task", record).kind == kind


@pytest.mark.parametrize(
    ("changes", "options", "hours"),
    [
        ({"TaskSubtype": "Call", "CallDurationInSeconds": 600}, {}, 600 / 3600),
        ({"TaskSubtype": "Call", "CallDurationInSeconds": None}, {}, 0.25),
        ({"TaskSubtype": "Call", "CallDurationInSeconds": 0}, {}, 0.25),
        ({"TaskSubtype": "Email"}, {}, 0.1),
        ({"TaskSubtype": "Task", "Type": None}, {}, 0.5),
        ({"TaskSubtype": "Email"}, {"default_effort": {"email": 0.05}}, 0.05),
        ({"TaskSubtype": "Task"}, {"default_effort": {"email": 0.05}}, 0.5),
    ],
    ids=[
        "call-duration",
        "call-without-duration",
        "call-of-zero-seconds",
        "email-default",
        "task-default",
        "email-configured",
        "others-keep-defaults",
    ],
)
def test_task_effort_comes_from_the_call_duration_else_the_default(
    changes, options, hours
):
    record = task(1, WHEN, **{"CallDurationInSeconds": None, "Type": None, **changes})
    assert item("Task", record, **options).effort == pytest.approx(hours)


def test_a_completed_task_happened_when_it_was_completed():
    done = item("Task", task(1, WHEN, CompletedDateTime="2026-01-12T15:30:00.000+0000"))
    legacy = item(
        "Task", task(1, WHEN, CompletedDateTime=None, ActivityDate="2026-01-09")
    )
    open_task = item("Task", task(1, WHEN, IsClosed=False, Status="Not Started"))

    assert (
        done.closed_at == done.occurred_at == datetime(2026, 1, 12, 15, 30, tzinfo=UTC)
    )
    assert legacy.closed_at == datetime(2026, 1, 9, tzinfo=UTC)
    assert (open_task.state, open_task.closed_at, open_task.occurred_at) == (
        "open",
        None,
        None,
    )
    assert done.parent == sf_id("006", 1), "an activity inherits from what it is about"


@pytest.mark.parametrize(
    ("changes", "options", "hours"),
    [
        ({"DurationInMinutes": 90}, {}, 1.5),
        ({"DurationInMinutes": None}, {}, 1.0),
        ({"IsAllDayEvent": True, "DurationInMinutes": 2880}, {}, 16.0),
        ({"IsAllDayEvent": True, "DurationInMinutes": 1440}, {"workday_hours": 6}, 6.0),
        ({"DurationInMinutes": None, "EndDateTime": None}, {}, 0.5),
    ],
    ids=["timed", "from-start-and-end", "two-days", "workday-hours", "unknown"],
)
def test_an_event_counts_its_duration(changes, options, hours):
    meeting = item("Event", event(1, WHEN, **changes), **options)
    assert meeting.kind == "meeting" and meeting.state == "done"
    assert meeting.effort == pytest.approx(hours)
    assert meeting.occurred_at == WHEN


def test_a_recurring_series_master_is_withdrawn_not_counted():
    result = mapper().record(
        "Event", shaped("Event", event(1, WHEN, IsRecurrence=True))
    )
    assert result == Tombstone(sf_id("00U", 1), WHEN)
    assert modstamp_of(result) == WHEN


@pytest.mark.parametrize(
    ("owner", "owner_id", "people", "team"),
    [
        ({"Name": "Ada", "Email": "Ada@Acme.com"}, "005A", ("ada@acme.com",), "sales"),
        ({"Name": "Support queue", "Email": None}, "00GQ", ("salesforce:00GQ",), None),
        (None, None, (), None),
    ],
    ids=["e-mail", "queue-without-e-mail", "no-owner"],
)
def test_the_owner_is_the_person_and_gives_the_team(owner, owner_id, people, team):
    record = case(1, WHEN, Owner=owner, OwnerId=owner_id)
    mapped = item("Case", record, teams={"ada@acme.com": "sales"})
    assert (mapped.people, mapped.team) == (people, team)


def test_fields_asked_for_are_kept_in_attributes_without_metadata():
    record = opportunity(
        1,
        WHEN,
        Region__c="EMEA",
        Account={
            "attributes": {"type": "Account"},
            "Name": "Account 1",
            "Industry": "Energy",
        },
        Partner__r={"attributes": {"type": "Partner__c"}, "Name": "Initech"},
    )

    mapped = item(
        "Opportunity", record, fields={"Opportunity": ["Region__c", "Account.Industry"]}
    )

    assert mapped.attributes["Region__c"] == "EMEA"
    assert mapped.attributes["Account.Industry"] == "Energy"
    assert mapped.attributes["Partner__r"] == {"Name": "Initech"}, "unknown is kept"
    assert mapped.attributes["account"] == "Account 1"


@pytest.mark.parametrize(
    ("sobject", "kind", "record", "reason"),
    [
        (
            "Opportunity",
            "Opportunity",
            opportunity(1, WHEN, Amount="lots"),
            "Amount must",
        ),
        ("Opportunity", "Opportunity", opportunity(1, WHEN, IsWon="yes"), "IsWon must"),
        ("Case", "Case", case(1, WHEN, CreatedDate="yesterday"), "CreatedDate: 'yes"),
        ("Case", "Case", case(1, WHEN, Id=None), "a Case record without an Id"),
        ("Task", "Task", task(1, WHEN, Subject=["a", "list"]), "Subject must be text"),
        ("Event", "Event", event(1, WHEN, StartDateTime=17), "StartDateTime must be"),
        (
            "Case",
            "Opportunity",
            opportunity(1, WHEN),
            "type Opportunity came in the Case",
        ),
    ],
    ids=["amount", "flag", "time", "id", "text", "number-time", "wrong-type"],
)
def test_a_bad_value_raises_a_record_error_naming_the_field(
    sobject, kind, record, reason
):
    with pytest.raises(RecordError, match=reason):
        mapper().record(sobject, shaped(kind, record))
