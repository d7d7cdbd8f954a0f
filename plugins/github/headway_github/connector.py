"""The GitHub connector: issues and pull requests of each repository.

One stream, ``issues``, partitioned by repository. Each partition reads
``GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc
&since=...`` (pull requests come too) and follows the ``Link`` header's
``next`` URL, which GitHub writes as ``/repositories/{id}/issues?page=N``.
The state saved per repository is the updated-at watermark, and, once a
listing is complete, the ``ETag`` of the request the next sync will send:
an unchanged repository then answers ``304 Not Modified``, which costs no
rate-limit quota.

A repository with issues turned off answers ``/issues`` with ``410 Gone``
(and an organisation lists it with ``has_issues`` false): its pull requests
are read from ``GET /repos/{owner}/{repo}/pulls?state=all&sort=updated
&direction=desc`` instead, newest update first, until a page reaches back
past the watermark (``/pulls`` has no ``since``). Their state, in the same
row, says ``"listing": "pulls"``.

Rate limits: every answer's ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` feed the SDK's rate budget, which slows requests down
before the quota runs out; a primary limit (403 or 429 with nothing
remaining) waits for the reset, or ends the run ``partial`` past
``max_wait``; a secondary limit waits ``retry-after``, or a minute and more
with backoff.

Failures: a repository that cannot be read (a 401, a 404, a server error or
network fault past the retries) fails alone and the others are read; two in
a row refused the token, or with no usable answer, stop the source.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import attrs

from headway.errors import ConfigError, FatalError, StopSource
from headway.model import Record, Rejected, Sweep, WorkItem, format_utc
from headway.secrets import redact
from headway_sdk import (
    Action,
    Auth,
    AuthError,
    BearerAuth,
    Classifier,
    Connector,
    CursorRun,
    Exchange,
    GoneError,
    HttpClient,
    HttpError,
    HttpResponse,
    HttpStream,
    LinkHeaderPaginator,
    NotFoundError,
    Page,
    PageResult,
    PaginationError,
    RateBudget,
    Request,
    ResponseRule,
    RetriesExhaustedError,
    SourceContext,
    State,
    WatermarkCursor,
    format_timestamp,
    keep_earlier_failures,
    says_rate_limited,
)
from headway_sdk.cursors import WatermarkRun

from .config import GitHubConfig
from .mapping import IssueMapper

#: The REST API version the connector is written against.
API_VERSION = "2022-11-28"
#: The least wait after a secondary rate limit that names no wait.
SECONDARY_LIMIT_WAIT = 60.0
#: Repositories in a row that fail for a cause every other one would meet
#: too (a refused token; GitHub, or the way to it, down) before the source
#: stops trying the rest.
STOP_AFTER = 2

#: Why one repository could not be read.
Failure = HttpError | PaginationError | RetriesExhaustedError


def _secondary_limit(exchange: Exchange) -> bool:
    """A secondary (abuse) limit that says nothing about how long to wait.

    GitHub sends it as a 429, or a 403 saying "secondary rate limit" (older
    Enterprise Servers: "abuse detection"), while the primary quota is not
    spent. With ``retry-after`` the SDK's default already waits that long;
    with nothing remaining it is the primary limit, which waits for the
    reset.
    """
    if says_rate_limited(exchange):
        return False
    if exchange.status == 429:
        return True
    text = exchange.text.lower()
    return "secondary rate limit" in text or "abuse detection" in text


#: GitHub's refinement of the SDK's defaults: a secondary limit is retried
#: after a minute, then with a growing backoff, as GitHub's docs ask.
SECONDARY_LIMIT_RULE = ResponseRule(
    Action.RETRY,
    status=(403, 429),
    when=_secondary_limit,
    min_wait=SECONDARY_LIMIT_WAIT,
    reason="secondary rate limit",
)


class Issues(HttpStream):
    """Issues and pull requests of one repository, oldest update first."""

    name = "issues"
    connector: GitHubConnector

    def __init__(self, connector: GitHubConnector):
        super().__init__(connector)
        self.mapper = IssueMapper(connector.config, connector.context.name)

    def partitions(self) -> list[str]:
        """The repositories: configured, or listed from the organisation."""
        return self.connector.repositories()

    def paginator(self) -> LinkHeaderPaginator:
        """The ``Link`` header's ``next`` URL."""
        return LinkHeaderPaginator()

    def cursor(self) -> WatermarkCursor:
        """The updated-at watermark, saved after every page (the order is by
        update time, oldest first)."""
        return WatermarkCursor(start=self.config.start, lookback=self.config.lookback)

    def params(self, partition: str, run: CursorRun) -> Mapping[str, Any]:
        """``state=all``, oldest update first, ``since`` the watermark."""
        return _listing_params(_since_text(run.since), self.config.page_size)

    def request(self, partition: str, run: CursorRun) -> Request:
        """The listing's first request for a repository."""
        return Request(
            "GET", _issues_path(partition), params=dict(self.params(partition, run))
        )

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        """One issue or pull request as a work item."""
        return self.mapper.item(raw, partition)

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """The pages of one repository since its watermark.

        A saved ``ETag`` for the same request makes it conditional: a
        ``304`` means nothing changed, and nothing is stored. A complete
        listing ends with the ``ETag`` the next sync sends (read with one
        more request when the watermark moved).

        The state of a ``/pulls`` listing (issues were off) is not this
        listing's: the repository is then listed in full, and its sweep
        buries the ``pull:`` items, which this listing stores again under
        their issue ids.
        """
        if _pulls_state(saved):
            saved = None
        run = self.cursor().begin(
            saved, now=self.client.clock.now(), full=self.context.full
        )
        since = _since_text(run.since)
        request = self.request(partition, run)
        etag = None if self.context.full else _saved_etag(saved, since)
        if etag:
            request = attrs.evolve(request, headers={"If-None-Match": etag})
        walk = _Walk(run)
        for page in self.paginator().walk(self.client, request, self.extract):
            if page.response.status == 304:
                self.log.debug("%s: unchanged since the last sync (304)", partition)
                return
            records = self.parse(page, partition)
            walk.observe(page, records)
            self._note_rename(partition, page, records)
            if page.last:
                if walk.complete_census():
                    records.append(walk.sweep(partition))
                state = walk.state()
                if page.number == 1 and walk.next_since(self.config) == since:
                    # The request just answered is the one the next sync
                    # sends: its ETag makes that one a free 304 if unchanged.
                    state = walk.with_etag(state, page.response, since)
                    yield Page(records, self.name, partition, state)
                    return
                yield Page(records, self.name, partition, state)
                if not self.context.stop.is_set():
                    yield from self._closing(partition, walk)
                return
            yield Page(records, self.name, partition, walk.state())
            if self.context.stop.is_set():
                return

    def _closing(self, partition: str, walk: _Walk) -> Iterator[Page]:
        """Send, once, the request the next sync will send, for its ETag.

        Its records are stored too (re-reading unchanged items costs no
        write). When the watermark moves again, or the answer has more
        than one page, no ETag is kept and the next sync simply reads.
        """
        since = walk.next_since(self.config)
        request = Request(
            "GET",
            _issues_path(partition),
            params=_listing_params(since, self.config.page_size),
        )
        response = self.client.send(request)
        page = PageResult(response, self.extract(response), 1, last=True)
        records = self.parse(page, partition)
        before = walk.state()
        walk.observe(page, records)
        state = walk.state()
        if state == before and "next" not in response.links:
            state = walk.with_etag(state, response, since)
        yield Page(records, self.name, partition, state)

    def _note_rename(
        self, partition: str, page: PageResult, records: Sequence[Record]
    ) -> None:
        if page.number != 1:
            return
        named = next(
            (
                r.attributes.get("repository")
                for r in records
                if isinstance(r, WorkItem) and r.attributes.get("repository")
            ),
            None,
        )
        moved = bool(page.response.raw.history)
        if isinstance(named, str) and named.lower() != partition.lower():
            message = (
                f"{partition} is now {named} on GitHub (renamed or transferred); "
                f"its items keep their ids, and {partition} in key and project, so "
                "rules and explain keep working; to take the new name, put it in "
                "this source's repos (and teams, and rules that name the project): "
                "the next sync then reads the repository again under it"
            )
        elif moved:
            message = (
                f"GitHub redirects {partition} elsewhere (renamed or transferred); "
                "put its new name in this source's repos"
            )
        else:
            return
        if not self.connector.config.org:
            self.log.warning("%s", message)
            self.context.stats.note(message)

    def check(self) -> None:
        """Nothing: the connector's ``check`` asks for each repository."""


class _Walk:
    """What one repository's listing has seen, for its state and sweep.

    GitHub pages an update-ordered list by position, so an item updated
    while the listing runs moves to its end and shifts the rest one place
    back: the item at the next page's start is then never returned. Such a
    move shows as an id read twice with different update times; the
    watermark saved is then held at the moved item's old time, so the next
    sync reads again from there, and no sweep runs on this listing.
    """

    def __init__(self, run: WatermarkRun):
        self.run = run
        self.times: dict[str, datetime | None] = {}
        self.kept: set[str] = set()
        self.floor: datetime | None = None
        self.project: str | None = None

    def observe(self, page: PageResult, records: Sequence[Record]) -> None:
        """Watch a page: update times by id, moved items, rejected ids."""
        self.run.observe(page, list(records))
        for record in records:
            if isinstance(record, WorkItem):
                self.project = self.project or record.project
                before = self.times.get(record.id, record.updated_at)
                if before is not None and before != record.updated_at:
                    self.floor = (
                        before if self.floor is None else min(self.floor, before)
                    )
                self.times[record.id] = record.updated_at
                self.kept.add(record.id)
            elif isinstance(record, Rejected) and record.id is not None:
                # Set aside, but it exists: a sweep must not bury it.
                self.kept.add(str(record.id))

    def watermark(self) -> datetime | None:
        """The cursor's watermark, held back by a moved item's old time."""
        run = self.run
        mark = run.mark
        if run.newest is not None:
            newest = min(run.newest, run.started)
            mark = newest if mark is None else max(mark, newest)
        if self.floor is not None and mark is not None:
            held = self.floor if run.mark is None else max(self.floor, run.mark)
            mark = min(mark, held)
        return mark

    def state(self) -> dict[str, Any] | None:
        """The state to save now: the watermark, if there is one."""
        mark = self.watermark()
        return {"watermark": format_utc(mark)} if mark is not None else None

    def next_since(self, config: GitHubConfig) -> str | None:
        """The ``since`` the next sync will send, as GitHub reads it."""
        mark = self.watermark()
        if mark is None:
            return _since_text(config.start)
        return _since_text(mark - config.lookback)

    def with_etag(
        self, state: dict[str, Any] | None, response: HttpResponse, since: str | None
    ) -> dict[str, Any] | None:
        """``state`` with the answer's ETag, for the request with ``since``."""
        etag = response.headers.get("ETag")
        if not etag:
            return state
        return {**(state or {}), "etag": etag, "etag_since": since}

    def complete_census(self) -> bool:
        """Whether this listing saw every item: a full one, nothing moved."""
        return self.run.full and self.floor is None

    def sweep(self, partition: str, kind: str | None = None) -> Sweep:
        """Tombstone the repository's stored items (of ``kind``, if given)
        this listing did not see."""
        scope = {"project": self.project or partition}
        if kind:
            scope["kind"] = kind
        return Sweep(keep=frozenset(self.kept), scope=scope)


class Pulls(HttpStream):
    """Pull requests of one repository with issues turned off, newest first.

    Its state shares the ``issues`` row of the repository, marked
    ``"listing": "pulls"``, so that a repository whose issues come back (or
    go) is listed afresh by the other listing, whose sweep buries what this
    one stored: a pull request is never stored under two ids.
    """

    name = "issues"
    connector: GitHubConnector

    def __init__(self, connector: GitHubConnector):
        super().__init__(connector)
        self.mapper = connector.issues.mapper

    def cursor(self) -> WatermarkCursor:
        """The updated-at watermark, saved once a listing is complete."""
        return WatermarkCursor(
            start=self.config.start, lookback=self.config.lookback, ordered=False
        )

    def request(self, partition: str, run: CursorRun) -> Request:
        """``state=all``, newest update first: ``/pulls`` has no ``since``."""
        params = {
            "state": "all",
            "sort": "updated",
            "direction": "desc",
            "per_page": self.config.page_size,
        }
        return Request("GET", f"/repos/{partition}/pulls", params=params)

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        """One pull request as a work item, with a ``pull:`` id."""
        return self.mapper.pull(raw, partition)

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """The pages of one repository's pull requests back to its watermark.

        Paging stops at the first page that reaches past ``since`` (the
        watermark minus the lookback, or ``start``); its older pulls are
        left out, as ``since`` leaves them out of ``/issues``. The watermark
        is saved only when the listing completes: the order is newest first,
        so an interrupted listing has not yet seen what lies between.
        """
        own = saved if _pulls_state(saved) else None
        run = self.cursor().begin(
            own, now=self.client.clock.now(), full=self.context.full
        )
        walk = _Walk(run)
        since = run.since
        for page in self.paginator().walk(
            self.client, self.request(partition, run), self.extract
        ):
            records = self.parse(page, partition)
            times = [
                r.updated_at
                for r in records
                if isinstance(r, WorkItem) and r.updated_at is not None
            ]
            if since is not None:
                records = [r for r in records if not _older(r, since)]
            walk.observe(page, records)
            done = page.last or (
                since is not None and min(times, default=since) < since
            )
            if not done:
                yield Page(records, self.name, partition, None)
                if self.context.stop.is_set():
                    return
                continue
            if walk.complete_census():
                # Also buries a repository's pull requests stored under their
                # issue ids while its issues were on.
                records.append(walk.sweep(partition, kind="pull_request"))
            state = {"listing": "pulls", **(walk.state() or {})}
            yield Page(records, self.name, partition, state)
            return


class GitHubConnector(Connector[GitHubConfig]):
    """Issues and pull requests from GitHub or GitHub Enterprise Server."""

    config_class = GitHubConfig
    distribution = "headway-github"

    def __init__(self, config: GitHubConfig, context: SourceContext):
        super().__init__(config, context)
        self._repositories: list[str] | None = None
        #: Repositories the org listing says have issues off (lower case).
        self._without_issues: set[str] = set()
        self.issues = Issues(self)
        self.pulls = Pulls(self)

    @classmethod
    def build(cls, context: SourceContext) -> GitHubConnector:
        """Parse and check the source table, teams against the scorecard's.

        :raises ConfigError: every problem, at ``sources.NAME.KEY``.
        """
        connector = cast(GitHubConnector, super().build(context))
        teams = context.scorecard.teams if context.scorecard else ()
        problems = connector.config.team_problems(teams, f"sources.{context.name}")
        if problems:
            raise ConfigError(problems)
        return connector

    def auth(self) -> Auth:
        """The token, as a bearer token (classic, fine-grained or an app's)."""
        return BearerAuth(self.config.token)

    def classifier(self) -> Classifier:
        """The SDK's defaults, with GitHub's secondary limit."""
        return Classifier([SECONDARY_LIMIT_RULE])

    def budget(self) -> RateBudget:
        """Pace by ``x-ratelimit-*``, keeping ``rate_reserve`` for others."""
        return RateBudget(reserve=self.config.rate_reserve)

    def make_client(self) -> HttpClient:
        """The SDK's client, asking for GitHub's JSON and API version."""
        client = super().make_client()
        client.session.headers["Accept"] = "application/vnd.github+json"
        client.session.headers["X-GitHub-Api-Version"] = API_VERSION
        return client

    def streams(self) -> list[Issues]:
        """The one stream."""
        return [self.issues]

    # ------------------------------------------------------------ repositories

    def repositories(self) -> list[str]:
        """The repositories to read: ``repos``, or the org's, listed afresh
        on every sync (minus ``exclude``, and disabled ones).

        :raises HttpError: the organisation cannot be listed.
        """
        if self._repositories is None:
            if self.config.org:
                self._repositories = self._org_repositories(self.config.org)
            else:
                self._repositories = list(self.config.repos)
        return self._repositories

    def _org_repositories(self, org: str) -> list[str]:
        params = {"type": "all", "sort": "full_name", "per_page": self.config.page_size}
        request = Request("GET", f"/orgs/{org}/repos", params=params)
        names, disabled = [], []
        try:
            for page in LinkHeaderPaginator().walk(self.client, request, _body_list):
                for repo in page.records:
                    name = repo.get("full_name") if isinstance(repo, Mapping) else None
                    if not isinstance(name, str) or self._excluded(name):
                        continue
                    if repo.get("disabled"):
                        disabled.append(name)
                        continue
                    if repo.get("has_issues") is False:
                        self._without_issues.add(name.lower())
                    names.append(name)
        except AuthError as error:
            raise AuthError(
                _explain(f"organisation {org!r}", error), status=401, url=error.url
            ) from None
        except NotFoundError as error:
            raise HttpError(
                f"organisation {org!r}: not found (HTTP 404): no such organisation, "
                "or this token cannot see it; check org, or list a user's "
                "repositories in repos instead",
                status=404,
                url=error.url,
            ) from None
        if disabled:
            message = (
                f"{len(disabled)} repositories of {org} are disabled, so GitHub "
                f"serves nothing of them; skipped: {', '.join(disabled[:10])}"
                + (", ..." if len(disabled) > 10 else "")
            )
            self.log.warning("%s", message)
            self.context.stats.note(message)
        self.log.info("%s: %d repositories to read", org, len(names))
        return sorted(names, key=str.lower)

    def _excluded(self, name: str) -> bool:
        return any(
            fnmatch.fnmatchcase(name.lower(), pattern.lower())
            for pattern in self.config.exclude
        )

    # ------------------------------------------------------------ the contract

    def check(self) -> None:
        """Ask for each repository (or the organisation): token and access.

        :raises ConnectorError: naming every repository that cannot be read.
        """
        if self.config.org:
            org = self.config.org
            try:
                self.client.get(f"/orgs/{org}")
            except AuthError as error:
                where = f"organisation {org!r}"
                raise AuthError(_explain(where, error), status=401) from None
            except NotFoundError:
                raise HttpError(
                    f"organisation {org!r}: not found (HTTP 404): no such "
                    "organisation, or this token cannot see it",
                    status=404,
                ) from None
            return
        problems = []
        for repo in self.config.repos:
            try:
                self.client.get(f"/repos/{repo}")
            except AuthError as error:
                raise AuthError(_explain(repo, error), status=error.status) from None
            except HttpError as error:
                problems.append(_explain(repo, error))
        if problems:
            raise FatalError("; ".join(problems), source=self.context.name)

    def read(self, state: State) -> Iterator[Page]:
        """Every repository's pages; one that fails does not stop the others.

        A repository fails alone: a 404, a 401, a server error or network
        fault that outlasts the retries. What it stored before stays, with
        its state, and the next sync reads it again from there. Only a cause
        every repository would meet stops the source early: :data:`STOP_AFTER`
        repositories in a row refused the token, or got no usable answer.

        :raises FatalError: some repositories could not be read (each named,
            with what to do); the others were stored.
        :raises StopSource: a rate-limit wait over ``max_wait``, the quota at
            its reserve, a secondary limit that does not lift, or a cancelled
            sync; the next sync resumes.
        """
        stream = self.issues
        failures: list[tuple[str, Failure]] = []
        streak: list[str] = []
        try:
            repositories = self.repositories()
        except RetriesExhaustedError as error:
            if not _rate_limited(error):
                raise
            raise self._throttled(f"organisation {self.config.org!r}", error) from None
        try:
            for position, repo in enumerate(repositories):
                if self.context.stop.is_set():
                    return
                try:
                    yield from self._read_repository(repo, state.get(stream.name, repo))
                except RetriesExhaustedError as error:
                    if _rate_limited(error):
                        raise self._throttled(repo, error) from None
                    failure: Failure = error
                except (HttpError, PaginationError) as error:
                    failure = error
                else:
                    streak.clear()
                    continue
                self.log.error("%s", _explain(repo, failure))
                failures.append((repo, failure))
                cause = _shared_cause(failure)
                if cause is None or (streak and streak[-1] != cause):
                    streak.clear()
                if cause is not None:
                    streak.append(cause)
                untried = len(repositories) - position - 1
                if len(streak) >= STOP_AFTER and untried:
                    summary = _summary(
                        failures, len(repositories), stopped=cause, untried=untried
                    )
                    raise FatalError(redact(summary), source=self.context.name)
        except StopSource as error:
            # A limit that ends the source is the run's error: the
            # repositories that failed before it are named in it too.
            keep_earlier_failures(
                error, [_explain(r, f) for r, f in failures], "repository(ies)"
            )
            raise
        if failures:
            raise FatalError(
                redact(_summary(failures, len(repositories))), source=self.context.name
            )

    def _read_repository(
        self, repo: str, saved: Mapping[str, Any] | None
    ) -> Iterator[Page]:
        """One repository's pages: from ``/issues``, or, with issues turned
        off, its pull requests from ``/pulls``."""
        if repo.lower() not in self._without_issues:
            try:
                yield from self.issues.read(repo, saved)
                return
            except GoneError as error:
                if "disabled" not in (error.detail or "").lower():
                    raise
        self.log.info(
            "%s has issues turned off; reading its pull requests from /pulls", repo
        )
        yield from self.pulls.read(repo, saved)

    def _throttled(self, where: str, error: RetriesExhaustedError) -> StopSource:
        """A rate limit that outlasted every retry: stop, ``partial``.

        Throttled is not broken: what was read is kept and the next sync
        resumes.
        """
        return StopSource(
            f"{where}: GitHub's rate limit ({error.reason}) did not lift after "
            f"{error.attempts} attempts; what was read is kept and the next sync "
            "resumes here (sync less often, or with fewer tools sharing this token)",
            source=self.context.name,
            status=error.status,
        )


# ---------------------------------------------------------------- helpers


def _issues_path(repo: str) -> str:
    return f"/repos/{repo}/issues"


def _listing_params(since: str | None, page_size: int) -> dict[str, Any]:
    return {
        "state": "all",
        "sort": "updated",
        "direction": "asc",
        "per_page": page_size,
        "since": since,
    }


def _pulls_state(saved: Mapping[str, Any] | None) -> bool:
    """Whether ``saved`` is the state of a ``/pulls`` listing."""
    return saved is not None and saved.get("listing") == "pulls"


def _older(record: Record, since: datetime) -> bool:
    """Whether ``record`` is an item last updated before ``since``."""
    updated = record.updated_at if isinstance(record, WorkItem) else None
    return updated is not None and updated < since


def _since_text(value: datetime | None) -> str | None:
    return format_timestamp(value) if value is not None else None


def _saved_etag(saved: Mapping[str, Any] | None, since: str | None) -> str | None:
    """The saved ETag, if it belongs to the request with this ``since``."""
    if not saved or not saved.get("etag"):
        return None
    if saved.get("etag_since") != since:
        return None
    return str(saved["etag"])


def _body_list(response: HttpResponse) -> list[Any]:
    data = response.data
    return data if isinstance(data, list) else []


def _rate_limited(error: RetriesExhaustedError) -> bool:
    """Whether retries ran out on a rate limit (a 403 or 429), not a fault."""
    return error.status in (403, 429)


def _shared_cause(error: Failure) -> str | None:
    """What the failure says about every other repository, if anything.

    ``"token"``: GitHub refused the token (401), as it will for each one.
    ``"down"``: no usable answer, even after the retries (a 5xx, a network
    fault, a refused connection, an HTML page); the next one likely fares
    the same. ``None``: this repository's own trouble (404, 403, ...).
    """
    status = getattr(error, "status", None)
    if status == 401:
        return "token"
    if isinstance(error, RetriesExhaustedError):
        return "down"
    if isinstance(error, HttpError) and (status is None or status >= 500):
        return "down"
    return None


def _explain(repo: str, error: Failure) -> str:
    """A repository's failure, with what to do about it."""
    status = getattr(error, "status", None)
    detail = getattr(error, "detail", None)
    said = f": {detail}" if detail else ""
    if status == 401:
        return (
            f"{repo}: GitHub refused the token (HTTP 401{said}); it is wrong, "
            "expired or revoked: make a new one and put it in the variable the "
            "token setting names"
        )
    if status == 404:
        return (
            f"{repo}: not found (HTTP 404): the repository does not exist, or this "
            "token cannot see it; check the name in repos, and that the token may "
            "read it (a classic token needs the repo scope for private repositories; "
            "a fine-grained one must be given this repository)"
        )
    if status == 403:
        hint = (
            "authorize the token for the organisation's SAML single sign-on"
            if "saml" in (detail or "").lower()
            else "give the token read access to its issues and pull requests"
        )
        return f"{repo}: access refused (HTTP 403{said}); {hint}"
    return f"{repo}: {error}"


def _summary(
    failures: Sequence[tuple[str, Failure]],
    total: int,
    *,
    stopped: str | None = None,
    untried: int = 0,
) -> str:
    """The run's error: each repository that could not be read, and why.

    :param stopped: the shared cause (:func:`_shared_cause`) that stopped
        the source with ``untried`` repositories left.
    """
    refused = [error for _, error in failures if error.status == 401]
    if stopped == "token" or len(refused) == len(failures) == total:
        detail = getattr(refused[-1], "detail", None)
        scope = f"{STOP_AFTER} repositories in a row" if stopped else "every repository"
        parts = [
            f"GitHub refused the token for {scope} (HTTP 401"
            f"{': ' + detail if detail else ''}); it is wrong, expired or revoked: "
            "make a new one and put it in the variable the token setting names"
        ]
        listed = [(repo, error) for repo, error in failures if error.status != 401]
        count = f"also, {len(listed)} could not be read"
    else:
        parts = []
        listed = list(failures)
        count = f"{len(listed)} of {total} repositories could not be read"
    if stopped == "down":
        parts.append(
            f"GitHub seems down or out of reach: {STOP_AFTER} repositories in a row "
            "got no usable answer (server errors or network faults that outlasted "
            "the retries, or no connection at all)"
        )
    if stopped:
        parts.append(
            f"this source stopped, and the other {untried} of {total} repositories "
            "were not tried (the next sync tries them again)"
        )
    if listed:
        stored = "" if stopped else " (the others were stored)"
        parts.append(
            f"{count}{stored}: "
            + "; ".join(_explain(repo, error) for repo, error in listed)
        )
    return "; ".join(parts)
