"""TLS: certificates are verified, ``ca_bundle`` trusts a private authority,
and plain http to anything but this machine is warned about.

The HTTPS server is the fake Jira on loopback with a certificate for
127.0.0.1 signed by a private test authority (``tls/``, see its README).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

import headway_gcal
import headway_github
import headway_jira
import headway_salesforce
from headway.config import SourceConfig, resolve_options
from headway.connectors import SourceContext
from headway.errors import ConfigError
from headway.plugins import Plugins
from headway_sdk import FakeClock
from headway_sdk.testing import stored_items
from tests.plugins.jira.fakejira import ENV, cloud_options

from .faults import ControlledFakeApi
from .sources import JIRA, JIRA_SOURCE

TLS = Path(__file__).with_name("tls")
CA = TLS / "ca.pem"


@pytest.fixture
def https_jira(clock: FakeClock) -> Iterator[ControlledFakeApi]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "server.pem", TLS / "server.key")
    with ControlledFakeApi(tls=context) as fake:
        JIRA.serve(fake, JIRA.dataset())
        yield fake


def test_a_certificate_from_an_unknown_authority_fails_clearly_and_is_not_retried(
    https_jira: ControlledFakeApi, tmp_path: Path
) -> None:
    assert https_jira.url.startswith("https://127.0.0.1:")

    result = JIRA_SOURCE.sync(https_jira, tmp_path / "headway.db")

    assert result.status == "failed"
    error = result.error or ""
    assert "TLS certificate verification failed" in error, error
    assert "set ca_bundle in the source's table" in error
    assert result.stats.requests == 1 and result.stats.retries == 0
    assert https_jira.requests == [], "no request got past the handshake"


def test_ca_bundle_trusts_a_private_authority(
    https_jira: ControlledFakeApi, tmp_path: Path
) -> None:
    result = JIRA_SOURCE.sync(https_jira, tmp_path / "headway.db", ca_bundle=str(CA))

    assert result.status == "ok", result.error
    assert len(stored_items(tmp_path / "headway.db")) == 12


def test_a_relative_ca_bundle_is_read_from_the_configurations_folder(
    https_jira: ControlledFakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "acme-ca.pem").write_bytes(CA.read_bytes())
    monkeypatch.chdir(TLS)  # somewhere else: the path is not read from here
    plugins = Plugins.create(entry_points=False)
    plugins.register(headway_jira, "jira")
    source = SourceConfig(
        "jira",
        "jira",
        cloud_options(https_jira.url, page_size=4, ca_bundle="certs/acme-ca.pem"),
    )
    options, _ = resolve_options(source, ENV)
    context = SourceContext("jira", "jira", options, root=tmp_path)

    connector = plugins.connectors()["jira"].factory(context)

    assert connector.client.session.verify == str(tmp_path / "certs" / "acme-ca.pem")
    connector.check()


def test_a_ca_bundle_that_is_not_there_is_a_problem_at_its_key(tmp_path: Path) -> None:
    plugins = Plugins.create(entry_points=False)
    plugins.register(headway_jira, "jira")
    source = SourceConfig(
        "jira",
        "jira",
        cloud_options("https://jira.acme.example", ca_bundle="missing-ca.pem"),
    )
    options, _ = resolve_options(source, ENV)

    with pytest.raises(ConfigError) as error:
        plugins.connectors()["jira"].factory(
            SourceContext("jira", "jira", options, root=tmp_path)
        )

    (problem,) = error.value.problems
    assert problem.path == "sources.jira.ca_bundle"
    assert f"no file at {tmp_path / 'missing-ca.pem'}" in problem.message


PLAIN = {
    "jira": (
        headway_jira,
        {"url": "http://jira.acme.example", "email": "bot@acme.example",
         "token": "${T}", "jql": "project = PLAT"},
        ["jira.acme.example"],
    ),
    "github": (
        headway_github,
        {"api_url": "http://ghe.acme.example/api/v3", "token": "${T}",
         "repos": ["acme/web"]},
        ["ghe.acme.example"],
    ),
    "gcal": (
        headway_gcal,
        {"calendars": ["a@acme.example"], "client_id": "id", "client_secret": "${T}",
         "refresh_token": "${T}", "api_url": "http://calendar.acme.example/v3",
         "token_url": "http://oauth.acme.example/token"},
        ["calendar.acme.example", "oauth.acme.example"],
    ),
    "salesforce": (
        headway_salesforce,
        {"instance_url": "http://acme.my.salesforce.example", "client_id": "id",
         "client_secret": "${T}", "refresh_token": "${T}",
         "login_url": "http://login.salesforce.example"},
        ["acme.my.salesforce.example", "login.salesforce.example"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", PLAIN, ids=str)
def test_plain_http_to_another_machine_is_warned_about_for_every_host(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    plugin, table, hosts = PLAIN[name]
    plugins = Plugins.create(entry_points=False)
    plugins.register(plugin, name)
    options, _ = resolve_options(SourceConfig(name, name, table), {"T": "t0ken-1234"})
    connector = plugins.connectors()[name].factory(SourceContext(name, name, options))

    with caplog.at_level(logging.WARNING, logger="headway"):
        _ = connector.client

    warned = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warned) == len(hosts), warned
    for host, message in zip(hosts, warned, strict=True):
        assert f"http://{host}" in message and "unencrypted" in message


def test_plain_http_to_this_machine_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugins = Plugins.create(entry_points=False)
    plugins.register(headway_jira, "jira")
    for url in ("http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"):
        source = SourceConfig("jira", "jira", cloud_options(url))
        options, _ = resolve_options(source, ENV)
        connector = plugins.connectors()["jira"].factory(
            SourceContext("jira", "jira", options)
        )
        with caplog.at_level(logging.WARNING, logger="headway"):
            _ = connector.client
    assert not [r for r in caplog.records if "plain http" in r.getMessage()]
