"""The tasks connector: the Tasks API's tasks, one project at a time.

The API (see docs/tutorial.md in the headway repository):

- ``GET /projects/{project}/tasks?updated_after=T&sort=updated_at&page=N``
  (and ``per_page=M``) answers ``{"data": [...], "meta": {"page",
  "per_page", "total_pages", "total"}}``, oldest update first;
- ``GET /me`` answers whose key it is;
- every request carries ``X-Api-Key: KEY``; answers carry ``RateLimit-*``
  headers, and errors are ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import attrs
from headway_sdk import (
    Auth,
    Connector,
    Cursor,
    CursorRun,
    HeaderAuth,
    HttpSettings,
    HttpStream,
    PageNumberPaginator,
    Paginator,
    RateBudget,
    RecordError,
    Request,
    Secret,
    Stream,
    WatermarkCursor,
    WorkItem,
    format_timestamp,
    http_url,
    option,
    parse_timestamp,
)

# The API's task statuses, and the work item state each one means.
STATES = {"todo": "open", "doing": "open", "done": "done", "archived": "cancelled"}
# The largest page the API serves.
MAX_PAGE_SIZE = 200


@attrs.frozen
class TasksSettings(HttpSettings):
    """The ``[sources.NAME]`` table of a tasks source."""

    url: str = option(
        validator=http_url,
        help="the API's root, such as https://tasks.example.com/api/v2",
    )
    api_key: Secret = option(help="an API key, written as ${TASKS_API_KEY}")
    projects: tuple[str, ...] = option(help='the projects to read, such as ["web"]')
    teams: dict[str, str] = option(
        factory=dict, help="the headway team of each project's tasks"
    )
    page_size: int = option(default=100, help="tasks asked for per page")
    start: datetime | None = option(
        default=None, help="how far back the first sync reads, such as 2026-01-01"
    )
    lookback: timedelta = option(
        default=timedelta(minutes=10),
        help="how much before the last sync to read again, for late writes",
    )

    def validate(self) -> Iterable[tuple[str, str]]:
        """The shared checks, a page size the API serves, teams of known projects."""
        yield from super().validate()
        if not self.projects:
            yield "projects", "name at least one project"
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            yield "page_size", f"must be between 1 and {MAX_PAGE_SIZE}"
        for project in self.teams:
            if project not in self.projects:
                yield f"teams.{project}", "is not one of the projects to read"


class Tasks(HttpStream):
    """Each project's tasks, oldest update first, from a watermark per project."""

    name = "tasks"
    records_path = "data"

    def partitions(self) -> Iterable[str]:
        """One partition per project: each keeps its own watermark."""
        return self.config.projects

    def request(self, partition: str, run: CursorRun) -> Request:
        """The project's task listing, changed since the watermark."""
        params = {
            "updated_after": format_timestamp(run.since) if run.since else None,
            "sort": "updated_at",
        }
        return Request("GET", f"/projects/{quote(partition, safe='')}/tasks", params)

    def paginator(self) -> Paginator:
        """Page numbers from 1, until the body's ``meta.total_pages``."""
        return PageNumberPaginator(
            page_param="page",
            size_param="per_page",
            size=self.config.page_size,
            total_pages_path="meta.total_pages",
        )

    def cursor(self) -> Cursor:
        """An updated-at watermark, with a lookback for late writes."""
        return WatermarkCursor(start=self.config.start, lookback=self.config.lookback)

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        """A task as a work item of its project and team."""
        if not raw.get("title"):
            raise RecordError("a task without a title")
        status = raw.get("status") or "todo"
        assignee = (raw.get("assignee") or {}).get("email")
        parent = raw.get("parent_id")
        return WorkItem(
            id=str(raw["id"]),
            key=f"{partition}#{raw['id']}",
            kind="task",
            title=raw["title"],
            url=raw.get("web_url"),
            project=partition,
            team=self.config.teams.get(partition),
            people=[assignee] if assignee else [],
            status=status,
            state=STATES.get(status, "open"),
            created_at=parse_timestamp(raw.get("created_at")),
            updated_at=parse_timestamp(raw["updated_at"]),
            closed_at=parse_timestamp(raw.get("completed_at")),
            effort=float(raw.get("estimate_hours") or 0),
            labels=list(raw.get("tags") or []),
            parent=str(parent) if parent is not None else None,
            attributes={"priority": raw.get("priority")},
        )


class TasksConnector(Connector[TasksSettings]):
    """Reads the Tasks API into headway."""

    config_class = TasksSettings
    # The distribution the User-Agent names, as pyproject.toml does.
    distribution = "headway-tasks"

    def auth(self) -> Auth:
        """The API key, in the header the API reads."""
        return HeaderAuth("X-Api-Key", self.config.api_key)

    def budget(self) -> RateBudget:
        """Slow down before the ``RateLimit-*`` quota runs out."""
        return RateBudget()

    def streams(self) -> list[Stream]:
        """The one stream."""
        return [Tasks(self)]

    def check(self) -> None:
        """``/me``: the cheapest request that needs a good key."""
        self.client.get("/me")
