"""The baseline the sync benchmark measures headway against.

A bare loop, written the way anyone would who needs these rows in SQLite
and nothing else: one ``requests`` session fetches the same pages headway
fetches (the same JQL, ``fields``, ``maxResults``, ``expand=changelog``,
following ``nextPageToken`` until ``isLast``); plain code derives, from
each issue's JSON, the same column values headway stores (the same
mapping: state from the status category, effort from logged time, points
or the default, people, team, ``started_at`` from the changelog, times in
UTC with milliseconds, lists and attributes as JSON); and
``sqlite3``'s ``executemany`` inserts each page into an ``items`` table of
the same schema, one transaction a page, in WAL mode with
``synchronous = NORMAL`` as headway's store.

What it leaves out is what headway does beyond those rows: validating
every field before it is stored, setting bad records aside, cursor state
saved with each page, the run's row, retries and rate limits, the
listing-shift checks and the sweep of deleted issues.

This module imports nothing of headway, so the baseline cannot share its
costs.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import requests

FIELDS = (
    "summary,issuetype,project,status,statuscategorychangedate,resolution,"
    "resolutiondate,created,updated,assignee,reporter,timespent,labels,components,"
    "parent,priority,customfield_10016"
)
ORDER = " ORDER BY updated ASC, key ASC"
CANCELLED = {"won't do", "won't fix", "duplicate", "cannot reproduce", "incomplete",
             "declined"}  # fmt: skip
STATES = {"new": "open", "indeterminate": "open", "done": "done"}

#: The ``items`` table of headway's store (docs/store.md), column for column.
SCHEMA = """
CREATE TABLE items (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    url TEXT,
    project TEXT,
    team TEXT,
    people TEXT NOT NULL DEFAULT '[]',
    status TEXT,
    state TEXT NOT NULL DEFAULT 'open',
    created_at TEXT,
    updated_at TEXT,
    closed_at TEXT,
    occurred_at TEXT,
    effort REAL NOT NULL DEFAULT 0,
    points REAL,
    value REAL,
    labels TEXT NOT NULL DEFAULT '[]',
    parent TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 1,
    synced_at TEXT NOT NULL,
    run_id INTEGER,
    deleted_at TEXT,
    PRIMARY KEY (source, id)
)
"""
INSERT = (
    "INSERT INTO items (source, id, key, kind, title, url, project, team, people, "
    "status, state, created_at, updated_at, closed_at, occurred_at, effort, points, "
    "value, labels, parent, attributes, synced_at, run_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def utc(text: str | None) -> datetime | None:
    """Jira's ``2022-06-09T16:29:31.871-0700`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def stored(when: datetime | None) -> str | None:
    """A time as the store writes it: ``2022-06-09T23:29:31.871Z``."""
    if when is None:
        return None
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def person(source: str, user: dict[str, Any] | None) -> str | None:
    """The e-mail, else ``SOURCE:accountId``."""
    if not user:
        return None
    return user.get("emailAddress") or f"{source}:{user['accountId']}"


def row(
    issue: dict[str, Any],
    source: str,
    browse: str,
    teams: dict[str, str],
    categories: dict[str, str],
    now: str,
) -> tuple[Any, ...]:
    """The ``items`` row of one issue."""
    fields = issue["fields"]
    key = issue["key"]
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    resolution = (fields.get("resolution") or {}).get("name")
    state = STATES.get(category, "open")
    closed = None
    if state == "done":
        if resolution and resolution.lower() in CANCELLED:
            state = "cancelled"
        closed = utc(
            fields.get("resolutiondate") or fields.get("statuscategorychangedate")
        )
    updated = utc(fields.get("updated"))
    points = fields.get("customfield_10016")
    points = float(points) if points is not None else None
    spent = fields.get("timespent")
    if spent:
        effort, basis = spent / 3600.0, "time_spent"
    elif points is not None:
        effort, basis = points * 4.0, "points"
    else:
        effort, basis = 1.0, "default"
    assignee = person(source, fields.get("assignee"))
    reporter = person(source, fields.get("reporter"))
    people = [p for p in (assignee, reporter if reporter != assignee else None) if p]
    project = fields["project"]["key"]
    attributes: dict[str, Any] = {
        "issue_type": fields["issuetype"]["name"],
        "status_category": category,
        "effort_basis": basis,
    }
    if fields.get("priority"):
        attributes["priority"] = fields["priority"]["name"]
    if resolution:
        attributes["resolution"] = resolution
    if fields.get("components"):
        attributes["components"] = [c["name"] for c in fields["components"]]
    parent = fields.get("parent")
    if parent:
        attributes["parent_key"] = parent["key"]
    if category != "new":
        started = [
            utc(history["created"])
            for history in issue.get("changelog", {}).get("histories", ())
            for change in history["items"]
            if change["field"] == "status"
            and categories.get(change["to"]) == "indeterminate"
        ]
        if started:
            attributes["started_at"] = stored(min(started))
    return (
        source,
        issue["id"],
        key,
        "issue",
        fields.get("summary") or "",
        f"{browse}/browse/{key}",
        project,
        teams.get(project),
        json.dumps(people, ensure_ascii=False),
        status.get("name"),
        state,
        stored(utc(fields.get("created"))),
        stored(updated),
        stored(closed),
        stored(closed or updated),
        effort,
        points,
        None,
        json.dumps(fields.get("labels") or [], ensure_ascii=False),
        parent["id"] if parent else None,
        json.dumps(attributes, ensure_ascii=False, sort_keys=True),
        now,
        1,
    )


def sync(
    url: str,
    database: str,
    *,
    email: str,
    token: str,
    jql: str,
    teams: dict[str, str],
    source: str = "jira",
) -> int:
    """Fetch every page of the JQL into ``database``; returns the rows stored."""
    session = requests.Session()
    session.auth = (email, token)
    session.headers["Accept"] = "application/json"
    api = f"{url}/rest/api/3"
    statuses = session.get(f"{api}/status").json()
    categories = {s["id"]: s["statusCategory"]["key"] for s in statuses}
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(SCHEMA)
    now = stored(datetime.now(UTC))
    params: dict[str, Any] = {
        "jql": f"({jql}){ORDER}",
        "fields": FIELDS,
        "maxResults": 100,
        "expand": "changelog",
    }
    count = 0
    while True:
        response = session.get(f"{api}/search/jql", params=params)
        response.raise_for_status()
        page = response.json()
        rows = [row(i, source, url, teams, categories, now) for i in page["issues"]]
        conn.execute("BEGIN")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
        count += len(rows)
        token_next = page.get("nextPageToken")
        if page.get("isLast") or not token_next:
            break
        params["nextPageToken"] = token_next
    conn.close()
    session.close()
    return count
