"""headway connector for Salesforce: opportunities, cases and activities.

Registers the ``salesforce`` connector and the measure functions of
:mod:`headway_salesforce.measures` (win rate, won revenue, sales cycle,
case resolution, activity counts). ``docs/connectors/salesforce.md`` is
the user's guide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headway_sdk import hookimpl

from . import measures
from .config import SalesforceConfig
from .connector import SalesforceConnector

__all__ = [
    "SalesforceConfig",
    "SalesforceConnector",
    "register_connectors",
    "register_measures",
]


@hookimpl
def register_connectors(register: Callable[..., Any]) -> None:
    """Register the ``salesforce`` connector."""
    register(
        "salesforce",
        SalesforceConnector.build,
        description="Salesforce opportunities, cases, tasks and events",
    )


@hookimpl
def register_measures(register: Callable[..., Any]) -> None:
    """Register the Salesforce measure functions."""
    for name, function, description, kind in measures.MEASURES:
        register(name, function, description=description, kind=kind)
