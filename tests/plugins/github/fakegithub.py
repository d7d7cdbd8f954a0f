"""A fake of GitHub's REST API on loopback, speaking its real wire format.

Built from the recorded answers in ``fixtures/`` (octokit/fixtures, MIT):
issue objects with their URLs and users, ``Link`` headers that point at
``/repositories/{id}/issues?...&page=N``, quoted ``ETag`` headers, and
``X-RateLimit-*`` headers on every answer. It pages, filters by ``since``
and ``state``, sorts by update time, answers ``If-None-Match`` with ``304``
(without spending quota), counts the hourly quota down and refuses with
GitHub's 403 once it is spent, redirects a renamed repository with a
``301``, lists organisations' repositories, lists pull requests through ``/pulls``
(pull objects with their own ids, ``merged_at`` at the top level, ``head``,
``base`` and ``_links``, as GitHub's "List pull requests" documents them;
``sort`` and ``direction`` with GitHub's defaults, no ``since``), answers
``/issues`` of a repository with issues off with GitHub's 410, and refuses
any token but :data:`GOOD_TOKEN` with GitHub's 401 body.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import attrs

from headway_sdk import get_clock, parse_timestamp
from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest

GOOD_TOKEN = "ghp_headwayGoodTokenForTests0123456789"
BAD_TOKEN = "ghp_headwayRefusedTokenForTests987654"
FIXTURES = Path(__file__).parent / "fixtures"
HOUR_LIMIT = 5000

_DOCS = "https://docs.github.com/rest"
_REDIRECT_DOCS = (
    f"{_DOCS}/guides/best-practices-for-using-the-rest-api#follow-redirects"
)
_PRIMARY_MESSAGE = (
    "API rate limit exceeded for user ID 31898046. If you reach out to GitHub "
    "Support for help, please include the request ID 0683:13C7:1074B74:2631A8B."
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again. If you reach out to GitHub Support for help, please include "
    "the request ID 0683:13C7:1074B74:2631A8C."
)


def recorded_pages() -> list[dict[str, Any]]:
    """The five recorded pages of octokit's paginate-issues scenario."""
    data = json.loads(
        (FIXTURES / "octokit_paginate_issues_5pages_raw.json").read_text()
    )
    return data["pages"]


def iso(when: datetime) -> str:
    """A time as GitHub writes it: ``2022-07-19T04:39:16Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str, id: int = 31898046, type: str = "User") -> dict[str, Any]:
    """A user object as GitHub embeds it in an issue."""
    web = f"https://github.com/{login}"
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": id,
        "node_id": "MDQ6VXNlcjMxODk4MDQ2",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": web,
        "followers_url": f"{api}/followers",
        "repos_url": f"{api}/repos",
        "type": type,
        "site_admin": False,
    }


@attrs.define
class Repo:
    """One repository of the fake and its issues by number."""

    full_name: str
    id: int
    issues: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    has_issues: bool = True
    #: The pull request id (not the issue id) of each pull request's number.
    pull_ids: dict[int, int] = attrs.field(factory=dict)

    @property
    def owner(self) -> str:
        """The owner's login."""
        return self.full_name.split("/")[0]


@attrs.define
class Quota:
    """The hourly primary rate limit: ``remaining`` until ``reset``."""

    limit: int = HOUR_LIMIT
    remaining: int = HOUR_LIMIT
    reset: datetime | None = None

    def headers(self, now: datetime) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers GitHub sends on every answer."""
        if self.reset is None or now >= self.reset:
            if self.reset is not None:
                self.remaining = self.limit
            self.reset = now + timedelta(hours=1)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset.timestamp())),
            "X-RateLimit-Used": str(self.limit - self.remaining),
            "X-RateLimit-Resource": "core",
        }


class FakeGitHub:
    """GitHub's issues, repositories and organisations endpoints.

    Make the data, then :meth:`install` the routes on a loopback server.
    Records carry the API's URLs as GitHub writes them (``repository_url``
    and the rest); the ``Link`` headers point at the loopback server.

    :param prefix: the API's path prefix (``/api/v3`` for Enterprise Server).
    """

    def __init__(self, *, prefix: str = ""):
        self.api: FakeApi | None = None
        self.prefix = prefix
        self.base = (
            f"https://github.example.com{prefix}"
            if prefix
            else "https://api.github.com"
        )
        self.repos: dict[str, Repo] = {}
        self.renamed: dict[str, str] = {}
        self.orgs: dict[str, int] = {}
        self.quota = Quota()
        #: The anonymous quota of the caller's address, which 401s carry.
        self.anonymous = Quota(limit=60, remaining=60)
        #: Called with each request before it is answered (changes mid-sync).
        self.before: list[Callable[[RecordedRequest], None]] = []
        #: How many requests were answered 304 Not Modified.
        self.not_modified = 0
        self._next_id = 1_308_969_059
        self._next_pull = 1_022_347_105
        self._next_repo = 515_435_940

    @property
    def url(self) -> str:
        """The ``api_url`` a source sets to read this fake."""
        if self.api is None:
            raise RuntimeError("the fake GitHub is not installed on a server")
        return self.api.url + self.prefix

    # ------------------------------------------------------------ data

    def add_repo(self, full_name: str, *, has_issues: bool = True) -> Repo:
        """A new, empty repository."""
        self._next_repo += 1
        repo = Repo(full_name, self._next_repo, has_issues=has_issues)
        self.repos[full_name.lower()] = repo
        self.orgs.setdefault(repo.owner.lower(), 1_000 + len(self.orgs))
        return repo

    def add_issue(
        self,
        repo: Repo,
        *,
        updated: datetime,
        created: datetime | None = None,
        title: str | None = None,
        pull: bool = False,
        state: str = "open",
        closed: datetime | None = None,
        merged: datetime | None = None,
        state_reason: str | None = None,
        draft: bool = False,
        author: str = "octokit-fixture-user-a",
        author_type: str = "User",
        assignees: Iterable[str] = (),
        labels: Iterable[str] = (),
        milestone: str | None = None,
    ) -> dict[str, Any]:
        """An issue (or pull request) in the shape GitHub lists it."""
        number = len(repo.issues) + 1
        self._next_id += 1
        api = f"{self.base}/repos/{repo.full_name}/issues/{number}"
        kind = "pull" if pull else "issues"
        web = f"https://github.com/{repo.full_name}/{kind}/{number}"
        people = [user(login) for login in assignees]
        issue: dict[str, Any] = {
            "url": api,
            "repository_url": f"{self.base}/repos/{repo.full_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": web,
            "id": self._next_id,
            "node_id": f"I_kwDOHrjtpM5{self._next_id}",
            "number": number,
            "title": title or f"Test issue {number}",
            "user": user(author, type=author_type),
            "labels": [
                {
                    "id": 4_000_000 + index,
                    "node_id": "LA_kwDOHrjtpM8AAAABC",
                    "url": f"{self.base}/repos/{repo.full_name}/labels/{name}",
                    "name": name,
                    "color": "d73a4a",
                    "default": False,
                    "description": None,
                }
                for index, name in enumerate(labels)
            ],
            "state": state,
            "locked": False,
            "assignee": people[0] if people else None,
            "assignees": people,
            "milestone": (
                {"id": 1, "number": 1, "title": milestone, "state": "open"}
                if milestone
                else None
            ),
            "comments": 0,
            "created_at": iso(created or updated),
            "updated_at": iso(updated),
            "closed_at": iso(closed) if closed else None,
            "author_association": "MEMBER",
            "active_lock_reason": None,
            "body": "Something to do.",
            "reactions": {"url": f"{api}/reactions", "total_count": 0, "+1": 0},
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None,
            "state_reason": state_reason,
        }
        if pull:
            self._next_pull += 1
            repo.pull_ids[number] = self._next_pull
            pulls = f"{self.base}/repos/{repo.full_name}/pulls/{number}"
            issue["draft"] = draft
            issue["pull_request"] = {
                "url": pulls,
                "html_url": web,
                "diff_url": f"{web}.diff",
                "patch_url": f"{web}.patch",
                "merged_at": iso(merged) if merged else None,
            }
        repo.issues[number] = issue
        return issue

    def pull_json(self, repo: Repo, issue: dict[str, Any]) -> dict[str, Any]:
        """A pull request as ``/pulls`` lists it, from its issue."""
        number = issue["number"]
        api = f"{self.base}/repos/{repo.full_name}"
        own = f"{api}/pulls/{number}"
        web = f"https://github.com/{repo.full_name}/pull/{number}"
        merged = issue["pull_request"]["merged_at"]

        def branch(ref: str) -> dict[str, Any]:
            return {
                "label": f"{repo.owner}:{ref}",
                "ref": ref,
                "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                "user": user(repo.owner, type="Organization"),
                "repo": self._repo_json(repo),
            }

        return {
            "url": own,
            "id": repo.pull_ids[number],
            "node_id": f"PR_kwDOHrjtpM5{repo.pull_ids[number]}",
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "issue_url": f"{api}/issues/{number}",
            "commits_url": f"{own}/commits",
            "review_comments_url": f"{own}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "statuses_url": f"{api}/statuses/6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "number": number,
            "state": issue["state"],
            "locked": issue["locked"],
            "title": issue["title"],
            "user": issue["user"],
            "body": issue["body"],
            "labels": issue["labels"],
            "milestone": issue["milestone"],
            "active_lock_reason": issue["active_lock_reason"],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "merged_at": merged,
            "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6"
            if merged
            else None,
            "assignee": issue["assignee"],
            "assignees": issue["assignees"],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": branch(f"topic-{number}"),
            "base": branch("main"),
            "_links": {
                "self": {"href": own},
                "html": {"href": web},
                "issue": {"href": f"{api}/issues/{number}"},
                "comments": {"href": f"{api}/issues/{number}/comments"},
                "review_comments": {"href": f"{own}/comments"},
                "commits": {"href": f"{own}/commits"},
            },
            "author_association": issue["author_association"],
            "auto_merge": None,
            "draft": issue.get("draft", False),
        }

    def remove(self, repo: Repo, number: int) -> None:
        """Delete an issue (an admin can)."""
        del repo.issues[number]

    def touch(self, repo: Repo, number: int, when: datetime, **changes: Any) -> None:
        """Change an issue: its update time becomes ``when``."""
        issue = repo.issues[number]
        issue.update(changes)
        issue["updated_at"] = iso(when)

    def rename(self, old: str, new: str) -> Repo:
        """Rename a repository; the old name then answers with a 301."""
        repo = self.repos.pop(old.lower())
        repo.full_name = new
        for issue in repo.issues.values():
            for key in ("url", "repository_url", "html_url", "labels_url"):
                issue[key] = issue[key].replace(f"/{old}", f"/{new}")
        self.repos[new.lower()] = repo
        self.renamed[old.lower()] = new
        return repo

    def error(self, status: int, message: str, **headers: str) -> FakeResponse:
        """GitHub's error answer, with the quota's headers as GitHub sends
        them on every answer (for a test to inject)."""
        rate = self.quota.headers(get_clock().now())
        return _error(status, message, {**rate, **headers})

    # ------------------------------------------------------------ serving

    def install(self, api: FakeApi) -> FakeGitHub:
        """Serve every route from ``api``."""
        self.api = api
        p = re.escape(self.prefix)
        name = r"([A-Za-z0-9_.-]+)"
        routes = [
            (rf"{p}/repos/{name}/{name}/issues", self._repo_issues),
            (rf"{p}/repositories/(\d+)/issues", self._id_issues),
            (rf"{p}/repos/{name}/{name}/pulls", self._repo_pulls),
            (rf"{p}/repositories/(\d+)/pulls", self._id_pulls),
            (rf"{p}/repos/{name}/{name}", self._repo),
            (rf"{p}/orgs/{name}/repos", self._org_repos),
            (rf"{p}/organizations/(\d+)/repos", self._org_id_repos),
            (rf"{p}/orgs/{name}", self._org),
        ]
        for pattern, handler in routes:
            api.handle("GET", re.compile(pattern), self._guard(pattern, handler))
        return self

    def _guard(self, pattern: str, handler: Any) -> Any:
        compiled = re.compile(pattern)

        def serve(request: RecordedRequest) -> FakeResponse:
            for hook in self.before:
                hook(request)
            now = get_clock().now()
            auth = request.headers.get("authorization", "")
            if auth not in (f"Bearer {GOOD_TOKEN}", f"token {GOOD_TOKEN}"):
                # A refused token is answered as an anonymous caller: the
                # address's own quota of 60 an hour, counting down.
                anonymous = self.anonymous.headers(now)
                self.anonymous.remaining = max(0, self.anonymous.remaining - 1)
                return _error(401, "Bad credentials", anonymous)
            rate = self.quota.headers(now)
            if self.quota.remaining <= 0:
                return _error(403, _PRIMARY_MESSAGE, rate)
            match = compiled.fullmatch(request.path)
            assert match is not None
            response = handler(request, *match.groups())
            if response.status == 304:
                self.not_modified += 1
                return attrs.evolve(response, headers={**response.headers, **rate})
            self.quota.remaining -= 1
            rate = {
                **rate,
                "X-RateLimit-Remaining": str(self.quota.remaining),
                "X-RateLimit-Used": str(self.quota.limit - self.quota.remaining),
            }
            return attrs.evolve(response, headers={**rate, **response.headers})

        return serve

    def _repo_issues(
        self, request: RecordedRequest, owner: str, name: str
    ) -> FakeResponse:
        full = f"{owner}/{name}".lower()
        if full in self.renamed:
            repo = self.repos[self.renamed[full].lower()]
            target = f"{self.url}/repositories/{repo.id}/issues"
            if request.query:
                target += "?" + urlencode(request.query)
            return FakeResponse(
                301,
                json={
                    "message": "Moved Permanently",
                    "url": target,
                    "documentation_url": _REDIRECT_DOCS,
                },
                headers={"Location": target},
            )
        repo = self.repos.get(full)
        if repo is None:
            return _error(404, "Not Found", {})
        return self._issues(request, repo)

    def _id_issues(self, request: RecordedRequest, repo_id: str) -> FakeResponse:
        repo = next((r for r in self.repos.values() if r.id == int(repo_id)), None)
        if repo is None:
            return _error(404, "Not Found", {})
        return self._issues(request, repo)

    def _issues(self, request: RecordedRequest, repo: Repo) -> FakeResponse:
        if not repo.has_issues:
            return _error(410, "Issues are disabled for this repo", {})
        query = request.query
        rows = list(repo.issues.values())
        state = query.get("state", "open")
        if state != "all":
            rows = [r for r in rows if r["state"] == state]
        since = parse_timestamp(query.get("since"))
        if since is not None:
            rows = [r for r in rows if parse_timestamp(r["updated_at"]) >= since]
        sort = "created_at" if query.get("sort") == "created" else "updated_at"
        descending = query.get("direction", "desc") == "desc"
        rows.sort(key=lambda r: (r[sort], r["number"]), reverse=descending)
        return self._paged(request, rows, f"/repositories/{repo.id}/issues")

    def _repo_pulls(
        self, request: RecordedRequest, owner: str, name: str
    ) -> FakeResponse:
        full = f"{owner}/{name}".lower()
        repo = self.repos.get(self.renamed.get(full, full).lower())
        if repo is None:
            return _error(404, "Not Found", {})
        return self._pulls(request, repo)

    def _id_pulls(self, request: RecordedRequest, repo_id: str) -> FakeResponse:
        repo = next((r for r in self.repos.values() if r.id == int(repo_id)), None)
        if repo is None:
            return _error(404, "Not Found", {})
        return self._pulls(request, repo)

    def _pulls(self, request: RecordedRequest, repo: Repo) -> FakeResponse:
        # GitHub's defaults: open ones, by creation, newest first; sorted by
        # anything else, oldest first. No since.
        query = request.query
        rows = [
            self.pull_json(repo, issue)
            for issue in repo.issues.values()
            if "pull_request" in issue
        ]
        state = query.get("state", "open")
        if state != "all":
            rows = [r for r in rows if r["state"] == state]
        sort = query.get("sort", "created")
        field = "updated_at" if sort == "updated" else "created_at"
        default = "desc" if sort == "created" else "asc"
        descending = query.get("direction", default) == "desc"
        rows.sort(key=lambda r: (r[field], r["number"]), reverse=descending)
        return self._paged(request, rows, f"/repositories/{repo.id}/pulls")

    def _paged(
        self, request: RecordedRequest, rows: list[dict[str, Any]], path: str
    ) -> FakeResponse:
        query = request.query
        size = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        body = rows[(page - 1) * size : page * size]
        text = json.dumps(body)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest() + '"'
        headers = {
            "Cache-Control": "private, max-age=60, s-maxage=60",
            "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            "ETag": etag,
            "X-GitHub-Media-Type": "github.v3; format=json",
        }
        if request.headers.get("if-none-match") == etag:
            return FakeResponse(304, headers=headers)
        last = max(1, -(-len(rows) // size))
        rest = {k: v for k, v in query.items() if k != "page"}

        def link(number: int, rel: str) -> str:
            target = f"{self.url}{path}?{urlencode({**rest, 'page': number})}"
            return f'<{target}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        if links:
            headers["Link"] = ", ".join(links)
        return FakeResponse(
            200,
            body=text,
            headers={**headers, "Content-Type": "application/json; charset=utf-8"},
        )

    def _repo(self, request: RecordedRequest, owner: str, name: str) -> FakeResponse:
        full = f"{owner}/{name}".lower()
        repo = self.repos.get(self.renamed.get(full, full).lower())
        if repo is None:
            return _error(404, "Not Found", {})
        return FakeResponse(json=self._repo_json(repo))

    def _repo_json(self, repo: Repo) -> dict[str, Any]:
        return {
            "id": repo.id,
            "node_id": "R_kgDOHrjtpA",
            "name": repo.full_name.split("/")[1],
            "full_name": repo.full_name,
            "private": False,
            "owner": user(repo.owner, type="Organization"),
            "html_url": f"https://github.com/{repo.full_name}",
            "url": f"{self.base}/repos/{repo.full_name}",
            "issues_url": f"{self.base}/repos/{repo.full_name}/issues{{/number}}",
            "fork": False,
            "archived": False,
            "disabled": False,
            "has_issues": repo.has_issues,
            "open_issues_count": len(repo.issues),
            "default_branch": "main",
        }

    def _org_repos(self, request: RecordedRequest, org: str) -> FakeResponse:
        if org.lower() not in self.orgs:
            return _error(404, "Not Found", {})
        return self._org_listing(request, org.lower())

    def _org_id_repos(self, request: RecordedRequest, org_id: str) -> FakeResponse:
        org = next((o for o, i in self.orgs.items() if i == int(org_id)), None)
        if org is None:
            return _error(404, "Not Found", {})
        return self._org_listing(request, org)

    def _org_listing(self, request: RecordedRequest, org: str) -> FakeResponse:
        repos = sorted(
            (r for r in self.repos.values() if r.owner.lower() == org),
            key=lambda r: r.full_name.lower(),
        )
        rows = [self._repo_json(repo) for repo in repos]
        return self._paged(request, rows, f"/organizations/{self.orgs[org]}/repos")

    def _org(self, request: RecordedRequest, org: str) -> FakeResponse:
        if org.lower() not in self.orgs:
            return _error(404, "Not Found", {})
        return FakeResponse(json={"login": org, "id": self.orgs[org.lower()]})


def _error(status: int, message: str, headers: dict[str, str]) -> FakeResponse:
    return FakeResponse(
        status,
        json={"message": message, "documentation_url": _DOCS, "status": str(status)},
        headers=headers,
    )


def secondary_limit(quota: Quota, **headers: str) -> FakeResponse:
    """GitHub's secondary rate limit answer: a 403 that names no wait, with
    the token's primary quota as it stands (``quota``), as every answer."""
    rate = quota.headers(get_clock().now())
    return FakeResponse(
        403,
        json={
            "message": SECONDARY_MESSAGE,
            "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        },
        headers={**rate, **headers},
    )
