"""Plugins: entry points loaded one by one, failures reported by name."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from headway import hookimpl, hookspecs
from headway.cli import build_cli
from headway.errors import PluginError
from headway.model import Assignment, WorkItem
from headway.plugins import Plugins

GOOD = """
from headway import hookimpl

@hookimpl
def register_connectors(register):
    register("good", lambda context: None, description="a good connector")

@hookimpl
def register_measures(register):
    register("answer", lambda context: 42.0)
"""
BROKEN = 'raise ImportError("headway-broken needs libfoo; pip install libfoo")\n'


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake distribution on sys.path with a good and a broken plugin."""
    site = tmp_path / "site"
    dist = site / "headway_fake-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: headway-fake\nVersion: 1.2.3\n"
    )
    (dist / "entry_points.txt").write_text(
        "[headway]\ngood = fake_good_plugin\nbroken = fake_broken_plugin\n"
    )
    (site / "fake_good_plugin.py").write_text(textwrap.dedent(GOOD))
    (site / "fake_broken_plugin.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in ("fake_good_plugin", "fake_broken_plugin"):
        sys.modules.pop(name, None)


def test_entry_points_load_one_by_one_and_failures_are_recorded(installed):
    plugins = Plugins.create()
    assert "good" in plugins.connectors()
    assert plugins.measures()["answer"].plugin == "good"
    assert plugins.load_errors == {
        "broken": "ImportError: headway-broken needs libfoo; pip install libfoo"
    }


def test_headway_plugins_lists_load_errors_and_other_commands_still_work(
    installed, tmp_path
):
    from click.testing import CliRunner

    cli = build_cli(Plugins.create())
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert listed["good"]["version"] == "1.2.3"
    assert listed["good"]["connectors"] == ["good"]
    assert listed["good"]["hooks"] == ["register_connectors", "register_measures"]
    assert listed["broken"]["error"].startswith("ImportError")
    assert listed["demo"]["builtin"] is True
    text = CliRunner().invoke(cli, ["plugins"])
    assert "error: ImportError" in text.stdout
    init = CliRunner().invoke(cli, ["init", str(tmp_path / "ws")])
    assert init.exit_code == 0, init.output


@pytest.mark.parametrize(
    ("value", "expected"),
    [("good", {"good"}), ("", set()), ("good, broken", {"good", "broken"})],
    ids=["only-good", "none", "both"],
)
def test_headway_load_plugins_restricts_loading(
    installed, monkeypatch, value, expected
):
    monkeypatch.setenv("HEADWAY_LOAD_PLUGINS", value)
    plugins = Plugins.create()
    loaded = {n for n, _ in plugins.manager.list_name_plugin()} - {"demo"}
    assert loaded | set(plugins.load_errors) == expected


def test_tests_can_build_a_manager_without_installed_plugins(installed):
    plugins = Plugins.create(entry_points=False)
    assert set(plugins.connectors()) == {"demo"}
    assert plugins.load_errors == {}


class Twin:
    @hookimpl
    def register_connectors(self, register):
        register("demo", lambda context: None)


def test_a_connector_name_registered_twice_is_refused(plugins):
    plugins.register(Twin(), "twin")
    with pytest.raises(PluginError, match="plugin 'twin' registers connector 'demo'"):
        plugins.connectors()


class Raising:
    @hookimpl
    def register_connectors(self, register):
        raise RuntimeError("boom")

    @hookimpl
    def classify_item(self, item, scorecard):
        raise RuntimeError("classify boom")


class Claiming:
    @hookimpl
    def classify_item(self, item, scorecard):
        return Assignment(category="overhead")


def test_a_plugin_raising_in_a_hook_is_reported_by_name_and_skipped(plugins, caplog):
    plugins.register(Raising(), "raising")
    assert "demo" in plugins.connectors()  # the others still register
    assert (
        plugins.hook_errors["raising"]
        == "register_connectors failed: RuntimeError: boom"
    )
    assert "plugin raising" in caplog.text
    item = WorkItem(id="1", kind="issue")
    assert plugins.classify(item, None) is None
    plugins.register(Claiming(), "claiming")
    assert plugins.classify(item, None) == Assignment(
        category="overhead", reason="plugin claiming"
    )
    plugins.unregister("claiming")
    plugins.unregister("raising")


def test_every_hook_is_specified_and_documented():
    for name in hookspecs.HOOK_NAMES:
        spec = getattr(hookspecs, name)
        assert spec.__doc__ and "Return" in spec.__doc__, name
