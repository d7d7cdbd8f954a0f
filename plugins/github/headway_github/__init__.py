"""headway connector for GitHub and GitHub Enterprise.

Registers the ``github`` connector (issues and pull requests of a list of
repositories or of a whole organisation) and two measure functions,
``github.pull_request_lead_time`` and ``github.merged_pull_requests``.
``docs/connectors/github.md`` describes the settings and the mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata as _metadata

from headway_sdk import hookimpl

from .config import GitHubConfig
from .connector import GitHubConnector, Issues
from .mapping import IssueMapper
from .measures import merged_pull_requests, pull_request_lead_time

try:
    __version__ = _metadata.version("headway-github")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    """Register the ``github`` connector."""
    register(
        "github",
        GitHubConnector.build,
        description="issues and pull requests from GitHub or GitHub Enterprise",
    )


@hookimpl
def register_measures(register: Callable[..., None]) -> None:
    """Register the pull-request measures."""
    register(
        "github.pull_request_lead_time",
        pull_request_lead_time,
        description="median hours from opening to merge of pull requests merged "
        "in the period",
    )
    register(
        "github.merged_pull_requests",
        merged_pull_requests,
        description="pull requests merged in the period",
        kind="activity",
    )


__all__ = [
    "GitHubConfig",
    "GitHubConnector",
    "IssueMapper",
    "Issues",
    "merged_pull_requests",
    "pull_request_lead_time",
    "register_connectors",
    "register_measures",
]
