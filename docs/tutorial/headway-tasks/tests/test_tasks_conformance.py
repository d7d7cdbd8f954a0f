"""The SDK's conformance suite, one test per check, against the fake API."""

from headway_sdk.testing import conformance_suite

from tasks_fake import harness

test_conformance = conformance_suite(harness)
