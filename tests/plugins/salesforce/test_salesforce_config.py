"""The source table: every key checked, every problem reported at its path."""

from __future__ import annotations

from typing import Any

import pytest

from headway.connectors import SourceContext
from headway.errors import ConfigError
from headway.model import Period, Scorecard, Team
from headway.secrets import Secret
from headway_salesforce import SalesforceConnector
from headway_salesforce.connector import api_usage
from headway_sdk import Quota

GOOD = {
    "instance_url": "https://acme.my.salesforce.com",
    "token": Secret("t0k3n-value"),
}
OAUTH = {
    "client_id": "3MVG9consumer",
    "client_secret": Secret("consumer-secret-value"),
    "refresh_token": Secret("refresh-token-value"),
}


def build(
    options: dict[str, Any], scorecard: Scorecard | None = None
) -> SalesforceConnector:
    return SalesforceConnector.build(
        SourceContext("crm", "salesforce", options, scorecard=scorecard)
    )


def problems(options: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        build(options)
    return {problem.path: problem.message for problem in raised.value.problems}


def test_the_defaults_read_all_four_objects_with_a_tenth_in_reserve():
    config = build(GOOD).config
    assert config.objects == ("Opportunity", "Case", "Task", "Event")
    assert (config.api_version, config.page_size, config.quota_reserve) == (
        "62.0",
        2000,
        0.1,
    )
    assert config.login_url == "https://login.salesforce.com" and not config.oauth


def test_oauth_keys_alone_are_enough_and_stay_secret():
    connector = build({"instance_url": GOOD["instance_url"], **OAUTH})
    assert connector.config.oauth
    text = repr(connector) + repr(connector.config) + repr(connector.auth())
    for value in ("consumer-secret-value", "refresh-token-value"):
        assert value not in text


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        (
            {"token": None},
            "token",
            "an access token, as ${SF_ACCESS_TOKEN}, or client_id",
        ),
        (
            {"client_id": "3MVG9", "client_secret": Secret("s3cr3t")},
            "refresh_token",
            "required with the other OAuth keys (client_id, client_secret)",
        ),
        ({"instance_url": "acme.my.salesforce.com"}, "instance_url", "http(s) URL"),
        (
            {"instance_url": "https://acme.my.salesforce.com/services/data"},
            "instance_url",
            "without a path",
        ),
        ({"api_version": "v62"}, "api_version", "a version such as 62.0"),
        ({"api_version": "44.0"}, "api_version", "45.0 or later"),
        ({"objects": ["Opportunity", "Lead"]}, "objects[1]", "must be one of"),
        ({"objects": []}, "objects", "list at least one of"),
        ({"objects": ["Case", "Case"]}, "objects[1]", "Case is listed twice"),
        ({"fields": {"Lead": ["X__c"]}}, "fields.Lead", "unknown object"),
        (
            {"objects": ["Case"], "fields": {"Opportunity": ["X__c"]}},
            "fields.Opportunity",
            "not in objects, so this is never used",
        ),
        (
            {"fields": {"Case": ["Region__c, Id"]}},
            "fields.Case[0]",
            "must be a field's API name",
        ),
        ({"where": {"Case": " "}}, "where.Case", "must be a SOQL condition"),
        ({"page_size": 100}, "page_size", "between 200 and 2000"),
        ({"page_size": "big"}, "page_size", "must be an integer"),
        ({"quota_reserve": -1}, "quota_reserve", "0 or more"),
        ({"default_effort": {"lunch": 1}}, "default_effort.lunch", "unknown activity"),
        ({"default_effort": {"call": -1}}, "default_effort.call", "0 or more hours"),
        ({"workday_hours": 0}, "workday_hours", "more than 0 and at most 24"),
        ({"lookback": "soon"}, "lookback", "must be a duration"),
        ({"lookback": "0s"}, "lookback", "must be at least 1s"),
        ({"quota_reserve": 2.5}, "quota_reserve", "a whole number of requests"),
        ({"start": "last year"}, "start", "must be a date or time"),
        ({"teams": {"ada@acme.com": 3}}, 'teams."ada@acme.com"', "must be a string"),
        ({"tiemout": 3}, "tiemout", 'did you mean "timeout"'),
    ],
    ids=[
        "no-credentials",
        "partial-oauth",
        "instance-not-a-url",
        "instance-with-path",
        "version-format",
        "version-too-old",
        "unknown-object",
        "no-objects",
        "object-twice",
        "fields-unknown-object",
        "fields-unused-object",
        "fields-bad-name",
        "empty-where",
        "page-too-small",
        "page-not-a-number",
        "negative-reserve",
        "unknown-effort-kind",
        "negative-effort",
        "no-workday",
        "bad-lookback",
        "no-lookback",
        "fractional-reserve-count",
        "bad-start",
        "team-not-text",
        "typo",
    ],
)
def test_a_bad_table_is_reported_at_the_key(changes, path, words):
    options = {
        key: value for key, value in {**GOOD, **changes}.items() if value is not None
    }
    found = problems(options)
    assert path in {p.removeprefix("sources.crm.") for p in found}, found
    assert words in found[f"sources.crm.{path}"]


def test_loopback_urls_may_be_plain_http_for_local_fakes():
    config = build(
        {
            **GOOD,
            "instance_url": "http://127.0.0.1:8443",
            "login_url": "http://localhost",
        }
    ).config
    assert config.root == "http://127.0.0.1:8443"


def test_every_problem_is_reported_at_once():
    found = problems({"page_size": 5, "api_version": "x", "objects": [], "typo": 1})
    assert set(found) == {
        "sources.crm.instance_url",
        "sources.crm.token",
        "sources.crm.page_size",
        "sources.crm.api_version",
        "sources.crm.objects",
        "sources.crm.typo",
    }
    assert found["sources.crm.instance_url"].startswith("required: the org's root URL")


def test_a_team_unknown_to_the_scorecard_is_a_problem():
    scorecard = Scorecard(
        name="acme",
        period=Period.parse("2026-Q1"),
        perspectives=(),
        teams=(Team("sales", "Sales"), Team("success", "Success")),
    )
    options = {**GOOD, "teams": {"ada@acme.com": "sales", "bob@acme.com": "sale"}}
    with pytest.raises(ConfigError) as raised:
        build(options, scorecard)
    assert [str(p) for p in raised.value.problems] == [
        "sources.crm.teams.bob@acme.com: unknown team 'sale'; [teams] defines sales, "
        "success"
    ]
    assert build({**GOOD, "teams": {"ada@acme.com": "sales"}}, scorecard)


@pytest.mark.parametrize(
    ("header", "quota"),
    [
        ("api-usage=18/5000", Quota(4982, 5000)),
        ("api-usage=25/25; per-app-api-usage=17/250(appName=app)", Quota(0, 25)),
        ("per-app-api-usage=17/250(appName=app)", None),
        ("", None),
    ],
    ids=["usage", "with-per-app-usage", "per-app-only", "none"],
)
def test_the_usage_header_gives_the_daily_quota(header, quota):
    assert api_usage({"Sforce-Limit-Info": header} if header else {}, None) == quota


@pytest.mark.parametrize(
    ("instance", "used", "warned"),
    [
        ("https://acme-eu.my.salesforce.com/", "https://acme-eu.my.salesforce.com", 0),
        ("http://127.0.0.1:8443", "http://127.0.0.1:8443", 0),
        ("http://acme-eu.my.salesforce.com", "https://acme.my.salesforce.com", 1),
        (None, "https://acme.my.salesforce.com", 0),
    ],
    ids=["https", "loopback", "plain-http-refused", "none"],
)
def test_the_instance_a_token_answer_names_is_used_only_over_https(
    instance, used, warned, caplog
):
    connector = build({"instance_url": GOOD["instance_url"], **OAUTH})
    connector._took_token({"instance_url": instance, "token_type": "Bearer"})
    assert connector.client.base_url == used
    assert caplog.text.count("which is not https") == warned
