"""Which configuration keys hold secrets, by their names."""

from __future__ import annotations

import pytest

from headway.config import SourceConfig, resolve_options
from headway.secrets import Secret, is_secret_key, redact, register_secret


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("token", True),
        ("client_secret", True),
        ("refresh_token", True),
        ("api_key", True),
        ("pat", True),
        ("token_url", False),
        ("TOKEN_URI", False),
        ("url", False),
        ("calendars", False),
    ],
    ids=lambda value: str(value),
)
def test_a_key_names_a_secret_unless_it_names_an_address(key, secret):
    assert is_secret_key(key) is secret


def test_an_address_key_stays_plain_text_while_its_neighbour_is_a_secret():
    source = SourceConfig(
        "cal",
        "gcal",
        {"token_url": "https://oauth2.example/token", "token": "${T}"},
    )
    options, missing = resolve_options(source, {"T": "tok-0123456789"})
    assert not missing
    assert options["token_url"] == "https://oauth2.example/token"
    assert isinstance(options["token"], Secret)


@pytest.mark.parametrize(
    "shown",
    [
        "grant_type=refresh_token&refresh_token=1%2F%2F04tok%2Ben%3D",
        "/token?refresh_token=1%2F%2F04tok%2Ben%3D&x=1",
        '{"token": "1\\/\\/04tok+en="}',
        "echoed: MS8vMDR0b2srZW49",
        "plain: 1//04tok+en=",
    ],
    ids=["form-body", "query-string", "json-escaped-slashes", "base64", "plain"],
)
def test_a_secret_is_masked_in_the_forms_it_travels_in(shown):
    register_secret("1//04tok+en=")
    masked = redact(shown)
    assert "***" in masked
    assert "04tok" not in masked and "MS8vMDR0" not in masked
