"""Which synced calendar holds which meeting.

The same meeting is a separate event copy in every attendee's calendar, and
headway stores it once. Deciding what becomes of that one item needs to
know, across calendars, who still holds it:

- a copy cancelled in one calendar (its owner was removed from the guest
  list, or deleted the invitation) deletes the meeting only when no other
  synced calendar still holds it;
- Google guarantees only the ``id`` of a deleted event, so the map from a
  calendar's event ids to item ids is what turns a deletion into the right
  tombstone;
- after a full listing of a calendar (a first sync, or a resync after a
  stale token), the meetings it held before and no longer lists are
  tombstoned when no other calendar holds them;
- the copy that is stored is the organizer's when the organizer's calendar
  is synced and holds the meeting (the organizer sees every guest), else
  the copy of the first calendar in ``calendars`` that holds it, so the
  stored item does not flip between copies from run to run.

Each calendar's map is saved in its sync state with the sync token, in the
transaction of the listing's last page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from headway.connectors import State

from ._events import native_item_id

#: The stream every calendar's state is saved under.
STREAM = "events"


class Ledger:
    """One calendar's event ids, each mapped to the item (meeting) it is.

    :param calendar: the calendar id as configured.
    :param events: the map saved by the last complete listing.
    """

    def __init__(self, calendar: str, events: Mapping[str, str] | None = None) -> None:
        self.calendar = calendar
        self.events: dict[str, str] = dict(events or {})
        self._held: Counter[str] = Counter(self.events.values())
        #: What the calendar held before the full listing in progress.
        self.previous: dict[str, str] = {}
        #: Whether this run lists the calendar in full.
        self.full = False
        #: Whether this run read the calendar's listing to its last page.
        self.complete = False

    @classmethod
    def load(cls, calendar: str, saved: Mapping[str, Any] | None) -> Ledger:
        """The ledger saved in a calendar's sync state (empty when none)."""
        encoded = (saved or {}).get("events")
        if not isinstance(encoded, Mapping):
            return cls(calendar)
        return cls(
            calendar,
            {
                str(event): str(item) if item else native_item_id(str(event))
                for event, item in encoded.items()
            },
        )

    def begin(self, *, full: bool) -> None:
        """Start a run; a full listing rebuilds the map from what it lists."""
        self.full, self.complete = full, False
        if full:
            self.previous = self.events
            self.events, self._held = {}, Counter()

    def abandon(self) -> None:
        """End a full listing that stopped before its last page.

        What it listed so far is only part of what the calendar holds, so
        the events held before and not yet listed again are held once more:
        until the next listing of the calendar, other calendars' deletions
        see the calendar still holding its meetings. Nothing when the
        listing was incremental or complete.
        """
        if not self.full or self.complete:
            return
        for event, item in self.previous.items():
            if event not in self.events:
                self.add(event, item)

    def add(self, event_id: str, item_id: str) -> None:
        """Record that the calendar holds ``event_id``, a copy of ``item_id``."""
        old = self.events.get(event_id)
        if old == item_id:
            return
        if old is not None:
            self._release(old)
        self.events[event_id] = item_id
        self._held[item_id] += 1

    def drop(self, event_id: str) -> str | None:
        """Forget a cancelled event; returns the item it was, if known."""
        item = self.events.pop(event_id, None)
        if item is not None:
            self._release(item)
        return item

    def drop_series(self, series_id: str) -> list[str]:
        """Forget every instance of a recurring series (ids ``SERIES_STAMP``).

        Only ids whose last part is an instance's start stamp
        (``SERIES_20261005T070000Z``, ``SERIES_20261005``) count: a series
        split off by "this and following events" has an id of its own that
        also begins with ``SERIES_`` (``SERIES_R20261012T070000``), and its
        instances are not the deleted series'.
        """
        return [
            item
            for event in [e for e in self.events if _instance_of(e, series_id)]
            if (item := self.drop(event)) is not None
        ]

    def holds(self, item_id: str) -> bool:
        """Whether some event of the calendar is a copy of ``item_id``."""
        return self._held[item_id] > 0

    def items(self) -> set[str]:
        """Every item the calendar holds."""
        return set(self._held)

    def vanished(self) -> set[str]:
        """Items held before this full listing that it did not list."""
        return set(self.previous.values()) - set(self._held)

    def encoded(self) -> dict[str, str]:
        """The map as saved: an empty value where the item id is the one
        Google's own events have (most of them), to keep the state small."""
        return {
            event: "" if item == native_item_id(event) else item
            for event, item in self.events.items()
        }

    def _release(self, item: str) -> None:
        self._held[item] -= 1
        if self._held[item] <= 0:
            del self._held[item]

    def __repr__(self) -> str:
        return f"Ledger({self.calendar!r}, {len(self.events)} events)"


def _instance_of(event_id: str, series_id: str) -> bool:
    """Whether ``event_id`` names an instance of ``series_id`` (Google's own
    instance ids are the series id, ``_`` and the original start)."""
    series, sep, stamp = event_id.rpartition("_")
    return bool(sep) and series == series_id and stamp[:8].isdigit()


class Holdings:
    """The ledgers of every configured calendar, in configuration order.

    :param calendars: the configured calendar ids.
    :param state: the source's saved state.
    """

    def __init__(self, calendars: Sequence[str], state: State) -> None:
        self.order = [calendar.lower() for calendar in calendars]
        self.ledgers = {
            calendar.lower(): Ledger.load(calendar, state.get(STREAM, calendar))
            for calendar in calendars
        }

    def ledger(self, calendar: str) -> Ledger:
        """The ledger of a configured calendar."""
        return self.ledgers[calendar.lower()]

    def held_anywhere(self, item_id: str) -> bool:
        """Whether any configured calendar still holds the item."""
        return any(ledger.holds(item_id) for ledger in self.ledgers.values())

    def orphans(self, items: Iterable[str]) -> list[str]:
        """The items no configured calendar holds any more, in order."""
        return sorted({item for item in items if not self.held_anywhere(item)})

    def writer(self, item_id: str, organizer: str | None) -> str | None:
        """The calendar whose copy of the item is the one stored."""
        if organizer:
            ledger = self.ledgers.get(organizer.lower())
            if ledger is not None and ledger.holds(item_id):
                return organizer.lower()
        for calendar in self.order:
            if self.ledgers[calendar].holds(item_id):
                return calendar
        return None

    def reconciles(self) -> bool:
        """Whether this run listed every calendar in full, to the end: then
        whatever the source stored that none of them lists is gone."""
        return all(ledger.full and ledger.complete for ledger in self.ledgers.values())

    def everything(self) -> frozenset[str]:
        """Every item some configured calendar holds."""
        return frozenset(
            item for ledger in self.ledgers.values() for item in ledger.items()
        )
