"""Salesforce records as headway records: opportunities, cases and activities.

Each ``map_*`` function takes one record as ``/query`` returns it (fields
by API name, relationships as nested objects, an ``attributes`` entry with
the type) and returns a :class:`~headway.model.WorkItem`. A value of the
wrong shape raises :class:`~headway_sdk.RecordError` naming the field, so
the record is set aside with that reason and the rest of its page kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from headway.model import format_utc
from headway_sdk import (
    RecordError,
    Tombstone,
    WorkItem,
    dig,
    parse_timestamp,
)

from .config import SalesforceConfig
from .soql import FIELDS

#: Where a mapped item keeps the record's SystemModstamp, the sync watermark.
MODSTAMP = "system_modstamp"

# Top-level keys of a record that the mappers read themselves; a field asked
# for in `fields` is kept in attributes under its name, any other key in
# `attributes.extra`, as it came.
_READ = {
    sobject: frozenset(name.partition(".")[0] for name in names) | {"attributes"}
    for sobject, names in FIELDS.items()
}
_MINUTES_PER_DAY = 1440


class Mapper:
    """Turns the records of one source into headway records.

    :param config: the source's settings (teams, efforts, extra fields).
    :param base_url: a function giving the instance URL to link items to
        (it can change when a token answer names another instance).
    """

    def __init__(self, config: SalesforceConfig, base_url: Callable[[], str]):
        self.config = config
        self.base_url = base_url
        # Identities are compared without case, as headway's [teams] does.
        self._teams = {owner.lower(): team for owner, team in config.teams.items()}
        self._mappers: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "Opportunity": self.opportunity,
            "Case": self.case,
            "Task": self.task,
            "Event": self.event,
        }

    def record(self, sobject: str, raw: Any) -> WorkItem | Tombstone:
        """One record of ``sobject`` as a headway record.

        :raises RecordError: the record cannot be read (the reason says why).
        """
        if not isinstance(raw, Mapping):
            raise RecordError(f"a {sobject} record must be an object, got {raw!r}")
        kind = dig(raw, "attributes.type")
        if kind is not None and kind != sobject:
            raise RecordError(f"a record of type {kind} came in the {sobject} listing")
        return self._mappers[sobject](raw)

    # ------------------------------------------------------------ objects

    def opportunity(self, raw: Mapping[str, Any]) -> WorkItem:
        """An opportunity: its amount is the value, closed means done."""
        closed = _flag(raw, "IsClosed")
        won = _flag(raw, "IsWon")
        close_date = _date(raw, "CloseDate")
        closed_at = close_date if closed else None
        return self._item(
            raw,
            "Opportunity",
            kind="opportunity",
            title=_text(raw, "Name") or "",
            status=_text(raw, "StageName"),
            state="done" if closed else "open",
            closed_at=closed_at,
            occurred_at=closed_at,
            value=_number(raw, "Amount"),
            attributes={
                "stage": _text(raw, "StageName"),
                "is_closed": closed,
                "is_won": won,
                "type": _text(raw, "Type"),
                "lead_source": _text(raw, "LeadSource"),
                "close_date": close_date.date().isoformat() if close_date else None,
                "probability": _number(raw, "Probability"),
                "forecast_category": _text(raw, "ForecastCategory"),
            },
        )

    def case(self, raw: Mapping[str, Any]) -> WorkItem:
        """A case: its number is the key, its close time when it was resolved."""
        closed = _flag(raw, "IsClosed")
        number = _text(raw, "CaseNumber")
        closed_at = _time(raw, "ClosedDate") if closed else None
        return self._item(
            raw,
            "Case",
            kind="case",
            key=number,
            title=_text(raw, "Subject") or (f"Case {number}" if number else ""),
            status=_text(raw, "Status"),
            state="done" if closed else "open",
            closed_at=closed_at,
            occurred_at=closed_at,
            attributes={
                "case_number": number,
                "priority": _text(raw, "Priority"),
                "origin": _text(raw, "Origin"),
                "type": _text(raw, "Type"),
                "reason": _text(raw, "Reason"),
                "is_escalated": _flag(raw, "IsEscalated"),
                "is_closed": closed,
            },
        )

    def task(self, raw: Mapping[str, Any]) -> WorkItem | Tombstone:
        """A task: a call, an e-mail, a meeting or a to-do, by subtype and type."""
        if _flag(raw, "IsRecurrence"):
            return self._series(raw)
        subtype = _text(raw, "TaskSubtype")
        task_type = _text(raw, "Type")
        kind = _task_kind(subtype, task_type)
        seconds = _number(raw, "CallDurationInSeconds")
        effort = seconds / 3600 if seconds else self.config.effort_of(kind)
        closed = _flag(raw, "IsClosed")
        due = _date(raw, "ActivityDate")
        closed_at = None
        if closed:
            closed_at = (
                _time(raw, "CompletedDateTime") or due or _time(raw, "LastModifiedDate")
            )
        return self._item(
            raw,
            "Task",
            kind=kind,
            title=_text(raw, "Subject") or "",
            status=_text(raw, "Status"),
            state="done" if closed else "open",
            closed_at=closed_at,
            occurred_at=closed_at,
            effort=effort,
            parent=_text(raw, "WhatId"),
            attributes={
                "subtype": subtype,
                "type": task_type,
                "priority": _text(raw, "Priority"),
                "call_type": _text(raw, "CallType"),
                "call_seconds": seconds,
                "activity_date": due.date().isoformat() if due else None,
                "what_id": _text(raw, "WhatId"),
                "who_id": _text(raw, "WhoId"),
                "is_closed": closed,
            },
        )

    def event(self, raw: Mapping[str, Any]) -> WorkItem | Tombstone:
        """An event: a meeting of its owner, counted at its start."""
        if _flag(raw, "IsRecurrence"):
            return self._series(raw)
        start = _time(raw, "StartDateTime")
        end = _time(raw, "EndDateTime")
        all_day = _flag(raw, "IsAllDayEvent")
        minutes = _number(raw, "DurationInMinutes")
        if minutes is None and start is not None and end is not None:
            minutes = max(0.0, (end - start).total_seconds() / 60)
        if minutes is None:
            effort = self.config.effort_of("meeting")
        elif all_day:
            days = max(1, round(minutes / _MINUTES_PER_DAY))
            effort = days * self.config.workday_hours
        else:
            effort = minutes / 60
        return self._item(
            raw,
            "Event",
            kind="meeting",
            title=_text(raw, "Subject") or "",
            state="done",
            occurred_at=start or _date(raw, "ActivityDate"),
            effort=effort,
            parent=_text(raw, "WhatId"),
            attributes={
                "type": _text(raw, "Type"),
                "subtype": _text(raw, "EventSubtype"),
                "start": format_utc(start),
                "end": format_utc(end),
                "minutes": minutes,
                "is_all_day": all_day,
                "is_child": _flag(raw, "IsChild"),
                "location": _text(raw, "Location"),
                "show_as": _text(raw, "ShowAs"),
                "what_id": _text(raw, "WhatId"),
                "who_id": _text(raw, "WhoId"),
            },
        )

    # ------------------------------------------------------------ shared

    def _item(
        self,
        raw: Mapping[str, Any],
        sobject: str,
        *,
        attributes: dict[str, Any],
        **fields: Any,
    ) -> WorkItem:
        ident = _text(raw, "Id")
        if not ident:
            raise RecordError(f"a {sobject} record without an Id")
        identity = _owner(raw)
        modstamp = _time(raw, "SystemModstamp")
        attributes = {
            "object": sobject,
            **attributes,
            "account": _text_at(raw, "Account.Name"),
            "account_id": _text(raw, "AccountId"),
            "owner": _text_at(raw, "Owner.Name"),
            "owner_id": _text(raw, "OwnerId"),
            MODSTAMP: format_utc(modstamp),
        }
        attributes.update(self._extras(raw, sobject))
        return WorkItem(
            id=ident,
            url=f"{self.base_url()}/lightning/r/{sobject}/{ident}/view",
            project=sobject,
            team=self._teams.get(identity) if identity else None,
            people=(identity,) if identity else (),
            created_at=_time(raw, "CreatedDate"),
            updated_at=_time(raw, "LastModifiedDate") or modstamp,
            attributes=attributes,
            **fields,
        )

    def _series(self, raw: Mapping[str, Any]) -> Tombstone:
        # A recurring series' master record holds no time of its own: its
        # occurrences are the activities. One synced earlier is withdrawn.
        ident = _text(raw, "Id")
        if not ident:
            raise RecordError("a recurring series without an Id")
        return Tombstone(ident, _time(raw, "SystemModstamp"))

    def _extras(self, raw: Mapping[str, Any], sobject: str) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        for path in self.config.fields.get(sobject, ()):
            extras[path] = _plain(dig(raw, path))
        # A field nobody asked for (a service that adds to its answers) is
        # kept as it came, under `extra`, apart from the fields asked for.
        known = _READ[sobject]
        unasked = {
            key: _plain(value)
            for key, value in raw.items()
            if key not in known and key not in extras and value is not None
        }
        if unasked:
            extras["extra"] = unasked
        return extras


def modstamp_of(record: Any) -> datetime | None:
    """The SystemModstamp a mapped record carries (the cursor's field)."""
    if isinstance(record, WorkItem):
        text = record.attributes.get(MODSTAMP)
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    if isinstance(record, Tombstone):
        return record.deleted_at
    return None


def identity_of(email: Any, owner_id: Any) -> str | None:
    """An owner's identity: the e-mail (lower case), else ``salesforce:ID``."""
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    if isinstance(owner_id, str) and owner_id:
        return f"salesforce:{owner_id}"
    return None


# ---------------------------------------------------------------- readers


def _task_kind(subtype: str | None, task_type: str | None) -> str:
    # TaskSubtype is set by Salesforce from how the task was made (Log a
    # Call, an e-mail sent from Salesforce); Type is a picklist users fill.
    if subtype == "Call":
        return "call"
    if subtype in ("Email", "ListEmail"):
        return "email"
    by_type = {"Call": "call", "Email": "email", "Meeting": "meeting"}
    return by_type.get(task_type or "", "task")


def _owner(raw: Mapping[str, Any]) -> str | None:
    return identity_of(_text_at(raw, "Owner.Email"), _text(raw, "OwnerId"))


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"{name} must be text, got {_shape(value)}")


def _text_at(raw: Mapping[str, Any], path: str) -> str | None:
    value = dig(raw, path)
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"{path} must be text, got {_shape(value)}")


def _flag(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    raise RecordError(f"{name} must be true or false, got {_shape(value)}")


def _number(raw: Mapping[str, Any], name: str) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{name} must be a number, got {_shape(value)}")
    return float(value)


def _time(raw: Mapping[str, Any], name: str) -> datetime | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{name} must be a date and time, got {_shape(value)}")
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise RecordError(f"{name}: {error}") from None


def _date(raw: Mapping[str, Any], name: str) -> datetime | None:
    # Salesforce date fields (CloseDate, ActivityDate) are calendar dates;
    # midnight UTC keeps them on their day in the store's UTC periods.
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{name} must be a date, got {_shape(value)}")
    try:
        return parse_timestamp(value, assume=UTC)
    except ValueError as error:
        raise RecordError(f"{name}: {error}") from None


def _plain(value: Any) -> Any:
    """A field's value for attributes: nested records without their metadata."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


def _shape(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:59] + '…'}"
