"""A plugin that raises inside a hook is reported by name; the command fails
cleanly or goes on without it, as docs/hooks.md says of each hook."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from headway import hookimpl
from headway.cli import build_cli
from headway.connectors import Page, SourceContext, State
from headway.model import Assignment, Snapshot, WorkItem
from headway.plugins import Plugins

DEMO = """
[scorecard]
name = "Plugins"
period = "2026-Q4"

[sources.tickets]
plugin = "demo"
system = "crm"
scale = 0.05
"""
FRAGILE = """
[sources.fragile]
plugin = "fragile"
"""


class Raising:
    """A plugin whose one hook raises."""

    def __init__(self, hook: str):
        self.hook = hook

    def fail(self, hook: str) -> None:
        if hook == self.hook:
            raise RuntimeError(f"boom in {hook}")

    @hookimpl
    def register_connectors(self, register: Callable[..., None]) -> None:
        self.fail("register_connectors")
        register("broken-connector", lambda context: None)

    @hookimpl
    def register_measures(self, register: Callable[..., None]) -> None:
        self.fail("register_measures")

        def value(context: Any) -> float:
            self.fail("measure_function")
            return 1.0

        register("broken.value", value)

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        self.fail("register_commands")

        @cli.command(name="broken-command")
        def broken_command() -> None:
            """A command the broken plugin adds."""

    @hookimpl
    def classify_item(self, item: WorkItem, scorecard: Any) -> Assignment | None:
        self.fail("classify_item")
        return None

    @hookimpl
    def snapshot_saved(self, snapshot: Snapshot, db: Any) -> None:
        self.fail("snapshot_saved")


class Fragile:
    """A plugin whose connector raises where it is built, checked or read."""

    def __init__(self, where: str):
        self.where = where

    @hookimpl
    def register_connectors(self, register: Callable[..., None]) -> None:
        register("fragile", self.build)

    def build(self, context: SourceContext) -> Fragile:
        if self.where == "factory":
            raise KeyError("url")
        return self

    def check(self) -> None:
        if self.where == "check":
            raise AttributeError("'NoneType' object has no attribute 'get'")

    def read(self, state: State) -> Iterator[Page]:
        yield Page([WorkItem("F1", "issue", title="first")], stream="s", state={"n": 1})
        if self.where == "read":
            raise ZeroDivisionError("division by zero")


def run(plugins: Plugins, folder: Path, *args: str) -> Result:
    return CliRunner().invoke(
        build_cli(plugins), ["--config", str(folder / "headway.toml"), *args]
    )


@pytest.fixture
def broken(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plugins]:
    plugins = Plugins.create(entry_points=False)
    plugins.register(Raising(request.param), "broken")
    (tmp_path / "headway.toml").write_text(DEMO)
    yield plugins
    plugins.unregister("broken")


def listed_error(plugins: Plugins, folder: Path) -> str | None:
    result = run(plugins, folder, "plugins", "--json")
    assert result.exit_code == 0, result.output
    return {p["name"]: p for p in json.loads(result.stdout)}["broken"]["error"]


@pytest.mark.parametrize(
    "broken",
    ["register_connectors", "register_measures", "register_commands"],
    indirect=True,
)
def test_a_registration_hook_that_raises_leaves_that_plugin_out_and_the_rest_works(
    broken: Plugins, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    hook = request.node.callspec.params["broken"]

    synced = run(broken, tmp_path, "sync")
    help_text = run(broken, tmp_path, "--help").stdout

    assert synced.exit_code == 0, synced.output
    message = f"plugin broken: {hook} failed: RuntimeError: boom in {hook}"
    if hook != "register_commands":  # that one runs before the command does
        assert message in synced.stderr
    assert (
        listed_error(broken, tmp_path) == f"{hook} failed: RuntimeError: boom in {hook}"
    )
    if hook == "register_commands":
        assert "broken-command" not in help_text
    if hook == "register_connectors":
        assert "broken-connector" not in broken.connectors()


SCORED = """
[[objectives]]
id = "C1"
perspective = "customer"
title = "Win deals"

[[measures]]
id = "C1.value"
objective = "C1"
target = 10
function = "broken.value"
"""


@pytest.mark.parametrize(
    "broken", ["classify_item", "snapshot_saved", "measure_function"], indirect=True
)
def test_a_scoring_hook_that_raises_is_reported_and_the_score_goes_on_without_it(
    broken: Plugins, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    hook = request.node.callspec.params["broken"]
    (tmp_path / "headway.toml").write_text(DEMO + SCORED)
    assert run(broken, tmp_path, "sync").exit_code == 0

    scored = run(broken, tmp_path, "score", "--json")

    assert scored.exit_code == 0, scored.output
    assert "Traceback" not in scored.output
    if hook == "measure_function":
        assert (
            "function broken.value (plugin broken) failed: RuntimeError: boom in "
            "measure_function" in scored.stderr
        )
    else:
        assert f"plugin broken: {hook} failed: RuntimeError: boom in {hook}" in (
            scored.stderr
        )
        assert listed_error(broken, tmp_path) == (
            f"{hook} failed: RuntimeError: boom in {hook}"
        )
    listed = run(broken, tmp_path, "snapshots", "--json")
    assert len(json.loads(listed.stdout)) == 1, "the snapshot is stored"
    with sqlite3.connect(tmp_path / "headway.db") as conn:
        unaligned = conn.execute(
            "SELECT count(*) FROM allocations WHERE category = 'unaligned'"
        ).fetchone()[0]
    assert unaligned, "items no rule or plugin claimed count as unaligned"


@pytest.fixture
def fragile(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Plugins]:
    plugins = Plugins.create(entry_points=False)
    plugins.register(Fragile(request.param), "fragile-plugin")
    (tmp_path / "headway.toml").write_text(DEMO + FRAGILE)
    yield plugins
    plugins.unregister("fragile-plugin")


@pytest.mark.parametrize("fragile", ["factory"], indirect=True)
def test_a_connector_that_crashes_on_its_table_fails_its_source_and_the_others_sync(
    fragile: Plugins, tmp_path: Path
) -> None:
    result = run(fragile, tmp_path, "sync", "--json")

    assert result.exit_code == 1
    rows = {row["source"]: row for row in json.loads(result.stdout)}
    assert rows["tickets"]["status"] == "ok" and rows["tickets"]["items"] > 0
    assert rows["fragile"]["status"] == "failed"
    assert rows["fragile"]["error"].startswith(
        "sources.fragile: connector 'fragile' (plugin fragile-plugin) crashed "
        "reading its table: KeyError: 'url'. This is a bug in the plugin"
    ), rows["fragile"]["error"]
    assert "Traceback" not in result.output
    with sqlite3.connect(tmp_path / "headway.db") as conn:
        (status,) = conn.execute(
            "SELECT status FROM runs WHERE source = 'fragile'"
        ).fetchone()
    assert status == "failed", "its run row records the crash"


@pytest.mark.parametrize("fragile", ["check"], indirect=True)
def test_a_connector_that_crashes_in_its_check_is_reported_beside_the_others(
    fragile: Plugins, tmp_path: Path
) -> None:
    result = run(fragile, tmp_path, "sync", "--check", "--json")

    assert result.exit_code == 1
    outcome = {row["source"]: row for row in json.loads(result.stdout)}
    assert outcome["tickets"]["ok"] is True
    assert outcome["fragile"]["ok"] is False
    assert (
        "(plugin fragile-plugin) crashed checking: AttributeError"
        in (outcome["fragile"]["error"])
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("fragile", ["read"], indirect=True)
def test_a_connector_that_crashes_mid_read_fails_its_source_and_the_others_sync(
    fragile: Plugins, tmp_path: Path
) -> None:
    result = run(fragile, tmp_path, "sync", "--json")

    assert result.exit_code == 1
    rows = {row["source"]: row for row in json.loads(result.stdout)}
    assert rows["tickets"]["status"] == "ok"
    assert rows["fragile"]["status"] == "failed"
    assert (
        "connector 'fragile' (plugin fragile-plugin) crashed: ZeroDivisionError"
        in (rows["fragile"]["error"])
    )
    with sqlite3.connect(tmp_path / "headway.db") as conn:
        kept = conn.execute("SELECT id FROM items WHERE source = 'fragile'").fetchall()
    assert kept == [("F1",)], "the page read before the crash is kept"
