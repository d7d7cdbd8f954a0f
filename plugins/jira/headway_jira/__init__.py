"""headway connector for Jira Cloud and Data Center.

Registers the ``jira`` connector (see :class:`~headway_jira.connector.JiraConnector`)
and the measure functions ``jira.cycle_time``, ``jira.lead_time`` and
``jira.throughput``. ``docs/connectors/jira.md`` is the user's guide.
"""

from __future__ import annotations

from collections.abc import Callable

from headway_sdk import hookimpl

from .config import JiraConfig
from .connector import CensusStream, IssuesStream, JiraConnector, JiraError, Site
from .mapping import IssueMapper, jira_time
from .measures import MEASURES, cycle_time, lead_time, throughput

__all__ = [
    "CensusStream",
    "IssueMapper",
    "IssuesStream",
    "JiraConfig",
    "JiraConnector",
    "JiraError",
    "Site",
    "cycle_time",
    "jira_time",
    "lead_time",
    "register_connectors",
    "register_measures",
    "throughput",
]


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    """Register the ``jira`` connector."""
    register(
        "jira",
        JiraConnector.build,
        description="Jira Cloud (API token) and Data Center (personal access token)",
    )


@hookimpl
def register_measures(register: Callable[..., None]) -> None:
    """Register cycle time, lead time and throughput of Jira issues."""
    for name, function, description, kind in MEASURES:
        register(name, function, description=description, kind=kind)
