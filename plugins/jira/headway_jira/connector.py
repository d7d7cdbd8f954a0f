"""The Jira connector: Cloud's token-paged search, Data Center's offsets.

Two streams read a source:

- ``issues``: the issues of the JQL updated since the last sync (minus a
  lookback), oldest update first, saving the watermark after every page.
  A listing in which an issue shows up twice, or (Data Center) whose total
  shrinks, has shifted under the reader: issues that did not change may
  have slid past a page boundary, so the stream reads again from where
  the shift began before it lets the watermark move on.
- ``census``: now and then (``census_every``), every id the JQL selects,
  cheaply (``fields=id``); the issues it no longer finds are tombstoned.
  A first or ``--full`` sync lists everything anyway and sweeps with it.

Cloud's search shows only an issue's newest changes; the status history
of an issue whose older changes were left out comes from the bulk
changelog, one request (and its pages) per page of issues that need it.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import attrs

from headway.errors import ConfigError, FatalError, Problem
from headway.model import format_utc
from headway_sdk import (
    Action,
    Auth,
    AuthError,
    BasicAuth,
    BearerAuth,
    Classifier,
    Connector,
    HttpError,
    HttpResponse,
    HttpStream,
    NextTokenPaginator,
    NotFoundError,
    OffsetPaginator,
    Page,
    Paginator,
    Request,
    ResponseRule,
    SourceContext,
    Stream,
    Sweep,
    WatermarkCursor,
    WorkItem,
    describe_url,
    parse_timestamp,
    says_rate_limited,
    start_of,
)
from headway_sdk.cursors import WatermarkRun
from headway_sdk.pagination import PageResult

from .config import JiraConfig
from .mapping import IssueMapper, epic_keys

#: Passes over a shifting listing before the stream leaves the rest to the
#: next sync (which then starts where the shift began).
MAX_PASSES = 3
#: A listing longer than this many pages is a loop, not a site.
MAX_PAGES = 200_000
#: Cloud returns up to 5000 issues a page when only ids are asked for; Data
#: Center's default cap is 1000 (the offset paginator trusts what it says).
CENSUS_PAGE_CLOUD = 5000
CENSUS_PAGE_DC = 1000
#: Issues one bulk changelog request may name, and changes asked for per
#: page of its answer: Jira Cloud's maximum for both.
BULK_CHANGELOG_IDS = 1000
BULK_CHANGELOG_PAGE = 1000
#: Cloud's search shows at most this many of an issue's newest changes.
CLOUD_CHANGELOG_CAP = 40
#: UTC offsets reach down to -12 h: formatted in UTC, a JQL time read in an
#: unknown zone may mean up to this much later.
UNKNOWN_ZONE_MARGIN = timedelta(hours=12)
#: ... and UTC offsets reach up to +14 h: an upper bound written in UTC plus
#: this much never means an earlier instant, in whatever zone it is read.
UNKNOWN_ZONE_MARGIN_EAST = timedelta(hours=14)

#: The ledger of one pass keeps this much of itself in memory; the rest is
#: in a temporary file.
_LEDGER_CACHE_KIB = 1024
#: What a full listing or a census covers, for its sweep.
_SWEEP_SCOPE = {"kind": "issue"}

_ORDER = " ORDER BY updated ASC, key ASC"
# Creation times never change: ordered by them, edits do not shift a census.
_CENSUS_ORDER = " ORDER BY created ASC, key ASC"
_STORY_POINT_NAMES = ("story points", "story point estimate")
_STORY_POINT_TYPE = "com.pyxis.greenhopper.jira:jsw-story-points"
_EPIC_LINK_TYPE = "com.pyxis.greenhopper.jira:gh-epic-link"


class JiraError(FatalError):
    """Jira refused what headway asked, for a reason the user can fix."""


@attrs.frozen
class Site:
    """What one sync learns about the site before reading issues.

    :param zone: the zone the account reads JQL dates in (``None``: unknown).
    :param points_fields: fields that may hold story points.
    :param epic_field: the Epic Link field, if the site has one.
    :param categories: status id to status category key.
    """

    zone: tzinfo | None
    points_fields: tuple[str, ...] = ()
    epic_field: str | None = None
    categories: Mapping[str, str] = attrs.field(factory=dict)

    def jql_time(self, value: datetime, *, upper: bool = False) -> str:
        """``yyyy-MM-dd HH:mm`` in the account's zone, rounded down.

        A lower bound never means a later instant than ``value``; an upper
        bound (``upper``) never an earlier one. In an unknown zone the time
        is written in UTC minus the widest negative offset (plus the widest
        positive one, for an upper bound). A local time
        that comes twice (the repeated hour when clocks go back) means
        either instant, and Jira takes the later: such a bound moves out of
        the repeated hour by the clocks' shift, so both readings are safe.
        """
        if self.zone is None:
            local = value.astimezone(UTC) + (
                UNKNOWN_ZONE_MARGIN_EAST if upper else -UNKNOWN_ZONE_MARGIN
            )
        else:
            local = value.astimezone(self.zone)
            written = local.replace(second=0, microsecond=0)
            # Aware datetimes of one zone compare by wall time: compare the
            # instants, in UTC.
            earlier, later = (
                written.replace(fold=fold).astimezone(UTC) for fold in (0, 1)
            )
            shift = later - earlier
            if shift > timedelta(0):
                meant = written.astimezone(UTC)
                if not upper and later > meant:
                    local = (value - shift).astimezone(self.zone)
                elif upper and earlier < meant:
                    local = (value + shift).astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M")


def _team_problems(context: SourceContext) -> list[Problem]:
    """Teams of the project map that ``[teams]`` does not define.

    A workspace without ``[teams]`` has nothing to check against: the team
    names are then the teams.
    """
    scorecard = context.scorecard
    known = [team.key for team in scorecard.teams] if scorecard else []
    teams = context.options.get("teams")
    if not known or not isinstance(teams, Mapping):
        return []
    return [
        Problem(
            f"sources.{context.name}.teams.{project}",
            f"unknown team {team!r}; the [teams] are: {', '.join(known)}",
        )
        for project, team in teams.items()
        if isinstance(team, str) and team not in known
    ]


class JiraConnector(Connector[JiraConfig]):
    """Jira Cloud (e-mail and API token) or Data Center (personal access token)."""

    config_class = JiraConfig
    distribution = "headway-jira"

    def __init__(self, config: JiraConfig, context: SourceContext):
        super().__init__(config, context)
        #: When a full listing of this run covered every issue, if one did.
        self.listed_all: datetime | None = None
        self._epics: dict[str, str | None] = {}
        #: Whether the bulk changelog may still be asked this run.
        self._bulk_changelog = True

    @classmethod
    def build(cls, context: SourceContext) -> JiraConnector:
        """Parse the source table and check its teams against ``[teams]``.

        :raises ConfigError: every problem, at ``sources.NAME.KEY``.
        """
        problems = _team_problems(context)
        try:
            connector = super().build(context)
        except ConfigError as error:
            raise ConfigError([*error.problems, *problems]) from None
        if problems:
            raise ConfigError(problems)
        assert isinstance(connector, JiraConnector)
        return connector

    # ------------------------------------------------------------ the client

    @property
    def api(self) -> str:
        """The REST API's path: ``/rest/api/3`` on Cloud, ``/rest/api/2`` on DC."""
        return "/rest/api/3" if self.config.cloud else "/rest/api/2"

    @property
    def site_name(self) -> str:
        """The site as messages name it (no credentials, no query)."""
        return describe_url(self.config.url).rstrip("/")

    def auth(self) -> Auth:
        """Basic e-mail and API token (Cloud), or the bearer PAT (Data Center)."""
        if self.config.pat is not None:
            return BearerAuth(self.config.pat)
        assert self.config.token is not None
        return BasicAuth(self.config.email or "", self.config.token)

    def classifier(self) -> Classifier:
        """A 403 without a rate limit is refused credentials, as a 401 is."""
        return Classifier(
            [
                ResponseRule(
                    Action.FAIL,
                    status=403,
                    when=lambda exchange: not says_rate_limited(exchange),
                    reason="HTTP 403",
                    error=AuthError,
                )
            ]
        )

    def streams(self) -> list[Stream]:
        """Issues first, then the census that finds deleted ones."""
        return [IssuesStream(self), CensusStream(self)]

    # ------------------------------------------------------------ the site

    @functools.cached_property
    def site(self) -> Site:
        """The account's zone, the story point and epic fields, the statuses."""
        config = self.config
        me = self.client.get(f"{self.api}/myself").data or {}
        zone_name = config.time_zone or me.get("timeZone")
        zone: tzinfo | None = None
        if zone_name:
            try:
                zone = zoneinfo.ZoneInfo(zone_name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = None
        if zone is None:
            self.log.warning(
                "%s: the account's time zone (%s) is unknown here; JQL times "
                "are written in UTC, %d hours early, so none is missed. Set "
                "time_zone in [sources.%s] to read less",
                self.site_name,
                zone_name or "not given",
                UNKNOWN_ZONE_MARGIN.total_seconds() // 3600,
                self.context.name,
            )

        points = (config.story_points_field,) if config.story_points_field else ()
        epic = config.epic_link_field
        if not points or not epic:
            found_points, found_epic = self._find_fields()
            points = points or found_points
            epic = epic or found_epic
        if not points:
            self.log.info(
                "%s: no story points field found; set story_points_field to use one",
                self.site_name,
            )

        categories: dict[str, str] = {}
        if config.changelog:
            for status in self.client.get(f"{self.api}/status").data or ():
                category = (status.get("statusCategory") or {}).get("key")
                if status.get("id") is not None and category:
                    categories[str(status["id"])] = category
        return Site(zone, points, epic, categories)

    def _find_fields(self) -> tuple[tuple[str, ...], str | None]:
        points: list[str] = []
        epic = None
        for field in self.client.get(f"{self.api}/field").data or ():
            if not isinstance(field, Mapping) or not field.get("id"):
                continue
            name = str(field.get("name") or "").strip().lower()
            custom = (field.get("schema") or {}).get("custom")
            if name in _STORY_POINT_NAMES or custom == _STORY_POINT_TYPE:
                points.append(str(field["id"]))
            elif epic is None and (custom == _EPIC_LINK_TYPE or name == "epic link"):
                epic = str(field["id"])
        return tuple(points), epic

    @functools.cached_property
    def mapper(self) -> IssueMapper:
        """The mapper for this site and configuration."""
        site, config = self.site, self.config
        return IssueMapper(
            source=self.context.name,
            browse=config.url.rstrip("/"),
            points_fields=site.points_fields,
            epic_field=site.epic_field,
            teams=config.teams,
            hours_per_point=config.hours_per_point,
            default_hours=config.default_hours,
            cancelled=frozenset(r.lower() for r in config.cancelled_resolutions),
            categories=site.categories,
        )

    @property
    def selection(self) -> dict[str, Any]:
        """What the saved state was read for: a change means reading anew."""
        start = self.config.start
        return {"jql": self.config.jql, "start": start.isoformat() if start else None}

    @functools.cached_property
    def start_at(self) -> datetime | None:
        """The instant ``start`` names: its midnight in the account's zone."""
        start: date | None = self.config.start
        if start is None:
            return None
        return start_of(start, self.site.zone or UTC)

    def search_jql(
        self,
        since: datetime | None,
        until: datetime | None = None,
        order: str = _ORDER,
    ) -> str:
        """The configured JQL, limited to a span of update times, ordered."""
        site = self.site
        clauses = [f"({self.config.jql})"]
        floor = self.start_at
        if floor is not None and (since is None or since < floor):
            since = floor
        if since is not None:
            clauses.append(f'updated >= "{site.jql_time(since)}"')
        if until is not None:
            # Minutes are rounded down; the minute after covers the last one.
            bound = site.jql_time(until + timedelta(minutes=1), upper=True)
            clauses.append(f'updated < "{bound}"')
        return " AND ".join(clauses) + order

    def search(
        self, jql: str, fields: Iterable[str], *, size: int, expand: str | None = None
    ) -> tuple[Request, Paginator]:
        """The first request of a search and how it pages."""
        params: dict[str, Any] = {"jql": jql, "fields": ",".join(fields)}
        if expand:
            params["expand"] = expand
        if self.config.cloud:
            params["maxResults"] = size
            request = Request("GET", f"{self.api}/search/jql", params=params)
            paginator: Paginator = NextTokenPaginator(
                token_path="nextPageToken",
                param="nextPageToken",
                last_path="isLast",
                max_pages=MAX_PAGES,
            )
        else:
            request = Request("GET", f"{self.api}/search", params=params)
            paginator = OffsetPaginator(
                offset_param="startAt",
                limit_param="maxResults",
                limit=size,
                total_path="total",
                limit_path="maxResults",
                max_pages=MAX_PAGES,
            )
        return request, paginator

    def epic_ids(self, keys: set[str], page: Iterable[WorkItem]) -> dict[str, str]:
        """The ids of epics linked by key (older sites' Epic Link field).

        Epics on the same page or seen before cost nothing; each other one
        costs one request, once per sync. An epic that cannot be seen is
        left without an id (its key stays in ``attributes.parent_key``).
        """
        for item in page:
            if item.key in keys:
                self._epics[item.key] = item.id
        for key in keys - self._epics.keys():
            try:
                data = self.client.get(
                    f"{self.api}/issue/{key}", params={"fields": "id"}
                ).data
            except NotFoundError:
                data = None
            found = data.get("id") if isinstance(data, Mapping) else None
            self._epics[key] = str(found) if found is not None else None
        return {key: value for key in keys if (value := self._epics.get(key))}

    def complete_changelogs(self, issues: list[Any]) -> list[Any]:
        """A search page's issues, with whole status histories where the
        search cut the changelog short (Cloud).

        Cloud's search returns an issue's newest 40 changes with the true
        ``total``: for an issue with more, which has left the *To Do*
        category, the move into progress may be among those left out. The
        status changes of all such issues of the page come from one bulk
        changelog request (and its pages). Should Jira refuse it (HTTP 403)
        or not have it (HTTP 404), one warning says so and the issues keep
        the changes the search returned, for the rest of the run.
        """
        config = self.config
        if not (config.cloud and config.changelog and self._bulk_changelog):
            return issues
        cut = list(dict.fromkeys(_issue_id(raw) for raw in issues if _cut_short(raw)))
        if not cut:
            return issues

        found: dict[str, list[Any]] = {}
        try:
            for start in range(0, len(cut), BULK_CHANGELOG_IDS):
                found.update(
                    self.status_histories(cut[start : start + BULK_CHANGELOG_IDS])
                )
        except HttpError as error:
            if error.status not in (403, 404):
                raise
            self._bulk_changelog = False
            why = (
                "the account may not read it: check that it can browse every "
                "project of the JQL"
                if error.status == 403
                else "this site does not offer it"
            )
            self.log.warning(
                "%s: Jira answered HTTP %d to POST %s/changelog/bulkfetch (%s), so "
                "for the rest of this sync an issue with more than %d changes keeps "
                "only its newest %d, and its started_at may be late and its cycle "
                "time too short. Set changelog = false in [sources.%s] to count "
                "cycle time from creation instead",
                self.site_name,
                error.status,
                self.api,
                why,
                CLOUD_CHANGELOG_CAP,
                CLOUD_CHANGELOG_CAP,
                self.context.name,
            )
            # What a request before the refusal brought is complete: keep it.

        if not found:
            return issues
        wanted = set(cut)
        return [
            _with_histories(raw, found[ident])
            if (ident := _issue_id(raw)) in wanted and ident in found
            else raw
            for raw in issues
        ]

    def status_histories(self, ids: list[str]) -> dict[str, list[Any]]:
        """Every status change of up to 1000 issues, by issue id, oldest first.

        :raises HttpError: Jira refused the bulk changelog.
        :raises PaginationError: its pages loop.
        """
        request = Request(
            "POST",
            f"{self.api}/changelog/bulkfetch",
            json={
                "issueIdsOrKeys": ids,
                "fieldIds": ["status"],
                "maxResults": BULK_CHANGELOG_PAGE,
            },
        )
        paginator = NextTokenPaginator(
            token_path="nextPageToken", param="nextPageToken", in_body=True
        )
        found: dict[str, list[Any]] = {}
        for page in paginator.walk(self.client, request, _issue_changelogs):
            for entry in page.records:
                if not isinstance(entry, Mapping) or entry.get("issueId") is None:
                    continue
                # An issue's changes may go on over several pages.
                found.setdefault(str(entry["issueId"]), []).extend(
                    history
                    for history in entry.get("changeHistories") or ()
                    if isinstance(history, Mapping)
                )
        return found

    # ------------------------------------------------------------ the contract

    def check(self) -> None:
        """The account (``/myself``) and one issue of the JQL.

        :raises ConnectorError: the credentials are refused or the JQL is bad.
        """
        try:
            _ = self.site
            request, paginator = self.search(
                self.search_jql(None, order=""), ["id"], size=1
            )
            self.client.send(paginator.first(request))
        except HttpError as error:
            raise self.explain(error) from None

    def explain(self, error: HttpError) -> Exception:
        """A message about a refused request that says what to do."""
        site, name = self.site_name, self.context.name
        detail = f": {error.detail}" if error.detail else ""
        status = error.status
        if status in (401, 403):
            what = (
                "email and token (an API token of that account, from "
                "https://id.atlassian.com/manage-profile/security/api-tokens)"
                if self.config.cloud
                else "pat (a personal access token, from your Jira profile's "
                "Personal Access Tokens page)"
            )
            return AuthError(
                f"Jira at {site} refused the credentials (HTTP {status}{detail}); "
                f"check {what} in [sources.{name}]",
                status=status,
                url=error.url,
                detail=error.detail,
            )
        if status == 400:
            return JiraError(
                f"Jira at {site} rejected the search (HTTP 400{detail}); check jql "
                f"in [sources.{name}]",
                source=name,
                status=status,
            )
        if status == 410:
            advice = (
                "this site no longer has the old search API, so it is Jira Cloud: "
                f"set email and token (an API token) instead of pat in "
                f"[sources.{name}]"
                if not self.config.cloud
                else "the site has removed this API; a newer headway-jira may "
                "read it through the API that replaces it"
            )
            return JiraError(
                f"Jira at {site} answered HTTP 410 Gone to {error.url}{detail}; "
                f"{advice}",
                source=name,
                status=status,
            )
        if status == 404:
            # Data Center has no /rest/api/3: a Cloud-style source pointed
            # at one ends here too.
            server = (
                "; or, if it is Jira Data Center, set pat (a personal access "
                "token) instead of email and token"
                if self.config.cloud
                else ""
            )
            return JiraError(
                f"Jira at {site} has no {error.url} (HTTP 404); check that url in "
                f"[sources.{name}] is the site root, such as "
                f"https://acme.atlassian.net{server}",
                source=name,
                status=status,
            )
        return error


class IssuesStream(HttpStream):
    """The JQL's issues, oldest update first, with a minute-safe watermark."""

    name = "issues"
    records_path = "issues"
    connector: JiraConnector

    def cursor(self) -> WatermarkCursor:
        """The update-time watermark with the configured lookback."""
        return WatermarkCursor(lookback=self.config.lookback)

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        """One issue as a work item."""
        return self.connector.mapper.map(raw)

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """Issues updated since the saved watermark minus the lookback."""
        try:
            yield from self._read(partition, saved)
        except HttpError as error:
            raise self.connector.explain(error) from None

    def _read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        connector = self.connector
        selection = connector.selection
        if saved and saved.get("selection") != selection:
            self.log.info(
                "%s: jql or start changed since the last sync; reading every "
                "issue again",
                self.name,
            )
            saved = None
        run = self.cursor().begin(
            saved, now=self.client.clock.now(), full=self.context.full
        )
        assert isinstance(run, WatermarkRun)
        mapper = connector.mapper
        fields = mapper.fields()
        expand = "changelog" if self.config.changelog else None
        since, until = run.since, None
        cap: datetime | None = None
        listed = 0

        for number in range(1, MAX_PASSES + 1):
            shifts = _Shifts(since)
            request, paginator = connector.search(
                connector.search_jql(since, until),
                fields,
                size=self.config.page_size,
                expand=expand,
            )
            try:
                for page in paginator.walk(self.client, request, self.extract):
                    if expand:
                        whole = connector.complete_changelogs(page.records)
                        if whole is not page.records:
                            page = attrs.evolve(page, records=whole)
                    records = self.parse(page, partition)
                    if mapper.epic_field:
                        records = self._link_epics(records)
                    shifted = shifts.observe(page, records)
                    if shifted is not None:
                        # Until a pass reads again from here, no state may
                        # let the next sync start after it.
                        mark = shifted + self.config.lookback
                        cap = mark if cap is None else min(cap, mark)
                    run.observe(page, records)
                    if run.full:
                        # A full listing sweeps when it is done: each page
                        # hands its ids to the store instead of keeping them.
                        ids = [r.id for r in records if type(r) is WorkItem]
                        listed += len(ids)
                        if ids:
                            records.append(Sweep(ids, _SWEEP_SCOPE, final=False))
                    if page.last and shifts.start is None:
                        cap = None
                        if run.full and listed:
                            records.append(Sweep((), _SWEEP_SCOPE))
                            connector.listed_all = run.started
                    yield Page(
                        records,
                        stream=self.name,
                        partition=partition,
                        state=_state(run, page, cap, selection),
                    )
                    if self.context.stop.is_set():
                        return
            finally:
                shifts.close()
            if shifts.start is None:
                return
            if number < MAX_PASSES:
                self.log.warning(
                    "%s: issues changed while the listing was read (%s), so some "
                    "may have slid past a page; reading again from %s",
                    self.name,
                    shifts.reason,
                    shifts.start.isoformat(),
                )
            since, until = shifts.start, run.started
        self.log.warning(
            "%s: the listing kept shifting after %d passes; the next sync reads "
            "again from where it began",
            self.name,
            MAX_PASSES,
        )

    def _link_epics(self, records: list[Any]) -> list[Any]:
        items = [record for record in records if isinstance(record, WorkItem)]
        keys = epic_keys(items)
        if not keys:
            return records
        ids = self.connector.epic_ids(keys, items)
        return [
            attrs.evolve(record, parent=ids[record.attributes["parent_key"]])
            if isinstance(record, WorkItem)
            and record.parent is None
            and record.attributes.get("parent_key") in ids
            else record
            for record in records
        ]


def _issue_id(raw: Any) -> str | None:
    ident = raw.get("id") if isinstance(raw, Mapping) else None
    return str(ident) if ident is not None else None


def _cut_short(raw: Any) -> bool:
    """Whether the search left out changes of an issue that has left *To Do*
    (an issue still in it has no start to find)."""
    if _issue_id(raw) is None:
        return False
    changelog = raw.get("changelog")
    fields = raw.get("fields")
    if not isinstance(changelog, Mapping) or not isinstance(fields, Mapping):
        return False
    total = changelog.get("total")
    histories = changelog.get("histories")
    if type(total) is not int or not isinstance(histories, list):
        return False
    if total <= len(histories):
        return False
    status = fields.get("status")
    category = status.get("statusCategory") if isinstance(status, Mapping) else None
    return not isinstance(category, Mapping) or category.get("key") != "new"


def _with_histories(raw: Mapping[str, Any], histories: list[Any]) -> dict[str, Any]:
    count = len(histories)
    changelog = {"startAt": 0, "maxResults": count, "total": count}
    return {**raw, "changelog": {**changelog, "histories": histories}}


def _issue_changelogs(response: HttpResponse) -> list[Any]:
    data = response.data
    found = data.get("issueChangeLogs") if isinstance(data, Mapping) else None
    return found if isinstance(found, list) else []


def _state(
    run: WatermarkRun,
    page: PageResult,
    cap: datetime | None,
    selection: Mapping[str, Any],
) -> dict[str, Any] | None:
    state = run.state(page)
    if state is None:
        return None
    mark = state["watermark"]
    if cap is not None:
        parsed = parse_timestamp(mark)
        if parsed is not None and parsed > cap:
            mark = format_utc(cap)
    return {"watermark": mark, "selection": dict(selection)}


class _Shifts:
    """Notices a listing that moved under the reader.

    Sorted by update time, an issue edited after it was read moves to the
    end and is read again; the issues after its old place move up one, and
    with offsets one of them slides past the page boundary unread. On Data
    Center an issue that leaves the JQL shrinks the total the same way.
    Either way, what slid past was updated no earlier than :attr:`start`.
    """

    def __init__(self, since: datetime | None):
        self.since = since
        self.start: datetime | None = None
        self.reason = ""
        self._ledger = _Ledger()
        self._pages = 0
        self._total: int | None = None
        self._last: datetime | None = since

    def observe(self, page: PageResult, records: list[Any]) -> datetime | None:
        """Watch one page; the earliest possible slide, if this page shows one."""
        found: datetime | None = None
        index = self._pages
        self._pages += 1
        floor: datetime | None = None
        ids = []
        for record in records:
            if type(record) is not WorkItem:
                continue
            ids.append(record.id)
            updated = record.updated_at
            if updated is not None and (floor is None or updated < floor):
                floor = updated
        earlier = self._ledger.add(index, ids, floor)
        if earlier:
            for record in records:
                first = earlier.get(record.id) if type(record) is WorkItem else None
                if first is not None:
                    # What slid past was after this issue's old place.
                    self.reason = f"issue {record.key} came twice"
                    found = _earliest(found, self._ledger.floor(first), self.since)
        data = page.response.data
        total = data.get("total") if isinstance(data, Mapping) else None
        if isinstance(total, int) and not isinstance(total, bool):
            if self._total is not None and total < self._total:
                self.reason = f"the total fell from {self._total} to {total}"
                found = _earliest(found, self._last, self.since)
            self._total = total
        for record in reversed(records):
            if type(record) is WorkItem and record.updated_at is not None:
                self._last = record.updated_at
                break
        if found is not None:
            self.start = found if self.start is None else min(self.start, found)
        return found

    def close(self) -> None:
        """Drop the ledger of this pass."""
        self._ledger.close()


class _Ledger:
    """Each listed issue's first page, and each page's earliest update.

    A first sync lists every issue of the site, so this index is as long
    as the site is large: it lives in a private temporary SQLite database,
    whose pages beyond a small cache go to a temporary file, and memory
    stays the same for a site of ten thousand issues or of a million.
    """

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            # "" is SQLite's private temporary database, deleted on close.
            conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA cache_size = -{_LEDGER_CACHE_KIB}")
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute(
                "CREATE TABLE first (id TEXT PRIMARY KEY, page INTEGER NOT NULL) "
                "WITHOUT ROWID"
            )
            conn.execute("CREATE TABLE floors (page INTEGER PRIMARY KEY, floor TEXT)")
            self._conn = conn
        return self._conn

    def add(self, page: int, ids: list[str], floor: datetime | None) -> dict[str, int]:
        """Record a page; returns the ids of it first listed on an earlier
        page, with that page."""
        conn = self._db()
        conn.execute("BEGIN")
        try:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO first (id, page) VALUES (?, ?)",
                [(ident, page) for ident in ids],
            )
            new = conn.total_changes - before
            conn.execute(
                "INSERT INTO floors (page, floor) VALUES (?, ?)",
                (page, floor.isoformat() if floor is not None else None),
            )
        finally:
            conn.execute("COMMIT")
        if new == len(ids) or new == len(set(ids)):
            return {}
        rows = conn.execute(
            "SELECT id, page FROM first WHERE page < ? AND id IN "
            "(SELECT value FROM json_each(?))",
            (page, json.dumps(ids)),
        )
        return dict(rows.fetchall())

    def floor(self, page: int) -> datetime | None:
        """The earliest update on ``page``."""
        row = (
            self._db()
            .execute("SELECT floor FROM floors WHERE page = ?", (page,))
            .fetchone()
        )
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def close(self) -> None:
        """Close (and so delete) the temporary database."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _earliest(
    current: datetime | None, when: datetime | None, since: datetime | None
) -> datetime:
    candidate = when or since or datetime(1970, 1, 1, tzinfo=UTC)
    return candidate if current is None or candidate < current else current


class CensusStream(HttpStream):
    """Every id the JQL selects, now and then; the missing are tombstoned."""

    name = "census"
    records_path = "issues"
    connector: JiraConnector

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """A sweep of the issues no longer selected, when a census is due."""
        try:
            yield from self._read(partition, saved)
        except HttpError as error:
            raise self.connector.explain(error) from None

    def _read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        connector = self.connector
        selection = connector.selection
        if connector.listed_all is not None:
            # The issues stream has just listed everything and swept with it.
            yield Page(
                stream=self.name,
                partition=partition,
                state=_census_state(connector.listed_all, selection),
            )
            return
        now = self.client.clock.now()
        if saved and not self.context.full and saved.get("selection") == selection:
            try:
                last = parse_timestamp(saved.get("at"))
            except ValueError:
                last = None
            if last is not None and now - last < self.config.census_every:
                return

        size = CENSUS_PAGE_CLOUD if self.config.cloud else CENSUS_PAGE_DC
        request, paginator = connector.search(
            connector.search_jql(None, order=_CENSUS_ORDER), ["id"], size=size
        )
        listed = 0
        total: int | None = None
        shrank = False
        for page in paginator.walk(self.client, request, self.extract):
            data = page.response.data
            count = data.get("total") if isinstance(data, Mapping) else None
            if isinstance(count, int) and not isinstance(count, bool):
                shrank = shrank or (total is not None and count < total)
                total = count
            if shrank:
                continue
            keep = [
                str(raw["id"])
                for raw in page.records
                if isinstance(raw, Mapping) and raw.get("id") is not None
            ]
            listed += len(keep)
            if keep:
                # The store keeps each page's ids on disk for the final sweep.
                yield Page(
                    [Sweep(keep, _SWEEP_SCOPE, final=False)],
                    stream=self.name,
                    partition=partition,
                )
            if self.context.stop.is_set():
                return
        if shrank:
            self.log.warning(
                "%s: issues left the JQL while their ids were listed; none is "
                "marked deleted this time, the next sync counts again",
                self.name,
            )
            return
        if not listed:
            # Jira answers a JQL over projects the account can no longer see
            # with no issues rather than an error: never take that for
            # "everything was deleted".
            self.log.warning(
                "%s: the JQL selects no issues at all now; nothing is marked "
                "deleted. Check that the account can still browse the projects",
                self.name,
            )
            return
        self.log.info("%s: %d issues are selected", self.name, listed)
        yield Page(
            [Sweep((), _SWEEP_SCOPE)],
            stream=self.name,
            partition=partition,
            state=_census_state(now, selection),
        )


def _census_state(at: datetime, selection: Mapping[str, Any]) -> dict[str, Any]:
    return {"at": format_utc(at), "selection": dict(selection)}
