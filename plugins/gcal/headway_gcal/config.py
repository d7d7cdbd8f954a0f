"""The ``[sources.NAME]`` table of the Google Calendar connector."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from headway_sdk import HttpSettings, Secret, http_url, option

#: The Calendar API's root; event listings are under ``/calendars/ID/events``.
DEFAULT_API_URL = "https://www.googleapis.com/calendar/v3"
#: Google's OAuth 2.0 token endpoint.
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
#: The largest page ``events.list`` serves (its ``maxResults`` limit).
MAX_PAGE_SIZE = 2500

_REFRESH_KEYS = ("client_id", "client_secret", "refresh_token")


@attrs.frozen
class GcalConfig(HttpSettings):
    """Settings of a ``plugin = "gcal"`` source (docs/connectors/gcal.md).

    Credentials are either ``token`` (an OAuth access token, used as it is),
    or ``client_id``, ``client_secret`` and ``refresh_token`` (the
    refresh-token flow, which renews the access token when it expires); with
    both, ``token`` is the first access token and the flow renews it.
    """

    calendars: tuple[str, ...] = option(
        help='the calendar ids to read, such as ["alice@acme.com", "bob@acme.com"]'
    )
    token: Secret | None = option(
        default=None, help="an OAuth access token, as ${GCAL_ACCESS_TOKEN}"
    )
    client_id: str | None = option(
        default=None, help="the OAuth client's id, as ${GCAL_CLIENT_ID}"
    )
    client_secret: Secret | None = option(
        default=None, help="the OAuth client's secret, as ${GCAL_CLIENT_SECRET}"
    )
    refresh_token: Secret | None = option(
        default=None, help="a refresh token for the client, as ${GCAL_REFRESH_TOKEN}"
    )
    api_url: str = option(
        default=DEFAULT_API_URL, validator=http_url, help="the Calendar API's root URL"
    )
    token_url: str = option(
        default=DEFAULT_TOKEN_URL,
        validator=http_url,
        help="the OAuth token endpoint",
    )
    start: datetime | None = option(
        default=None,
        help="how far back the first sync reaches, such as 2026-10-01",
    )
    page_size: int = option(
        default=MAX_PAGE_SIZE, help=f"events per page, 1 to {MAX_PAGE_SIZE}"
    )

    @property
    def refreshes(self) -> bool:
        """Whether the refresh-token flow is configured."""
        return self.refresh_token is not None

    def validate(self) -> Iterable[tuple[str, str]]:
        """Calendars, credentials and page size, beyond what the types check."""
        yield from super().validate()
        if not self.calendars:
            yield "calendars", 'list at least one calendar id, such as "alice@acme.com"'
        seen: set[str] = set()
        for index, calendar in enumerate(self.calendars):
            if not calendar.strip():
                yield f"calendars[{index}]", "must be a calendar id, not empty"
            elif calendar.lower() in seen:
                yield f"calendars[{index}]", f"{calendar!r} is listed twice"
            seen.add(calendar.lower())
        given = [key for key in _REFRESH_KEYS if getattr(self, key)]
        if given and len(given) < len(_REFRESH_KEYS):
            for key in _REFRESH_KEYS:
                if key not in given:
                    yield (
                        key,
                        (
                            "required with "
                            + " and ".join(given)
                            + ": the refresh-token flow needs client_id, client_secret "
                            "and refresh_token"
                        ),
                    )
        elif not given and not self.token:
            yield (
                "token",
                (
                    "required: an OAuth access token (${GCAL_ACCESS_TOKEN}), or "
                    "client_id, client_secret and refresh_token for the refresh-token "
                    "flow"
                ),
            )
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            yield "page_size", f"must be between 1 and {MAX_PAGE_SIZE}"
