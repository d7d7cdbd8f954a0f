"""The ``[sources.NAME]`` table of a GitHub source, checked all at once.

::

    [sources.github]
    plugin = "github"
    token = "${GITHUB_TOKEN}"
    repos = ["acme/web", "acme/infra"]      # or: org = "acme"
    teams = { "acme/web" = "web" }
    start = 2026-01-01

Every key is described in ``docs/connectors/github.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import attrs

from headway.config import toml_key
from headway.errors import Problem
from headway.model import Team
from headway_sdk import HttpSettings, Secret, http_url, option

#: GitHub's public API; an Enterprise Server answers at https://HOST/api/v3.
DEFAULT_API_URL = "https://api.github.com"

# GitHub allows letters, digits, "-", "_" and "." in owner and repository
# names; anything else in a setting is a typo.
_NAME = r"[A-Za-z0-9_.-]+"
_REPOSITORY = re.compile(rf"^{_NAME}/{_NAME}$")
_OWNER = re.compile(rf"^{_NAME}$")
_MAX_PAGE_SIZE = 100


@attrs.frozen
class GitHubConfig(HttpSettings):
    """The settings of a GitHub or GitHub Enterprise source."""

    token: Secret = option(
        help="a GitHub token, as ${GITHUB_TOKEN} (see docs/connectors/github.md "
        "for the scopes it needs)"
    )
    repos: tuple[str, ...] = option(
        default=(), help='the repositories to read, as ["owner/name", ...]'
    )
    org: str | None = option(
        default=None, help="an organisation whose every repository is read"
    )
    exclude: tuple[str, ...] = option(
        default=(),
        help='with org: repositories to leave out, as names or patterns ("acme/tmp-*")',
    )
    api_url: str = option(
        default=DEFAULT_API_URL,
        validator=http_url,
        help="the API's root: https://api.github.com, or https://HOST/api/v3",
    )
    teams: dict[str, str] = option(
        factory=dict, help='repository to team, as { "owner/name" = "team" }'
    )
    hours_per_pull_request: float = option(
        default=4.0, help="effort, in hours, of a merged or open pull request"
    )
    hours_per_issue: float = option(
        default=0.0, help="effort, in hours, of an issue that is not cancelled"
    )
    start: datetime | None = option(
        default=None, help="how far back the first sync reaches, as 2026-01-01"
    )
    lookback: timedelta = option(
        default=timedelta(minutes=10),
        help='how much before the last sync each sync re-reads, as "10m"',
    )
    page_size: int = option(default=100, help="items per request, 1 to 100")
    rate_reserve: float = option(
        default=0.05,
        help="the share of the hourly rate limit left for other tools (or a count)",
    )

    def validate(self) -> Iterable[tuple[str, str]]:
        """Cross-field checks: repos or org, names, teams, numbers."""
        yield from super().validate()
        if not self.repos and not self.org:
            yield (
                "repos",
                'required: give repos = ["owner/name", ...], or org = "NAME" to '
                "read every repository of an organisation",
            )
        if self.repos and self.org:
            yield "org", "give either repos or org, not both"
        yield from self._check_repos()
        if self.org is not None and not _OWNER.match(self.org):
            yield (
                "org",
                f"must be an organisation's login such as acme, got {self.org!r}",
            )
        if self.exclude and not self.org:
            yield "exclude", "is only used with org"
        yield from self._check_teams()
        host = (urlsplit(self.api_url).hostname or "").lower()
        if host in ("github.com", "www.github.com"):
            yield "api_url", f"is the web site; GitHub's API is {DEFAULT_API_URL}"
        for key in ("hours_per_pull_request", "hours_per_issue"):
            if getattr(self, key) < 0:
                yield key, "must be 0 or more hours"
        if not 1 <= self.page_size <= _MAX_PAGE_SIZE:
            yield "page_size", f"must be between 1 and {_MAX_PAGE_SIZE}"
        if self.lookback < timedelta(0):
            yield "lookback", "must be 0 or more"
        if self.rate_reserve < 0:
            yield "rate_reserve", "must be 0 or more"

    def _check_repos(self) -> Iterable[tuple[str, str]]:
        seen: set[str] = set()
        for index, name in enumerate(self.repos):
            if not _REPOSITORY.match(name):
                yield (
                    f"repos[{index}]",
                    f"must be owner/name such as acme/web, got {name!r}",
                )
            elif name.lower() in seen:
                yield f"repos[{index}]", f"{name!r} is listed twice"
            seen.add(name.lower())

    def _check_teams(self) -> Iterable[tuple[str, str]]:
        known = {name.lower() for name in self.repos}
        for name, team in self.teams.items():
            where = f"teams.{toml_key(name)}"
            if not _REPOSITORY.match(name):
                yield where, f"must be a repository as owner/name, got {name!r}"
            elif self.repos and name.lower() not in known:
                yield where, f"{name!r} is not one of repos"
            elif self.org and name.split("/")[0].lower() != self.org.lower():
                yield where, f"{name!r} is not a repository of the org {self.org!r}"
            if not team.strip():
                yield where, "must name a team"

    def team_problems(self, teams: Sequence[Team], path: str) -> list[Problem]:
        """Problems of ``teams`` values that name no team of the scorecard.

        Only checked when the scorecard defines teams at all.
        """
        keys = [team.key for team in teams]
        if not keys:
            return []
        return [
            Problem(
                f"{path}.teams.{toml_key(name)}",
                f"unknown team {team!r}; teams: {', '.join(keys)}",
            )
            for name, team in self.teams.items()
            if team not in keys
        ]


def lowered(names: Mapping[str, str]) -> dict[str, str]:
    """A table keyed by lower-cased repository names.

    GitHub's names are case-insensitive: ``Acme/Web`` is ``acme/web``.
    """
    return {name.lower(): value for name, value in names.items()}
