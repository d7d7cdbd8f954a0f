"""headway's model: the scorecard, and the records connectors produce.

Every type here is an attrs class. Values (records, objectives, rules) are
frozen; validators on the fields reject what the store could not hold, so a
malformed record fails where it is built, with the field named.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs

#: The states every tool's statuses are mapped onto.
STATES = ("open", "done", "cancelled")

#: The perspectives a scorecard has unless the configuration says otherwise.
DEFAULT_PERSPECTIVES = (
    ("financial", "Financial"),
    ("customer", "Customer"),
    ("process", "Internal process"),
    ("learning", "Learning and growth"),
)

#: Categories an item's effort falls into.
CATEGORIES = ("strategic", "overhead", "unaligned")


# ---------------------------------------------------------------- converters


def to_utc(value: datetime | str | None) -> datetime | None:
    """A timezone-aware datetime in UTC, from a datetime or an ISO 8601 text.

    :raises ValueError: for a naive datetime or a text that is not ISO 8601.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        value = datetime.fromisoformat(text)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def format_utc(value: datetime | None) -> str | None:
    """The store's text form of a time: UTC, milliseconds, ``Z``.

    One fixed width keeps text comparison in SQL equal to time order.
    """
    if value is None:
        return None
    # Plain isoformat is the fastest; cut or pad it to milliseconds and "Z"
    # (attributes of every stored item go through here).
    text = value.astimezone(UTC).isoformat()
    return text[:23] + "Z" if value.microsecond else text[:19] + ".000Z"


def _to_optional_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def _to_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise TypeError("an id is required")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"expected an id string, got {type(value).__name__}")
    if not value:
        raise ValueError("an id must not be empty")
    return value


def _to_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a table of attributes, got {type(value).__name__}")
    return dict(value)


# ---------------------------------------------------------------- records


@attrs.frozen(slots=True)
class WorkItem:
    """One piece of work a connector found: a ticket, a pull request, a meeting.

    ``id`` is the tool's stable identifier; ``key`` is the name people use for
    it (``PLAT-12``, ``acme/web#42``), accepted wherever a user names an item.
    Times are timezone-aware datetimes (stored as UTC); ``effort`` is in hours.

    Construction does no checking, because a large sync builds millions of
    these: the store checks every field when it writes the item (see
    :func:`headway.store.item_row`) and sets a bad one aside in ``rejected``
    with the field and the reason.
    """

    id: str
    kind: str
    title: str = ""
    source: str = ""
    key: str | None = None
    url: str | None = None
    project: str | None = None
    team: str | None = None
    people: Sequence[str] = ()
    status: str | None = None
    state: str = "open"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    occurred_at: datetime | None = None
    effort: float = 0.0
    points: float | None = None
    value: float | None = None
    labels: Sequence[str] = ()
    parent: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @property
    def when(self) -> datetime | None:
        """When the effort happened: ``occurred_at``, else close, else update."""
        return self.occurred_at or self.closed_at or self.updated_at or self.created_at


@attrs.frozen(slots=True)
class MetricPoint:
    """One value of a named metric at a time, with optional dimensions."""

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    at: datetime = attrs.field(converter=to_utc)
    value: float = attrs.field(converter=_to_optional_float)
    dims: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict, hash=False)
    source: str = ""

    def __attrs_post_init__(self) -> None:
        if self.at is None:
            raise ValueError("a metric point needs a time")
        if self.value is None:
            raise ValueError("a metric point needs a value")


@attrs.frozen(slots=True)
class Tombstone:
    """An item the source deleted: the store marks it, never drops it."""

    id: str = attrs.field(converter=_to_id)
    deleted_at: datetime | None = attrs.field(default=None, converter=to_utc)


@attrs.frozen(slots=True)
class Rejected:
    """A record that could not be turned into an item, kept with its reason.

    :param reason: what was wrong, for the ``rejected`` table.
    :param raw: the record as the service sent it (JSON-able, text or bytes).
    :param id: the record's id, when one could be read.
    """

    reason: str
    raw: Any = None
    id: str | None = None


@attrs.frozen(slots=True)
class Sweep:
    """Tombstone this source's items that a complete listing did not include.

    Sent by a connector after a full listing (a census of ids, or a full
    resync): every live item of the source that matches ``scope`` and whose
    id is not in ``keep`` gets ``deleted_at``.

    A listing too long to hold all its ids in memory sends them in parts:
    a ``final=False`` sweep with each page's ids, which the store only
    remembers (on disk, for the rest of the run), then a final sweep of
    the same scope, which also keeps every id the parts named. A listing
    that turns out incomplete sends no final sweep, and its parts are
    forgotten when the next run of the source starts.

    :param keep: the ids the listing returned (with ``final=False``: the
        ids of this part).
    :param scope: limits the sweep to items whose column (``kind``,
        ``project``) or ``attributes.NAME`` equals the given value.
    :param final: sweep now; ``False`` only remembers ``keep`` for the
        final sweep of the same scope.
    """

    keep: frozenset[str] = attrs.field(converter=frozenset)
    scope: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    final: bool = True


Record = WorkItem | MetricPoint | Tombstone | Rejected | Sweep


# ---------------------------------------------------------------- periods


_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")


@attrs.frozen
class Period:
    """A span of days, both ends included, named as the user wrote it."""

    start: date
    end: date
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read ``2026-Q4``, ``2026-10``, ``2026`` or ``2026-10-01..2026-12-31``.

        :raises ValueError: with a message saying which forms are accepted.
        """
        text = str(text).strip()
        if match := _QUARTER.match(text):
            year, quarter = int(match[1]), int(match[2])
            start = date(year, 3 * quarter - 2, 1)
            end = _month_end(year, 3 * quarter)
        elif match := _MONTH.match(text):
            year, month = int(match[1]), int(match[2])
            start, end = date(year, month, 1), _month_end(year, month)
        elif match := _YEAR.match(text):
            year = int(match[1])
            start, end = date(year, 1, 1), date(year, 12, 31)
        elif ".." in text:
            first, _, last = text.partition("..")
            try:
                start, end = date.fromisoformat(first), date.fromisoformat(last)
            except ValueError:
                raise ValueError(_PERIOD_FORMS.format(text=text)) from None
            if end < start:
                raise ValueError(f"period {text!r} ends before it starts")
        else:
            raise ValueError(_PERIOD_FORMS.format(text=text))
        return cls(start, end, text)

    @property
    def start_at(self) -> datetime:
        """The first instant of the period, midnight UTC."""
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (exclusive end), midnight UTC."""
        after = self.end + timedelta(days=1)
        return datetime(after.year, after.month, after.day, tzinfo=UTC)

    def bounds(self) -> tuple[str, str]:
        """The store's text form of ``[start_at, end_at)`` for SQL comparisons."""
        return format_utc(self.start_at), format_utc(self.end_at)  # type: ignore[return-value]

    def elapsed(self, now: datetime) -> float:
        """The share of the period gone by at ``now``: 0 before, 1 after."""
        total = (self.end_at - self.start_at).total_seconds()
        done = (now - self.start_at).total_seconds()
        return min(1.0, max(0.0, done / total))

    def __str__(self) -> str:
        return self.label


_PERIOD_FORMS = (
    "period {text!r} is not one of YYYY-Qn (2026-Q4), YYYY-MM (2026-10), "
    "YYYY (2026) or START..END (2026-10-01..2026-12-31)"
)


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


# ---------------------------------------------------------------- scorecard


@attrs.frozen
class Perspective:
    """One of the scorecard's points of view, with its relative weight."""

    key: str
    title: str
    weight: float = 1.0


@attrs.frozen
class Objective:
    """A strategic objective in a perspective; ``drives`` are its map arrows."""

    id: str
    perspective: str
    title: str
    owner: str | None = None
    weight: float = 1.0
    drives: tuple[str, ...] = ()
    capacity: float | None = None
    description: str = ""


@attrs.frozen
class Measure:
    """A KPI of an objective; ``activity`` measures are shown, never scored.

    Its value comes from ``sql``, ``metric``, a registered ``function`` with
    ``params``, or, when none is set, from values recorded by hand.
    """

    id: str
    objective: str
    title: str
    kind: str = "outcome"
    unit: str = ""
    baseline: float = 0.0
    target: float = 1.0
    weight: float = 1.0
    sql: str | None = None
    metric: str | None = None
    function: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    owner: str | None = None

    @property
    def source(self) -> str:
        """Where the value comes from: sql, metric, function or manual."""
        if self.sql:
            return "sql"
        if self.metric:
            return "metric"
        if self.function:
            return "function"
        return "manual"


@attrs.frozen
class KeyResult:
    """An OKR key result: from ``start`` to ``target`` within ``period``."""

    id: str
    objective: str
    title: str
    start: float
    target: float
    owner: str | None = None
    period: Period | None = None
    weight: float = 1.0
    unit: str = ""
    measure: str | None = None
    sql: str | None = None
    metric: str | None = None
    function: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @property
    def source(self) -> str:
        """Where the value comes from: measure, sql, metric, function or manual."""
        for name in ("measure", "sql", "metric", "function"):
            if getattr(self, name):
                return name
        return "manual"


@attrs.frozen
class Rule:
    """A mapping rule: conditions (ANDed; a tuple is any-of) and an assignment.

    Exactly one of ``shares`` (objective id to share, summing to 1) or
    ``category`` (``overhead``) is set. ``index`` is the rule's place in the
    file, counted from 1, and is what an assignment's reason names.
    """

    index: int
    source: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    project: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    title: re.Pattern[str] | None = attrs.field(default=None, eq=False)
    parent: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    attributes: Mapping[str, tuple[Any, ...]] = attrs.field(factory=dict, hash=False)
    shares: tuple[tuple[str, float], ...] = ()
    category: str | None = None
    name: str | None = None

    @property
    def title_pattern(self) -> str | None:
        """The title regex as written."""
        return self.title.pattern if self.title is not None else None


@attrs.frozen
class Team:
    """A team and its members' identities."""

    key: str
    title: str
    members: tuple[str, ...] = ()


@attrs.frozen
class Person:
    """One person and the identities they have in each tool."""

    key: str
    aliases: tuple[str, ...] = ()
    title: str | None = None


@attrs.frozen
class Thresholds:
    """Health levels for status: on track at or above, behind at or above."""

    on_track: float = 0.95
    behind: float = 0.85


@attrs.frozen
class Scorecard:
    """The whole strategy: perspectives, objectives, measures, KRs, rules, teams."""

    name: str
    period: Period
    perspectives: tuple[Perspective, ...]
    objectives: tuple[Objective, ...] = ()
    measures: tuple[Measure, ...] = ()
    key_results: tuple[KeyResult, ...] = ()
    rules: tuple[Rule, ...] = ()
    teams: tuple[Team, ...] = ()
    people: tuple[Person, ...] = ()
    thresholds: Thresholds = Thresholds()

    def perspective(self, key: str) -> Perspective | None:
        """The perspective with ``key``, if there is one."""
        return next((p for p in self.perspectives if p.key == key), None)

    def objective(self, id: str) -> Objective | None:
        """The objective with ``id``, if there is one."""
        return next((o for o in self.objectives if o.id == id), None)

    def team_of(self) -> dict[str, str]:
        """Every known identity (members and their aliases) mapped to its team.

        An identity listed in several teams belongs to the first.
        """
        # Identities are compared without case: e-mail addresses and logins
        # are case-insensitive in every tool headway reads.
        person_of: dict[str, str] = {}
        for person in self.people:
            key = person.key.lower()
            person_of[key] = key
            for alias in person.aliases:
                person_of.setdefault(alias.lower(), key)
        team_of_person: dict[str, str] = {}
        for team in self.teams:
            for member in team.members:
                member = member.lower()
                team_of_person.setdefault(person_of.get(member, member), team.key)
        result: dict[str, str] = {}
        for identity in {
            *person_of,
            *(m.lower() for t in self.teams for m in t.members),
        }:
            team = team_of_person.get(person_of.get(identity, identity))
            if team is not None:
                result[identity] = team
        return result


@attrs.frozen
class Assignment:
    """Where one item's effort goes: shares of objectives, or a category.

    ``shares`` (objective id to share, summing to 1) make the item strategic;
    otherwise ``category`` is ``overhead`` or ``unaligned``. ``reason`` says
    why (``rule 3``, ``inherited from jira:PLAT-1``, ``plugin acme``).
    """

    shares: tuple[tuple[str, float], ...] = ()
    category: str = "unaligned"
    reason: str = ""

    @property
    def strategic(self) -> bool:
        """Whether the item serves at least one objective."""
        return bool(self.shares)


@attrs.frozen
class Snapshot:
    """A stored score run, as the ``snapshot_saved`` hook receives it."""

    id: int
    taken_at: datetime
    period: str
    score: float | None
    balance: float | None
    alignment: float | None
    rules_hash: str
