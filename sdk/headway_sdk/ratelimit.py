"""How long to wait: retry rules, and a budget that paces before the limit.

A retry's wait is chosen by the first rule that applies:

1. ``Retry-After``, in seconds or as an HTTP date;
2. for a rate-limited answer, the reset header (``X-RateLimit-Reset`` as
   epoch seconds, ``RateLimit-Reset`` as seconds from now);
3. exponential backoff with a little jitter.

A wait longer than :attr:`RetryPolicy.max_wait` is not slept: the client
raises :class:`~headway.errors.StopSource`, the run ends ``partial`` with
every stored page's state kept, and the next sync resumes.

:class:`RateBudget` reads remaining/limit/reset headers on every answer and
spaces requests out before the limit is reached, keeping a reserve for the
other tools that share the same quota.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import attrs
from requests.structures import CaseInsensitiveDict

# A reset value above this is an epoch time, not seconds from now (it is
# 2001-09-09 as epoch seconds, and 31 years as a delay).
_EPOCH_ABOVE = 1_000_000_000
# Clocks differ: wait a little past the reset the service announced.
_RESET_MARGIN = 1.0


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry one request.

    :param attempts: sends of one request in all, the first included.
    :param backoff: the first backoff, in seconds.
    :param multiplier: each later backoff is this many times the one before.
    :param max_backoff: a backoff never grows past this.
    :param jitter: up to this share is added at random to a backoff, so
        that parallel clients do not retry in step.
    :param max_wait: a wait longer than this (from any rule) stops the source
        instead of sleeping; the run ends ``partial`` and resumes next time.
    """

    attempts: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    backoff: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    max_backoff: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    jitter: float = attrs.field(default=0.1, validator=attrs.validators.ge(0))
    max_wait: float = attrs.field(default=300.0, validator=attrs.validators.ge(0))

    def backoff_for(
        self, retry: int, *, at_least: float = 0.0, rng: random.Random | None = None
    ) -> float:
        """The backoff before retry number ``retry`` (1 for the first).

        :param at_least: the service's minimum (a secondary rate limit's
            minute): the backoff starts there and grows from it.
        """
        first = max(self.backoff, at_least)
        wait = min(
            max(self.max_backoff, at_least), first * self.multiplier ** (retry - 1)
        )
        if self.jitter:
            wait += (rng or random).uniform(0, wait * self.jitter)
        return wait


@attrs.frozen
class Wait:
    """A wait and the rule that chose it (for the log line)."""

    seconds: float
    rule: str


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for, as a number or an HTTP date.

    A date in the past means no wait; an unreadable value is ignored.
    """
    value = _headers(headers).get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@attrs.frozen
class Quota:
    """What the service says is left of a rate limit.

    :param remaining: requests left in the window.
    :param limit: requests the window allows, if said.
    :param reset_at: when the window starts afresh, if said.
    """

    remaining: int
    limit: int | None = None
    reset_at: datetime | None = None


def _headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    # Header names are case-insensitive; a plain dict (a test's) is not.
    if isinstance(headers, CaseInsensitiveDict):
        return headers
    return CaseInsensitiveDict(headers)


def _number(headers: Mapping[str, str], names: tuple[str, ...]) -> float | None:
    headers = _headers(headers)
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            number = float(value.split(",")[0].strip())
        except ValueError:
            continue
        if math.isfinite(number):
            return number
    return None


def reset_time(value: float, now: datetime) -> datetime:
    """A reset header's time: epoch seconds if large, else seconds from now."""
    if value > _EPOCH_ABOVE:
        return datetime.fromtimestamp(value, UTC)
    return now + timedelta(seconds=value)


def _reset_at(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """The reset time a reset header gives: epoch or delta seconds, or an ISO
    8601 time (Jira Cloud sends ``X-RateLimit-Reset: 2026-03-23T10:32Z``)."""
    names = ("x-ratelimit-reset", "ratelimit-reset")
    number = _number(headers, names)
    if number is not None:
        return reset_time(number, now)
    found = _headers(headers)
    for name in names:
        value = found.get(name)
        if not value:
            continue
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            continue
        if when.tzinfo is not None:
            return when.astimezone(UTC)
    return None


def read_rate_headers(headers: Mapping[str, str], now: datetime) -> Quota | None:
    """A :class:`Quota` from ``X-RateLimit-*`` or ``RateLimit-*`` headers.

    ``None`` when the answer says nothing about a limit.
    """
    remaining = _number(headers, ("x-ratelimit-remaining", "ratelimit-remaining"))
    if remaining is None:
        return None
    limit = _number(headers, ("x-ratelimit-limit", "ratelimit-limit"))
    return Quota(
        remaining=int(remaining),
        limit=int(limit) if limit is not None else None,
        reset_at=_reset_at(headers, now),
    )


def reset_wait(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until the rate limit's reset, from the reset headers, if any."""
    reset = _reset_at(headers, now)
    if reset is None:
        return None
    return max(0.0, (reset - now).total_seconds()) + _RESET_MARGIN


#: Reads a :class:`Quota` from an answer's headers (``None``: nothing said).
QuotaReader = Callable[[Mapping[str, str], datetime], Quota | None]


class RateBudget:
    """Paces requests from the quota headers, keeping a reserve.

    After each answer it reads the quota (:func:`read_rate_headers` unless
    told otherwise). Before each request :meth:`pause` says how long to wait:

    - nothing while more than ``slow_below`` of the limit is left;
    - below that, the time to the reset spread evenly over the requests
      left above the reserve, so the budget lasts until the reset;
    - at the reserve, the time to the reset, or, when the service gives no
      reset time (a daily quota), a stop: the source ends ``partial``.

    :param reserve: requests to leave unused: a share of the limit when
        below 1 (``0.1`` is 10 %), else a count.
    :param slow_below: the share of the limit under which pacing starts.
    :param read: how to read the quota from headers.
    """

    def __init__(
        self,
        *,
        reserve: float = 0.05,
        slow_below: float = 0.2,
        read: QuotaReader = read_rate_headers,
    ):
        if reserve < 0 or not 0 <= slow_below <= 1:
            raise ValueError("reserve must be >= 0 and slow_below within 0..1")
        self.reserve = reserve
        self.slow_below = slow_below
        self.read = read
        #: The latest quota the service reported, if any.
        self.quota: Quota | None = None

    def observe(self, headers: Mapping[str, str], now: datetime) -> None:
        """Read the quota from an answer's headers."""
        quota = self.read(headers, now)
        if quota is not None:
            self.quota = quota

    def reserve_count(self) -> int:
        """The reserve in requests, for the latest known limit."""
        if self.reserve >= 1:
            return int(self.reserve)
        limit = self.quota.limit if self.quota and self.quota.limit else 0
        return math.ceil(limit * self.reserve)

    def pause(self, now: datetime) -> tuple[float | None, str] | None:
        """The wait before the next request, and why; ``None`` for none.

        A wait of ``None`` means the quota is spent with no known reset: the
        caller stops the source.
        """
        quota = self.quota
        if quota is None:
            return None
        reserve = self.reserve_count()
        usable = quota.remaining - reserve
        left = (
            (quota.reset_at - now).total_seconds()
            if quota.reset_at is not None
            else None
        )
        if left is not None and left <= 0:
            # The window has reset since the last answer: nothing is known.
            self.quota = None
            return None
        state = f"{quota.remaining} of {quota.limit or '?'} requests left"
        if usable <= 0:
            if left is None:
                return None, f"{state}, at the reserve of {reserve}"
            return left + _RESET_MARGIN, f"{state}, at the reserve of {reserve}"
        if (
            quota.limit
            and left is not None
            and quota.remaining < quota.limit * self.slow_below
        ):
            return left / usable, f"{state}, pacing until the reset"
        return None

    def spend(self) -> None:
        """Count one request against the known quota until the next answer."""
        if self.quota is not None and self.quota.remaining > 0:
            self.quota = attrs.evolve(self.quota, remaining=self.quota.remaining - 1)

    def __repr__(self) -> str:
        return f"RateBudget(reserve={self.reserve}, quota={self.quota})"
