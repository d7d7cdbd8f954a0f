"""Plugins: entry points loaded one by one, failures reported by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from headway import hookimpl, hookspecs
from headway.cli import build_cli
from headway.model import Assignment, WorkItem
from headway.plugins import Plugins

ROOT = Path(__file__).resolve().parents[2]

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


def test_a_failed_plugins_traceback_shows_at_debug_only(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(installed), "HEADWAY_DEBUG": "1"}
    env.pop("HEADWAY_LOAD_PLUGINS", None)

    def plugins(*flags: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "headway", *flags, "plugins"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        ).stderr

    debug = plugins("-vv")
    assert "Traceback" in debug and "fake_broken_plugin.py" in debug, debug
    plain = plugins()
    assert "plugin broken could not be loaded" in plain and "Traceback" not in plain
    assert plugins("-q") == ""


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


# A plugin that registers a connector name another plugin owns, and one that
# ends the process while it is imported.
DUP = """
from headway import hookimpl

@hookimpl
def register_connectors(register):
    register("good", lambda context: None, description="the same name again")
    register("dup-own", lambda context: None)
"""
EXITING = 'import sys\nsys.exit("headway-exiting needs libbar")\n'


@pytest.fixture
def troublesome(installed: Path) -> Iterator[Path]:
    """Beside ``installed``: ``dup`` (found before ``good``) and ``exiting``."""
    dist = installed / "headway_trouble-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: headway-trouble\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[headway]\ndup = fake_dup_plugin\nexiting = fake_exiting_plugin\n"
    )
    (installed / "fake_dup_plugin.py").write_text(textwrap.dedent(DUP))
    (installed / "fake_exiting_plugin.py").write_text(EXITING)
    yield installed
    for name in ("fake_dup_plugin", "fake_exiting_plugin"):
        sys.modules.pop(name, None)


def test_a_plugin_exiting_while_imported_is_recorded_like_an_import_error(
    troublesome,
):
    plugins = Plugins.create()
    assert plugins.load_errors["exiting"] == "SystemExit: headway-exiting needs libbar"
    assert "good" in plugins.connectors()


def test_the_plugin_named_like_a_connector_keeps_it_whatever_the_load_order(
    troublesome, monkeypatch
):
    for order in ("dup,good", "good,dup"):
        monkeypatch.setenv("HEADWAY_LOAD_PLUGINS", order)
        plugins = Plugins.create()
        assert plugins.connectors()["good"].plugin == "good"
        assert plugins.connectors()["dup-own"].plugin == "dup"
        assert "connector 'good' refused: plugin 'good'" in plugins.problems("dup")
        assert plugins.problems("good") is None


DEMO_SOURCE = """
[scorecard]
name = "Plugins"
period = "2026-Q3"

[sources.tickets]
plugin = "demo"
system = "crm"
scale = 0.02
"""


def test_a_duplicate_or_exiting_plugin_breaks_no_command(troublesome, tmp_path):
    """In a real process: ``headway plugins`` shows each problem against its
    plugin, and a sync works."""
    config = tmp_path / "headway.toml"
    config.write_text(DEMO_SOURCE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")},
        "PYTHONPATH": os.pathsep.join([str(troublesome), str(ROOT)]),
        "HEADWAY_LOAD_PLUGINS": "good,dup,exiting,nosuch",
    }

    def headway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "headway", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = headway("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["dup"]["connectors"] == ["dup-own"]
    assert plugins["dup"]["error"] == (
        "connector 'good' refused: plugin 'good' registers it too and keeps it"
    )
    assert plugins["good"]["connectors"] == ["good"]
    assert plugins["good"]["error"] is None
    assert plugins["demo"]["connectors"] == ["demo"]
    assert plugins["exiting"]["error"] == "SystemExit: headway-exiting needs libbar"
    assert plugins["nosuch"]["error"] == "not installed (HEADWAY_LOAD_PLUGINS names it)"
    assert "connector 'good' refused" in listed.stderr  # the warning
    assert "plugin nosuch is not installed" in listed.stderr

    text = headway("plugins")
    assert text.returncode == 0, text.stderr
    assert "error: connector 'good' refused" in text.stdout
    assert "error: SystemExit: headway-exiting needs libbar" in text.stdout

    synced = headway("sync", "--json")
    assert synced.returncode == 0, synced.stderr
    assert "Traceback" not in synced.stderr
    assert [r["status"] for r in json.loads(synced.stdout)] == ["ok"]


def test_a_name_in_headway_load_plugins_that_is_not_installed_is_warned_about(
    installed, monkeypatch, caplog
):
    monkeypatch.setenv("HEADWAY_LOAD_PLUGINS", "good,demo,nosuch")
    plugins = Plugins.create()
    assert plugins.load_errors == {
        "nosuch": "not installed (HEADWAY_LOAD_PLUGINS names it)"
    }
    assert "good" in plugins.connectors()
    assert "plugin nosuch is not installed" in caplog.text
    assert "plugin demo" not in caplog.text  # a built-in always loads


class Twin:
    @hookimpl
    def register_connectors(self, register):
        register("demo", lambda context: None)
        register("twin", lambda context: None)

    @hookimpl
    def register_measures(self, register):
        register("twin.value", lambda context: 1.0)
        register("twin.value", lambda context: 2.0)


def test_a_name_registered_twice_is_refused_and_the_first_kept(plugins, caplog):
    plugins.register(Twin(), "twin")
    connectors = plugins.connectors()
    assert connectors["demo"].plugin == "demo"  # the built-in keeps its name
    assert connectors["twin"].plugin == "twin"  # the rest of twin still counts
    assert plugins.measures()["twin.value"].function(None) == 1.0
    assert plugins.problems("twin") == (
        "connector 'demo' refused: plugin 'demo' registers it too and keeps it; "
        "measure 'twin.value' registered twice; the first is kept"
    )
    assert plugins.problems("demo") is None
    assert "plugin twin: connector 'demo' refused" in caplog.text
    info = {i.name: i for i in plugins.info()}
    assert info["twin"].connectors == ("twin",)
    assert info["twin"].error == plugins.problems("twin")
    plugins.unregister("twin")
    assert plugins.problems("twin") is None
    assert plugins.connectors()["demo"].plugin == "demo"


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


@pytest.mark.parametrize(
    ("flags", "heard"), [([], True), (["-q"], False)], ids=["default", "quiet"]
)
def test_what_loading_plugins_says_obeys_quiet_and_is_prefixed(tmp_path, flags, heard):
    env = {**os.environ, "HEADWAY_LOAD_PLUGINS": "no-such-plugin"}
    result = subprocess.run(
        [sys.executable, "-m", "headway", *flags, "plugins", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    warning = "warning: plugin no-such-plugin is not installed"
    assert (warning in result.stderr) is heard, result.stderr
    if not heard:
        assert result.stderr == ""


class _Hijacker:
    """Adds a command of headway's own name, and one of its own."""

    @hookimpl
    def register_commands(self, cli):
        import click

        @click.command("sync")
        def fake_sync():
            click.echo("HIJACKED")

        @click.command("hello")
        def hello():
            click.echo("hello")

        cli.add_command(fake_sync)
        cli.add_command(hello)


def test_a_plugin_cannot_replace_a_core_command(tmp_path):
    from click.testing import CliRunner

    plugins = Plugins.create(entry_points=False)
    plugins.register(_Hijacker(), name="hijacker")
    cli = build_cli(plugins)
    assert "hello" in cli.commands
    assert cli.commands["sync"].callback.__module__ == "headway.commands"
    assert plugins.problems("hijacker") == "command 'sync' refused: it is headway's"
    listed = CliRunner().invoke(cli, ["plugins", "--json"])
    (entry,) = [p for p in json.loads(listed.stdout) if p["name"] == "hijacker"]
    assert entry["error"] == "command 'sync' refused: it is headway's"


@pytest.mark.parametrize(
    ("load", "words"),
    [
        (None, "plugin broken could not be loaded (ImportError: headway-broken"),
        ("good", "plugin broken is installed, but HEADWAY_LOAD_PLUGINS leaves it out"),
    ],
    ids=["failed-to-load", "left-out"],
)
def test_a_source_of_an_unavailable_plugin_says_why(
    installed, tmp_path, monkeypatch, load, words
):
    from click.testing import CliRunner

    if load is None:
        monkeypatch.delenv("HEADWAY_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("HEADWAY_LOAD_PLUGINS", load)
    config = tmp_path / "headway.toml"
    config.write_text('[scorecard]\nname = "S"\n[sources.x]\nplugin = "broken"\n')
    cli = build_cli(Plugins.create())
    result = CliRunner().invoke(cli, ["--config", str(config), "-q", "sync"])
    assert result.exit_code == 1
    assert f"sources.x.plugin: connector 'broken' is unavailable: {words}" in (
        result.stderr
    ), result.stderr
    assert "pip install headway-broken" not in result.stderr
