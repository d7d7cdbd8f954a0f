"""``check()``, and ``headway sync`` of a Salesforce source from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import headway_salesforce
from headway.connectors import SourceContext
from headway.errors import ConnectorError
from headway.plugins import Plugins
from headway.secrets import Secret
from headway_salesforce import SalesforceConnector
from headway_sdk import AuthError

from .fake_salesforce import BAD_TOKEN, GOOD_TOKEN, serve
from .harness import make_org

CONFIG = """
[scorecard]
name = "Acme"
period = "2026-Q1"

[teams.sales]
title = "Sales"
members = ["ada@acme.com"]

[[objectives]]
id = "F1"
perspective = "financial"
title = "Win more new business"

[[measures]]
id = "F1.win_rate"
objective = "F1"
title = "Win rate of new business"
baseline = 0.2
target = 0.35
function = "salesforce.win_rate"
params = {{ type = "New Business" }}

[sources.crm]
plugin = "salesforce"
instance_url = "{url}"
login_url = "{url}"
token = "${{SF_ACCESS_TOKEN}}"
page_size = 200
start = 2026-01-01
{extra}
"""


@pytest.fixture
def salesforce(plugins: Plugins) -> Iterator[None]:
    plugins.register(headway_salesforce, "salesforce")
    yield
    plugins.unregister("salesforce")


def connector(url: str, token: str = GOOD_TOKEN, **extra: Any) -> SalesforceConnector:
    options = {"instance_url": url, "token": Secret(token), **extra}
    return SalesforceConnector.build(SourceContext("crm", "salesforce", options))


def test_check_asks_for_versions_limits_and_one_record_of_each_object(fake_api, clock):
    org = make_org()
    serve(fake_api, org)

    connector(fake_api.url).check()

    assert [r.path for r in fake_api.requests][:2] == [
        "/services/data/",
        "/services/data/v62.0/limits",
    ]
    assert [q.split(" FROM ")[1] for _, q in org.queries] == [
        f"{name} ORDER BY SystemModstamp ASC, Id ASC LIMIT 1"
        for name in ("Opportunity", "Case", "Task", "Event")
    ]
    assert "authorization" not in fake_api.requests[0].headers


def test_check_names_every_object_whose_query_is_refused(fake_api, clock):
    org = make_org()
    org.hidden["Case"] = {"Origin"}
    serve(fake_api, org)
    checked = connector(
        fake_api.url, fields={"Opportunity": ["Region__c"]}, where={"Task": "Status ="}
    )

    with pytest.raises(ConnectorError) as raised:
        checked.check()

    message = str(raised.value)
    assert message.startswith(
        "Opportunity: the field 'Region__c' in sources.crm.fields.Opportunity"
    )
    assert "; Case: the integration user cannot read Case.Origin" in message
    assert "; Task: Salesforce could not parse the query" in message
    assert "Event" not in message


def test_check_with_a_refused_token_fails_without_showing_it(fake_api, clock):
    serve(fake_api, make_org())
    with pytest.raises(AuthError) as raised:
        connector(fake_api.url, BAD_TOKEN).check()
    assert "INVALID_SESSION_ID" in str(raised.value)
    assert BAD_TOKEN not in str(raised.value)


def test_headway_sync_stores_the_org_and_prints_the_run(
    run_cli, write_config, fake_api, clock, salesforce
):
    serve(fake_api, make_org())
    path = write_config(CONFIG.format(url=fake_api.url, extra=""))

    result = run_cli(
        "--config", str(path), "sync", "--json", env={"SF_ACCESS_TOKEN": GOOD_TOKEN}
    )

    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["source"], row["status"], row["items"], row["error"]) == (
        "crm",
        "ok",
        449 + 3 * 11,
        None,
    )
    assert GOOD_TOKEN not in result.output


def test_headway_sync_of_a_refused_field_exits_1_with_the_reason(
    run_cli, write_config, fake_api, clock, salesforce
):
    serve(fake_api, make_org())
    extra = 'fields = { Opportunity = ["Region__c"] }'
    path = write_config(CONFIG.format(url=fake_api.url, extra=extra))

    result = run_cli("--config", str(path), "sync", env={"SF_ACCESS_TOKEN": GOOD_TOKEN})

    assert result.exit_code == 1
    assert "sources.crm.fields.Opportunity" in result.output
    assert "Traceback" not in result.output


def test_headway_sync_with_a_bad_table_exits_1_before_any_request(
    run_cli, write_config, fake_api, clock, salesforce
):
    path = write_config(
        CONFIG.format(url=fake_api.url, extra="workday_hours = 0\nobjects = ['Lead']")
    )

    result = run_cli("--config", str(path), "sync", env={})

    assert result.exit_code == 1
    assert "sources.crm.token: environment variable SF_ACCESS_TOKEN" in result.stderr
    assert "sources.crm.objects[0]: must be one of" in result.stderr
    assert "Traceback" not in result.output
    assert not fake_api.requests
    assert not (path.parent / "headway.db").exists()
