"""A fake Jira that speaks the real wire format, on the SDK's loopback FakeApi.

Issues are built from a real recorded Cloud issue (``fixtures/``): ADF
descriptions, ``status.statusCategory``, custom fields, avatars and all,
with dates written like Jira writes them (``2026-02-27T04:00:00.000-0800``,
in the account's zone). The fake answers:

- ``/rest/api/3/search/jql`` (Cloud): ``jql``, ``fields``, ``maxResults``,
  ``expand=changelog`` and ``nextPageToken``; ``isLast`` and no token on the
  last page; no ``total``. Tokens are search-after positions by default, or
  offsets (``tokens="offset"``), which shift like Data Center's do. The
  changelog holds an issue's newest 40 changes, newest first, with the
  true ``total``, as Cloud's search does;
- ``/rest/api/3/changelog/bulkfetch`` (Cloud, POST): ``issueIdsOrKeys`` (up
  to 1000, else 400), ``fieldIds``, ``maxResults`` (capped by the server)
  and ``nextPageToken`` in the JSON body; the changes oldest first, grouped
  by issue on each page, with a ``nextPageToken`` until the last page;
- ``/rest/api/2/search`` (Data Center): ``startAt``, ``maxResults`` capped
  by the server (and said in the answer), ``total``; the whole changelog,
  oldest first;
- ``/rest/api/3/search`` on Cloud: 410 with Jira's own body;
- ``myself`` (with ``timeZone``), ``field``, ``status``, ``issue/KEY``;
- 401 for other credentials, 400 with ``errorMessages`` for JQL it cannot
  read or a project it does not know.

:func:`rate_limited` builds the 429 (and 503) Jira Cloud sends, headers and
body, for a test to inject. JQL times in the repeated hour of a fall-back
are read as the later instant, as Jira reads them (``fold``).

The JQL it reads is the subset headway sends: ``(project in (A, B))`` or
``(project = A)``, ``AND updated >= "yyyy-MM-dd HH:mm"`` or ``<``, read in
the account's zone, and ``ORDER BY updated ASC, key ASC`` or ``created``.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED: dict[str, Any] = json.loads(
    (FIXTURES / "airbyte_recorded_issue_cloud_v3.json").read_text(encoding="utf-8")
)["issues"][0]
GONE_BODY: dict[str, Any] = json.loads(
    (FIXTURES / "error_410_legacy_search_removed_quoted.json").read_text(
        encoding="utf-8"
    )
)

EMAIL = "headway-bot@acme.example"
TOKEN = "jira-api-token-good-4f9c2e7a11"
BAD_TOKEN = "jira-api-token-refused-0b7d3c"
PAT = "jira-dc-pat-good-8d1e5b3f9a"
BAD_PAT = "jira-dc-pat-refused-2e6f0c"

POINTS_CLOUD = "customfield_10016"
POINTS_DC = "customfield_10106"
EPIC_LINK_DC = "customfield_10101"

#: id -> (name, category key): Jira's default workflow and two more.
STATUSES = {
    "10000": ("To Do", "new"),
    "10004": ("Backlog", "new"),
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
_RESOLUTIONS = {"Done": "10000", "Won't Do": "10001", "Duplicate": "10002"}
_PAGE = re.compile(
    r"^\((?P<base>.*)\)(?P<filters>(?: AND updated (?:>=|<) \"[^\"]*\")*)"
)
_FILTER = re.compile(r' AND updated (>=|<) "([^"]*)"')
_ORDER = re.compile(r" ORDER BY (?P<order>.+)$")
_PROJECTS_IN = re.compile(r"^project\s+in\s+\(([^)]*)\)$", re.IGNORECASE)
_PROJECT_IS = re.compile(r"^project\s*=\s*(\w+)$", re.IGNORECASE)


def jira_date(when: datetime, zone: ZoneInfo) -> str:
    """A time as Jira writes it: ``2022-06-09T16:29:31.871-0700``."""
    local = when.astimezone(zone)
    millis = local.microsecond // 1000
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}" + local.strftime("%z")


@functools.lru_cache(maxsize=65536)
def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def user(login: str, email: str | None = None, *, cloud: bool = True) -> dict:
    """A Jira user object: Cloud's accountId, or Data Center's name and key."""
    base = json.loads(_USER_JSON)
    base["displayName"] = login.title()
    if cloud:
        base["accountId"] = f"5b10a2844c2016570{_number(login) % 10**7:07d}"
        base["self"] = f"https://acme.atlassian.net/rest/api/3/user?accountId={login}"
    else:
        base.pop("accountId", None)
        base.pop("accountType", None)
        base["name"] = login
        base["key"] = f"JIRAUSER{_number(login) % 10**5:05d}"
    if email:
        base["emailAddress"] = email
    else:
        base.pop("emailAddress", None)
    return base


def _number(text: str) -> int:
    return zlib.crc32(text.encode())


class FakeJira:
    """A Jira site's issues, and the handlers that serve them.

    :param cloud: serve Cloud's API (else Data Center's).
    :param zone: the account's time zone (JQL dates are read in it).
    :param tokens: Cloud page tokens: ``"keyset"`` (search-after) or
        ``"offset"``.
    :param page_cap: the most issues Cloud returns a page with many fields.
    :param dc_cap: the most issues Data Center returns a page.
    :param fold: which of the two instants a JQL time in the repeated hour
        of a daylight-saving fall-back means: ``1``, the later (standard
        time), as Jira reads it (a naive bound there skips the first
        occurrence of the hour), or ``0``, the earlier.
    :param changelog_cap: the most changes Cloud's search shows an issue.
    :param bulk_page: the most changes a bulk changelog page holds.
    :param bulk_times: how the bulk changelog writes ``created``: ``"jira"``
        (``2026-02-27T04:00:00.000-0800``) or ``"millis"`` (epoch).
    :param bulk_status: answer the bulk changelog with this error status
        (404: a site without it; 403: an account that may not use it).
    """

    def __init__(
        self,
        *,
        cloud: bool = True,
        zone: str = "America/Los_Angeles",
        tokens: str = "keyset",
        page_cap: int = 100,
        dc_cap: int = 50,
        fold: int = 1,
        changelog_cap: int = 40,
        bulk_page: int = 1000,
        bulk_times: str = "jira",
        bulk_status: int | None = None,
    ):
        self.cloud = cloud
        self.zone = ZoneInfo(zone)
        self.zone_name = zone
        self.tokens = tokens
        self.page_cap = page_cap
        self.dc_cap = dc_cap
        self.fold = fold
        self.changelog_cap = changelog_cap
        self.bulk_page = bulk_page
        self.bulk_times = bulk_times
        self.bulk_status = bulk_status
        self.issues: dict[str, dict[str, Any]] = {}
        self.changelogs: dict[str, list[dict[str, Any]]] = {}
        self.projects = {"PLAT": "10016", "WEB": "10017", "OPS": "10018"}
        #: Search-request number (from 1) -> a change made before answering it.
        self.hooks: dict[int, Callable[[], None]] = {}
        #: Issue id -> the instant search starts returning it (index lag).
        self.hidden_until: dict[str, datetime] = {}
        self.now: Callable[[], datetime] | None = None
        self.searches: list[RecordedRequest] = []
        self.lookups: list[str] = []
        self.bulkfetches: list[RecordedRequest] = []
        self._next_id = 10001
        self._next_history = 20000
        #: Counts changes; a search of an unchanged site reuses its sorting.
        self.version = 0
        self._sorted: dict[str, tuple[int, list[Any]]] = {}

    # ------------------------------------------------------------ data

    @property
    def api(self) -> str:
        """The REST API path this site serves."""
        return "/rest/api/3" if self.cloud else "/rest/api/2"

    def add(
        self,
        number: int,
        *,
        updated: datetime,
        created: datetime | None = None,
        project: str = "PLAT",
        status: str = "10000",
        summary: str | None = None,
        issuetype: str = "Story",
        points: float | None = None,
        timespent: int | None = None,
        assignee: dict | None = None,
        reporter: dict | None = None,
        labels: Iterable[str] = (),
        components: Iterable[str] = (),
        parent: Mapping[str, Any] | None = None,
        epic_key: str | None = None,
        resolution: str | None = None,
        resolved: datetime | None = None,
        started: datetime | None = None,
    ) -> dict[str, Any]:
        """Add issue ``PROJECT-number`` (every other field as the recording)."""
        ident = str(self._next_id)
        self._next_id += 1
        key = f"{project}-{number}"
        # Shallow copies: the fields set below get new objects, the rest (the
        # recording's avatars, watches, votes...) are shared and never edited.
        issue = {**_TEMPLATE, "fields": {**_TEMPLATE["fields"]}}
        issue["id"] = ident
        issue["key"] = key
        issue["self"] = f"https://acme.atlassian.net{self.api}/issue/{ident}"
        fields = issue["fields"]
        created = created or updated - timedelta(days=3)
        fields["created"] = jira_date(created, self.zone)
        fields["updated"] = jira_date(updated, self.zone)
        fields["summary"] = summary or f"Issue {key}"
        fields["project"] = {
            **fields["project"],
            "key": project,
            "id": self.projects[project],
            "name": f"Project {project}",
        }
        fields["issuetype"] = {
            **fields["issuetype"],
            "name": issuetype,
            "hierarchyLevel": 1 if issuetype == "Epic" else 0,
        }
        fields["labels"] = list(labels)
        fields["components"] = [
            {"self": "https://acme.atlassian.net/rest/api/3/component/1", "id": "1",
             "name": name}
            for name in components
        ]  # fmt: skip
        fields["timespent"] = timespent
        fields["aggregatetimespent"] = timespent
        fields["assignee"] = assignee
        fields["reporter"] = reporter
        fields["creator"] = reporter
        points_field = POINTS_CLOUD if self.cloud else POINTS_DC
        fields[points_field] = points
        if parent is not None:
            fields["parent"] = dict(parent)
        if not self.cloud:
            fields[EPIC_LINK_DC] = epic_key
        when = resolved or updated
        self._set_status(issue, status, resolution, when)
        history = []
        if started is not None:
            history.append(self._history(started, "10000", "3"))
        if STATUSES[status][1] == "done":
            history.append(self._history(when, "3", status))
        self.changelogs[ident] = history
        self.issues[ident] = issue
        self.version += 1
        return issue

    def _set_status(
        self,
        issue: dict[str, Any],
        status: str,
        resolution: str | None,
        when: datetime,
    ) -> None:
        fields = issue["fields"]
        name, category = STATUSES[status]
        fields["status"] = {
            "self": f"https://acme.atlassian.net/rest/api/3/status/{status}",
            "description": "",
            "iconUrl": "https://acme.atlassian.net/",
            "name": name,
            "id": status,
            "statusCategory": {
                "self": "https://acme.atlassian.net/rest/api/3/statuscategory/2",
                **_CATEGORIES[category],
            },
        }
        fields["statuscategorychangedate"] = jira_date(when, self.zone)
        if category == "done":
            resolution = resolution or "Done"
            fields["resolution"] = {
                "self": "https://acme.atlassian.net/rest/api/3/resolution/1",
                "id": _RESOLUTIONS.get(resolution, "10000"),
                "description": "",
                "name": resolution,
            }
            fields["resolutiondate"] = jira_date(when, self.zone)
        else:
            fields["resolution"] = None
            fields["resolutiondate"] = None

    def _history(self, when: datetime, old: str, new: str) -> dict[str, Any]:
        status = {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": old,
            "fromString": STATUSES[old][0],
            "to": new,
            "toString": STATUSES[new][0],
        }
        return self._change(when, [status])

    def _change(self, when: datetime, items: list[dict[str, Any]]) -> dict[str, Any]:
        self._next_history += 1
        return {
            "id": str(self._next_history),
            "author": user("alice", "alice@acme.example", cloud=self.cloud),
            "created": jira_date(when, self.zone),
            "items": items,
        }

    def churn(
        self, ident: str, count: int, *, first: datetime, step: timedelta
    ) -> None:
        """``count`` changes to an issue that are not status changes (its
        rank, labels, assignee, in turn), ``step`` apart from ``first``."""
        issue = self.issues[ident]
        history = self.changelogs.setdefault(ident, [])
        for n in range(count):
            when = first + step * n
            history.append(
                self._change(when, [_OTHER_CHANGES[n % len(_OTHER_CHANGES)]])
            )
            if when > _parse(issue["fields"]["updated"]):
                issue["fields"]["updated"] = jira_date(when, self.zone)
        history.sort(key=lambda change: _parse(change["created"]))
        self.version += 1

    def update(
        self,
        ident: str,
        when: datetime,
        *,
        status: str | None = None,
        **fields: Any,
    ) -> None:
        """Edit an issue at ``when``: its fields, or its status."""
        issue = self.issues[ident]
        self.version += 1
        issue["fields"].update(fields)
        issue["fields"]["updated"] = jira_date(when, self.zone)
        if status is not None:
            old = issue["fields"]["status"]["id"]
            self._set_status(issue, status, None, when)
            if status != old:
                history = self.changelogs.setdefault(ident, [])
                history.append(self._history(when, old, status))
                history.sort(key=lambda change: _parse(change["created"]))

    def delete(self, ident: str) -> None:
        """Delete an issue."""
        self.version += 1
        del self.issues[ident]

    def by_key(self, key: str) -> dict[str, Any]:
        """The issue with ``key``."""
        return next(i for i in self.issues.values() if i["key"] == key)

    # ------------------------------------------------------------ serving

    def serve(self, fake: FakeApi) -> FakeJira:
        """Install the site's routes on ``fake``."""
        api = self.api
        fake.handle("GET", f"{api}/myself", self._guard(self._myself))
        fake.handle("GET", f"{api}/field", self._guard(self._fields))
        fake.handle("GET", f"{api}/status", self._guard(self._statuses))
        fake.handle("GET", re.compile(rf"{api}/issue/[^/]+"), self._guard(self._issue))
        if self.cloud:
            fake.handle("GET", f"{api}/search/jql", self._guard(self._search))
            fake.handle(
                "POST", f"{api}/changelog/bulkfetch", self._guard(self._bulkfetch)
            )
            for old in ("/rest/api/3/search", "/rest/api/2/search"):
                fake.handle("GET", old, lambda request: (410, GONE_BODY))
        else:
            fake.handle("GET", f"{api}/search", self._guard(self._search))
        return self

    def _authorized(self, request: RecordedRequest) -> bool:
        header = request.headers.get("authorization", "")
        if self.cloud:
            good = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
            return header == f"Basic {good}"
        return header == f"Bearer {PAT}"

    def _guard(self, handler: Callable[[RecordedRequest], Any]) -> Any:
        def guarded(request: RecordedRequest) -> Any:
            if not self._authorized(request):
                return FakeResponse(
                    401,
                    json={
                        "errorMessages": [
                            "You are not authenticated. Authentication required to "
                            "perform this operation."
                        ],
                        "errors": {},
                    },
                    headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"},
                )
            return handler(request)

        return guarded

    def _myself(self, request: RecordedRequest) -> Any:
        me = user("headway-bot", EMAIL, cloud=self.cloud)
        me["timeZone"] = self.zone_name
        me["locale"] = "en_US"
        return me

    def _fields(self, request: RecordedRequest) -> Any:
        listed = [
            _field("summary", "Summary", {"type": "string", "system": "summary"}),
            _field("status", "Status", {"type": "status", "system": "status"}),
            _field(
                "customfield_10015",
                "Start date",
                {"type": "date", "custom": "com.atlassian.jira.plugin.system."
                 "customfieldtypes:datepicker", "customId": 10015},
            ),
        ]  # fmt: skip
        if self.cloud:
            listed.append(
                _field(
                    POINTS_CLOUD,
                    "Story point estimate",
                    {
                        "type": "number",
                        "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
                        "customId": 10016,
                    },
                )
            )
        else:
            listed.append(
                _field(
                    POINTS_DC,
                    "Story Points",
                    {
                        "type": "number",
                        "custom": "com.atlassian.jira.plugin.system."
                        "customfieldtypes:float",
                        "customId": 10106,
                    },
                )
            )
            listed.append(
                _field(
                    EPIC_LINK_DC,
                    "Epic Link",
                    {
                        "type": "any",
                        "custom": "com.pyxis.greenhopper.jira:gh-epic-link",
                        "customId": 10101,
                    },
                )
            )
        return listed

    def _statuses(self, request: RecordedRequest) -> Any:
        return [
            {
                "self": f"https://acme.atlassian.net/rest/api/3/status/{ident}",
                "id": ident,
                "name": name,
                "statusCategory": _CATEGORIES[category],
            }
            for ident, (name, category) in STATUSES.items()
        ]

    def _issue(self, request: RecordedRequest) -> Any:
        key = request.path.rsplit("/", 1)[1]
        self.lookups.append(key)
        for issue in self.issues.values():
            if key in (issue["key"], issue["id"]):
                return {"id": issue["id"], "key": issue["key"], "fields": {}}
        return 404, {
            "errorMessages": ["Issue does not exist or you do not have permission "
                              "to see it."],
            "errors": {},
        }  # fmt: skip

    def _search(self, request: RecordedRequest) -> Any:
        self.searches.append(request)
        hook = self.hooks.pop(len(self.searches), None)
        if hook is not None:
            hook()
        query = request.query
        try:
            matching = self._select(query.get("jql", ""))
        except _JqlError as error:
            return 400, {"errorMessages": [str(error)], "errors": {}}
        fields = [f for f in query.get("fields", "*navigable").split(",") if f]
        expand = query.get("expand", "").split(",")
        asked = int(query.get("maxResults", 50))
        if self.cloud:
            ids_only = set(fields) <= {"id", "key"}
            size = min(asked, 5000 if ids_only else self.page_cap)
            start = self._start(matching, query.get("nextPageToken"))
            if start is None:
                return 400, {
                    "errorMessages": ["The provided next page token is invalid."],
                    "errors": {},
                }
            page = matching[start : start + size]
            body: dict[str, Any] = {
                "issues": [self._shape(i, fields, expand) for _, i in page]
            }
            if start + size < len(matching):
                body["nextPageToken"] = self._token(matching, start + size)
                body["isLast"] = False
            else:
                body["isLast"] = True
            return body
        size = min(asked, self.dc_cap)
        offset = int(query.get("startAt", 0))
        page = matching[offset : offset + size]
        return {
            "expand": "schema,names",
            "startAt": offset,
            "maxResults": size,
            "total": len(matching),
            "issues": [self._shape(i, fields, expand) for _, i in page],
        }

    def _select(self, jql: str) -> list[tuple[tuple, dict[str, Any]]]:
        cached = self._sorted.get(jql)
        if cached is not None and cached[0] == self.version and self.now is None:
            return cached[1]
        rows = self._sort(jql)
        self._sorted[jql] = (self.version, rows)
        return rows

    def _sort(self, jql: str) -> list[tuple[tuple, dict[str, Any]]]:
        order_match = _ORDER.search(jql)
        order = order_match["order"] if order_match else ""
        core = jql[: order_match.start()] if order_match else jql
        page = _PAGE.fullmatch(core)
        if page is None:
            raise _JqlError(
                "Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                f"'{core[:20]}'. (line 1, character 1)"
            )
        base = page["base"].strip()
        if m := _PROJECTS_IN.match(base):
            projects = [p.strip().strip('"') for p in m[1].split(",")]
        elif m := _PROJECT_IS.match(base):
            projects = [m[1]]
        else:
            raise _JqlError(
                f"Error in the JQL Query: The character '{base[:1]}' is a reserved "
                "JQL character. (line 1, character 2)"
            )
        for project in projects:
            if project not in self.projects:
                raise _JqlError(
                    f"The value '{project}' does not exist for the field 'project'."
                )
        filters = []
        for op, text in _FILTER.findall(page["filters"]):
            try:
                local = datetime.strptime(text, "%Y-%m-%d %H:%M")
            except ValueError:
                raise _JqlError(
                    f"Date value '{text}' for field 'updated' is invalid."
                ) from None
            local = local.replace(tzinfo=self.zone, fold=self.fold)
            filters.append((op, local.astimezone(UTC)))
        now = self.now() if self.now else None
        rows = []
        for issue in self.issues.values():
            fields = issue["fields"]
            if fields["project"]["key"] not in projects:
                continue
            if now is not None and self.hidden_until.get(issue["id"], now) > now:
                continue
            updated = _parse(fields["updated"])
            if any(
                (updated < bound) if op == ">=" else (updated >= bound)
                for op, bound in filters
            ):
                continue
            project, _, number = issue.get("key", f"X-{issue['id']}").partition("-")
            tie = (project, int(number))
            if order.startswith("updated"):
                sort: tuple = (updated.isoformat(), *tie)
            elif order.startswith("created"):
                sort = (_parse(fields["created"]).isoformat(), *tie)
            else:
                sort = tie
            rows.append((sort, issue))
        rows.sort(key=lambda row: row[0])
        return rows

    def _token(self, rows: list[tuple[tuple, dict]], start: int) -> str:
        if self.tokens == "offset":
            mark: Any = ["offset", start]
        else:
            mark = ["after", list(rows[start - 1][0])]
        return base64.urlsafe_b64encode(json.dumps(mark).encode()).decode()

    def _start(self, rows: list[tuple[tuple, dict]], token: str | None) -> int | None:
        if not token:
            return 0
        try:
            kind, value = json.loads(base64.urlsafe_b64decode(token.encode()))
        except ValueError:
            return None
        if kind == "offset":
            return int(value)
        after = tuple(value)
        return next((n for n, (sort, _) in enumerate(rows) if sort > after), len(rows))

    def _shape(
        self, issue: dict[str, Any], fields: list[str], expand: list[str]
    ) -> dict[str, Any]:
        shaped = {k: issue[k] for k in ("expand", "id", "self", "key") if k in issue}
        source = issue["fields"]
        if "*all" in fields or "*navigable" in fields:
            shaped["fields"] = source
        else:
            shaped["fields"] = {name: source[name] for name in fields if name in source}
        if "changelog" in expand:
            histories = list(self.changelogs.get(issue["id"], ()))
            total = len(histories)
            if self.cloud:
                # Cloud lists the newest change first, and only the newest 40.
                histories = histories[::-1][: self.changelog_cap]
            shaped["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": total,
                "histories": histories,
            }
        return shaped

    def _bulkfetch(self, request: RecordedRequest) -> Any:
        self.bulkfetches.append(request)
        if self.bulk_status is not None:
            return self.bulk_status, {
                "errorMessages": [
                    "You do not have the permission to see the specified issues."
                    if self.bulk_status == 403
                    else "null for uri: /rest/api/3/changelog/bulkfetch"
                ],
                "errors": {},
            }
        body = request.json()
        wanted = body.get("issueIdsOrKeys") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or not wanted:
            return _bad_request("issueIdsOrKeys must not be empty.")
        if len(wanted) > 1000:
            return _bad_request("The number of issue IDs or keys must not exceed 1000.")
        fields = body.get("fieldIds") or []
        if len(fields) > 10:
            return _bad_request("The number of field IDs must not exceed 10.")
        size = min(int(body.get("maxResults") or 1000), self.bulk_page, 1000)
        changes = []
        for name in dict.fromkeys(str(w) for w in wanted):
            issue = self.issues.get(name) or next(
                (i for i in self.issues.values() if i["key"] == name), None
            )
            if issue is None:
                continue  # unknown, or not visible: left out, as Jira does
            for history in self.changelogs.get(issue["id"], ()):
                items = [
                    item
                    for item in history["items"]
                    if not fields or item.get("fieldId") in fields
                ]
                if items:
                    when = _parse(history["created"])
                    changes.append((when, int(issue["id"]), history, items))
        changes.sort(key=lambda change: change[:2])

        token = body.get("nextPageToken")
        try:
            start = int(base64.urlsafe_b64decode(token.encode())) if token else 0
        except ValueError:
            return _bad_request("The provided next page token is invalid.")
        logs: dict[str, list[dict[str, Any]]] = {}
        for when, ident, history, items in changes[start : start + size]:
            shown = {**history, "items": items}
            if self.bulk_times == "millis":
                shown["created"] = int(when.timestamp() * 1000)
            logs.setdefault(str(ident), []).append(shown)
        answer: dict[str, Any] = {
            "issueChangeLogs": [
                {"issueId": ident, "changeHistories": histories}
                for ident, histories in logs.items()
            ]
        }
        if start + size < len(changes):
            answer["nextPageToken"] = base64.urlsafe_b64encode(
                str(start + size).encode()
            ).decode()
        return answer


class _JqlError(Exception):
    pass


def _bad_request(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"errorMessages": [message], "errors": {}}


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


def _template() -> dict[str, Any]:
    issue = copy.deepcopy(RECORDED)
    # The recording's top-level projectId, projectKey, created and updated
    # were added by the project that recorded it, not by Jira.
    for extra in ("projectId", "projectKey", "created", "updated"):
        issue.pop(extra, None)
    return issue


_TEMPLATE = _template()
_USER_JSON = json.dumps(RECORDED["fields"]["assignee"])

#: Changes that are not status changes, as Jira Cloud records them.
_OTHER_CHANGES = (
    {"field": "Rank", "fieldtype": "custom", "fieldId": "customfield_10019",
     "from": "", "fromString": "", "to": "", "toString": "Ranked higher"},
    {"field": "labels", "fieldtype": "jira", "fieldId": "labels",
     "from": None, "fromString": "", "to": None, "toString": "ci"},
    {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
     "from": None, "fromString": None, "to": "5b10a2844c20165700ede21g",
     "toString": "Alice"},
)  # fmt: skip


# ---------------------------------------------------------------- limits

#: When the suite's clock starts: the base of a limit's reset time.
_SUITE_START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def rate_limited(
    seconds: int,
    *,
    status: int = 429,
    html: bool = False,
    at: datetime = _SUITE_START,
) -> FakeResponse:
    """A limited answer as Jira Cloud sends it.

    ``Retry-After`` in seconds, ``X-RateLimit-Reset`` as an ISO time
    (``yyyy-MM-ddTHH:mmZ``, not epoch seconds), ``RateLimit-Reason``, and
    the JSON error body; or (``html``) the error page Cloud's edge answers
    with instead. A 503 ("a resource limit has been reached") carries
    ``Retry-After`` too.
    """
    reset = (at + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%MZ")
    headers = {"Retry-After": str(seconds), "X-RateLimit-Reset": reset}
    if status == 429:
        headers |= {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "RateLimit-Reason": "jira-burst-based",
        }
    if html:
        headers["Content-Type"] = "text/html;charset=UTF-8"
        return FakeResponse(status, body=_LIMIT_PAGE, headers=headers)
    message = (
        "The request has been rate-limited. Please try again later."
        if status == 429
        else "Service Unavailable: a resource limit has been reached."
    )
    return FakeResponse(
        status,
        json={"errorMessages": [message], "errors": {}, "status": status},
        headers=headers,
    )


_LIMIT_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Oops - an '
    'error has occurred</title></head><body class=" error-page error429"><div '
    'id="error-state"><h1>Something went wrong</h1></div></body></html>'
)


# ---------------------------------------------------------------- sources

ENV = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
BAD_ENV = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": BAD_TOKEN}
DC_ENV = {"JIRA_PAT": PAT}
BAD_DC_ENV = {"JIRA_PAT": BAD_PAT}
JQL = "project in (PLAT, WEB)"


def cloud_options(url: str, **extra: Any) -> dict[str, Any]:
    """A Cloud source table for a fake at ``url``."""
    return {
        "url": url,
        "email": "${JIRA_EMAIL}",
        "token": "${JIRA_API_TOKEN}",
        "jql": JQL,
        **extra,
    }


def dc_options(url: str, **extra: Any) -> dict[str, Any]:
    """A Data Center source table for a fake at ``url``."""
    return {"url": url, "pat": "${JIRA_PAT}", "jql": JQL, **extra}


def hourly(
    site: FakeJira, count: int, *, first: datetime, step: timedelta = timedelta(hours=1)
) -> list[dict[str, Any]]:
    """``count`` issues over PLAT and WEB, updated ``step`` apart from ``first``.

    Every third is done (one in ten of those won't-do), every other has
    points, every fifth has time logged; people, labels and components vary.
    """
    people = [
        user("alice", "alice@acme.example", cloud=site.cloud),
        user("bob", None, cloud=site.cloud),
        user("carol", "carol@acme.example", cloud=site.cloud),
    ]
    made = []
    for n in range(1, count + 1):
        updated = first + step * (n - 1)
        done = n % 3 == 0
        made.append(
            site.add(
                n,
                project="PLAT" if n % 2 else "WEB",
                updated=updated,
                created=updated - timedelta(days=2, hours=n % 7),
                status="10001" if done else ("3" if n % 3 == 1 else "10000"),
                resolution="Won't Do" if done and n % 30 == 0 else None,
                points=float(n % 5) if n % 2 else None,
                timespent=1800 * (n % 4 + 1) if n % 5 == 0 else None,
                assignee=people[n % 3] if n % 4 else None,
                reporter=people[(n + 1) % 3],
                labels=["ci"] if n % 6 == 0 else [],
                components=["api"] if n % 7 == 0 else [],
                started=updated - timedelta(days=1) if n % 3 != 2 else None,
            )
        )
    return made
