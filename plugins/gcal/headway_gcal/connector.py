"""The Google Calendar connector: every configured calendar's events.

``GET /calendars/{id}/events`` with ``singleEvents=true`` (recurring events
expanded into instances), ``maxResults`` and ``pageToken`` paging. The first
listing of a calendar sends ``timeMin`` (the ``start`` setting); its last
page carries ``nextSyncToken``, which later runs send alone (Google refuses
it with ``timeMin``, ``timeMax``, ``orderBy`` or ``q``) to get what changed,
deletions included. A stale token answers 410, and the calendar is listed
again in full. What is stored per meeting, and when it is deleted, is the
business of :mod:`headway_gcal._ledger`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote

import attrs

from headway.connectors import Page, SourceContext, State
from headway.errors import ConnectorError
from headway.model import Record
from headway_sdk import (
    Action,
    Auth,
    AuthError,
    BearerAuth,
    Classifier,
    Connector,
    HttpStream,
    NextTokenPaginator,
    NotFoundError,
    OAuth2RefreshToken,
    PageResult,
    Paginator,
    RecordError,
    Request,
    ResponseRule,
    Stream,
    Sweep,
    SyncTokenCursor,
    Tombstone,
    format_timestamp,
)
from headway_sdk.cursors import SyncTokenRun

from ._events import (
    TeamResolver,
    cancelled_item_id,
    deleted_at,
    event_item,
    event_item_id,
    event_organizer,
    time_zone,
)
from ._ledger import STREAM, Holdings, Ledger
from .config import GcalConfig

#: The scope headway needs: read events, nothing else.
SCOPE = "https://www.googleapis.com/auth/calendar.readonly"


@attrs.frozen
class EventsCursor(SyncTokenCursor):
    """Google's sync token, saved together with the calendar's ledger.

    :param ledger: the calendar's ledger.
    :param orphans: the items, of those given, that no calendar holds.
    """

    ledger: Ledger = attrs.field(kw_only=True, eq=False, repr=False)
    orphans: Callable[[Iterable[str]], list[str]] = attrs.field(
        kw_only=True, eq=False, repr=False
    )

    def begin(
        self, saved: Mapping[str, Any] | None, *, now: datetime, full: bool = False
    ) -> EventsRun:
        """A run sending the saved token, or listing the calendar in full."""
        token = None if full or not saved else saved.get("sync_token")
        self.ledger.begin(full=not token)
        return EventsRun(self, str(token) if token else None, self.ledger)


class EventsRun(SyncTokenRun):
    """One listing of a calendar: its token, and its ledger to save with it."""

    def __init__(self, cursor: EventsCursor, token: str | None, ledger: Ledger) -> None:
        super().__init__(cursor, token)
        self.ledger = ledger
        self.orphans = cursor.orphans
        # A relisting after a stale token drops the saved state with its
        # first page; keeping the old map there lets an interrupted relisting
        # still tombstone, when it is done, what vanished.
        self.keep_previous = self.full and bool(ledger.previous)

    def state(self, page: PageResult) -> Mapping[str, Any] | None:
        """The token and the ledger with the last page; nothing before it."""
        if not page.last:
            if self.keep_previous and page.number == 1:
                previous = Ledger(self.ledger.calendar, self.ledger.previous)
                return {"events": previous.encoded()}
            return None
        saved = dict(super().state(page) or {})
        saved["events"] = self.ledger.encoded()
        return saved

    def closing(self, scope: Mapping[str, Any] | None) -> list[Record]:
        """After a full listing, tombstones for the meetings that vanished."""
        self.ledger.complete = True
        if not self.full:
            return []
        return [Tombstone(item) for item in self.orphans(self.ledger.vanished())]


class Events(HttpStream):
    """The events of each configured calendar (one partition per calendar)."""

    name = STREAM
    records_path = "items"
    records_optional = True  # Google leaves out empty lists

    def __init__(self, connector: GcalConnector) -> None:
        super().__init__(connector)
        self.gcal = connector
        self._calendar = ""
        self._zone: tzinfo = UTC

    def partitions(self) -> Iterable[str]:
        """The calendars, in the configured order."""
        return list(self.config.calendars)

    def paginator(self) -> Paginator:
        """``nextPageToken`` in the body, sent back as ``pageToken``."""
        return NextTokenPaginator(token_path="nextPageToken", param="pageToken")

    def cursor(self) -> EventsCursor:
        """The sync token of the calendar being read, with its ledger."""
        ledger = self.gcal.holdings.ledger(self._calendar)
        return EventsCursor(ledger=ledger, orphans=self.gcal.holdings.orphans)

    def request(self, partition: str, run: SyncTokenRun) -> Request:
        """The first request: ``syncToken`` alone, or ``timeMin`` the first time."""
        params: dict[str, Any] = {
            "singleEvents": "true",
            "maxResults": self.config.page_size,
        }
        if run.token:
            params["syncToken"] = run.token
        elif self.config.start is not None:
            params["timeMin"] = format_timestamp(self.config.start)
        return Request("GET", events_path(partition), params=params)

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """One calendar's pages; a calendar Google will not show is named.

        A full listing that fails or stops part way (a relisting after a
        stale token, say) leaves the calendar's ledger holding what it held
        before as well as what was listed, so a calendar read later in the
        run cannot tombstone a meeting this one still holds.
        """
        self._calendar = partition
        try:
            yield from self._listing(partition, saved)
        finally:
            self.gcal.holdings.ledger(partition).abandon()

    def _listing(
        self, partition: str, saved: Mapping[str, Any] | None
    ) -> Iterator[Page]:
        try:
            yield from super().read(partition, saved)
        except NotFoundError as error:
            raise NotFoundError(
                f"calendar {partition!r} was not found, or these credentials cannot "
                f"read it (HTTP 404 to {error.url}): share it with the Google "
                "account that authorised headway, or remove it from "
                f"sources.{self.context.name}.calendars",
                status=error.status,
                url=error.url,
                detail=error.detail,
                code=error.code,
            ) from None

    def parse(self, page: PageResult, partition: str) -> list[Record]:
        """A page's records, all-day events read in the calendar's time zone."""
        data = page.response.data
        try:
            zone = (
                time_zone(data.get("timeZone")) if isinstance(data, Mapping) else None
            )
        except RecordError:
            self.log.warning(
                "%s: unknown calendar time zone %r; reading all-day events in UTC",
                partition,
                data.get("timeZone"),
            )
            zone = None
        self._zone = zone or UTC
        return super().parse(page, partition)

    def parse_record(self, raw: Any, partition: str) -> Record | list[Record] | None:
        """An event copy: the meeting's item, tombstones, or nothing.

        Nothing when another calendar's copy of the meeting is the stored one.
        """
        if not isinstance(raw, Mapping):
            raise RecordError("an event must be a JSON object")
        event_id = raw["id"]
        if not isinstance(event_id, str) or not event_id:
            raise RecordError("an event id must be a non-empty string")
        holdings = self.gcal.holdings
        ledger = holdings.ledger(partition)
        if raw.get("status") == "cancelled":
            return self._cancelled(raw, event_id, ledger)

        # Held even if the copy turns out unreadable, so a bad record does
        # not make a full listing tombstone the meeting stored before.
        item_id = event_item_id(raw)
        ledger.add(event_id, item_id)
        organizer = event_organizer(raw, partition)
        if holdings.writer(item_id, organizer) != partition.lower():
            return None
        return event_item(
            raw, calendar=partition, zone=self._zone, teams=self.gcal.teams
        )

    def _cancelled(
        self, raw: Mapping[str, Any], event_id: str, ledger: Ledger
    ) -> list[Record]:
        dropped = ledger.drop(event_id)
        items = [dropped] if dropped else []
        if not items:
            # A deleted recurring series may come as its own id only.
            items = ledger.drop_series(event_id)
            known = cancelled_item_id(raw)
            if known:
                items.append(known)
        when = deleted_at(raw)
        return [Tombstone(item, when) for item in self.gcal.holdings.orphans(items)]


def events_path(calendar: str) -> str:
    """``/calendars/{id}/events``, the id escaped (``#`` occurs in some ids)."""
    return f"/calendars/{quote(calendar, safe='@')}/events"


class GcalConnector(Connector[GcalConfig]):
    """Meetings from Google Calendar, each counted once across calendars."""

    config_class = GcalConfig
    distribution = "headway-gcal"

    def __init__(self, config: GcalConfig, context: SourceContext) -> None:
        super().__init__(config, context)
        self.teams = TeamResolver(context.scorecard)
        self.holdings = Holdings(config.calendars, State())

    def auth(self) -> Auth:
        """The refresh-token flow when configured, else the access token."""
        config = self.config
        if config.refreshes:
            assert config.client_id and config.client_secret and config.refresh_token
            return OAuth2RefreshToken(
                config.token_url,
                config.client_id,
                config.client_secret,
                config.refresh_token,
                access_token=config.token,
            )
        assert config.token is not None
        return BearerAuth(config.token)

    def classifier(self) -> Classifier:
        """Google's quota errors, and 403s that no calendar would pass."""
        return Classifier(
            [
                ResponseRule(
                    Action.RATE_LIMITED,
                    status=403,
                    code=("rateLimitExceeded", "userRateLimitExceeded"),
                    reason="HTTP 403 (Google rate limit)",
                ),
                ResponseRule(
                    Action.STOP,
                    status=403,
                    code="dailyLimitExceeded",
                    reason="the project's daily Calendar API quota is spent",
                ),
                ResponseRule(
                    Action.FAIL,
                    status=403,
                    code=(
                        "insufficientPermissions",
                        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                        "accessNotConfigured",
                        "SERVICE_DISABLED",
                    ),
                    error=AuthError,
                ),
            ]
        )

    def streams(self) -> list[Stream]:
        """One stream: events."""
        return [Events(self)]

    def check(self) -> None:
        """One small listing per calendar: credentials, then each calendar.

        :raises ConnectorError: the credentials are refused, or some
            calendars cannot be read (each named).
        """
        missing = []
        try:
            for calendar in self.config.calendars:
                try:
                    self.client.get(
                        events_path(calendar),
                        params={"maxResults": 1, "singleEvents": "true"},
                    )
                except NotFoundError:
                    missing.append(calendar)
        except AuthError as error:
            raise self._refused(error) from None
        if missing:
            raise ConnectorError(
                f"Google Calendar has no calendar {', '.join(map(repr, missing))} "
                "that these credentials can read (HTTP 404): share it with the "
                "Google account that authorised headway, or remove it from "
                f"sources.{self.context.name}.calendars",
                source=self.context.name,
                status=404,
            )

    def read(self, state: State) -> Iterator[Page]:
        """Every calendar's pages; after a full listing of them all, a sweep."""
        self.holdings = Holdings(self.config.calendars, state)
        try:
            yield from super().read(state)
        except AuthError as error:
            raise self._refused(error) from None
        if self.holdings.reconciles():
            # Every calendar was listed in full (a first sync, --full, or a
            # reset state): what the source stored that none lists is gone.
            yield Page(
                [Sweep(keep=self.holdings.everything(), scope={})], stream=STREAM
            )

    def _refused(self, error: AuthError) -> AuthError:
        """The refusal in Google's terms, with what to do about it."""
        if error.status == 403:
            advice = (
                f"authorise the OAuth client with the scope {SCOPE} (or "
                "calendar.events.readonly), and enable the Google Calendar API in "
                "its Google Cloud project"
            )
        elif not self.config.refreshes:
            advice = (
                "access tokens expire after about an hour: set client_id, "
                "client_secret and refresh_token so headway can renew it"
            )
        elif error.url == self.client.describe_url(self.config.token_url):
            # The SDK's words already say to authorise again.
            advice = (
                "note that a client whose OAuth consent screen is in 'Testing' "
                "gets refresh tokens that expire after 7 days"
            )
        else:
            advice = (
                "check that the refresh token was issued to this client_id for an "
                "account that can read these calendars; authorise again if in doubt"
            )
        return AuthError(
            f"Google Calendar refused the credentials of source "
            f"{self.context.name!r}: {error}; {advice}",
            status=error.status,
            url=error.url,
            detail=error.detail,
            code=error.code,
        )
