"""headway connector for Google Calendar: meetings as effort, counted once.

Registers the ``gcal`` connector and its measure functions through
headway's hooks; ``docs/connectors/gcal.md`` is the user's reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headway_sdk import hookimpl

from .config import GcalConfig
from .connector import GcalConnector
from .measures import (
    MEASURES,
    focus_hours_per_person_week,
    meeting_hours,
    meeting_hours_per_person_week,
    recurring_meeting_share,
)


@hookimpl
def register_connectors(register: Callable[..., Any]) -> None:
    """Register the ``gcal`` connector."""
    register(
        "gcal",
        GcalConnector.build,
        description="Google Calendar: meetings, counted once across calendars",
    )


@hookimpl
def register_measures(register: Callable[..., Any]) -> None:
    """Register the meeting measures (``gcal.meeting_hours_per_person_week``, ...)."""
    for name, function, description in MEASURES:
        register(name, function, description=description)


__all__ = [
    "GcalConfig",
    "GcalConnector",
    "focus_hours_per_person_week",
    "meeting_hours",
    "meeting_hours_per_person_week",
    "recurring_meeting_share",
    "register_connectors",
    "register_measures",
]
