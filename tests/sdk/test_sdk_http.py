"""The HTTP client: wait rules, faults, classification, stats and redaction."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import requests

from headway.connectors import RunStats, SourceContext
from headway.errors import StopSource
from headway.secrets import Secret
from headway_sdk import (
    Action,
    AuthError,
    BearerAuth,
    Classifier,
    Exchange,
    FakeClock,
    GoneError,
    HttpClient,
    HttpError,
    NotFoundError,
    Request,
    ResponseRule,
    RetriesExhaustedError,
    RetryPolicy,
    describe_url,
    environment_proxies,
    says_rate_limited,
    user_agent,
)
from headway_sdk.http import CA_BUNDLE_VARIABLES
from headway_sdk.testing import FakeApi, FakeResponse, http_date

OK = FakeResponse(json={"ok": True})


def client_for(fake_api: FakeApi, clock: FakeClock, **options: object) -> HttpClient:
    options.setdefault("retry", RetryPolicy(jitter=0))
    return HttpClient(fake_api.url, clock=clock, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------- wait rules


def test_retry_after_in_seconds_is_waited(fake_api, clock):
    fake_api.add("GET", "/x", FakeResponse(429, headers={"Retry-After": "7"}), OK)
    client = client_for(fake_api, clock)
    assert client.get("/x").data == {"ok": True}
    assert clock.sleeps == [7.0]
    assert (client.stats.requests, client.stats.retries) == (2, 1)
    assert client.stats.waited == 7.0


def test_retry_after_as_an_http_date_is_waited(fake_api, clock):
    when = http_date(clock.now() + timedelta(seconds=42))
    fake_api.add("GET", "/x", FakeResponse(503, headers={"Retry-After": when}), OK)
    client_for(fake_api, clock).get("/x")
    assert clock.sleeps == [42.0]


def test_retry_after_in_the_past_means_no_wait(fake_api, clock):
    when = http_date(clock.now() - timedelta(minutes=5))
    fake_api.add("GET", "/x", FakeResponse(429, headers={"Retry-After": when}), OK)
    client = client_for(fake_api, clock)
    client.get("/x")
    assert clock.sleeps == [] and client.stats.retries == 1


def test_reset_header_is_waited_when_there_is_no_retry_after(fake_api, clock):
    reset = int(clock.now().timestamp()) + 90
    limited = FakeResponse(
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        json={"message": "API rate limit exceeded"},
    )
    fake_api.add("GET", "/x", limited, OK)
    client_for(fake_api, clock).get("/x")
    # Until the reset, plus a second for clocks that differ.
    assert clock.sleeps == [91.0]


def test_retry_after_wins_over_the_reset_header(fake_api, clock):
    reset = int(clock.now().timestamp()) + 90
    limited = FakeResponse(
        429, headers={"Retry-After": "5", "X-RateLimit-Reset": str(reset)}
    )
    fake_api.add("GET", "/x", limited, OK)
    client_for(fake_api, clock).get("/x")
    assert clock.sleeps == [5.0]


def test_backoff_grows_exponentially(fake_api, clock):
    fake_api.add("GET", "/x", *[FakeResponse(502)] * 4, OK)
    client_for(fake_api, clock).get("/x")
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_backoff_jitter_stays_within_its_share(fake_api, clock):
    import random

    fake_api.add("GET", "/x", *[FakeResponse(500)] * 3, OK)
    policy = RetryPolicy(jitter=0.1)
    client_for(fake_api, clock, retry=policy, rng=random.Random(3)).get("/x")
    for wait, base in zip(clock.sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base <= wait <= base * 1.1
    assert clock.sleeps != [1.0, 2.0, 4.0]


def test_backoff_is_capped(fake_api, clock):
    fake_api.add("GET", "/x", *[FakeResponse(503)] * 3, OK)
    policy = RetryPolicy(jitter=0, backoff=10, max_backoff=15)
    client_for(fake_api, clock, retry=policy).get("/x")
    assert clock.sleeps == [10.0, 15.0, 15.0]


def test_a_wait_over_the_maximum_stops_the_source_without_sleeping(fake_api, clock):
    fake_api.add("GET", "/x", FakeResponse(429, headers={"Retry-After": "3600"}))
    client = client_for(fake_api, clock, retry=RetryPolicy(max_wait=300))
    with pytest.raises(StopSource) as stopped:
        client.get("/x")
    assert clock.sleeps == []
    assert "3600 s" in str(stopped.value) and "max_wait" in str(stopped.value)
    assert stopped.value.resume_at == "2026-03-02T13:00:00Z"


def test_retries_run_out_with_a_clear_error(fake_api, clock):
    fake_api.add("GET", "/x", FakeResponse(503), repeat=True)
    client = client_for(fake_api, clock, retry=RetryPolicy(attempts=3, jitter=0))
    with pytest.raises(RetriesExhaustedError) as failed:
        client.get("/x")
    assert "after 3 attempts (HTTP 503)" in str(failed.value)
    assert client.stats.requests == 3 and client.stats.retries == 2


def test_retries_and_waits_are_logged_as_warnings(fake_api, clock, caplog):
    fake_api.add("GET", "/x", FakeResponse(429, headers={"Retry-After": "7"}), OK)
    with caplog.at_level(logging.WARNING):
        client_for(fake_api, clock).get("/x")
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert "HTTP 429" in message and "7.0 s" in message and "Retry-After" in message


def test_stats_go_to_the_source_context(fake_api, clock):
    fake_api.add("GET", "/x", FakeResponse(500), OK)
    context = SourceContext("src", "test", {})
    client_for(fake_api, clock, context=context).get("/x")
    assert (context.stats.requests, context.stats.retries) == (2, 1)
    assert context.stats.waited == 1.0


def test_a_cancelled_sync_cuts_a_wait_short(fake_api):
    fake_api.add("GET", "/x", FakeResponse(503, headers={"Retry-After": "30"}))
    context = SourceContext("src", "test", {})
    context.stop.set()
    client = HttpClient(fake_api.url, context=context)
    with pytest.raises(StopSource, match="cancelled"):
        client.get("/x")


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param(
            FakeResponse(fault="drop"), "connection", id="reset-before-answer"
        ),
        pytest.param(
            FakeResponse(json={"a": list(range(2000))}, fault="reset"),
            "mid-body",
            id="reset-mid-body",
        ),
        pytest.param(
            FakeResponse(json={"a": list(range(2000))}, fault="truncate"),
            "cut off",
            id="truncated-body",
        ),
        pytest.param(
            FakeResponse(body='{"issues": [{"id": 1}, {"id"'),
            "JSON",
            id="truncated-json",
        ),
        pytest.param(
            FakeResponse(
                body="<html><body>Service Unavailable</body></html>",
                headers={"Content-Type": "text/html"},
            ),
            "HTML page",
            id="html-error-page-with-200",
        ),
        pytest.param(FakeResponse(502), "HTTP 502", id="bad-gateway"),
    ],
)
def test_network_faults_are_retried(fake_api, clock, caplog, fault, reason):
    fake_api.add("GET", "/x", fault, OK)
    with caplog.at_level(logging.WARNING):
        response = client_for(fake_api, clock).get("/x")
    assert response.data == {"ok": True}
    assert reason in caplog.text


def test_a_slow_answer_times_out_and_is_retried(fake_api, clock, caplog):
    fake_api.add("GET", "/x", FakeResponse(json={"late": True}, delay=0.5), OK)
    client = client_for(fake_api, clock, timeout=(1.0, 0.1))
    with caplog.at_level(logging.WARNING):
        assert client.get("/x").data == {"ok": True}
    assert "read timeout" in caplog.text


def test_a_burst_of_5xx_is_ridden_out(fake_api, clock):
    burst = [FakeResponse(s) for s in (500, 502, 503, 503, 504)]
    fake_api.add("GET", "/x", *burst, OK)
    client = client_for(fake_api, clock)
    assert client.get("/x").data == {"ok": True}
    assert client.stats.retries == 5


def test_an_html_page_that_never_goes_away_fails_clearly(fake_api, clock):
    page = FakeResponse(
        body="<html>Login</html>", headers={"Content-Type": "text/html"}
    )
    fake_api.add("GET", "/x", page, repeat=True)
    client = client_for(fake_api, clock, retry=RetryPolicy(attempts=2, jitter=0))
    with pytest.raises(RetriesExhaustedError, match="an HTML page came instead"):
        client.get("/x")


def test_a_connection_refused_is_retried_then_reported():
    clock = FakeClock()
    client = HttpClient(
        "http://127.0.0.1:9", clock=clock, retry=RetryPolicy(attempts=2, jitter=0)
    )
    with pytest.raises(RetriesExhaustedError, match="connection"):
        client.get("/x")
    assert clock.sleeps == [1.0]


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        pytest.param(
            FakeResponse(404, json={"message": "Not Found"}),
            NotFoundError,
            "HTTP 404 to GET /x: Not Found",
            id="404",
        ),
        pytest.param(
            FakeResponse(410, json={"errorMessages": ["The requested API is gone"]}),
            GoneError,
            "The requested API is gone",
            id="410",
        ),
        pytest.param(
            FakeResponse(
                400,
                json={
                    "errorMessages": ["Error in the JQL Query: 'prject' is unknown"],
                    "errors": {},
                },
            ),
            HttpError,
            "Error in the JQL Query",
            id="400-jira",
        ),
        pytest.param(
            FakeResponse(
                400,
                json=[
                    {"message": "No such column 'Foo__c'", "errorCode": "INVALID_FIELD"}
                ],
            ),
            HttpError,
            "INVALID_FIELD: No such column",
            id="400-salesforce",
        ),
        pytest.param(
            FakeResponse(403, json={"message": "Resource not accessible"}),
            HttpError,
            "lack the permission",
            id="403-forbidden",
        ),
        pytest.param(
            FakeResponse(401, json={"message": "Bad credentials"}),
            AuthError,
            "check the credentials",
            id="401-no-refresh",
        ),
    ],
)
def test_errors_that_retrying_cannot_fix_fail_at_once(
    fake_api, clock, answer, error, words
):
    fake_api.add("GET", "/x", answer)
    client = client_for(fake_api, clock)
    with pytest.raises(error) as failed:
        client.get("/x")
    assert words in str(failed.value)
    assert failed.value.status == answer.status
    assert client.stats.requests == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    ("rule", "answer", "expected"),
    [
        pytest.param(
            ResponseRule(
                Action.RATE_LIMITED,
                status=(403, 429),
                contains="secondary rate limit",
                min_wait=60,
                reason="secondary rate limit",
            ),
            FakeResponse(
                403, json={"message": "You have exceeded a secondary rate limit."}
            ),
            [60.0],
            id="github-secondary-limit",
        ),
        pytest.param(
            ResponseRule(
                Action.RATE_LIMITED,
                status=403,
                code=("rateLimitExceeded", "userRateLimitExceeded"),
            ),
            FakeResponse(
                403,
                json={
                    "error": {
                        "code": 403,
                        "message": "Rate Limit Exceeded",
                        "errors": [
                            {"domain": "usageLimits", "reason": "rateLimitExceeded"}
                        ],
                    }
                },
            ),
            [1.0],
            id="google-rate-limit-exceeded",
        ),
    ],
)
def test_a_connector_refines_the_classifier(fake_api, clock, rule, answer, expected):
    fake_api.add("GET", "/x", answer, OK)
    client = client_for(fake_api, clock, classifier=Classifier([rule]))
    assert client.get("/x").data == {"ok": True}
    assert clock.sleeps == expected


def test_a_secondary_limit_backs_off_from_its_minimum(fake_api, clock):
    limited = FakeResponse(403, json={"message": "secondary rate limit"})
    fake_api.add("GET", "/x", limited, limited, limited, OK)
    rule = ResponseRule(
        Action.RATE_LIMITED, contains="secondary rate limit", min_wait=60
    )
    policy = RetryPolicy(jitter=0, max_wait=600, max_backoff=600)
    client_for(fake_api, clock, classifier=Classifier([rule]), retry=policy).get("/x")
    assert clock.sleeps == [60.0, 120.0, 240.0]


def test_a_quota_answer_stops_the_source_and_is_never_retried(fake_api, clock):
    spent = FakeResponse(
        403,
        json=[
            {
                "message": "TotalRequests Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ],
    )
    fake_api.add("GET", "/x", spent)
    rule = ResponseRule(Action.STOP, status=403, code="REQUEST_LIMIT_EXCEEDED")
    client = client_for(fake_api, clock, classifier=Classifier([rule]))
    with pytest.raises(StopSource, match="REQUEST_LIMIT_EXCEEDED"):
        client.get("/x")
    assert client.stats.requests == 1


def test_a_304_is_an_answer_without_a_body(fake_api, clock):
    fake_api.add("GET", "/x", FakeResponse(304, headers={"ETag": '"abc"'}))
    response = client_for(fake_api, clock).get("/x", headers={"If-None-Match": '"abc"'})
    assert response.status == 304 and response.data is None
    assert fake_api.requests[0].headers["if-none-match"] == '"abc"'


# ---------------------------------------------------------------- identity, secrets


def test_user_agent_names_headway_and_the_plugin(fake_api, clock):
    fake_api.add("GET", "/x", OK)
    client_for(fake_api, clock, plugin="headway-sdk").get("/x")
    agent = fake_api.requests[0].headers["user-agent"]
    assert agent.startswith("headway/") and "headway-sdk/" in agent
    assert user_agent("headway-jira").endswith("headway-jira/0.1.0")


def test_messages_never_show_a_query_or_credentials(fake_api, clock):
    token = Secret("query-secret-4242")
    fake_api.add("GET", "/x", FakeResponse(404, json={"message": "nope"}))
    client = client_for(fake_api, clock)
    with pytest.raises(NotFoundError) as failed:
        client.send(Request("GET", "/x", params={"api_key": token}))
    assert "query-secret-4242" not in str(failed.value)
    assert "api_key" not in str(failed.value)
    assert fake_api.requests[0].query == {"api_key": "query-secret-4242"}
    assert describe_url("https://user:pw@host.example/a/b?token=t") == (
        "https://host.example/a/b"
    )


def test_an_echoed_token_is_redacted_from_the_error(fake_api, clock):
    echo = FakeResponse(400, json={"message": "bad request with Bearer tok-echo-777"})
    fake_api.add("GET", "/x", echo)
    client = client_for(fake_api, clock, auth=BearerAuth("tok-echo-777"))
    with pytest.raises(HttpError) as failed:
        client.get("/x")
    assert "tok-echo-777" not in str(failed.value)
    assert "***" in str(failed.value)
    assert "tok-echo-777" not in repr(client)


def test_plain_http_to_a_remote_host_warns(caplog):
    with caplog.at_level(logging.WARNING):
        HttpClient("http://jira.example.com")
        HttpClient("http://127.0.0.1:8080")
        HttpClient("https://jira.example.com")
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "jira.example.com" in warnings[0]


def test_tls_failure_is_not_retried():
    verdict = Classifier().classify(
        Exchange(Request("GET", "/"), None, requests.exceptions.SSLError("bad cert"))
    )
    assert verdict.action is Action.FAIL


def test_stats_can_be_given_without_a_context(fake_api, clock):
    fake_api.add("GET", "/x", OK)
    stats = RunStats()
    client_for(fake_api, clock, stats=stats).get("/x")
    assert stats.requests == 1


def test_an_exchange_repr_shows_no_query_nor_the_errors_text(fake_api, clock):
    import requests

    from headway_sdk.classify import Exchange

    secret_url = fake_api.url_for("/x?api_key=sekret-key-123")
    failed = Exchange(
        Request("GET", secret_url),
        None,
        requests.exceptions.ConnectionError(
            f"Max retries exceeded with url: {secret_url}"
        ),
    )
    assert repr(failed) == f"Exchange(GET {fake_api.url}/x ConnectionError)"

    # What a rule's `when` and a classifier subclass receive.
    seen = []
    rule = ResponseRule(Action.FAIL, when=lambda exchange: bool(seen.append(exchange)))
    fake_api.add("GET", "/x", OK)
    client = client_for(fake_api, clock, classifier=Classifier([rule]))
    client.send(Request("GET", "/x", params={"api_key": Secret("sekret-key-123")}))
    shown = repr(seen[0])
    assert shown == "Exchange(GET /x 200)"
    assert "sekret" not in shown and "api_key" not in shown


# ---------------------------------------------------------------- proxies, CA bundle

PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUEST_METHOD",
)


@pytest.fixture
def environ(monkeypatch):
    """No proxy or CA bundle variable but those the test sets."""
    for name in (*PROXY_VARIABLES, *CA_BUNDLE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def no_dns(monkeypatch):
    """Only this machine's addresses resolve: nothing leaves the host."""
    import socket

    resolve = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: not resolved in tests")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


def test_requests_go_through_the_proxy_the_environment_names(
    fake_api, clock, environ, no_dns
):
    # The fake answers as a forward proxy would: it gets the absolute URL.
    environ.setenv("HTTP_PROXY", fake_api.url)
    fake_api.add("GET", "/api/tickets", OK)
    client = HttpClient(
        "http://tickets.invalid", clock=clock, retry=RetryPolicy(attempts=1)
    )
    assert client.get("/api/tickets", params={"limit": 2}).data == {"ok": True}
    (request,) = fake_api.requests
    assert request.target == "http://tickets.invalid/api/tickets?limit=2"
    assert request.headers["host"] == "tickets.invalid"


def test_no_proxy_and_this_machine_go_direct(environ):
    from requests.utils import select_proxy

    environ.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    environ.setenv("NO_PROXY", "internal.example,.corp.example")
    github = "https://api.github.com/repos/acme/web/issues"
    assert select_proxy(github, environment_proxies(github)) == (
        "http://proxy.corp.example:3128"
    )
    assert environment_proxies("https://jira.internal.example/rest") == {}
    assert environment_proxies("http://127.0.0.1:8080/x") == {}
    assert environment_proxies("http://localhost:8080/x") == {}
    # http is not proxied when only HTTPS_PROXY is set.
    plain = "http://api.example.com/x"
    assert select_proxy(plain, environment_proxies(plain)) is None


def test_a_proxy_password_is_redacted(environ):
    from headway.secrets import redact

    environ.setenv("HTTPS_PROXY", "http://me:proxy-pass-0451@proxy.corp.example:3128")
    environment_proxies("https://api.github.com/")
    assert "proxy-pass-0451" not in redact("via http://me:proxy-pass-0451@proxy")


def test_netrc_stays_ignored(fake_api, clock, environ, tmp_path):
    (tmp_path / ".netrc").write_text(
        "machine 127.0.0.1 login stray password netrc-pass-999\n"
    )
    environ.setenv("NETRC", str(tmp_path / ".netrc"))
    environ.setenv("HOME", str(tmp_path))
    fake_api.add("GET", "/x", OK)
    client_for(fake_api, clock).get("/x")
    assert "authorization" not in fake_api.requests[0].headers


def test_the_ca_bundle_comes_from_the_environment_unless_given(environ, tmp_path):
    bundle, other = tmp_path / "corp.pem", tmp_path / "other.pem"
    bundle.write_text("")
    other.write_text("")
    assert HttpClient("https://x.example").session.verify is True
    environ.setenv("SSL_CERT_FILE", str(other))
    assert HttpClient("https://x.example").session.verify == str(other)
    environ.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert HttpClient("https://x.example").session.verify == str(bundle)
    # A source's own ca_bundle wins.
    given = HttpClient("https://x.example", verify=str(other))
    assert given.session.verify == str(other)


def test_a_ca_bundle_variable_naming_nothing_is_ignored(environ, tmp_path, caplog):
    environ.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with caplog.at_level(logging.WARNING):
        client = HttpClient("https://x.example")
    assert client.session.verify is True
    assert "REQUESTS_CA_BUNDLE" in caplog.text and "does not exist" in caplog.text


def test_a_long_wait_on_the_last_attempt_still_stops_the_source(fake_api, clock):
    # tenacity >= 8.4 asks for the wait before checking the stop: a wait over
    # max_wait on the last attempt ends the run partial, not failed.
    fake_api.add(
        "GET",
        "/x",
        FakeResponse(503),
        FakeResponse(429, headers={"Retry-After": "3600"}),
    )
    client = client_for(fake_api, clock, retry=RetryPolicy(attempts=2, max_wait=300))
    with pytest.raises(StopSource, match="max_wait"):
        client.get("/x")


@pytest.mark.parametrize(
    ("headers", "limited"),
    [
        ({"Retry-After": "30"}, True),
        ({"X-RateLimit-Remaining": "0"}, True),
        ({"RateLimit-Remaining": "0"}, True),
        ({"X-RateLimit-Remaining": "12"}, False),
        ({}, False),
    ],
    ids=["retry-after", "x-remaining-0", "ietf-remaining-0", "some-left", "none"],
)
def test_a_403_is_a_rate_limit_only_when_its_headers_say_so(headers, limited):
    answer = requests.Response()
    answer.status_code = 403
    answer.headers.update(headers)
    exchange = Exchange(Request("GET", "/x"), answer)
    assert says_rate_limited(exchange) is limited
    action = Classifier().classify(exchange).action
    assert action == (Action.RATE_LIMITED if limited else Action.FAIL)


def test_a_host_that_does_not_resolve_is_named_not_taken_for_an_outage(
    clock, monkeypatch
):
    client = HttpClient("https://jira.acme.invalid", clock=clock)

    def no_such_host(*args, **kwargs):
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='jira.acme.invalid', port=443): Max retries "
            'exceeded with url: /rest (Caused by NameResolutionError("Failed to '
            "resolve 'jira.acme.invalid' ([Errno -2] Name or service not known)\"))"
        )

    monkeypatch.setattr(client.session, "send", no_such_host)
    with pytest.raises(RetriesExhaustedError) as failed:
        client.get("/rest")
    message = str(failed.value)
    assert "the host name could not be resolved" in message
    assert "check the host name in the source's URL (jira.acme.invalid)" in message
    assert "may be down" not in message


@pytest.mark.parametrize(
    "body",
    [
        b'{"issues": [{"id": "1", "n": 1.5, "ok": true, "x": null}], "isLast": true}',
        b'{"a": "caf\xc3\xa9 \\u00e9 \\ud83d\\ude00", "a": "last wins"}',
        b'{"n": NaN, "m": -Infinity}',
        b'{"big": 123456789012345678901234567890, "small": -0}',
        b'{"x": 1e400}',
        '{"utf16": "ok"}'.encode("utf-16"),
        b'{"lone": "\\ud800"}',
        b"  [1, 2, 3]\n",
    ],
    ids=[
        "plain",
        "unicode",
        "nan",
        "huge-int",
        "overflow",
        "utf-16",
        "surrogate",
        "list",
    ],
)
def test_bodies_parse_exactly_as_json_parses_them(body):
    answer = requests.Response()
    answer.status_code = 200
    answer._content = body
    parsed = Exchange(Request("GET", "/x"), answer).json()
    expected = json.loads(body)
    assert repr(parsed) == repr(expected)  # repr: NaN is not equal to itself


def test_bytes_that_are_not_utf8_become_surrogate_escapes_and_broken_json_fails():
    answer = requests.Response()
    answer.status_code = 200
    answer._content = b'{"title": "caf\xe9"}'
    assert Exchange(Request("GET", "/x"), answer).json() == {"title": "caf\udce9"}
    answer._content = b'{"title": "cut'
    with pytest.raises(ValueError):
        Exchange(Request("GET", "/x"), answer).json()
