"""Small readers every connector needs: vendor timestamps and nested JSON.

Services write times in many dialects of ISO 8601 (``-0700`` without a
colon, ``.000+0000``, ``Z``, seven fractional digits) and sometimes as epoch
numbers. :func:`parse_timestamp` reads all of them into timezone-aware UTC
datetimes, and refuses a time without a zone instead of guessing one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from .errors import RecordError

_MISSING = object()

# Epoch numbers above this are milliseconds (it is 2286-11-20 in seconds).
_EPOCH_MILLIS_ABOVE = 10_000_000_000
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Python's fromisoformat takes at most six fractional digits.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(
    value: str | int | float | datetime | date | None,
    *,
    assume: tzinfo | None = None,
) -> datetime | None:
    """An aware UTC datetime from a vendor's timestamp, or ``None`` for none.

    Reads ISO 8601 in the forms services send (``2022-06-09T16:29:31.871-0700``,
    ``2024-01-05T10:11:12.000+0000``, ``2024-01-05T10:11:12Z``), a date
    (``2024-01-05``, midnight), and epoch seconds or milliseconds (numbers, or
    digits in a string)::

        >>> parse_timestamp("2022-06-09T16:29:31.871-0700").isoformat()
        '2022-06-09T23:29:31.871000+00:00'

    :param assume: the zone of a time written without one (and of a bare
        date); without it such a value is an error, since guessing a zone
        shifts every item by hours.
    :raises ValueError: for text that is not a timestamp, or a time with no
        zone and no ``assume``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.isdigit():
            return _from_epoch(int(text))
        if _DATE_ONLY.match(text) and assume is None:
            raise ValueError(
                f"{text!r} is a date without a time zone; pass assume=UTC (or the "
                "service's zone) to read it"
            )
        try:
            parsed = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from None
    else:
        raise ValueError(f"{type(value).__name__} {value!r} is not a timestamp")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if assume is None:
            raise ValueError(
                f"{parsed.isoformat()} has no time zone; pass assume= to say which"
            )
        parsed = parsed.replace(tzinfo=assume)
    return parsed.astimezone(UTC)


def _from_epoch(number: float) -> datetime:
    try:
        if number > _EPOCH_MILLIS_ABOVE:
            number = number / 1000
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        # inf, NaN, or seconds past year 9999: not a time, so the record (or
        # setting) holding it is refused, never the whole source.
        shown = "a number that large" if abs(number) >= 10**30 else repr(number)
        raise ValueError(f"{shown} is not a timestamp (out of range)") from None


def start_of(value: str | date | datetime, zone: tzinfo = UTC) -> datetime:
    """The instant a ``start = ...`` setting names: a date means its midnight.

    Accepts a TOML date or datetime, or their text; a date or a time without
    a zone is read in ``zone`` (UTC unless a connector knows better).

    :raises ValueError: for anything else.
    """
    parsed = parse_timestamp(value, assume=zone)
    if parsed is None:
        raise ValueError("a start date is required, such as 2026-01-01")
    return parsed


def format_timestamp(value: datetime, *, millis: bool = False) -> str:
    """``2024-01-05T10:11:12Z``: UTC with a ``Z``, as most query languages take.

    :param millis: keep milliseconds (``10:11:12.345Z``).
    :raises ValueError: for a naive datetime.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no time zone")
    value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds" if millis else "seconds") + "Z"


def dig(data: Any, path: str | Sequence[str | int], default: Any = None) -> Any:
    """The value at a dotted ``path`` in nested JSON, or ``default`` if absent.

    ``dig(issue, "fields.status.statusCategory.key")`` walks mappings by key
    and lists by index (``"errors.0.reason"``). A ``None`` met on the way,
    or a value of the wrong shape, gives ``default``: vendors leave out and
    null fields freely, and a parser should say what it needs, not crash.
    """
    parts = path.split(".") if isinstance(path, str) else list(path)
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, Sequence) and not isinstance(current, str | bytes):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return default
        else:
            return default
        if current is _MISSING or current is None:
            return default
    return current


def list_field(record: Mapping[str, Any], name: str) -> list[Any]:
    """The list a record's field holds; empty when the record leaves it out.

    For fields a service always sends as a list (empty for none) when it
    sends them at all: there a null, or any value but a list, is a malformed
    record, not "none", and the record is set aside with the field named.

    :raises RecordError: the field is there but not a list.
    """
    if name not in record:
        return []
    value = record[name]
    if not isinstance(value, list):
        got = "null" if value is None else type(value).__name__
        raise RecordError(f"{name}: expected a list, got {got}")
    return value
