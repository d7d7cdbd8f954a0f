"""A fake of the Tasks API on a real socket, and the conformance harness.

It answers as the API does: the key checked on every request (401
otherwise), one listing per project (404 for an unknown one), tasks
changed since ``updated_after``, oldest update first, in pages numbered
from 1 with ``meta.total_pages``, ``RateLimit-*`` headers on every answer,
and errors as ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from headway_sdk import parse_timestamp
from headway_sdk.testing import FakeApi, FakeResponse, Harness, RecordedRequest

import headway_tasks

GOOD_KEY = "tasks-key-live-5c1d9e77"
BAD_KEY = "tasks-key-revoked-0a4b2f"
KEY_VARIABLE = "TASKS_API_KEY"
START = datetime(2026, 1, 1, tzinfo=UTC)
LISTING = re.compile(r"/api/v2/projects/(?P<project>[^/]+)/tasks")


@attrs.define
class Workspace:
    """What the fake serves: tasks by project, then by id."""

    projects: dict[str, dict[int, dict[str, Any]]]
    #: Requests allowed per window, as the ``RateLimit-*`` headers count them.
    limit: int = 5000


def options(url: str) -> dict[str, Any]:
    """A source table for the fake at ``url``: two projects, pages of 2."""
    return {
        "url": f"{url}/api/v2",
        "api_key": "${TASKS_API_KEY}",
        "projects": ["web", "ops"],
        "teams": {"web": "web", "ops": "platform"},
        "page_size": 2,
        "start": "2026-01-01",
    }


def make_workspace(per_project: int = 5) -> Workspace:
    """Two projects of ``per_project`` tasks each, updated hours apart."""
    projects: dict[str, dict[int, dict[str, Any]]] = {}
    for offset, project in enumerate(("web", "ops")):
        tasks = {}
        for number in range(1, per_project + 1):
            task_id = 1000 * (offset + 1) + number
            updated = START + timedelta(hours=2 * number + offset)
            status = ("todo", "doing", "done", "archived")[number % 4]
            tasks[task_id] = {
                "id": task_id,
                "title": f"{project} task {number}",
                "status": status,
                "priority": "high" if number == 1 else "normal",
                "assignee": {"email": f"dev{number % 2}@example.com"},
                "tags": [project],
                "estimate_hours": number,
                "parent_id": 1000 * (offset + 1) + 1 if number > 1 else None,
                "web_url": f"https://tasks.example.com/acme/{project}/{task_id}",
                "created_at": stamp(START),
                "updated_at": stamp(updated),
                "completed_at": stamp(updated) if status == "done" else None,
            }
        projects[project] = tasks
    return Workspace(projects)


def serve(fake: FakeApi, workspace: Workspace) -> None:
    """Answer ``/api/v2/me`` and each project's listing from ``workspace``."""
    used = 0

    def answer(status: int, body: Any) -> FakeResponse:
        nonlocal used
        used += 1
        headers = {
            "RateLimit-Limit": str(workspace.limit),
            "RateLimit-Remaining": str(max(workspace.limit - used, 0)),
            "RateLimit-Reset": "60",
        }
        return FakeResponse(status, json=body, headers=headers)

    def me(request: RecordedRequest) -> FakeResponse:
        if request.headers.get("x-api-key") != GOOD_KEY:
            return answer(401, _error("unauthorized", "invalid or revoked API key"))
        return answer(200, {"id": 7, "email": "ann@example.com", "workspace": "acme"})

    def listing(request: RecordedRequest) -> FakeResponse:
        if request.headers.get("x-api-key") != GOOD_KEY:
            return answer(401, _error("unauthorized", "invalid or revoked API key"))
        match = LISTING.fullmatch(request.path)
        project = match["project"] if match else ""
        if project not in workspace.projects:
            return answer(404, _error("not_found", f"no project {project!r}"))
        try:
            since = parse_timestamp(request.query.get("updated_after"))
            page = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "50"))
        except ValueError as error:
            return answer(400, _error("invalid_request", str(error)))
        tasks = sorted(
            workspace.projects[project].values(),
            key=lambda task: (updated_at(task), task["id"]),
        )
        if since is not None:
            tasks = [task for task in tasks if updated_at(task) >= since]
        total_pages = max(1, math.ceil(len(tasks) / per_page))
        first = (page - 1) * per_page
        meta = {
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
            "total": len(tasks),
        }
        return answer(200, {"data": tasks[first : first + per_page], "meta": meta})

    fake.handle("GET", "/api/v2/me", me)
    fake.handle("GET", LISTING, listing)


def touch(workspace: Workspace, now: datetime) -> int:
    """Finish the oldest web task ``now``; returns how many tasks changed."""
    task = workspace.projects["web"][1001]
    task.update(status="done", updated_at=stamp(now), completed_at=stamp(now))
    return 1


def harness() -> Harness:
    """How the conformance suite drives the tasks connector against the fake."""
    return Harness(
        plugin=headway_tasks,
        connector="tasks",
        options=options,
        environ={KEY_VARIABLE: GOOD_KEY},
        bad_environ={KEY_VARIABLE: BAD_KEY},
        dataset=make_workspace,
        serve=serve,
        change=touch,
    )


def stamp(when: datetime) -> str:
    """A time as the API writes it: ``2026-01-05T10:11:12Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_at(task: dict[str, Any]) -> datetime:
    """A task's update time."""
    return parse_timestamp(task["updated_at"]) or START


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}
