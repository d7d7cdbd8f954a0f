"""The SDK's testing kit: a fake API, a fake clock and the conformance suite.

The ``fake_api`` and ``clock`` fixtures come from the pytest plugin this
package registers (``headway_sdk.testing.pytest_plugin``).
"""

from ..clock import FakeClock
from .conformance import (
    CHECKS,
    Conformance,
    Harness,
    conformance_suite,
    run_source,
    stored_items,
)
from .fake import ANY, FakeApi, FakeResponse, RecordedRequest, Route, http_date

__all__ = [
    "ANY",
    "CHECKS",
    "Conformance",
    "FakeApi",
    "FakeClock",
    "FakeResponse",
    "Harness",
    "RecordedRequest",
    "Route",
    "conformance_suite",
    "http_date",
    "run_source",
    "stored_items",
]
