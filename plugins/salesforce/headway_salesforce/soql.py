"""The SOQL queries a Salesforce source sends, one pair per object.

Changes come from ``/query`` ordered by ``SystemModstamp``, the time every
change (a user's or the system's) moves, so a watermark on it misses
nothing; deletions come from ``/queryAll``, the only resource that returns
records in the recycle bin, filtered on ``IsDeleted``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from headway_sdk import format_timestamp

_OWNER = ("OwnerId", "Owner.Name", "Owner.Email")
_TIMES = ("CreatedDate", "LastModifiedDate", "SystemModstamp")

#: The fields headway reads of each object (relationship paths included).
FIELDS: dict[str, tuple[str, ...]] = {
    "Opportunity": (
        "Id",
        "Name",
        "StageName",
        "Amount",
        "IsClosed",
        "IsWon",
        "Type",
        "LeadSource",
        "CloseDate",
        "Probability",
        "ForecastCategory",
        "AccountId",
        "Account.Name",
        *_OWNER,
        *_TIMES,
    ),
    "Case": (
        "Id",
        "CaseNumber",
        "Subject",
        "Status",
        "IsClosed",
        "ClosedDate",
        "Priority",
        "Origin",
        "Type",
        "Reason",
        "IsEscalated",
        "AccountId",
        "Account.Name",
        *_OWNER,
        *_TIMES,
    ),
    "Task": (
        "Id",
        "Subject",
        "Status",
        "IsClosed",
        "Priority",
        "Type",
        "TaskSubtype",
        "CallDurationInSeconds",
        "CallType",
        "ActivityDate",
        "CompletedDateTime",
        "IsRecurrence",
        "WhatId",
        "WhoId",
        "AccountId",
        "Account.Name",
        *_OWNER,
        *_TIMES,
    ),
    "Event": (
        "Id",
        "Subject",
        "Type",
        "EventSubtype",
        "StartDateTime",
        "EndDateTime",
        "DurationInMinutes",
        "IsAllDayEvent",
        "ActivityDate",
        "Location",
        "ShowAs",
        "IsChild",
        "IsRecurrence",
        "WhatId",
        "WhoId",
        "AccountId",
        "Account.Name",
        *_OWNER,
        *_TIMES,
    ),
}


def select_list(sobject: str, extra: Sequence[str] = ()) -> list[str]:
    """The fields to select: headway's own, then ``extra`` not already there.

    SOQL refuses a field selected twice, so duplicates are dropped without
    regard to case (API names are case-insensitive).
    """
    chosen = list(FIELDS[sobject])
    seen = {name.lower() for name in chosen}
    for name in extra:
        if name.lower() not in seen:
            seen.add(name.lower())
            chosen.append(name)
    return chosen


def changes_query(
    sobject: str,
    since: datetime | None,
    *,
    extra: Sequence[str] = (),
    where: str | None = None,
    limit: int | None = None,
) -> str:
    """The query for records of ``sobject`` changed after ``since``, oldest first.

    :param where: the user's own condition, ANDed in parentheses.
    :param limit: at most this many records (for a cheap check).
    """
    conditions = []
    if since is not None:
        conditions.append(f"SystemModstamp > {format_timestamp(since)}")
    if where:
        conditions.append(f"({where.strip()})")
    text = f"SELECT {', '.join(select_list(sobject, extra))} FROM {sobject}"
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    text += " ORDER BY SystemModstamp ASC, Id ASC"
    if limit is not None:
        text += f" LIMIT {limit}"
    return text


def deletions_query(sobject: str, since: datetime | None) -> str:
    """The ``queryAll`` query for records of ``sobject`` deleted after ``since``."""
    conditions = ["IsDeleted = true"]
    if since is not None:
        conditions.append(f"SystemModstamp > {format_timestamp(since)}")
    return (
        f"SELECT Id, SystemModstamp FROM {sobject} WHERE {' AND '.join(conditions)} "
        "ORDER BY SystemModstamp ASC, Id ASC"
    )
