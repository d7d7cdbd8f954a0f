"""Syncs against the fake org: batches, watermarks, deletions, OAuth, quota, errors."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from headway.secrets import redact
from headway_sdk.testing import FakeApi, FakeResponse, stored_items

from .fake_salesforce import (
    CLIENT_SECRET,
    GOOD_TOKEN,
    REFRESH_TOKEN,
    T0,
    Org,
    opportunity,
    serve,
    sf_id,
    stamp,
)
from .harness import OAUTH_ENV, OAUTH_KEYS, make_org, sync

OPPORTUNITY = "/services/data/v62.0/query"
DELETIONS = "/services/data/v62.0/queryAll"
MORE = re.compile(r"/services/data/v62\.0/query/01g\w+-\d+")
LATER = T0 + timedelta(days=3)


def rows(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return conn.execute(sql, params).fetchall()


def big_org(count: int = 5000) -> Org:
    org = Org()
    org.fill("Opportunity", count, every=timedelta(minutes=10))
    org.fill("Case", 5, every=timedelta(hours=1))
    return org


def test_5000_opportunities_arrive_over_several_batches(fake_api, clock, tmp_path):
    org = big_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"

    result = sync(fake_api, database, page_size=1000)

    assert result.status == "ok", result.error
    counts = dict(rows(database, "SELECT kind, COUNT(*) FROM items GROUP BY kind"))
    assert counts == {"opportunity": 5000, "case": 5}
    batches = [r for r in fake_api.requests if MORE.fullmatch(r.path)]
    assert len(batches) == 4, "5000 records in batches of 1000: one query, 4 more"
    assert all(r.headers["sforce-query-options"] == "batchSize=1000" for r in batches)
    # One stored page per batch, each with the watermark of its last record.
    assert result.pages == 5 + 1 + 3 * 2, "5 batches, then one per other listing"
    (state,) = rows(
        database,
        "SELECT state FROM sync_state WHERE stream = 'Opportunity' AND partition = ''",
    )
    assert json.loads(state[0]) == {
        "watermark": stamp(T0 + timedelta(minutes=50_000)).replace("+0000", "Z")
    }


def test_a_second_sync_asks_for_changes_since_the_watermark_minus_lookback(
    fake_api, clock, tmp_path
):
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"
    assert sync(fake_api, database).status == "ok"
    clock.advance(timedelta(hours=1))
    org.touch("Opportunity", sf_id("006", 7), clock.now(), Amount=99_000.0)
    org.queries.clear()

    result = sync(fake_api, database, lookback="30m")

    assert result.status == "ok" and result.changed == 1
    newest = T0 + timedelta(hours=2 * 450)
    since = (newest - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soql = next(q for resource, q in org.queries if resource == "query")
    assert f"FROM Opportunity WHERE SystemModstamp > {since} ORDER BY" in soql
    (value,) = rows(database, "SELECT value FROM items WHERE id = ?", sf_id("006", 7))
    assert value == (99_000.0,)


def test_a_deleted_record_becomes_a_tombstone_and_an_undeleted_one_comes_back(
    fake_api, clock, tmp_path
):
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"
    assert sync(fake_api, database).status == "ok"
    gone = sf_id("006", 30)

    clock.advance(timedelta(hours=1))
    org.delete("Opportunity", gone, clock.now())
    deleted = sync(fake_api, database)

    assert deleted.status == "ok" and deleted.tombstones == 1
    ((deleted_at,),) = rows(database, "SELECT deleted_at FROM items WHERE id = ?", gone)
    assert deleted_at == clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    live = rows(database, "SELECT COUNT(*) FROM items WHERE deleted_at IS NULL")
    assert live == [(449 - 1 + 3 * 11,)]

    clock.advance(timedelta(hours=1))
    org.touch("Opportunity", gone, clock.now(), IsDeleted=False)
    restored = sync(fake_api, database)

    assert restored.status == "ok" and restored.tombstones == 0
    assert rows(database, "SELECT deleted_at FROM items WHERE id = ?", gone) == [
        (None,)
    ]


def test_deletions_over_several_queryall_batches_all_become_tombstones(
    fake_api, clock, tmp_path
):
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"
    assert sync(fake_api, database).status == "ok"
    gone = [sf_id("006", number) for number in range(11, 431)]

    clock.advance(timedelta(hours=1))
    for ident in gone:
        org.delete("Opportunity", ident, clock.now())
    seen = len(fake_api.requests)
    deleted = sync(fake_api, database, page_size=200)

    assert deleted.status == "ok", deleted.error
    assert deleted.tombstones == len(gone) == 420
    requests = fake_api.requests[seen:]
    listing = [
        r
        for r in requests
        if r.path == DELETIONS and "FROM Opportunity" in r.query["q"]
    ]
    batches = [r for r in requests if MORE.fullmatch(r.path)]
    assert len(listing) == 1 and len(batches) == 2, (
        "420 deletions in batches of 200: one queryAll, then two more batches"
    )
    # Salesforce names /query in a queryAll listing's nextRecordsUrl; the
    # connector follows it as given instead of building a path of its own.
    assert not [r for r in requests if r.path.startswith(f"{DELETIONS}/")]
    stamps = dict(
        rows(
            database,
            "SELECT id, deleted_at FROM items WHERE kind = 'opportunity' "
            "AND deleted_at IS NOT NULL",
        )
    )
    when = clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert stamps == dict.fromkeys(gone, when)
    live = rows(database, "SELECT COUNT(*) FROM items WHERE deleted_at IS NULL")
    assert live == [(449 - 420 + 3 * 11,)]


def test_an_interrupted_sync_resumed_equals_an_uninterrupted_one(
    fake_api, clock, tmp_path
):
    # The quota reserve is reached after the third batch of opportunities.
    org = big_org(1000)
    org.limit, org.used = 100, 87
    serve(fake_api, org)
    database = tmp_path / "h.db"

    stopped = sync(fake_api, database)

    assert stopped.status == "partial"
    assert "quota is nearly spent" in stopped.error
    assert "10 of 100 requests left, at the reserve of 10" in stopped.error
    assert len(fake_api.requests) == 3, "no request is sent once at the reserve"
    assert rows(database, "SELECT COUNT(*) FROM items") == [(600,)]
    (state,) = rows(
        database, "SELECT state FROM sync_state WHERE stream = 'Opportunity'"
    )
    assert json.loads(state[0])["watermark"] == "2026-01-05T04:00:00.000Z"
    assert rows(database, "SELECT status FROM runs") == [("partial",)]

    org.used = 0  # the next day
    resumed = sync(fake_api, database)

    assert resumed.status == "ok", resumed.error
    fake_api.clear()
    serve(fake_api, big_org(1000))
    reference = tmp_path / "reference.db"
    assert sync(fake_api, reference).status == "ok"
    assert stored_items(database) == stored_items(reference)


@pytest.mark.parametrize(
    ("reserve", "used", "status", "words"),
    [
        (0.5, 47, "partial", "50 of 100 requests left, at the reserve of 50"),
        (20, 77, "partial", "20 of 100 requests left, at the reserve of 20"),
        (0, 87, "ok", None),
    ],
    ids=["share", "count", "none"],
)
def test_the_quota_reserve_is_configurable(
    fake_api, clock, tmp_path, reserve, used, status, words
):
    org = big_org(1000)
    org.limit, org.used = 100, used
    serve(fake_api, org)
    database = tmp_path / "h.db"

    result = sync(fake_api, database, quota_reserve=reserve)

    assert result.status == status, result.error
    if words is None:
        # 12 requests fit in the 13 left: every listing is read.
        assert rows(database, "SELECT COUNT(*) FROM items") == [(1005,)]
        return
    assert words in result.error
    assert len(fake_api.requests) == 3
    assert rows(database, "SELECT COUNT(*) FROM items") == [(600,)]


def test_a_spent_daily_quota_stops_the_source_without_a_retry(
    fake_api, clock, tmp_path
):
    org = big_org(500)
    serve(fake_api, org)
    refused = fake_api.inject(
        FakeResponse(
            403,
            json=[
                {
                    "message": "TotalRequests Limit exceeded.",
                    "errorCode": "REQUEST_LIMIT_EXCEEDED",
                }
            ],
            headers={"Sforce-Limit-Info": "api-usage=15001/15000"},
        ),
        method="GET",
        path=MORE,
    )
    database = tmp_path / "h.db"

    result = sync(fake_api, database)

    assert result.status == "partial"
    assert "daily API quota is spent" in result.error
    assert "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in result.error
    assert refused.used == 1 and result.stats.retries == 0
    assert len(fake_api.requests) == 2, "the source stops at the refused request"
    assert rows(database, "SELECT COUNT(*) FROM items") == [(200,)]
    assert rows(database, "SELECT COUNT(*) FROM sync_state") == [(1,)]


def test_an_expired_token_is_refreshed_once_and_the_sync_goes_on(
    fake_api, clock, tmp_path
):
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"
    environ = {**OAUTH_ENV, "SF_ACCESS_TOKEN": "00DFAKE!AQ4AQExpiredSessionToken"}

    result = sync(fake_api, database, environ=environ, **OAUTH_KEYS)

    assert result.status == "ok", result.error
    refused = [r for r in fake_api.requests if r.response and r.response.status == 401]
    assert len(refused) == 1
    assert json.loads(refused[0].response.payload()[0]) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    (grant,) = fake_api.requests_to("/services/oauth2/token", "POST")
    assert grant.form() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": OAUTH_ENV["SF_CLIENT_ID"],
        "client_secret": CLIENT_SECRET,
    }
    after = fake_api.requests[fake_api.requests.index(grant) + 1 :]
    assert after and all(
        r.headers["authorization"] == f"Bearer {org.issued[0]}" for r in after
    )
    assert rows(database, "SELECT COUNT(*) FROM items") == [(449 + 3 * 11,)]


def test_the_instance_the_token_answer_names_is_used(fake_api, clock, tmp_path):
    org = make_org()
    serve(fake_api, org)
    with FakeApi() as login:
        serve(login, org)  # the token endpoint, naming fake_api as the instance
        result = sync(
            fake_api,
            tmp_path / "h.db",
            environ=OAUTH_ENV,
            instance_url="https://acme.my.salesforce.com",
            token=None,
            login_url=login.url,
            **OAUTH_KEYS,
        )
        assert [r.path for r in login.requests] == ["/services/oauth2/token"]

    assert result.status == "ok", result.error
    (url,) = rows(
        tmp_path / "h.db", "SELECT url FROM items WHERE id = ?", sf_id("006", 1)
    )
    assert url == (f"{fake_api.url}/lightning/r/Opportunity/{sf_id('006', 1)}/view",)


def test_a_session_expiring_mid_listing_is_refreshed_and_the_new_instance_used(
    fake_api, clock, tmp_path
):
    org = big_org(1000)
    serve(fake_api, org)
    fake_api.inject(
        FakeResponse(
            401,
            json=[
                {
                    "message": "Session expired or invalid",
                    "errorCode": "INVALID_SESSION_ID",
                }
            ],
        ),
        method="GET",
        path=MORE,
    )
    database = tmp_path / "h.db"
    with FakeApi() as moved:
        serve(moved, org)  # the same org, on the instance the token names
        org.instance_url = instance = moved.url
        environ = {**OAUTH_ENV, "SF_ACCESS_TOKEN": GOOD_TOKEN}

        result = sync(fake_api, database, environ=environ, **OAUTH_KEYS)

        assert result.status == "ok", result.error
        # The first batch, the refused second one, the token; nothing more here.
        assert [
            (r.method, MORE.fullmatch(r.path) is not None) for r in fake_api.requests
        ] == [
            ("GET", False),
            ("GET", True),
            ("POST", False),
        ]
        first_more = moved.requests[0]
        assert first_more.path == fake_api.requests[1].path, "the same batch again"
        assert all(
            r.headers["authorization"] == f"Bearer {org.issued[0]}"
            for r in moved.requests
        )
    assert rows(database, "SELECT COUNT(*) FROM items") == [(1005,)]
    (url,) = rows(database, "SELECT url FROM items WHERE id = ?", sf_id("006", 999))
    assert url == (f"{instance}/lightning/r/Opportunity/{sf_id('006', 999)}/view",)


def test_a_token_refused_even_after_refreshing_fails_the_source(
    fake_api, clock, tmp_path
):
    org = make_org()
    org.honour_issued = False
    serve(fake_api, org)

    result = sync(
        fake_api, tmp_path / "h.db", environ=OAUTH_ENV, token=None, **OAUTH_KEYS
    )

    assert result.status == "failed"
    assert "refused even after refreshing the access token" in result.error
    # The first token, then one refresh after the 401, and no more.
    assert len(fake_api.requests_to("/services/oauth2/token")) == 2
    refused = [r for r in fake_api.requests if r.response and r.response.status == 401]
    assert len(refused) == 2


def test_a_revoked_refresh_token_says_to_authorise_again(fake_api, clock, tmp_path):
    org = make_org()
    org.refresh_token = "5Aep861someOtherRefreshToken"
    serve(fake_api, org)

    result = sync(
        fake_api, tmp_path / "h.db", environ=OAUTH_ENV, token=None, **OAUTH_KEYS
    )

    assert result.status == "failed"
    assert "invalid_grant: expired access/refresh token" in result.error
    assert "authorise again" in result.error
    for secret in (REFRESH_TOKEN, CLIENT_SECRET):
        assert secret not in result.error


def test_an_expired_token_without_oauth_keys_says_how_to_refresh(
    fake_api, clock, tmp_path
):
    serve(fake_api, make_org())

    result = sync(
        fake_api, tmp_path / "h.db", environ={"SF_ACCESS_TOKEN": "00DFAKE!AQ4AQStale"}
    )

    assert result.status == "failed"
    assert "INVALID_SESSION_ID: Session expired or invalid" in result.error
    assert "set client_id, client_secret and refresh_token in sources.crm" in (
        result.error
    )
    assert len(fake_api.requests) == 1, "credentials refused stop the whole source"


def test_a_missing_custom_field_names_object_and_field_and_others_still_sync(
    fake_api, clock, tmp_path
):
    serve(fake_api, make_org())
    database = tmp_path / "h.db"

    result = sync(fake_api, database, fields={"Opportunity": ["Region__c"]})

    assert result.status == "failed"
    assert result.error.startswith(
        "1 of 8 stream partitions could not be read (the others were stored): "
        "Opportunity: the field 'Region__c' in sources.crm.fields.Opportunity does "
        "not exist in this org, or the integration user cannot read it (INVALID_FIELD:"
        " No such column 'Region__c' on entity 'Opportunity'); correct or remove it "
        "there, or grant the user read access to it"
    ), result.error
    assert "correct or remove it there" in result.error
    counts = dict(rows(database, "SELECT kind, COUNT(*) FROM items GROUP BY kind"))
    assert "opportunity" not in counts
    assert sum(counts.values()) == 3 * 11


def test_a_custom_field_that_exists_is_kept_in_attributes(fake_api, clock, tmp_path):
    org = make_org()
    org.custom_fields["Opportunity"] = {"Region__c"}
    org.touch("Opportunity", sf_id("006", 5), LATER, Region__c="EMEA")
    serve(fake_api, org)
    database = tmp_path / "h.db"

    result = sync(
        fake_api,
        database,
        fields={"Opportunity": ["Region__c", "Account.Industry", "Name"]},
    )

    assert result.status == "ok", result.error
    found = dict(
        rows(
            database,
            "SELECT id, json_extract(attributes, '$.Region__c') FROM items "
            "WHERE kind = 'opportunity' AND id IN (?, ?)",
            sf_id("006", 5),
            sf_id("006", 6),
        )
    )
    assert found == {sf_id("006", 5): "EMEA", sf_id("006", 6): None}
    soql = next(q for _, q in org.queries if "FROM Opportunity" in q and "Region" in q)
    assert soql.count(" Name,") == 1, "a field headway reads is not selected twice"


def test_a_standard_field_the_user_cannot_read_says_what_to_grant(
    fake_api, clock, tmp_path
):
    org = make_org()
    org.hidden["Opportunity"] = {"LeadSource"}
    serve(fake_api, org)

    result = sync(fake_api, tmp_path / "h.db")

    assert result.status == "failed"
    assert (
        "Opportunity: the integration user cannot read Opportunity.LeadSource, which "
        "headway reads" in result.error
    )
    assert "leave Opportunity out of sources.crm.objects" in result.error


def test_a_malformed_where_condition_points_at_its_key(fake_api, clock, tmp_path):
    serve(fake_api, make_org())
    database = tmp_path / "h.db"

    result = sync(fake_api, database, where={"Case": "Priority ="})

    assert result.status == "failed"
    assert (
        "Case: Salesforce could not parse the query (MALFORMED_QUERY:" in result.error
    )
    assert "check the condition in sources.crm.where.Case" in result.error
    counts = dict(rows(database, "SELECT kind, COUNT(*) FROM items GROUP BY kind"))
    assert "case" not in counts and counts["opportunity"] == 449


def test_a_missing_field_in_a_where_condition_points_at_its_key(
    fake_api, clock, tmp_path
):
    serve(fake_api, make_org())
    database = tmp_path / "h.db"

    result = sync(fake_api, database, where={"Case": "Region__c = 'EMEA'"})

    assert result.status == "failed"
    assert (
        "Case: the field 'Region__c' in the condition sources.crm.where.Case does "
        "not exist in this org, or the integration user cannot read it "
        "(INVALID_FIELD: No such column 'Region__c' on entity 'Case'); correct the "
        "condition there" in result.error
    ), result.error
    counts = dict(rows(database, "SELECT kind, COUNT(*) FROM items GROUP BY kind"))
    assert "case" not in counts and counts["opportunity"] == 449


def test_a_value_of_the_wrong_type_in_a_where_condition_points_at_its_key(
    fake_api, clock, tmp_path
):
    serve(fake_api, make_org())
    database = tmp_path / "h.db"

    result = sync(fake_api, database, where={"Opportunity": "Amount = 'big'"})

    assert result.status == "failed"
    assert (
        "Opportunity: Salesforce refused a field or value of the query "
        "(INVALID_FIELD: value of filter criterion for field 'Amount' must be of "
        "type double and should not be enclosed in quotes); check the condition in "
        "sources.crm.where.Opportunity, which headway adds to the query, and "
        "sources.crm.fields.Opportunity" in result.error
    ), result.error
    counts = dict(rows(database, "SELECT kind, COUNT(*) FROM items GROUP BY kind"))
    assert "opportunity" not in counts and counts["case"] == 11


@pytest.mark.parametrize(
    ("where", "mentioned"),
    [
        ({}, False),
        ({"Case": "Priority = 'High'"}, False),
        ({"Opportunity": "Amount > 5000"}, True),
    ],
    ids=["no-where", "where-of-another-object", "where-of-that-object"],
)
def test_a_refused_field_the_error_does_not_name_points_at_where_only_if_set(
    fake_api, clock, tmp_path, where, mentioned
):
    # restforce's recorded INVALID_FIELD body (see fixtures/README.md): its
    # words name no column, so the connector cannot tell which key holds it.
    refusal = json.loads(
        (
            Path(__file__).parent / "fixtures" / "restforce_query_error_response.json"
        ).read_text("utf-8")
    )
    serve(fake_api, make_org())
    fake_api.inject(FakeResponse(400, json=refusal), method="GET", path=OPPORTUNITY)

    result = sync(fake_api, tmp_path / "h.db", where=where)

    assert result.status == "failed"
    assert "Opportunity: Salesforce refused a field" in result.error, result.error
    assert "INVALID_FIELD: error_message" in result.error
    assert "sources.crm.fields.Opportunity" in result.error
    assert ("sources.crm.where.Opportunity" in result.error) is mentioned
    assert "where.Case" not in result.error


def test_a_where_condition_narrows_the_query(fake_api, clock, tmp_path):
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"

    result = sync(fake_api, database, where={"Case": "Priority = 'High'"})

    assert result.status == "ok", result.error
    assert rows(
        database,
        "SELECT DISTINCT json_extract(attributes, '$.priority') FROM items "
        "WHERE kind = 'case'",
    ) == [("High",)]
    soql = next(q for _, q in org.queries if "FROM Case" in q and "IsDeleted" not in q)
    assert "AND (Priority = 'High') ORDER BY SystemModstamp ASC" in soql


def test_an_api_version_the_instance_lacks_is_named(fake_api, clock, tmp_path):
    serve(fake_api, make_org())

    result = sync(fake_api, tmp_path / "h.db", api_version="63.0", objects=["Case"])

    assert result.status == "failed"
    assert "check sources.crm.api_version (63.0) and sources.crm.instance_url" in (
        result.error
    )


def test_a_bad_record_is_set_aside_and_the_rest_of_its_batch_stored(
    fake_api, clock, tmp_path
):
    org = make_org()
    org.touch("Opportunity", sf_id("006", 4), LATER, Amount="lots")
    org.add("Opportunity", opportunity(900, LATER, CloseDate="soon"))
    serve(fake_api, org)
    database = tmp_path / "h.db"

    result = sync(fake_api, database)

    assert result.status == "partial" and result.rejected == 2
    reasons = dict(rows(database, "SELECT record_id, reason FROM rejected"))
    assert reasons == {
        sf_id("006", 4): "Amount must be a number, got str 'lots'",
        sf_id("006", 900): "CloseDate: 'soon' is not an ISO 8601 timestamp",
    }
    raw = json.loads(
        rows(database, "SELECT raw FROM rejected WHERE record_id = ?", sf_id("006", 4))[
            0
        ][0]
    )
    assert raw["attributes"]["type"] == "Opportunity"
    assert rows(database, "SELECT COUNT(*) FROM items WHERE kind = 'opportunity'") == [
        (449 - 1,)
    ]


def test_owners_map_to_teams_case_insensitively(fake_api, clock, tmp_path):
    serve(fake_api, make_org())
    database = tmp_path / "h.db"

    result = sync(
        fake_api, database, teams={"Ada@Acme.com": "sales"}, objects=["Opportunity"]
    )

    assert result.status == "ok", result.error
    teams = dict(
        rows(
            database,
            "SELECT json_extract(people, '$[0]'), team FROM items "
            "GROUP BY 1 ORDER BY 1",
        )
    )
    assert teams == {
        "ada@acme.com": "sales",
        "alan@acme.com": None,
        "edsger@acme.com": None,
        "grace@acme.com": None,
    }


def test_a_full_sync_reads_everything_again(fake_api, clock, tmp_path):
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"
    assert sync(fake_api, database).status == "ok"
    org.queries.clear()

    result = sync(fake_api, database, full=True)

    assert result.status == "ok" and result.changed == 0
    assert result.items == 449 + 3 * 11
    first = org.queries[0][1]
    assert "SystemModstamp > 2026-01-01T00:00:00Z" in first, "full starts at start"


def test_a_429_and_a_5xx_are_waited_out(fake_api, clock, tmp_path):
    serve(fake_api, make_org())
    fake_api.inject(
        FakeResponse(503, body="<html>Service unavailable</html>"),
        FakeResponse(429, headers={"Retry-After": "4"}),
        method="GET",
        path=MORE,
    )

    result = sync(fake_api, tmp_path / "h.db")

    assert result.status == "ok", result.error
    assert result.stats.retries == 2 and 4.0 in clock.sleeps


@pytest.mark.parametrize(
    "fault",
    [
        FakeResponse(json={"records": []}, fault="reset"),
        FakeResponse(json={"records": []}, fault="truncate"),
        FakeResponse(
            body='{"totalSize": 449, "done": fal',
            headers={"Content-Type": "application/json"},
        ),
        FakeResponse(
            body="<html><body>Maintenance</body></html>",
            headers={"Content-Type": "text/html"},
        ),
        FakeResponse(502, body="Bad gateway"),
    ],
    ids=["reset-mid-body", "truncated", "cut-json", "html-page", "bad-gateway"],
)
def test_a_faulty_batch_is_fetched_again_and_nothing_is_lost(
    fake_api, clock, tmp_path, fault
):
    serve(fake_api, make_org())
    fake_api.inject(fault, method="GET", path=MORE)
    database = tmp_path / "h.db"

    result = sync(fake_api, database, objects=["Opportunity"])

    assert result.status == "ok", result.error
    assert result.stats.retries == 1
    assert rows(database, "SELECT COUNT(*) FROM items") == [(449,)]


def test_no_secret_reaches_the_store_the_log_or_an_error_with_oauth(
    fake_api, clock, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    org = make_org()
    serve(fake_api, org)
    database = tmp_path / "h.db"
    first = sync(fake_api, database, environ=OAUTH_ENV, token=None, **OAUTH_KEYS)
    assert first.status == "ok", first.error
    org.access_tokens.clear()
    org.honour_issued = False

    failed = sync(fake_api, database, environ=OAUTH_ENV, token=None, **OAUTH_KEYS)

    assert failed.status == "failed"
    secrets = [REFRESH_TOKEN, CLIENT_SECRET, *org.issued]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("h.db*") if p.is_file())
    # What the CLI's log handler writes: each record through the redactor.
    shown = redact(caplog.text)
    for secret in secrets:
        assert secret not in failed.error
        assert secret.encode() not in stored
        assert secret not in shown
    assert "got a new access token" in shown
