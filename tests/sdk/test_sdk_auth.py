"""Credentials: headers, OAuth2 flows, refresh once on 401, redaction."""

from __future__ import annotations

import base64

import pytest

from headway.secrets import redact
from headway_sdk import (
    AuthError,
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    HttpClient,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    RetryPolicy,
)
from headway_sdk.testing import FakeApi, FakeResponse

OK = FakeResponse(json={"ok": True})
TOKEN_URL = "/oauth/token"


def client(fake_api: FakeApi, clock, auth) -> HttpClient:
    return HttpClient(fake_api.url, auth=auth, clock=clock, retry=RetryPolicy(jitter=0))


@pytest.mark.parametrize(
    ("auth", "name", "value"),
    [
        pytest.param(
            lambda: BasicAuth("ana@acme.example", "api-token-0001"),
            "authorization",
            "Basic " + base64.b64encode(b"ana@acme.example:api-token-0001").decode(),
            id="basic",
        ),
        pytest.param(
            lambda: BearerAuth("pat-token-0002"),
            "authorization",
            "Bearer pat-token-0002",
            id="bearer",
        ),
        pytest.param(
            lambda: HeaderAuth("X-API-Key", "key-token-0003"),
            "x-api-key",
            "key-token-0003",
            id="header",
        ),
    ],
)
def test_static_credentials_are_sent_and_hidden(fake_api, clock, auth, name, value):
    # Built in the test: the redactor is emptied before each test.
    auth = auth()
    fake_api.add("GET", "/x", OK)
    client(fake_api, clock, auth).get("/x")
    assert fake_api.requests[0].headers[name] == value
    secret_part = value.split()[-1]
    assert secret_part not in repr(auth)
    # The exact header value is masked wherever it might be echoed.
    assert secret_part not in redact(f"echo: {value}")


def _token(access: str, **extra: object) -> FakeResponse:
    return FakeResponse(
        json={
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            **extra,
        }
    )


def test_refresh_token_flow_refreshes_once_on_401(fake_api, clock):
    fake_api.add("POST", TOKEN_URL, _token("access-new-1111"))
    fake_api.add(
        "GET",
        "/x",
        FakeResponse(
            401, json={"error": {"code": 401, "message": "Invalid Credentials"}}
        ),
        OK,
    )
    auth = OAuth2RefreshToken(
        fake_api.url_for(TOKEN_URL),
        "client-id",
        "client-secret-2222",
        "refresh-3333",
        access_token="access-old-0000",
    )
    http = client(fake_api, clock, auth)
    assert http.get("/x").data == {"ok": True}

    first, token_request, retried = fake_api.requests
    assert first.headers["authorization"] == "Bearer access-old-0000"
    assert token_request.form() == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-3333",
        "client_id": "client-id",
        "client_secret": "client-secret-2222",
    }
    assert "authorization" not in token_request.headers
    assert retried.headers["authorization"] == "Bearer access-new-1111"
    # A token that arrived at run time is masked like configured ones.
    assert redact("Bearer access-new-1111") == "Bearer ***"
    assert "access-new-1111" not in repr(auth) and "refresh-3333" not in repr(auth)
    assert http.stats.requests == 3


def test_a_second_401_after_refreshing_is_an_auth_error(fake_api, clock):
    fake_api.add("POST", TOKEN_URL, _token("access-new-1111"))
    denied = FakeResponse(401, json={"message": "Bad credentials"})
    fake_api.add("GET", "/x", denied, denied)
    auth = OAuth2RefreshToken(
        fake_api.url_for(TOKEN_URL),
        "id",
        "secret-2222",
        "refresh-3333",
        access_token="a0",
    )
    with pytest.raises(AuthError, match="even after refreshing"):
        client(fake_api, clock, auth).get("/x")
    assert len(fake_api.requests_to(TOKEN_URL)) == 1


def test_a_refused_refresh_token_says_to_authorise_again(fake_api, clock):
    fake_api.add(
        "POST",
        TOKEN_URL,
        FakeResponse(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            },
        ),
    )
    fake_api.add("GET", "/x", FakeResponse(401, json={"message": "expired"}))
    auth = OAuth2RefreshToken(
        fake_api.url_for(TOKEN_URL),
        "id",
        "secret-2222",
        "refresh-3333",
        access_token="a0",
    )
    with pytest.raises(AuthError) as failed:
        client(fake_api, clock, auth).get("/x")
    message = str(failed.value)
    assert "invalid_grant" in message and "authorise again" in message
    assert "refresh-3333" not in message and "secret-2222" not in message


def test_client_credentials_fetches_a_token_before_the_first_request(fake_api, clock):
    fake_api.add(
        "POST", TOKEN_URL, _token("cc-access-4444", instance_url="https://x.example")
    )
    fake_api.add("GET", "/x", OK)
    seen = []
    auth = OAuth2ClientCredentials(
        fake_api.url_for(TOKEN_URL),
        "id",
        "secret-5555",
        scope="read",
        client_auth="basic",
        on_token=seen.append,
    )
    client(fake_api, clock, auth).get("/x")
    token_request, call = fake_api.requests
    assert token_request.form() == {"grant_type": "client_credentials", "scope": "read"}
    assert token_request.headers["authorization"].startswith("Basic ")
    assert call.headers["authorization"] == "Bearer cc-access-4444"
    assert seen == [
        {
            "token_type": "Bearer",
            "expires_in": 3600,
            "instance_url": "https://x.example",
        }
    ]


def test_client_credentials_fetches_a_new_token_once_on_401(fake_api, clock):
    fake_api.add("POST", TOKEN_URL, _token("cc-first-1212"), _token("cc-second-3434"))
    denied = FakeResponse(401, json={"message": "token revoked"})
    fake_api.add("GET", "/x", OK, denied, OK)
    auth = OAuth2ClientCredentials(fake_api.url_for(TOKEN_URL), "id", "secret-5555")
    http = client(fake_api, clock, auth)
    http.get("/x")
    # Within the token's lifetime, the service revokes it: one new token.
    assert http.get("/x").data == {"ok": True}
    token_requests = fake_api.requests_to(TOKEN_URL)
    assert [r.form()["grant_type"] for r in token_requests] == [
        "client_credentials",
        "client_credentials",
    ]
    assert [r.headers.get("authorization") for r in fake_api.requests_to("/x")] == [
        "Bearer cc-first-1212",
        "Bearer cc-first-1212",
        "Bearer cc-second-3434",
    ]
    assert "cc-second-3434" not in repr(auth) and "secret-5555" not in repr(auth)


def test_client_credentials_refused_again_after_a_new_token_is_an_auth_error(
    fake_api, clock
):
    fake_api.add("POST", TOKEN_URL, _token("cc-first-1212"), _token("cc-second-3434"))
    denied = FakeResponse(401, json={"message": "Bad credentials"})
    fake_api.add("GET", "/x", denied, denied)
    auth = OAuth2ClientCredentials(fake_api.url_for(TOKEN_URL), "id", "secret-5555")
    with pytest.raises(AuthError, match="even after refreshing") as failed:
        client(fake_api, clock, auth).get("/x")
    assert len(fake_api.requests_to(TOKEN_URL)) == 2  # the first, and one refresh
    assert "secret-5555" not in str(failed.value)
    assert "cc-second-3434" not in str(failed.value)


def test_an_expired_access_token_is_renewed_before_use(fake_api, clock):
    fake_api.add("POST", TOKEN_URL, _token("first-6666"), _token("second-7777"))
    fake_api.add("GET", "/x", OK, OK)
    auth = OAuth2ClientCredentials(fake_api.url_for(TOKEN_URL), "id", "secret-5555")
    http = client(fake_api, clock, auth)
    http.get("/x")
    clock.advance(3600)
    http.get("/x")
    assert [r.headers.get("authorization") for r in fake_api.requests_to("/x")] == [
        "Bearer first-6666",
        "Bearer second-7777",
    ]


def test_static_credentials_are_not_refreshed(fake_api, clock):
    fake_api.add("GET", "/x", FakeResponse(401, json={"message": "Bad credentials"}))
    with pytest.raises(AuthError, match="Bad credentials"):
        client(fake_api, clock, BearerAuth("static-8888")).get("/x")
    assert len(fake_api.requests) == 1
