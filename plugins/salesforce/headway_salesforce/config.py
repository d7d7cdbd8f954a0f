"""The ``[sources.NAME]`` table of a Salesforce source, checked all at once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import attrs

from headway_sdk import HttpSettings, Secret, http_url, option

#: The objects this connector reads, in the order it reads them.
OBJECTS = ("Opportunity", "Case", "Task", "Event")

#: The kinds of activity items, and the hours one counts when Salesforce
#: gives no duration (a logged e-mail, a task without a call length).
DEFAULT_EFFORT = {"call": 0.25, "email": 0.1, "task": 0.5, "meeting": 0.5}

ObjectName = Literal["Opportunity", "Case", "Task", "Event"]

# Salesforce's API versions read "62.0"; the fields headway reads on Task
# (CompletedDateTime) need 45.0 or later.
_VERSION = re.compile(r"^(\d{2,3})\.(\d)$")
_MIN_VERSION = 45.0
# A field path in SOQL: an API name, or a relationship path (Account.Industry).
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_OAUTH_KEYS = ("client_id", "client_secret", "refresh_token")
# The batch sizes Salesforce accepts in Sforce-Query-Options.
_MIN_PAGE, _MAX_PAGE = 200, 2000
# The query asks for SystemModstamp *after* the watermark minus the lookback,
# to the second: without a second of overlap, records stamped in the same
# second as the last stored one (a bulk update stamps hundreds alike) that
# had not been stored when a sync stopped would be skipped by the next.
_MIN_LOOKBACK = timedelta(seconds=1)


@attrs.frozen
class SalesforceConfig(HttpSettings):
    """The settings of a Salesforce source (see docs/connectors/salesforce.md)."""

    # Required, but checked in validate() so that a table missing both the
    # URL and the credentials hears about both at once.
    instance_url: str | None = option(
        default=None,
        validator=http_url,
        help="the org's root URL, such as https://acme.my.salesforce.com",
    )
    token: Secret | None = option(
        default=None,
        help="an access token, as ${SF_ACCESS_TOKEN} (or the three OAuth keys)",
    )
    client_id: str | None = option(
        default=None, help="the connected app's consumer key, for OAuth"
    )
    client_secret: Secret | None = option(
        default=None, help="the connected app's consumer secret, for OAuth"
    )
    refresh_token: Secret | None = option(
        default=None, help="a refresh token the integration user authorised"
    )
    login_url: str = option(
        default="https://login.salesforce.com",
        validator=http_url,
        help="where tokens come from (https://test.salesforce.com for sandboxes)",
    )
    api_version: str = option(default="62.0", help="the REST API version, as 62.0")
    objects: tuple[ObjectName, ...] = option(
        default=OBJECTS, help="the objects to read: Opportunity, Case, Task, Event"
    )
    teams: dict[str, str] = option(
        factory=dict, help="owner e-mail to team, for owners [teams] does not list"
    )
    start: datetime | None = option(
        default=None, help="read records changed since then (default: all)"
    )
    fields: dict[str, tuple[str, ...]] = option(
        factory=dict,
        help="extra fields to read per object, kept in attributes by API name",
    )
    where: dict[str, str] = option(
        factory=dict, help="a SOQL condition per object, ANDed to every query"
    )
    page_size: int = option(
        default=2000, help="records per batch (Salesforce takes 200 to 2000)"
    )
    lookback: timedelta = option(
        default=timedelta(minutes=10),
        help="how far before the saved watermark each sync reads again",
    )
    quota_reserve: float = option(
        default=0.1,
        help="the share (below 1) or count of the daily API quota left untouched",
    )
    default_effort: dict[str, float] = option(
        factory=dict,
        help="hours of a call, email, task or meeting without a duration",
    )
    workday_hours: float = option(
        default=8.0, help="hours one day of an all-day event counts"
    )

    # ------------------------------------------------------------ derived

    @property
    def oauth(self) -> bool:
        """Whether the OAuth keys are set, so an expired token can be refreshed."""
        return bool(self.client_id and self.client_secret and self.refresh_token)

    @property
    def root(self) -> str:
        """The instance URL without a trailing slash."""
        return (self.instance_url or "").rstrip("/")

    def effort_of(self, kind: str) -> float:
        """The hours an activity of ``kind`` counts when it has no duration."""
        return self.default_effort.get(kind, DEFAULT_EFFORT[kind])

    # ------------------------------------------------------------ checks

    def validate(self) -> Iterable[tuple[str, str]]:
        """Problems that involve several keys, or values types cannot say."""
        yield from super().validate()
        yield from self._validate_auth()
        if not self.instance_url:
            yield (
                "instance_url",
                "required: the org's root URL, such as https://acme.my.salesforce.com",
            )
        elif urlsplit(self.instance_url).path.strip("/"):
            yield (
                "instance_url",
                f"must be the org's root URL only, without a path, got "
                f"{self.instance_url!r}",
            )
        match = _VERSION.match(self.api_version)
        if not match:
            yield (
                "api_version",
                f"must be a version such as 62.0, got {self.api_version!r}",
            )
        elif float(self.api_version) < _MIN_VERSION:
            yield (
                "api_version",
                f"must be {_MIN_VERSION} or later (the Task fields headway reads need "
                f"it), got {self.api_version}",
            )
        yield from self._validate_objects()
        if not _MIN_PAGE <= self.page_size <= _MAX_PAGE:
            yield (
                "page_size",
                f"must be between {_MIN_PAGE} and {_MAX_PAGE} (the batch sizes "
                f"Salesforce accepts), got {self.page_size}",
            )
        if self.quota_reserve < 0:
            yield "quota_reserve", "must be 0 or more"
        elif self.quota_reserve >= 1 and not float(self.quota_reserve).is_integer():
            yield (
                "quota_reserve",
                f"must be a share below 1 (0.1 is 10 %) or a whole number of "
                f"requests, got {self.quota_reserve}",
            )
        if self.lookback < _MIN_LOOKBACK:
            yield (
                "lookback",
                "must be at least 1s: records changed in the same second as the "
                "saved watermark would otherwise be skipped",
            )
        for kind, hours in self.default_effort.items():
            if kind not in DEFAULT_EFFORT:
                yield (
                    f"default_effort.{kind}",
                    f"unknown activity kind; known: {', '.join(DEFAULT_EFFORT)}",
                )
            elif hours < 0:
                yield f"default_effort.{kind}", "must be 0 or more hours"
        if not 0 < self.workday_hours <= 24:
            yield "workday_hours", "must be more than 0 and at most 24"

    def _validate_auth(self) -> Iterable[tuple[str, str]]:
        given = [key for key in _OAUTH_KEYS if getattr(self, key)]
        if not self.token and not given:
            yield (
                "token",
                "required: an access token, as ${SF_ACCESS_TOKEN}, or client_id, "
                "client_secret and refresh_token for OAuth",
            )
        elif given and len(given) < len(_OAUTH_KEYS):
            for key in _OAUTH_KEYS:
                if key not in given:
                    yield (
                        key,
                        "required with the other OAuth keys ("
                        + ", ".join(given)
                        + "): all three are needed to refresh the access token",
                    )

    def _validate_objects(self) -> Iterable[tuple[str, str]]:
        if not self.objects:
            yield "objects", f"list at least one of {', '.join(OBJECTS)}"
        seen: set[str] = set()
        for index, name in enumerate(self.objects):
            if name in seen:
                yield f"objects[{index}]", f"{name} is listed twice"
            seen.add(name)
        for table in ("fields", "where"):
            for name in getattr(self, table):
                if name not in OBJECTS:
                    yield (
                        f"{table}.{name}",
                        f"unknown object; known: {', '.join(OBJECTS)}",
                    )
                elif name not in self.objects:
                    yield (
                        f"{table}.{name}",
                        f"{name} is not in objects, so this is never used",
                    )
        for name, names in self.fields.items():
            for index, field in enumerate(names):
                if not _FIELD.match(field):
                    yield (
                        f"fields.{name}[{index}]",
                        f"must be a field's API name, such as Region__c or "
                        f"Account.Industry, got {field!r}",
                    )
        for name, condition in self.where.items():
            if not condition.strip():
                yield f"where.{name}", "must be a SOQL condition, got an empty text"
