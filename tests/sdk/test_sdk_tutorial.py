"""docs/tutorial.md quotes the real tutorial package, which CI installs and tests."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from headway_sdk.scaffold import scaffold_plugin

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
PACKAGE = ROOT / "docs" / "tutorial" / "headway-tasks"
_BLOCK = re.compile(
    r"^<!-- (?P<mark>quote: (?P<path>\S+)|layout) -->\n```\w*\n(?P<body>.*?)\n```$",
    re.M | re.S,
)


def _blocks() -> list[re.Match[str]]:
    return list(_BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8")))


def _quotes() -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in _blocks() if m["path"]]


def test_the_tutorial_quotes_every_part_of_the_connector():
    quoted = {path for path, _ in _quotes()}
    assert len(_quotes()) >= 10
    assert {
        "pyproject.toml",
        "headway_tasks/connector.py",
        "headway_tasks/__init__.py",
        "tests/tasks_fake.py",
        "tests/test_tasks_conformance.py",
        "tests/test_tasks_connector.py",
    } <= quoted


@pytest.mark.parametrize(
    ("path", "body"),
    _quotes(),
    ids=[f"{index}-{path}" for index, (path, _) in enumerate(_quotes())],
)
def test_a_quoted_block_is_the_packages_code_as_it_is(path, body):
    source = (PACKAGE / path).resolve()
    assert source.is_relative_to(PACKAGE)
    assert body in source.read_text(encoding="utf-8"), (
        f"docs/tutorial.md quotes {path} as it no longer is; copy the code again"
    )


def test_the_layout_shown_is_what_the_scaffolder_writes(tmp_path):
    layout = next(m["body"] for m in _blocks() if m["mark"] == "layout")
    top, *files = layout.splitlines()
    written = scaffold_plugin("tasks", tmp_path)
    assert top == f"{written.folder.name}/"
    assert [line.strip() for line in files] == [p.as_posix() for p in written.files]


def test_the_tutorial_package_is_installed_and_its_tests_collected():
    entry_points = metadata.entry_points(group="headway")
    assert "headway_tasks" in {e.value for e in entry_points if e.name == "tasks"}
    requirements = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert "-e ./docs/tutorial/headway-tasks" in requirements.splitlines()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    testpaths = project["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "docs/tutorial/headway-tasks/tests" in testpaths


def test_the_tutorial_connector_names_its_distribution_in_the_user_agent():
    from headway_tasks.connector import TasksConnector

    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text(encoding="utf-8"))
    name = project["project"]["name"]
    assert TasksConnector.distribution == name
    assert TasksConnector.distribution == metadata.distribution(name).name


def test_the_plugins_page_links_the_tutorial():
    assert "(tutorial.md)" in (ROOT / "docs" / "plugins.md").read_text("utf-8")
