"""Time, made replaceable: the SDK asks a clock instead of the ``time`` module.

Every wait the SDK makes (a ``Retry-After``, a backoff, a rate budget's pause)
and every "now" it reads (a watermark's run start, an HTTP date's distance)
goes through a :class:`Clock`. Production code uses :class:`SystemClock`;
tests install a :class:`FakeClock` (the ``clock`` fixture of the pytest kit
does it) so that waits are asserted, not slept.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the SDK needs to know about time."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds``; return early, with ``True``, once ``stop`` is set."""


class SystemClock:
    """The real clock: :func:`time.time`, :func:`time.monotonic`, real waits."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Sleep, waking early when ``stop`` is set (a cancelled sync)."""
        if seconds <= 0:
            return bool(stop and stop.is_set())
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to, or when something sleeps.

    ``sleep`` returns at once and advances the clock, and every wait is kept
    in :attr:`sleeps` so a test can assert it::

        clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
        client = HttpClient("http://127.0.0.1:8000", clock=clock)
        ...
        assert clock.sleeps == [7.0]

    :param start: the time the clock shows first (aware; default
        2026-03-02 12:00 UTC).
    """

    def __init__(self, start: datetime | None = None):
        start = start or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("a FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._monotonic = 1000.0
        self._lock = threading.Lock()
        #: Every wait asked of the clock, in seconds, in order.
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        """The time the clock shows."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds since an arbitrary point, moving with :meth:`advance`."""
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Record the wait and move the clock on by it; never blocks."""
        seconds = max(0.0, float(seconds))
        with self._lock:
            self.sleeps.append(seconds)
        self.advance(seconds)
        return bool(stop and stop.is_set())

    def advance(self, seconds: float | timedelta) -> None:
        """Move the clock forward by ``seconds`` (or a timedelta)."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware); the monotonic clock moves by the same span."""
        if when.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware time")
        with self._lock:
            delta = (when - self._now).total_seconds()
            self._now = when.astimezone(UTC)
            self._monotonic += max(0.0, delta)

    @property
    def waited(self) -> float:
        """The total of every wait so far, in seconds."""
        with self._lock:
            return sum(self.sleeps)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"


_current: Clock = SystemClock()


def get_clock() -> Clock:
    """The clock SDK objects use when none is passed to them."""
    return _current


def set_clock(clock: Clock) -> Clock:
    """Make ``clock`` the default for SDK objects built from now on.

    :returns: the clock it replaces, so a test can put it back.
    """
    global _current
    previous, _current = _current, clock
    return previous
