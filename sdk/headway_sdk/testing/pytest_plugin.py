"""The SDK's pytest plugin (entry point ``pytest11``): ``fake_api`` and ``clock``.

Installed with ``headway-sdk``, so any test session has these fixtures:

- ``fake_api``: a started :class:`~headway_sdk.testing.FakeApi`; after the
  test it is stopped and verified (a scripted answer never used, or a
  request that matched no route, fails the test).
- ``clock``: a :class:`~headway_sdk.clock.FakeClock` installed as the SDK's
  default clock for the test, so waits are recorded, not slept.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("headway_sdk.testing.conformance")

from ..clock import FakeClock, set_clock  # noqa: E402
from .fake import FakeApi  # noqa: E402


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A scripted HTTP server on loopback, verified after the test."""
    api = FakeApi().start()
    try:
        yield api
    finally:
        api.stop()
    problems = api.problems()
    if problems:
        pytest.fail("the fake API saw problems:\n  " + "\n  ".join(problems))


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A fake clock, the SDK's default for the test."""
    fake = FakeClock()
    previous = set_clock(fake)
    try:
        yield fake
    finally:
        set_clock(previous)
