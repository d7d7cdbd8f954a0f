"""The fake org agrees with recorded Salesforce bodies, and the connector reads
those bodies as they are (see fixtures/README.md for their origin)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from headway.connectors import SourceContext
from headway.errors import ConnectorError
from headway.secrets import Secret
from headway_salesforce import SalesforceConnector
from headway_sdk.testing import FakeResponse

from .fake_salesforce import GOOD_TOKEN, VERSION, Org, serve
from .harness import OAUTH_ENV, OAUTH_KEYS, make_org, sync

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"restforce_{name}.json").read_text("utf-8"))


def fake_answer(fake_api, path: str, **query: str) -> Any:
    """What the fake org answers to an authenticated GET."""
    response = requests.get(
        fake_api.url_for(path),
        params=query,
        headers={
            "Authorization": f"Bearer {GOOD_TOKEN}",
            "Sforce-Query-Options": "batchSize=200",
        },
        timeout=5,
    )
    return response.status_code, response.headers, response.json()


def test_query_pages_have_the_recorded_envelope(fake_api):
    org = Org()
    org.fill("Opportunity", 250, every=timedelta(hours=1))
    serve(fake_api, org)
    query = "SELECT Id, Name FROM Opportunity ORDER BY SystemModstamp ASC"

    status, headers, first = fake_answer(
        fake_api, f"/services/data/v{VERSION}/query", q=query
    )
    _, _, last = fake_answer(fake_api, first["nextRecordsUrl"])

    assert status == 200
    assert set(first) == set(fixture("query_paginated_first_page_response"))
    assert set(last) == set(fixture("query_paginated_last_page_response"))
    assert first["done"] is False and last["done"] is True
    assert (first["totalSize"], len(first["records"]), len(last["records"])) == (
        250,
        200,
        50,
    )
    recorded = fixture("query_paginated_first_page_response")["records"][0]
    assert set(first["records"][0]["attributes"]) == set(recorded["attributes"])
    assert first["records"][0]["attributes"]["url"].endswith(first["records"][0]["Id"])
    assert headers["Sforce-Limit-Info"] == "api-usage=1/15000"


def test_an_empty_result_has_the_recorded_shape(fake_api):
    serve(fake_api, Org())
    _, _, body = fake_answer(
        fake_api, f"/services/data/v{VERSION}/query", q="SELECT Id FROM Case"
    )
    assert body == fixture("query_empty_response")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT Id, Nope__c FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Amount >", "MALFORMED_QUERY"),
    ],
    ids=["invalid-field", "malformed-query"],
)
def test_query_errors_are_the_recorded_list(fake_api, query, code):
    serve(fake_api, Org())
    status, _, body = fake_answer(fake_api, f"/services/data/v{VERSION}/query", q=query)
    recorded = fixture("query_error_response")
    assert status == 400
    assert [set(entry) for entry in body] == [set(entry) for entry in recorded]
    assert body[0]["errorCode"] == code


def test_a_refused_session_is_the_recorded_body(fake_api):
    serve(fake_api, Org(access_tokens=set()))
    status, _, body = fake_answer(fake_api, f"/services/data/v{VERSION}/limits")
    assert (status, body) == (401, fixture("expired_session_response"))


def test_the_token_answer_has_the_recorded_keys(fake_api, clock, tmp_path):
    org = make_org()
    serve(fake_api, org)
    result = sync(
        fake_api, tmp_path / "h.db", environ=OAUTH_ENV, token=None, **OAUTH_KEYS
    )
    assert result.status == "ok", result.error
    (grant,) = fake_api.requests_to("/services/oauth2/token")
    assert set(json.loads(grant.response.payload()[0])) >= set(
        fixture("auth_success_response")
    )


def test_recorded_pages_are_followed_to_the_last(fake_api, clock, tmp_path):
    # The recorded pages hold "Whizbang" records: a type that does not
    # belong in the Opportunity listing, so both are set aside, by name.
    first = fixture("query_paginated_first_page_response")
    fake_api.add("GET", f"/services/data/v{VERSION}/query", FakeResponse(json=first))
    fake_api.add(
        "GET",
        first["nextRecordsUrl"],
        FakeResponse(json=fixture("query_paginated_last_page_response")),
    )
    fake_api.add(
        "GET",
        f"/services/data/v{VERSION}/queryAll",
        FakeResponse(json=fixture("query_empty_response")),
    )

    result = sync(fake_api, tmp_path / "h.db", objects=["Opportunity"])

    assert result.status == "partial" and result.rejected == 2 and result.pages == 3
    assert "2 record(s) could not be stored" in result.error


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (
            "auth_error_response",
            "invalid_grant: authentication failure - Invalid Password",
        ),
        ("refresh_error_response", "invalid_grant: expired access/refresh token"),
    ],
    ids=["bad-password", "expired-refresh-token"],
)
def test_recorded_token_refusals_fail_the_source_with_their_words(
    fake_api, clock, tmp_path, name, words
):
    fake_api.add(
        "POST", "/services/oauth2/token", FakeResponse(400, json=fixture(name))
    )

    result = sync(
        fake_api, tmp_path / "h.db", environ=OAUTH_ENV, token=None, **OAUTH_KEYS
    )

    assert result.status == "failed"
    assert words in result.error and "authorise again" in result.error


def test_check_reads_the_recorded_version_list(fake_api, clock):
    fake_api.add(
        "GET",
        "/services/data/",
        FakeResponse(json=fixture("services_data_success_response")),
    )
    options = {"instance_url": fake_api.url, "token": Secret(GOOD_TOKEN)}
    connector = SalesforceConnector.build(SourceContext("crm", "salesforce", options))

    with pytest.raises(ConnectorError) as raised:
        connector.check()

    assert str(raised.value) == (
        "127.0.0.1 does not offer API version 62.0 (it offers 20.0 to 100); set "
        "sources.crm.api_version to one of them"
    )
