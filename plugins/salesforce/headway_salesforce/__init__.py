"""headway connector for Salesforce: opportunities, cases and activities.

Registers the ``salesforce`` connector.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headway_sdk import hookimpl

from .config import SalesforceConfig
from .connector import SalesforceConnector

__all__ = [
    "SalesforceConfig",
    "SalesforceConnector",
    "register_connectors",
]


@hookimpl
def register_connectors(register: Callable[..., Any]) -> None:
    """Register the ``salesforce`` connector."""
    register(
        "salesforce",
        SalesforceConnector.build,
        description="Salesforce opportunities, cases, tasks and events",
    )

