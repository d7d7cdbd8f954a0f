"""The SDK's conformance suite, run on the Salesforce connector."""

from __future__ import annotations

from headway_sdk.testing import conformance_suite

from .harness import harness

test_conformance = conformance_suite(harness)
