"""Which configuration keys hold secrets, by their names."""

from __future__ import annotations

import pytest

from headway.config import SourceConfig, resolve_options
from headway.secrets import Secret, is_secret_key


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
