"""``check()`` and ``headway sync`` with a GitHub source, errors included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import headway_github
from headway.connectors import SourceContext
from headway.errors import ConnectorError
from headway.plugins import Plugins
from headway_github import GitHubConnector
from headway_sdk import AuthError, FakeClock, Secret

from .conftest import fill
from .fakegithub import BAD_TOKEN, GOOD_TOKEN, FakeGitHub


def connector(github: FakeGitHub, token: str = GOOD_TOKEN, **options: Any) -> Any:
    table = {"token": Secret(token), "api_url": github.url, **options}
    return GitHubConnector.build(SourceContext("github", "github", table))


def test_check_passes_with_access_to_every_repository(
    github: FakeGitHub, clock: FakeClock
) -> None:
    github.add_repo("acme/web")
    github.add_repo("acme/infra")

    connector(github, repos=["acme/web", "acme/infra"]).check()
    connector(github, org="acme").check()


def test_check_names_each_repository_it_cannot_read(
    github: FakeGitHub, clock: FakeClock
) -> None:
    github.add_repo("acme/web")

    with pytest.raises(ConnectorError) as caught:
        connector(github, repos=["acme/web", "acme/gone", "acme/lost"]).check()

    message = str(caught.value)
    assert "acme/gone: not found (HTTP 404)" in message
    assert "acme/lost: not found (HTTP 404)" in message
    assert "acme/web" not in message


def test_check_with_a_refused_token(github: FakeGitHub, clock: FakeClock) -> None:
    github.add_repo("acme/web")

    with pytest.raises(AuthError) as caught:
        connector(github, BAD_TOKEN, repos=["acme/web"]).check()

    assert "acme/web: GitHub refused the token (HTTP 401: Bad credentials)" in str(
        caught.value
    )
    assert BAD_TOKEN not in str(caught.value)


def test_check_of_an_unknown_org(github: FakeGitHub, clock: FakeClock) -> None:
    with pytest.raises(ConnectorError, match="organisation 'nobody': not found"):
        connector(github, org="nobody").check()


def test_check_of_an_org_with_a_refused_token(
    github: FakeGitHub, clock: FakeClock
) -> None:
    github.add_repo("acme/web")

    with pytest.raises(AuthError, match="organisation 'acme': GitHub refused"):
        connector(github, BAD_TOKEN, org="acme").check()


@pytest.fixture
def with_github(plugins: Plugins) -> Iterator[Plugins]:
    """The CLI's plugin set, with this connector registered for the test."""
    plugins.register(headway_github, "github")
    yield plugins
    plugins.unregister(headway_github)


def workspace(tmp_path: Path, github: FakeGitHub, repos: list[str]) -> Path:
    path = tmp_path / "headway.toml"
    listed = ", ".join(f'"{name}"' for name in repos)
    path.write_text(
        '[scorecard]\nname = "Acme"\nperiod = "2026-Q1"\n\n'
        '[sources.github]\nplugin = "github"\ntoken = "${GITHUB_TOKEN}"\n'
        f'api_url = "{github.url}"\nrepos = [{listed}]\n',
        encoding="utf-8",
    )
    return path


def test_headway_sync_reads_the_repositories(
    github: FakeGitHub,
    clock: FakeClock,
    tmp_path: Path,
    with_github: Plugins,
    run_cli: Callable[..., Result],
) -> None:
    fill(github, github.add_repo("acme/web"), 5, every=timedelta(hours=1))
    config = workspace(tmp_path, github, ["acme/web"])

    result = run_cli(
        "--config", str(config), "sync", "--json", env={"GITHUB_TOKEN": GOOD_TOKEN}
    )

    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert (report["source"], report["status"], report["changed"]) == (
        "github",
        "ok",
        5,
    )


def test_headway_sync_with_a_missing_repository_exits_1_without_a_traceback(
    github: FakeGitHub,
    clock: FakeClock,
    tmp_path: Path,
    with_github: Plugins,
    run_cli: Callable[..., Result],
) -> None:
    fill(github, github.add_repo("acme/web"), 5, every=timedelta(hours=1))
    config = workspace(tmp_path, github, ["acme/web", "acme/gone"])

    result = run_cli("--config", str(config), "sync", env={"GITHUB_TOKEN": GOOD_TOKEN})

    assert result.exit_code == 1
    assert "acme/gone: not found (HTTP 404)" in result.stderr
    assert "Traceback" not in result.output
    assert GOOD_TOKEN not in result.output


def test_headway_sync_without_the_token_variable_names_it(
    github: FakeGitHub,
    clock: FakeClock,
    tmp_path: Path,
    with_github: Plugins,
    run_cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    config = workspace(tmp_path, github, ["acme/web"])

    result = run_cli("--config", str(config), "sync")

    assert result.exit_code == 1
    assert "sources.github.token" in result.stderr
    assert "GITHUB_TOKEN" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "headway.db").exists()


def test_explain_names_items_by_key_and_rules_hold_across_a_rename(
    github: FakeGitHub,
    clock: FakeClock,
    tmp_path: Path,
    with_github: Plugins,
    run_cli: Callable[..., Result],
) -> None:
    web = github.add_repo("acme/web")
    fill(github, web, 4, every=timedelta(hours=1))
    config = workspace(tmp_path, github, ["acme/web"])
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[[objectives]]\nid = "P1"\nperspective = "process"\n'
        'title = "Ship faster"\nowner = "alice@acme.com"\n\n'
        '[[rules]]\nobjective = "P1"\nproject = "acme/web"\nkind = "pull_request"\n',
        encoding="utf-8",
    )
    env = {"GITHUB_TOKEN": GOOD_TOKEN}
    assert run_cli("--config", str(config), "sync", env=env).exit_code == 0

    def explain(reference: str) -> Result:
        return run_cli("--config", str(config), "explain", reference, env=env)

    merged, issue = explain("github:acme/web#1"), explain("github:acme/web#2")
    assert (merged.exit_code, issue.exit_code) == (0, 0), merged.output + issue.output
    assert "Goes to P1" in merged.stdout and "rule 1" in merged.stdout
    assert "unaligned" in issue.stdout

    github.rename("acme/web", "acme/webapp")
    github.touch(web, 1, clock.now(), title="Merged, then renamed")
    synced = run_cli("--config", str(config), "sync", env=env)

    assert synced.exit_code == 0, synced.output
    assert "acme/web is now acme/webapp" in synced.stderr
    again = explain("github:acme/web#1")
    assert again.exit_code == 0, again.output
    assert "Merged, then renamed" in again.stdout
    assert "Goes to P1" in again.stdout, "the rule on the project still holds"
    assert "Traceback" not in again.output
