"""Shared fixtures: a fresh plugin set per test, a CLI runner, workspaces."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from headway.cli import build_cli
from headway.plugins import Plugins
from headway.secrets import forget_secrets


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts with no remembered secrets and no ambient config."""
    monkeypatch.delenv("HEADWAY_CONFIG", raising=False)
    monkeypatch.delenv("HEADWAY_DEBUG", raising=False)
    monkeypatch.delenv("HEADWAY_LOAD_PLUGINS", raising=False)
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def plugins() -> Plugins:
    """A fresh plugin set with the built-ins only: nothing installed is loaded."""
    return Plugins.create(entry_points=False)


@pytest.fixture
def run_cli(plugins: Plugins) -> Callable[..., Result]:
    """Invoke the headway CLI in-process with the test's plugin set."""

    def run(*args: str, input: str | None = None, env: dict | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(
            build_cli(plugins), list(args), input=input, env=env, catch_exceptions=True
        )

    return run


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a headway.toml (dedented) into the test's folder; returns its path."""

    def write(text: str, name: str = "headway.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def scripted(plugins: Plugins) -> Iterator[object]:
    """The scripted test connector, registered for this test only."""
    from tests.core.fakeplugin import ScriptedPlugin

    plugin = ScriptedPlugin()
    plugins.register(plugin, "scripted")
    yield plugin
    plugins.unregister("scripted")
