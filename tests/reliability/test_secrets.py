"""No secret anywhere headway writes, whatever the services answer.

The four first-party connectors are configured with known fake tokens and
run through the real command line at ``-vv``: a good sync, then syncs (and
``sync --check``) against services that answer 401 or 500 with the whole
request echoed back in the body, the headers and form bodies that carry the
tokens included; then score, report and the other commands. Then the
store's files (database with the snapshot's stored config, ``-wal``,
``-shm``, lock), the HTML report, and stdout and stderr (where the logs go)
of every command are searched for each token, plain and in the forms it
travels in: URL-encoded, JSON-escaped, base64, and Jira's basic-auth
header.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

import headway_github
import headway_jira
from headway.config import SourceConfig, load_config, resolve_options
from headway.plugins import Plugins
from headway.secrets import MASK
from headway.sync import build_connectors
from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest
from tests.plugins.gcal.fake_gcal import issued_token
from tests.plugins.jira.fakejira import EMAIL
from tests.plugins.salesforce.harness import OAUTH_ENV, OAUTH_KEYS

from .processes import run
from .sources import SOURCES, Source

#: Credentials the failing runs use: characters that URL-encoding, JSON
#: and base64 all change, so every form of them can be looked for.
ECHO_ENV = {
    "JIRA_EMAIL": EMAIL,
    "JIRA_API_TOKEN": "jira+api/token=echo&1x",
    "GITHUB_TOKEN": "ghp_echo+token/with=chars",
    "GCAL_CLIENT_ID": "8675309-echo.apps.googleusercontent.com",
    "GCAL_CLIENT_SECRET": "GOCSPX-echo/secret+1",
    "GCAL_REFRESH_TOKEN": "1//04echo-refresh+token=",
    "SF_ACCESS_TOKEN": "00DECHO!AQ4AQ+echo/token=",
    "SF_CLIENT_ID": "3MVG9echoConsumerKey",
    "SF_CLIENT_SECRET": "sf-echo-secret&x=1",
    "SF_REFRESH_TOKEN": "5Aep861echo+refresh/token",
}
SECRET_NAMES = (
    "JIRA_API_TOKEN",
    "GITHUB_TOKEN",
    "GCAL_CLIENT_SECRET",
    "GCAL_REFRESH_TOKEN",
    "SF_ACCESS_TOKEN",
    "SF_CLIENT_SECRET",
    "SF_REFRESH_TOKEN",
)


#: A scorecard for the synced items, so that score and report have work.
SCORECARD: dict[str, Any] = {
    "scorecard": {"name": "Secrets", "period": "2026-Q1"},
    "objectives": [
        {"id": "P1", "perspective": "process", "title": "Ship", "owner": "a@x.com"},
        {"id": "C1", "perspective": "customer", "title": "Sell", "owner": "b@x.com"},
    ],
    "measures": [
        {
            "id": "P1.done",
            "objective": "P1",
            "baseline": 0,
            "target": 10,
            "sql": "select count(*) from items where state = 'done'",
        }
    ],
    "rules": [
        {"objective": "P1", "kind": ["issue", "pull_request"]},
        {"objective": "C1", "kind": "opportunity"},
        {"category": "overhead", "kind": "meeting"},
    ],
}


def forms(secret: str) -> dict[str, str]:
    """Every form a secret may take on the wire or in a message."""
    raw = secret.encode()
    return {
        "plain": secret,
        "url-encoded": urllib.parse.quote(secret, safe=""),
        "form-encoded": urllib.parse.quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(raw).decode(),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
    }


def echo_body(request: RecordedRequest) -> str:
    # What carries a token first: services shorten what they say, and so
    # does headway (to 300 characters) before it shows a service's words.
    return json.dumps(
        {
            "authorization": request.headers.get("authorization"),
            "body": request.body.decode("utf-8", "replace"),
            "query": request.query,
            "headers": request.headers,
        }
    )


def echoing(status: int, salesforce: bool) -> Any:
    """A handler answering ``status`` with the request in every error field
    the connectors read from."""

    def answer(request: RecordedRequest) -> FakeResponse:
        text = f"refused: {echo_body(request)} ({request.method} {request.target})"
        if salesforce:
            return FakeResponse(status, json=[{"message": text, "errorCode": "ECHO"}])
        return FakeResponse(
            status,
            json={
                "message": text,
                "errorMessages": [text],
                "error": {"code": status, "message": text, "errors": []},
                "error_description": text,
            },
        )

    return answer


class Workspace:
    """The four fakes, a headway.toml naming all four, and every output."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.fakes: dict[str, FakeApi] = {}
        self.data: dict[str, Any] = {}
        self.outputs: list[tuple[str, str]] = []
        sources: dict[str, Any] = {}
        for source in SOURCES:
            fake = FakeApi(strict=False).start()
            self.fakes[source.name] = fake
            self.data[source.name] = source.harness.dataset()
            source.harness.serve(fake, self.data[source.name])
            table = {"plugin": source.harness.connector, **self.options(source, fake)}
            sources[source.name] = table
        config = {**SCORECARD, "sources": sources}
        (folder / "headway.toml").write_text(tomli_w.dumps(config))

    @staticmethod
    def options(source: Source, fake: FakeApi) -> dict[str, Any]:
        options = {**source.harness.options(fake.url), "retries": 0}
        if source.name == "salesforce":
            options.update(OAUTH_KEYS)
        return options

    def environ(self, good: bool) -> dict[str, str]:
        if not good:
            return ECHO_ENV
        env: dict[str, str] = dict(OAUTH_ENV)
        for source in SOURCES:
            env.update(source.harness.environ)
        return env

    def headway(self, *args: str, good: bool = True) -> subprocess.CompletedProcess:
        plugins = {"HEADWAY_LOAD_PLUGINS": "jira,github,gcal,salesforce"}
        result = run(self.folder, "-vv", *args, env={**self.environ(good), **plugins})
        self.outputs.append((f"stdout of headway {' '.join(args)}", result.stdout))
        self.outputs.append((f"stderr of headway {' '.join(args)}", result.stderr))
        return result

    def echo(self, status: int) -> None:
        for name, fake in self.fakes.items():
            fake.inject(handler=echoing(status, name == "salesforce"), times=100_000)

    def stop_echo(self) -> None:
        for fake in self.fakes.values():
            fake.routes[:] = [route for route in fake.routes if route.times != 100_000]

    def secrets(self) -> dict[str, str]:
        """Every secret value of either environment, and each issued token."""
        found = {}
        for good in (True, False):
            env = self.environ(good)
            for name in SECRET_NAMES:
                found[f"{name} ({'good' if good else 'echo'})"] = env[name]
            found[f"jira basic header ({'good' if good else 'echo'})"] = (
                base64.b64encode(f"{EMAIL}:{env['JIRA_API_TOKEN']}".encode()).decode()
            )
        for number in range(1, 30):
            found[f"gcal access token {number}"] = issued_token(number)
        for number, token in enumerate(self.data["salesforce"].issued, start=1):
            found[f"salesforce access token {number}"] = token
        return found

    def places(self) -> Iterator[tuple[str, str]]:
        yield from self.outputs
        for path in sorted(self.folder.iterdir()):
            if path.is_file():
                yield path.name, path.read_bytes().decode("latin-1")

    def close(self) -> None:
        for fake in self.fakes.values():
            fake.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    space = Workspace(tmp_path)
    yield space
    space.close()


@pytest.mark.slow
def test_no_token_in_any_output_or_file_even_when_services_echo_requests(
    workspace: Workspace,
) -> None:
    good = workspace.headway("sync", "--json")
    assert good.returncode == 0, good.stderr
    assert {row["status"] for row in json.loads(good.stdout)} == {"ok"}
    assert workspace.headway("sync", "--check").returncode == 0

    for status in (401, 500):
        workspace.echo(status)
        refused = workspace.headway("sync", "--json", good=False)
        checked = workspace.headway("sync", "--check", good=False)
        workspace.stop_echo()
        assert refused.returncode == checked.returncode == 1
        rows = json.loads(refused.stdout)
        assert len(rows) == 4 and {row["status"] for row in rows} == {"failed"}
        if status == 401:
            # The service's words are quoted, so the echoed tokens did reach
            # the messages: masked. (A 500 says only that it kept failing.)
            assert MASK in refused.stderr and MASK in checked.stdout, refused.stderr

    for args in (
        ("score",),
        ("report", "-o", "report.html"),
        ("snapshots",),
        ("explain", "jira:PLAT-1"),
        ("check",),
        ("state", "show"),
        ("query", "select * from runs"),
        ("query", "select * from rejected"),
        ("query", "select config from snapshots"),
        ("plugins",),
    ):
        assert workspace.headway(*args).returncode == 0, args
    assert (workspace.folder / "report.html").stat().st_size > 10_000
    stored = workspace.outputs[-4][1]  # the snapshot's stored config, queried
    assert "${JIRA_API_TOKEN}" in stored and "${SF_REFRESH_TOKEN}" in stored

    leaks = [
        f"{name} ({form}) in {place}"
        for name, secret in workspace.secrets().items()
        for form, text in forms(secret).items()
        for place, content in workspace.places()
        if text in content
    ]
    assert not leaks, "\n".join(leaks)


def test_repr_of_configuration_objects_shows_no_secret(tmp_path: Path) -> None:
    literal = "written-into-the-file-by-mistake"
    (tmp_path / "headway.toml").write_text(
        tomli_w.dumps(
            {
                "sources": {
                    "jira": {
                        "plugin": "jira",
                        "url": "https://acme.atlassian.net",
                        "email": "bot@acme.example",
                        "token": literal,
                        "jql": "project = PLAT",
                    },
                    "github": {
                        "plugin": "github",
                        "token": "${GITHUB_TOKEN}",
                        "repos": ["acme/web"],
                    },
                }
            }
        )
    )
    environ = {"GITHUB_TOKEN": ECHO_ENV["GITHUB_TOKEN"]}
    config = load_config(tmp_path / "headway.toml", environ=environ)
    plugins = Plugins.create(entry_points=False)
    plugins.register(headway_jira, "jira")
    plugins.register(headway_github, "github")
    texts = [
        repr(config),
        str(config),
        repr(config.sources),
        repr(config.snapshot_data()),
    ]
    for source in config.sources.values():
        options, missing = resolve_options(source, environ)
        assert not missing
        texts += [
            repr(options),
            repr(SourceConfig(source.name, source.plugin, options)),
        ]
    for built in build_connectors(
        config, plugins, config.sources.values(), environ=environ
    ):
        texts += [repr(built), repr(built.connector), repr(built.context)]
    for text in texts:
        assert literal not in text, text
        for secret_form in forms(ECHO_ENV["GITHUB_TOKEN"]).values():
            assert secret_form not in text, text


def test_check_masks_a_secret_a_broken_table_echoes(tmp_path: Path) -> None:
    # The token's variable also fills a key that is not secret-named, whose
    # problem quotes the value: check must mask it as sync does.
    token = "ghp_notARealTokenButLongEnough1234"
    (tmp_path / "headway.toml").write_text(
        '[scorecard]\nname = "S"\n[sources.code]\nplugin = "github"\n'
        'token = "${GH_TOKEN}"\nrepos = ["${GH_TOKEN}"]\n',
        encoding="utf-8",
    )
    env = {"GH_TOKEN": token, "HEADWAY_LOAD_PLUGINS": "github"}
    for args in (("check",), ("check", "--json"), ("sync",)):
        result = run(tmp_path, *args, env=env)
        assert "sources.code.repos" in result.stdout + result.stderr, args
        assert token not in result.stdout + result.stderr, args
        assert MASK in result.stdout + result.stderr, args
