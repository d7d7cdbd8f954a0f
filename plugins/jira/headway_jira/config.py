"""The ``[sources.NAME]`` table of a Jira source, checked all at once.

Jira Cloud takes basic auth with the account's e-mail and an API token;
Data Center takes a personal access token (``pat``) as a bearer token and
is read through the older ``/rest/api/2`` search. Which one a source is
follows from the keys given: ``pat`` means Data Center.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from datetime import date, timedelta

import attrs

from headway_sdk import HttpSettings, Secret, http_url, option

#: JQL dates have minute precision, are read in the user's zone, and the
#: search index lags behind writes: a shorter overlap could skip issues.
MIN_LOOKBACK = timedelta(minutes=10)

#: Resolutions that close an issue without the work being delivered. Jira
#: Cloud ships "Won't Do", "Duplicate" and "Cannot Reproduce"; Data Center
#: adds "Won't Fix" and "Incomplete"; "Declined" is common on service desks.
DEFAULT_CANCELLED = (
    "Won't Do",
    "Won't Fix",
    "Duplicate",
    "Cannot Reproduce",
    "Incomplete",
    "Declined",
)

# An ORDER BY outside quoted text: headway orders the search itself.
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"must be 0 or more, got {value!r}")


@attrs.frozen
class JiraConfig(HttpSettings):
    """The settings of one Jira source (docs/connectors/jira.md lists them)."""

    url: str = option(
        validator=http_url, help="the site root, such as https://acme.atlassian.net"
    )
    jql: str = option(
        help='the JQL that selects the issues, such as "project in (PLAT, WEB)"'
    )
    email: str | None = option(
        default=None,
        help="Cloud: the e-mail of the account the API token belongs to",
    )
    token: Secret | None = option(
        default=None, help="Cloud: an API token, as ${JIRA_API_TOKEN}"
    )
    pat: Secret | None = option(
        default=None, help="Data Center: a personal access token, as ${JIRA_PAT}"
    )
    story_points_field: str | None = option(
        default=None,
        help="the story points field's id (customfield_NNNNN); found by name "
        "through the field list when absent",
    )
    epic_link_field: str | None = option(
        default=None,
        help="the Epic Link field's id on sites that still have one; found "
        "through the field list when absent",
    )
    hours_per_point: float = option(
        default=4.0,
        validator=_non_negative,
        help="hours of effort per story point, when no time was logged",
    )
    default_hours: float = option(
        default=1.0,
        validator=_non_negative,
        help="hours of effort of an issue with neither time logged nor points",
    )
    teams: dict[str, str] = option(
        factory=dict, help='project key to team, such as { PLAT = "platform" }'
    )
    start: date | None = option(
        default=None,
        help="how far back the first sync reaches: issues updated on or after "
        "this date (in the account's time zone); default, all of them",
    )
    lookback: timedelta = option(
        default=MIN_LOOKBACK,
        help="how much before the last sync each sync reads again (at least 10m)",
    )
    page_size: int = option(default=100, help="issues asked for per page (1-1000)")
    census_every: timedelta = option(
        default=timedelta(days=1),
        help="how often a cheap listing of ids finds deleted issues (0: every sync)",
    )
    changelog: bool = option(
        default=True,
        help="read status changes to know when work on an issue started",
    )
    cancelled_resolutions: tuple[str, ...] = option(
        default=DEFAULT_CANCELLED,
        help="resolutions that make a done issue cancelled",
    )
    time_zone: str | None = option(
        default=None,
        help="the zone JQL dates are read in (default: the account's, from Jira)",
    )

    @property
    def cloud(self) -> bool:
        """Whether the site is Jira Cloud (basic auth, ``/rest/api/3``)."""
        return self.pat is None

    def validate(self) -> Iterable[tuple[str, str]]:
        """Problems that involve several keys, or values the types allow."""
        yield from super().validate()
        if self.pat is not None:
            if self.token is not None:
                yield (
                    "pat",
                    "set either pat (Data Center) or email and token (Cloud), not both",
                )
            elif self.email is not None:
                yield (
                    "email",
                    "is only used with token (Jira Cloud); a Data Center pat "
                    "needs no e-mail",
                )
        elif self.token is None:
            yield (
                "token",
                "required: an API token, as ${JIRA_API_TOKEN}, with email "
                "(Jira Cloud); or set pat instead (Data Center)",
            )
        elif not self.email:
            yield (
                "email",
                "required with token: the e-mail of the account the API token "
                "belongs to",
            )
        if not self.jql.strip():
            yield "jql", 'must select some issues, such as "project = PLAT"'
        elif _ORDER_BY.search(_QUOTED.sub('""', self.jql)):
            yield (
                "jql",
                "must not have an ORDER BY clause: headway orders the search by "
                "update time itself; remove it",
            )
        if self.lookback < MIN_LOOKBACK:
            yield (
                "lookback",
                "must be at least 10m: JQL dates have minute precision and "
                "search lags behind edits",
            )
        if not 1 <= self.page_size <= 1000:
            yield "page_size", f"must be between 1 and 1000, got {self.page_size}"
        if self.time_zone is not None:
            try:
                zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                yield (
                    "time_zone",
                    f"unknown time zone {self.time_zone!r}; use a name such as "
                    "Europe/Berlin",
                )
