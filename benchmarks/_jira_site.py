"""A large fake Jira Cloud for the sync benchmark, served from pre-built bytes.

Every issue is shaped like the real recorded Cloud issue in
``tests/plugins/jira/fixtures/airbyte_recorded_issue_cloud_v3.json`` (the
``self`` links, avatar URLs, status categories, custom fields and Jira's
``2022-06-09T16:29:31.871-0700`` dates), cut down to the fields headway's
search asks for, as Jira does for a ``fields=`` list, with the changelog
that ``expand=changelog`` adds. Each issue is serialised once, when the
site is built; the full listing's pages are joined from those bytes once
too, so a search costs the server a dictionary look-up and one
``sendall``.

The server reads the JQL headway sends: ``(JQL) AND updated >= "..."``
(and ``< "..."``) in the account's zone, ``ORDER BY``, with
``nextPageToken`` / ``isLast`` paging and no ``total``; ``fields=id`` (the
census) gets ids only, 5000 a page. It answers ``/myself`` (with
``timeZone``), ``/field`` (the story point field) and ``/status``, checks
the Basic credentials, and answers anything else 404 with Jira's error
body.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
import re
import socket
import socketserver
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "tests/plugins/jira/fixtures/airbyte_recorded_issue_cloud_v3.json"

EMAIL = "bench-bot@acme.example"
TOKEN = "bench-api-token-3c9f2b71d0"
ZONE = "America/Los_Angeles"
POINTS_FIELD = "customfield_10016"
PAGE_SIZE = 100
CENSUS_PAGE = 5000
SITE = "https://acme.atlassian.net"
#: The source's JQL and its teams, for headway and the baseline alike.
JQL = "project in (PLAT, WEB, OPS)"
TEAMS = {"PLAT": "platform", "WEB": "web", "OPS": "operations"}

#: Status id -> (name, category key), Jira's default workflow and review.
STATUSES = {
    "10000": ("To Do", "new"),
    "3": ("In Progress", "indeterminate"),
    "10002": ("In Review", "indeterminate"),
    "10001": ("Done", "done"),
}
_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {
        "id": 4,
        "key": "indeterminate",
        "colorName": "yellow",
        "name": "In Progress",
    },
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
_TYPES = ("Story", "Task", "Bug", "Sub-task")
_PRIORITIES = (("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"))
_RESOLUTIONS = (("10000", "Done"), ("10001", "Won't Do"), ("10002", "Duplicate"))
_PROJECTS = (("PLAT", "10016"), ("WEB", "10017"), ("OPS", "10018"))
_LABELS = ("ci", "release", "security", "customer", "tech-debt", "ux")
_COMPONENTS = ("api", "billing", "frontend", "search")
_FILTER = re.compile(r' AND updated (>=|<) "([^"]*)"')


def jira_date(when: datetime, zone: ZoneInfo) -> str:
    """A time as Jira writes it: ``2022-06-09T16:29:31.871-0700``."""
    local = when.astimezone(zone)
    millis = local.microsecond // 1000
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}" + local.strftime("%z")


def _recorded() -> dict[str, Any]:
    text = RECORDING.read_text(encoding="utf-8")
    issue: dict[str, Any] = json.loads(text)["issues"][0]
    # Added by the project that recorded it, not by Jira.
    for extra in ("projectId", "projectKey", "created", "updated"):
        issue.pop(extra, None)
    return issue


def _users(template: Mapping[str, Any], count: int) -> list[dict[str, Any]]:
    people = []
    for n in range(count):
        person = copy.deepcopy(dict(template))
        account = f"5b10a2844c20165700ede{n:03d}"
        person["accountId"] = account
        person["self"] = f"{SITE}/rest/api/3/user?accountId={account}"
        person["displayName"] = f"Person {n}"
        person["timeZone"] = ZONE
        # Jira hides the e-mail of accounts whose profile says so.
        if n % 4 == 3:
            person.pop("emailAddress", None)
        else:
            person["emailAddress"] = f"person{n}@acme.example"
        people.append(person)
    return people


class Site:
    """``count`` issues, updated one minute apart, the newest ``age`` ago.

    :param count: how many issues the JQL selects.
    :param now: the instant the newest update is measured from.
    """

    def __init__(
        self,
        count: int,
        *,
        now: datetime | None = None,
        age: timedelta = timedelta(hours=2),
    ):
        self.count = count
        self.zone = ZoneInfo(ZONE)
        recorded = _recorded()
        fields = recorded["fields"]
        people = _users(fields["assignee"], 40)
        newest = (now or datetime.now(UTC)) - age
        first = newest - timedelta(minutes=count - 1)
        self.times: list[datetime] = []
        self.ids: list[str] = []
        self.bodies: list[bytes] = []
        for n in range(count):
            updated = first + timedelta(minutes=n)
            issue = self._issue(n, updated, recorded, people)
            self.times.append(updated)
            self.ids.append(issue["id"])
            self.bodies.append(json.dumps(issue, ensure_ascii=False).encode())
        # The full listing, page by page, as the first sync reads it.
        self._pages: dict[tuple[int, int], bytes] = {}
        for start in range(0, count, PAGE_SIZE):
            self._pages[(start, count)] = self._page(start, count)

    # ------------------------------------------------------------ the data

    def _issue(
        self,
        n: int,
        updated: datetime,
        recorded: Mapping[str, Any],
        people: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Issue number ``n``: every field headway asks for, in Jira's shape."""
        source = recorded["fields"]
        zone = self.zone
        ident = str(10000 + n)
        project, project_id = _PROJECTS[n % 3 if n % 10 else 2]
        key = f"{project}-{n + 1}"
        created = updated - timedelta(days=2 + n % 30, hours=n % 11)
        status_id = ("10000", "3", "10002", "10001", "10001")[n % 5]
        status_name, category = STATUSES[status_id]
        issue_type = _TYPES[n % 4]
        fields: dict[str, Any] = {
            "statuscategorychangedate": jira_date(
                updated - timedelta(hours=n % 5), zone
            ),
            "issuetype": {
                **source["issuetype"],
                "self": f"{SITE}/rest/api/3/issuetype/{10001 + n % 4}",
                "id": str(10001 + n % 4),
                "name": issue_type,
                "subtask": issue_type == "Sub-task",
                "hierarchyLevel": -1 if issue_type == "Sub-task" else 0,
            },
            "timespent": 1800 * (n % 9) if n % 3 == 0 and n % 9 else None,
            "project": {
                **source["project"],
                "self": f"{SITE}/rest/api/3/project/{project_id}",
                "id": project_id,
                "key": project,
                "name": f"Project {project}",
            },
            "resolution": None,
            "resolutiondate": None,
            "created": jira_date(created, zone),
            "priority": {
                **source["priority"],
                "self": f"{SITE}/rest/api/3/priority/{_PRIORITIES[n % 4][0]}",
                "id": _PRIORITIES[n % 4][0],
                "name": _PRIORITIES[n % 4][1],
            },
            "labels": [_LABELS[(n + k) % 6] for k in range(n % 3)],
            POINTS_FIELD: float(n % 8) if n % 2 else None,
            "assignee": people[n % 37] if n % 6 else None,
            "updated": jira_date(updated, zone),
            "status": {
                **source["status"],
                "self": f"{SITE}/rest/api/3/status/{status_id}",
                "name": status_name,
                "id": status_id,
                "statusCategory": {
                    "self": f"{SITE}/rest/api/3/statuscategory/"
                    f"{_CATEGORIES[category]['id']}",
                    **_CATEGORIES[category],
                },
            },
            "components": [
                {
                    "self": f"{SITE}/rest/api/3/component/{10065 + k}",
                    "id": str(10065 + k),
                    "name": _COMPONENTS[k],
                    "description": f"The {_COMPONENTS[k]} component",
                }
                for k in range(4)
                if n % (k + 2) == 0
            ][:2],
            "summary": f"{issue_type} {n}: make the {_COMPONENTS[n % 4]} faster",
            "reporter": people[(n * 7) % 40],
        }
        if category == "done":
            resolution = _RESOLUTIONS[0 if n % 7 else 1 + n % 2]
            fields["resolution"] = {
                "self": f"{SITE}/rest/api/3/resolution/{resolution[0]}",
                "id": resolution[0],
                "description": "Work on this issue is complete.",
                "name": resolution[1],
            }
            fields["resolutiondate"] = fields["statuscategorychangedate"]
        if n % 4 and n > 50:
            parent = n - 1 - n % 50
            fields["parent"] = {
                "id": str(10000 + parent),
                "key": f"{_PROJECTS[parent % 3 if parent % 10 else 2][0]}-{parent + 1}",
                "self": f"{SITE}/rest/api/3/issue/{10000 + parent}",
                "fields": {
                    "summary": f"Epic {parent}",
                    "status": fields["status"],
                    "priority": fields["priority"],
                    "issuetype": {**fields["issuetype"], "name": "Epic"},
                },
            }
        histories = []
        if category != "new":
            histories.append(
                self._history(n, created + timedelta(hours=5), "10000", "3", people)
            )
        if category == "done":
            histories.append(
                self._history(n, updated - timedelta(hours=n % 5), "3", "10001", people)
            )
        histories.reverse()  # Cloud lists the newest change first
        return {
            "expand": recorded["expand"],
            "id": ident,
            "self": f"{SITE}/rest/api/3/issue/{ident}",
            "key": key,
            "changelog": {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(histories),
                "histories": histories,
            },
            "fields": fields,
        }

    def _history(
        self, n: int, when: datetime, old: str, new: str, people: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": str(200000 + 2 * n + (new == "10001")),
            "author": people[n % 40],
            "created": jira_date(when, self.zone),
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": old,
                    "fromString": STATUSES[old][0],
                    "to": new,
                    "toString": STATUSES[new][0],
                }
            ],
        }

    # ------------------------------------------------------------ answers

    def _page(self, start: int, stop: int) -> bytes:
        end = min(start + PAGE_SIZE, stop)
        head = b'{"issues":[' + b",".join(self.bodies[start:end]) + b"]"
        if end < stop:
            token = _token(end, stop)
            return head + b',"nextPageToken":"' + token + b'","isLast":false}'
        return head + b',"isLast":true}'

    def _census(self, start: int, stop: int) -> bytes:
        end = min(start + CENSUS_PAGE, stop)
        ids = ",".join(f'{{"id":"{ident}"}}' for ident in self.ids[start:end])
        body = '{"issues":[' + ids + "]"
        if end < stop:
            return (
                body.encode()
                + b',"nextPageToken":"'
                + _token(end, stop)
                + b'","isLast":false}'
            )
        return body.encode() + b',"isLast":true}'

    def _span(self, jql: str) -> tuple[int, int]:
        """The issues a JQL's ``updated`` bounds select, as an index range."""
        start, stop = 0, self.count
        for op, text in _FILTER.findall(jql):
            local = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=self.zone)
            index = bisect.bisect_left(self.times, local.astimezone(UTC))
            if op == ">=":
                start = max(start, index)
            else:
                stop = min(stop, index)
        return start, max(start, stop)

    def search(self, query: Mapping[str, list[str]]) -> tuple[int, bytes]:
        """One ``/search/jql`` answer."""
        token = query.get("nextPageToken", [""])[0]
        ids_only = query.get("fields", [""])[0] == "id"
        if token:
            try:
                start, stop = _untoken(token)
            except ValueError:
                return 400, _error("The provided next page token is invalid.")
        else:
            start, stop = self._span(query.get("jql", [""])[0])
        if ids_only:
            return 200, self._census(start, stop)
        page = self._pages.get((start, stop))
        if page is None:
            page = self._page(start, stop)
        return 200, page

    def myself(self) -> bytes:
        """``/myself``: the account, with the zone JQL dates are read in."""
        return json.dumps(
            {
                "self": f"{SITE}/rest/api/3/user?accountId=5b10a2844c20165700ede999",
                "accountId": "5b10a2844c20165700ede999",
                "emailAddress": EMAIL,
                "displayName": "Bench Bot",
                "active": True,
                "timeZone": ZONE,
                "locale": "en_US",
                "accountType": "atlassian",
            }
        ).encode()

    def fields(self) -> bytes:
        """``/field``: the system fields and the story point estimate."""
        listed = [
            _field("summary", "Summary", {"type": "string", "system": "summary"}),
            _field("status", "Status", {"type": "status", "system": "status"}),
            _field(
                POINTS_FIELD,
                "Story point estimate",
                {
                    "type": "number",
                    "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
                    "customId": 10016,
                },
            ),
        ]
        return json.dumps(listed).encode()

    def statuses(self) -> bytes:
        """``/status``: every status with its category."""
        return json.dumps(
            [
                {
                    "self": f"{SITE}/rest/api/3/status/{ident}",
                    "id": ident,
                    "name": name,
                    "statusCategory": _CATEGORIES[category],
                }
                for ident, (name, category) in STATUSES.items()
            ]
        ).encode()


def _token(start: int, stop: int) -> bytes:
    return base64.urlsafe_b64encode(f"{start}:{stop}".encode())


def _untoken(token: str) -> tuple[int, int]:
    start, _, stop = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    return int(start), int(stop)


def _error(message: str) -> bytes:
    return json.dumps({"errorMessages": [message], "errors": {}}).encode()


def _field(ident: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ident,
        "key": ident,
        "name": name,
        "custom": ident.startswith("customfield_"),
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": [name.lower()],
        "schema": schema,
    }


# ---------------------------------------------------------------- serving


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 with keep-alive: read a request, answer it in one write."""

    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        for target, headers in self._requests():
            status, body = self.server.answer(target, headers)
            reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized"}.get(
                status, "Not Found"
            )
            head = (
                f"HTTP/1.1 {status} {reason}\r\n"
                "Content-Type: application/json;charset=UTF-8\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: keep-alive\r\n\r\n"
            ).encode()
            self.connection.sendall(head + body)

    def _requests(self) -> Iterator[tuple[str, dict[str, str]]]:
        while True:
            line = self.rfile.readline(65537)
            if not line:
                return
            parts = line.decode("latin-1").split()
            if len(parts) != 3:
                return
            headers = {}
            while True:
                header = self.rfile.readline(65537)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length:
                self.rfile.read(length)
            yield parts[1], headers


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, site: Site):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site
        basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
        self.authorization = f"Basic {basic}"
        self.requests = 0

    def answer(self, target: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        self.requests += 1
        if headers.get("authorization") != self.authorization:
            return 401, _error(
                "You are not authenticated. Authentication required to perform "
                "this operation."
            )
        parts = urlsplit(target)
        path = parts.path
        if path == "/rest/api/3/search/jql":
            return self.site.search(parse_qs(parts.query))
        if path == "/rest/api/3/myself":
            return 200, self.site.myself()
        if path == "/rest/api/3/field":
            return 200, self.site.fields()
        if path == "/rest/api/3/status":
            return 200, self.site.statuses()
        return 404, _error(f"No resource at {path}.")


class Server:
    """The site on ``127.0.0.1``, answered by threads of this process."""

    def __init__(self, site: Site):
        self._server = _Server(site)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-jira", daemon=True
        )

    @property
    def url(self) -> str:
        """The site root, as a source's ``url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> int:
        """Requests answered so far."""
        return self._server.requests

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
