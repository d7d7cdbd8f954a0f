"""The SDK documents every public name, where it is defined and in docs/sdk.md."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from importlib import metadata
from pathlib import Path
from types import ModuleType

import click
import pytest

import headway_sdk
import headway_sdk.testing

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "docs" / "sdk.md").read_text(encoding="utf-8")
# Names the SDK re-exports from headway's core, documented there.
FROM_CORE = {
    "MetricPoint",
    "Page",
    "Rejected",
    "Secret",
    "SourceContext",
    "State",
    "Sweep",
    "Tombstone",
    "WorkItem",
    "hookimpl",
}


def public_modules() -> list[ModuleType]:
    """``headway_sdk`` and every module below it whose name has no ``_`` part."""
    modules = [headway_sdk]
    for info in pkgutil.walk_packages(headway_sdk.__path__, "headway_sdk."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    return modules


def _module_names(module: ModuleType) -> list[str]:
    """A module's ``__all__``, else the classes and functions it defines."""
    if hasattr(module, "__all__"):
        return [name for name in module.__all__ if not name.startswith("__")]
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def public_names() -> list[tuple[str, object]]:
    names: dict[str, object] = {}
    for module in public_modules():
        for name in _module_names(module):
            names.setdefault(name, getattr(module, name))
    return sorted(names.items())


def test_the_walk_finds_the_modules_of_phase_two():
    found = {module.__name__ for module in public_modules()}
    assert {"headway_sdk.scaffold", "headway_sdk.plugin", "headway_sdk.cursors"} <= (
        found
    )
    assert "scaffold_plugin" in dict(public_names())
    assert "WatermarkRun" in dict(public_names())


@pytest.mark.parametrize(
    ("name", "value"), public_names(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_public_name_is_in_the_reference(name, value):
    assert f"`{name}" in REFERENCE, f"{name} is missing from docs/sdk.md"


def _own_members(cls: type) -> list[tuple[str, object]]:
    members = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | staticmethod | classmethod):
            member = getattr(member, "fget", None) or member.__func__
        if inspect.isfunction(member):
            members.append((name, member))
    return members


def test_every_public_name_has_a_docstring_where_it_is_defined():
    missing = []
    for name, value in public_names():
        if isinstance(value, click.Command):
            if not (value.help or "").strip():
                missing.append(name)
            continue
        if name in FROM_CORE or not (
            inspect.isclass(value) or inspect.isfunction(value)
        ):
            continue
        if not inspect.getdoc(value):
            missing.append(name)
        if inspect.isclass(value):
            missing += [
                f"{name}.{member}"
                for member, function in _own_members(value)
                if not (function.__doc__ or "").strip()
            ]
    assert not missing, f"no docstring: {', '.join(missing)}"


def test_the_pytest_plugin_is_registered():
    entry_points = metadata.entry_points(group="pytest11")
    assert "headway_sdk.testing.pytest_plugin" in {e.value for e in entry_points}


def test_the_fixtures_are_documented():
    for fixture in ("`fake_api`", "`clock`"):
        assert fixture in REFERENCE


# Modules the reference names where their names are documented.
NAMED_MODULES = ("headway_sdk.testing", "headway_sdk.scaffold", "headway_sdk.plugin")


def test_every_name_documented_without_a_module_is_importable_from_the_package():
    missing = [
        f"{module.__name__}.{name}"
        for module in public_modules()
        if not module.__name__.startswith(NAMED_MODULES)
        for name in _module_names(module)
        if name not in headway_sdk.__all__
    ]
    assert not missing, f"not exported by headway_sdk: {', '.join(missing)}"


def test_the_whole_connector_example_runs_as_written():
    start = REFERENCE.index("## A whole connector")
    block = REFERENCE[start:].split("```python\n", 1)[1].split("\n```", 1)[0]
    namespace: dict[str, object] = {"__name__": "sdk_docs_example"}
    exec(compile(block, "docs/sdk.md", "exec", dont_inherit=True), namespace)
    connector = namespace["TicketsConnector"]
    assert connector.config_class is namespace["TicketsConfig"]
