"""Jira issues as headway work items: the connector's hot path.

A first sync of a large site maps every issue once, so :class:`IssueMapper`
does its per-site work (which fields hold story points, the status
categories, the team of each project) when it is built and keeps the
per-issue work to dictionary look-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from headway_sdk import WorkItem, list_field, parse_timestamp

_EMPTY: Mapping[str, Any] = {}

#: Jira's status categories, by key, and the state each one means.
CATEGORY_STATES = {"new": "open", "indeterminate": "open", "done": "done"}

#: Top-level keys of a search result's issue that the mapper reads or that
#: only describe the answer itself.
ISSUE_KEYS = frozenset({"expand", "id", "self", "key", "fields", "changelog"})
#: Fields left out on purpose should a server send them unasked: free text
#: (often long, sometimes private) and lists that are not effort.
LEFT_OUT = frozenset(
    {"description", "environment", "comment", "worklog", "attachment", "issuelinks"}
)


def jira_time(value: Any) -> datetime | None:
    """An aware datetime from Jira's ``2022-06-09T16:29:31.871-0700``.

    Python reads Jira's form directly, several times faster than the SDK's
    general parser, which stays the fallback for anything unusual.

    :raises ValueError: for text that is not a time with a zone.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)
    if parsed.tzinfo is None:
        return parse_timestamp(value)
    return parsed


@attrs.frozen
class IssueMapper:
    """Maps a raw issue of ``/search`` onto a :class:`WorkItem`.

    :param source: the configured source name, for ``SOURCE:login``
        identities.
    :param browse: the site root, for ``/browse/KEY`` links.
    :param points_fields: fields that may hold story points, the first
        with a value wins.
    :param epic_field: the Epic Link field, read when ``parent`` is absent.
    :param teams: project key to team.
    :param hours_per_point: effort per point when no time was logged.
    :param default_hours: effort with neither time logged nor points.
    :param cancelled: resolutions (lower case) that make a done issue
        cancelled.
    :param categories: status id to status category key, for the changelog.
    """

    source: str
    browse: str
    points_fields: tuple[str, ...] = ()
    epic_field: str | None = None
    teams: Mapping[str, str] = attrs.field(factory=dict)
    hours_per_point: float = 4.0
    default_hours: float = 1.0
    cancelled: frozenset[str] = frozenset()
    categories: Mapping[str, str] = attrs.field(factory=dict)
    _known: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_known", frozenset(self.fields()) | LEFT_OUT)

    def fields(self) -> list[str]:
        """The fields a search must ask for, and no others."""
        wanted = [
            "summary",
            "issuetype",
            "project",
            "status",
            "statuscategorychangedate",
            "resolution",
            "resolutiondate",
            "created",
            "updated",
            "assignee",
            "reporter",
            "timespent",
            "labels",
            "components",
            "parent",
            "priority",
            *self.points_fields,
        ]
        if self.epic_field:
            wanted.append(self.epic_field)
        return wanted

    def person(self, user: Mapping[str, Any] | None) -> str | None:
        """A user's identity: the e-mail when Jira shows it, else
        ``SOURCE:accountId`` (Cloud) or ``SOURCE:name`` (Data Center)."""
        if not user:
            return None
        email = user.get("emailAddress")
        if email:
            return email
        login = user.get("accountId") or user.get("name") or user.get("key")
        return f"{self.source}:{login}" if login else None

    def map(self, raw: Mapping[str, Any]) -> WorkItem:
        """The work item of one issue.

        :raises KeyError: the issue lacks ``id``, ``key`` or ``fields``.
        :raises RecordError: ``labels`` or ``components`` is null or not a
            list.
        :raises ValueError: a date that cannot be read.
        """
        fields = raw["fields"]
        key = raw["key"]
        get = fields.get

        status = get("status") or _EMPTY
        category = (status.get("statusCategory") or _EMPTY).get("key")
        resolution = (get("resolution") or _EMPTY).get("name")
        state = CATEGORY_STATES.get(category, "open")
        closed = None
        if state == "done":
            if resolution and resolution.lower() in self.cancelled:
                state = "cancelled"
            # A workflow that never sets a resolution still moved the issue
            # into the done category: that move is when it closed.
            closed = jira_time(get("resolutiondate") or get("statuscategorychangedate"))
        updated = jira_time(get("updated"))

        points = None
        for name in self.points_fields:
            value = get(name)
            if value is not None and type(value) in (int, float):
                points = float(value)
                break
        spent = get("timespent")
        if spent and type(spent) in (int, float) and spent > 0:
            effort, basis = spent / 3600.0, "time_spent"
        elif points is not None:
            effort, basis = points * self.hours_per_point, "points"
        else:
            effort, basis = self.default_hours, "default"

        people = []
        assignee = self.person(get("assignee"))
        if assignee:
            people.append(assignee)
        reporter = self.person(get("reporter"))
        if reporter and reporter != assignee:
            people.append(reporter)

        project = (get("project") or _EMPTY).get("key")
        issue_type = (get("issuetype") or _EMPTY).get("name")
        attributes: dict[str, Any] = {
            "issue_type": issue_type,
            "status_category": category,
            "effort_basis": basis,
        }
        priority = get("priority")
        if priority:
            attributes["priority"] = priority.get("name")
        if resolution:
            attributes["resolution"] = resolution
        labels = list_field(fields, "labels")
        components = list_field(fields, "components")
        if components:
            attributes["components"] = [c.get("name") for c in components]

        parent = None
        link = get("parent")
        if link:
            parent = link.get("id")
            attributes["parent_key"] = link.get("key")
        elif self.epic_field:
            epic = get(self.epic_field)
            if epic and type(epic) is str:
                # Older sites link a story to its epic by key only; the
                # connector looks the epic's id up (see resolve_epics).
                attributes["parent_key"] = epic

        # A field headway did not ask for (a server that ignores `fields`,
        # or adds to the answer) is kept as it came, never dropped unseen.
        known = self._known
        extra = {k: v for k, v in fields.items() if k not in known and v is not None}
        extra.update(
            (k, v) for k, v in raw.items() if k not in ISSUE_KEYS and v is not None
        )
        if extra:
            attributes["extra"] = extra

        changelog = raw.get("changelog")
        if changelog and category != "new":
            started = self.started(changelog)
            if started is not None:
                attributes["started_at"] = started

        return WorkItem(
            id=raw["id"],
            kind="issue",
            key=key,
            title=get("summary") or "",
            url=f"{self.browse}/browse/{key}",
            project=project,
            team=self.teams.get(project) if project else None,
            people=people,
            status=status.get("name"),
            state=state,
            created_at=jira_time(get("created")),
            updated_at=updated,
            closed_at=closed,
            occurred_at=closed or updated,
            effort=effort,
            points=points,
            labels=labels,
            parent=parent,
            attributes=attributes,
        )

    def started(self, changelog: Mapping[str, Any]) -> datetime | None:
        """When the issue first moved into an in-progress status, if the
        changelog shows it.

        A change's ``created`` is Jira's time text, or epoch milliseconds
        (as the bulk changelog may send it); the histories may come in any
        order.
        """
        first = None
        categories = self.categories
        for history in changelog.get("histories") or ():
            for change in history.get("items") or ():
                if (
                    change.get("field") == "status"
                    and categories.get(str(change.get("to"))) == "indeterminate"
                ):
                    when = jira_time(history.get("created"))
                    if when is not None and (first is None or when < first):
                        first = when
                    break
        return first


def epic_keys(items: Iterable[WorkItem]) -> set[str]:
    """The epic keys that items linked by Epic Link still need an id for."""
    return {
        item.attributes["parent_key"]
        for item in items
        if item.parent is None and "parent_key" in item.attributes
    }
