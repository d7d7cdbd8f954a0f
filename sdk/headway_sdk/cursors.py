"""Incremental state: where a stream partition's next sync starts.

A cursor is a small, frozen description (:class:`WatermarkCursor`,
:class:`SyncTokenCursor`, :class:`FullRefreshCursor`). For each run of a
stream partition, :meth:`Cursor.begin` turns the saved state into a
:class:`CursorRun` that the stream's request reads (``since``, ``token``,
``position``), that watches every page, and that says what state to save
with each page. The sync engine writes that state in the page's
transaction, into ``sync_state`` (one row per source, stream and
partition), so an interrupted run resumes from the last stored page.

Which cursor fits:

- the API filters by an updated-at time and sorts by it (Jira's JQL,
  GitHub's ``since``, Salesforce's ``SystemModstamp``):
  :class:`WatermarkCursor`;
- the API hands out a token that lists changes since the last listing
  (Google Calendar's ``nextSyncToken``): :class:`SyncTokenCursor`;
- neither: list everything every run, resumably: :class:`FullRefreshCursor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from headway.model import Record, Sweep, WorkItem, format_utc
from headway.secrets import redact

from .errors import AuthError, HttpError
from .pagination import PageResult
from .parsing import parse_timestamp

log = logging.getLogger(__name__)

#: The state a cursor saves: JSON-able, stored in ``sync_state``.
CursorState = Mapping[str, Any]


class CursorRun:
    """One run of a cursor over one stream partition.

    Attributes a stream's request reads:

    - ``since``: only records updated at or after this (watermark cursors);
    - ``token``: the saved sync token, ``None`` for a full listing;
    - ``position``: where to resume the listing (full refresh);
    - ``full``: whether this run lists everything (no ``since``, no token);
    - ``reset``: the saved state must be dropped with the first page;
    - ``sweeps``: whether this run's listing ends with a :class:`Sweep`.

    A run that sweeps holds no ids: each page sends its own to the store
    (:meth:`marks`, a ``Sweep(final=False)``), and the last page sends the
    final sweep (:meth:`closing`), so memory does not grow with the
    listing.
    """

    since: datetime | None = None
    token: str | None = None
    position: Any = None
    full: bool = True
    reset: bool = False
    sweeps: bool = False

    def observe(self, page: PageResult, records: list[Record]) -> None:
        """Watch a page's answer and the records parsed from it."""

    def state(self, page: PageResult) -> CursorState | None:
        """The state to save with ``page`` (``None``: leave the saved one)."""
        return None

    def marks(
        self, records: list[Record], scope: Mapping[str, Any] | None
    ) -> list[Record]:
        """Records to add to every page: the ids of its work items, as a part
        of the closing sweep, when this run sweeps.

        :param scope: the stream partition's sweep scope; ``None`` never sweeps.
        """
        if scope is None or not self.sweeps:
            return []
        ids = [record.id for record in records if type(record) is WorkItem]
        return [Sweep(keep=ids, scope=dict(scope), final=False)] if ids else []

    def closing(self, scope: Mapping[str, Any] | None) -> list[Record]:
        """Records to add to the last page: the final :class:`Sweep` of a run
        that sweeps, which keeps every id its pages' :meth:`marks` named.

        :param scope: the stream partition's sweep scope; ``None`` never sweeps.
        """
        if scope is None or not self.sweeps:
            return []
        return [Sweep(keep=(), scope=dict(scope))]

    def expired(self, error: HttpError) -> bool:
        """Whether ``error`` means the saved state is stale: start afresh."""
        return False


class Cursor:
    """Base of the cursors: builds a :class:`CursorRun` from saved state."""

    def begin(
        self, saved: CursorState | None, *, now: datetime, full: bool = False
    ) -> CursorRun:
        """A run starting from ``saved`` (``None`` on a first or full sync).

        :param now: the run's start time.
        :param full: ignore ``saved`` and list everything.
        """
        raise NotImplementedError


# ---------------------------------------------------------------- watermark


@attrs.frozen
class WatermarkCursor(Cursor):
    """A high-water mark on an updated-at time, with a lookback.

    Each run asks for records updated since the saved watermark minus
    ``lookback``, a safe overlap for services whose filters are coarse
    (Jira's minutes), whose clocks differ from ours, or whose search is
    eventually consistent; re-read records cost no write in the store. The
    watermark saved is the minimum of the newest time seen and the run's
    start, so records changed while the run was reading are read again next
    time instead of being skipped.

    :param field: the record attribute holding the time (``updated_at``),
        or a function from a record to its time.
    :param lookback: the overlap re-read by every run.
    :param start: how far back the first run reaches (``None``: everything).
    :param ordered: the API returns records oldest first, so the watermark
        can be saved after every page; when false it is saved after the
        partition's last page only.
    """

    field: str | Callable[[Record], datetime | None] = "updated_at"
    lookback: timedelta = timedelta(minutes=10)
    start: datetime | None = None
    ordered: bool = True

    def begin(
        self, saved: CursorState | None, *, now: datetime, full: bool = False
    ) -> WatermarkRun:
        """A run reading from the saved watermark minus the lookback."""
        mark = None
        if saved and not full:
            try:
                mark = parse_timestamp(saved.get("watermark"))
            except ValueError:
                log.warning(
                    "ignoring an unreadable saved watermark; reading from start"
                )
        return WatermarkRun(self, mark, now)


class WatermarkRun(CursorRun):
    """A :class:`WatermarkCursor`'s run: ``since`` is where reading starts."""

    def __init__(self, cursor: WatermarkCursor, mark: datetime | None, now: datetime):
        self.cursor = cursor
        #: The watermark saved by earlier runs, if any.
        self.mark = mark
        #: When this run started; the saved watermark never passes it.
        self.started = now
        #: The newest time seen in this run.
        self.newest: datetime | None = None
        self.since = mark - cursor.lookback if mark is not None else cursor.start
        self.full = mark is None

    def observe(self, page: PageResult, records: list[Record]) -> None:
        """Track the newest updated-at time among the page's records."""
        for record in records:
            value = self._time_of(record)
            if value is not None and (self.newest is None or value > self.newest):
                self.newest = value

    def _time_of(self, record: Record) -> datetime | None:
        field = self.cursor.field
        if callable(field):
            return field(record)
        value = getattr(record, field, None)
        return value if isinstance(value, datetime) else None

    def state(self, page: PageResult) -> CursorState | None:
        """``{"watermark": min(newest seen, run start)}``, never moving back."""
        if not self.cursor.ordered and not page.last:
            return None
        if self.newest is None:
            return None
        mark = min(self.newest, self.started)
        if self.mark is not None:
            mark = max(mark, self.mark)
        return {"watermark": format_utc(mark)}


# ---------------------------------------------------------------- sync token


@attrs.frozen
class SyncTokenCursor(Cursor):
    """A token the service gives on a listing's last page (Google Calendar).

    The first run lists everything; its last page carries the token
    (``nextSyncToken``), saved with that page only. Later runs send the
    token and get the changes since. A service that answers 410 (the token
    expired) makes the stream drop the token and list everything again,
    and after such a full listing the items not seen again are tombstoned
    through a :class:`~headway.model.Sweep` limited to the partition's
    scope (see ``HttpStream.sweep_scope``).

    :param token_path: where the body holds the new token.
    :param expired_statuses: answers to a token request that mean "start
        over".
    """

    token_path: str = "nextSyncToken"
    expired_statuses: tuple[int, ...] = (410,)

    def begin(
        self, saved: CursorState | None, *, now: datetime, full: bool = False
    ) -> SyncTokenRun:
        """A run sending the saved token, or listing everything without one."""
        token = None if full or not saved else saved.get("sync_token")
        return SyncTokenRun(self, str(token) if token else None)


class SyncTokenRun(CursorRun):
    """A :class:`SyncTokenCursor`'s run: ``token`` is what to send, if any."""

    def __init__(self, cursor: SyncTokenCursor, token: str | None):
        self.cursor = cursor
        self.token = token
        self.full = token is None
        self.sweeps = self.full
        #: The token the listing's last page returned.
        self.next_token: str | None = None

    def observe(self, page: PageResult, records: list[Record]) -> None:
        """Remember the new token when the page has one."""
        token = (
            page.response.data.get(self.cursor.token_path)
            if isinstance(page.response.data, Mapping)
            else None
        )
        if token:
            self.next_token = str(token)

    def state(self, page: PageResult) -> CursorState | None:
        """The new token, with the last page only."""
        if not page.last:
            return None
        if self.next_token is None:
            log.warning(
                "the listing's last page carried no %s; the next sync lists "
                "everything again",
                self.cursor.token_path,
            )
            return None
        return {"sync_token": self.next_token}

    def expired(self, error: HttpError) -> bool:
        """A 410 (by default) on a request that sent a token."""
        return self.token is not None and error.status in self.cursor.expired_statuses


# ---------------------------------------------------------------- full refresh


@attrs.frozen
class FullRefreshCursor(Cursor):
    """List everything every run, saving the page position as it goes.

    An interrupted run's next sync resumes at the saved page (a next URL,
    token, offset or page number) instead of starting over. When the
    service refuses that saved position (a client error other than
    credentials or a rate limit: page tokens and query cursors expire), the
    position is dropped and the listing starts again from the beginning,
    once. A listing read in one go ends with a
    :class:`~headway.model.Sweep` of the items it did not return (when the
    stream gives a sweep scope); a resumed one does not sweep, since the
    pages read before the interruption are not known to this run.
    """

    def begin(
        self, saved: CursorState | None, *, now: datetime, full: bool = False
    ) -> FullRefreshRun:
        """A run from the saved position, or from the start."""
        position = None
        if saved and not full and not saved.get("complete"):
            position = saved.get("position")
        return FullRefreshRun(position)


#: Client errors that say nothing about a saved position: credentials
#: refused or lacking, a proxy's login, a rate limit.
_NOT_A_STALE_POSITION = frozenset({401, 403, 407, 429})


class FullRefreshRun(CursorRun):
    """A :class:`FullRefreshCursor`'s run: ``position`` is where to resume."""

    def __init__(self, position: Any):
        self.position = position
        self.resumed = position is not None
        # A resumed listing did not see the pages before the interruption.
        self.sweeps = not self.resumed

    def expired(self, error: HttpError) -> bool:
        """A client error (4xx but credentials or a rate limit) on a resumed
        run: page tokens and next links expire, and a saved one the service
        now refuses would fail every later run."""
        status = error.status
        return (
            self.resumed
            and not isinstance(error, AuthError)
            and status is not None
            and 400 <= status < 500
            and status not in _NOT_A_STALE_POSITION
        )

    def state(self, page: PageResult) -> CursorState | None:
        """The next page's position; ``complete`` after the last page."""
        if page.last:
            return {"complete": True}
        position = page.next_position
        if isinstance(position, str) and redact(position) != position:
            # A next URL that carries a secret must not reach the store; an
            # interruption then restarts from the position saved before.
            return None
        return {"complete": False, "position": position}
