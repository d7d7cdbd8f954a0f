"""Credentials for the HTTP client: basic, bearer, API-key header and OAuth2.

Each class adds its header to every request and keeps its secrets out of
``repr`` and logs: every value it sends (a token, the base64 text of a basic
header, an access token a token endpoint returned) is registered with
headway's redactor, so even a service that echoes a request back cannot put
it in a log line or the store.

The OAuth2 flows fetch an access token when they have none or it expired,
and the client asks them to refresh once when the service answers 401.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from headway.secrets import Secret, register_secret, reveal

from .errors import AuthError, HttpError

if TYPE_CHECKING:
    from .http import HttpClient


# Refresh a little before the announced expiry, so a request in flight does
# not meet a token that died on the way.
_EXPIRY_MARGIN = timedelta(seconds=60)


def _expiry(expires_in: Any, now: datetime) -> datetime | None:
    """When a token with ``expires_in`` seconds to live dies, if that is said."""
    if isinstance(expires_in, bool):
        return None
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return None
    return now + timedelta(seconds=seconds) if seconds > 0 else None


def _secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


class Auth:
    """Base of the client's credentials: adds headers, may refresh.

    Subclasses override :meth:`apply`, and :meth:`refresh` when
    :attr:`can_refresh` is true.
    """

    #: Whether :meth:`refresh` can get new credentials after a 401.
    can_refresh: bool = False

    def apply(self, headers: dict[str, str], client: HttpClient) -> None:
        """Add the credentials to a request's headers."""

    def refresh(self, client: HttpClient) -> None:
        """Get new credentials after the service refused the current ones.

        :raises AuthError: when they cannot be renewed.
        """
        raise AuthError("these credentials cannot be refreshed")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BasicAuth(Auth):
    """HTTP basic authentication (Jira Cloud: e-mail and API token).

    :param username: the user name or e-mail, sent in the clear part.
    :param password: the password or API token.
    """

    def __init__(self, username: str, password: str | Secret):
        self.username = str(username)
        self._password = _secret(password)
        pair = f"{self.username}:{self._password.reveal()}".encode()
        encoded = base64.b64encode(pair).decode("ascii")
        # The header's base64 hides the token from a plain-text search: mask
        # that form too, in case a service echoes the header back.
        register_secret(encoded)
        self._header = Secret(f"Basic {encoded}")

    def apply(self, headers: dict[str, str], client: HttpClient) -> None:
        """Set ``Authorization: Basic ...``."""
        headers["Authorization"] = self._header.reveal()

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=***)"


class BearerAuth(Auth):
    """A bearer token: a personal access token or an OAuth access token.

    :param token: the token.
    """

    def __init__(self, token: str | Secret):
        self._token = _secret(token)

    def apply(self, headers: dict[str, str], client: HttpClient) -> None:
        """Set ``Authorization: Bearer ...``."""
        headers["Authorization"] = f"Bearer {self._token.reveal()}"

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


class HeaderAuth(Auth):
    """An API key sent in a header of the service's choosing.

    :param name: the header (``X-API-Key``).
    :param value: the key.
    """

    def __init__(self, name: str, value: str | Secret):
        self.name = name
        self._value = _secret(value)

    def apply(self, headers: dict[str, str], client: HttpClient) -> None:
        """Set the header."""
        headers[self.name] = self._value.reveal()

    def __repr__(self) -> str:
        return f"HeaderAuth(name={self.name!r}, value=***)"


class OAuth2(Auth):
    """What both OAuth2 flows share: a token endpoint and an access token.

    :param token_url: the token endpoint.
    :param client_id: the OAuth client's id.
    :param client_secret: the OAuth client's secret.
    :param scope: scopes to ask for, space-separated, if the service wants them.
    :param access_token: a token to start with (fetched when absent).
    :param client_auth: send the client's credentials in the ``body`` of the
        token request (the default, which Google and Salesforce take) or as
        ``basic`` authentication.
    :param on_token: called with the token endpoint's answer (without the
        tokens), e.g. to read Salesforce's ``instance_url``.
    """

    can_refresh = True
    grant_type = ""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | Secret,
        *,
        scope: str | None = None,
        access_token: str | Secret | None = None,
        client_auth: str = "body",
        on_token: Callable[[Mapping[str, Any]], None] | None = None,
    ):
        if client_auth not in ("body", "basic"):
            raise ValueError("client_auth must be 'body' or 'basic'")
        self.token_url = token_url
        self.client_id = str(reveal(client_id))
        self._client_secret = _secret(client_secret)
        self.scope = scope
        self.client_auth = client_auth
        self.on_token = on_token
        self._access: Secret | None = _secret(access_token) if access_token else None
        self.expires_at: datetime | None = None
        #: The token endpoint's latest answer, tokens removed.
        self.token_data: dict[str, Any] = {}

    def apply(self, headers: dict[str, str], client: HttpClient) -> None:
        """Set the bearer header, fetching a token first if needed."""
        expired = self.expires_at is not None and (
            client.clock.now() >= self.expires_at - _EXPIRY_MARGIN
        )
        if self._access is None or expired:
            self.refresh(client)
        assert self._access is not None
        headers["Authorization"] = f"Bearer {self._access.reveal()}"

    def grant(self) -> dict[str, str]:
        """The form fields of this flow's token request (without client auth)."""
        return {"grant_type": self.grant_type}

    def refresh(self, client: HttpClient) -> None:
        """Ask the token endpoint for a new access token.

        :raises AuthError: the endpoint refused, saying what to renew.
        """
        from .http import Request

        form = self.grant()
        if self.scope:
            form["scope"] = self.scope
        headers: dict[str, str] = {}
        if self.client_auth == "basic":
            BasicAuth(self.client_id, self._client_secret).apply(headers, client)
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self._client_secret.reveal()
        request = Request(
            "POST", self.token_url, data=form, headers=headers, authenticate=False
        )
        try:
            data = client.send(request).data
        except HttpError as error:
            raise AuthError(
                f"the token endpoint {client.describe_url(self.token_url)} refused "
                f"to issue an access token ({error.detail or error.status}); "
                f"{self.renew_hint}",
                status=error.status,
                url=error.url,
                detail=error.detail,
                code=error.code,
            ) from None
        token = data.get("access_token") if isinstance(data, Mapping) else None
        if not token:
            raise AuthError(
                f"the token endpoint {client.describe_url(self.token_url)} answered "
                "without an access_token",
            )
        self._access = Secret(str(token))
        if data.get("refresh_token"):
            self._rotated(str(data["refresh_token"]))
        self.expires_at = _expiry(data.get("expires_in"), client.clock.now())
        self.token_data = {
            k: v for k, v in data.items() if k not in ("access_token", "refresh_token")
        }
        client.log.info(
            "got a new access token from %s", client.describe_url(self.token_url)
        )
        if self.on_token is not None:
            self.on_token(self.token_data)

    def _rotated(self, token: str) -> None:
        register_secret(token)

    renew_hint = "check the client id and secret"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, secrets=***)"
        )


class OAuth2RefreshToken(OAuth2):
    """The refresh-token flow: a long-lived refresh token buys access tokens.

    Takes :class:`OAuth2`'s parameters, plus:

    :param refresh_token: the refresh token the user authorised once.
    """

    grant_type = "refresh_token"
    renew_hint = (
        "the refresh token may be expired or revoked: authorise again to get a new "
        "one, and check the client id and secret"
    )

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | Secret,
        refresh_token: str | Secret,
        **options: Any,
    ):
        super().__init__(token_url, client_id, client_secret, **options)
        self._refresh_token = _secret(refresh_token)

    def grant(self) -> dict[str, str]:
        """``grant_type=refresh_token`` with the refresh token."""
        return {
            "grant_type": self.grant_type,
            "refresh_token": self._refresh_token.reveal(),
        }

    def _rotated(self, token: str) -> None:
        # Some services hand out a new refresh token with each access token.
        self._refresh_token = Secret(token)


class OAuth2ClientCredentials(OAuth2):
    """The client-credentials flow: the client's own id and secret buy tokens."""

    grant_type = "client_credentials"
