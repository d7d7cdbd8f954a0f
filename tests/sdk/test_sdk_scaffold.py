"""``headway plugin new``: the package it writes installs, passes its tests, loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

import headway_sdk.plugin
from headway.plugins import Plugins
from headway_sdk.scaffold import (
    MAX_NAME_LENGTH,
    InvalidNameError,
    PluginNames,
    ScaffoldError,
    render,
    scaffold_plugin,
    template_files,
)

EXPECTED_FILES = [
    ".gitignore",
    "README.md",
    "headway_tickets/__init__.py",
    "headway_tickets/connector.py",
    "pyproject.toml",
    "tests/test_tickets_conformance.py",
    "tests/test_tickets_records.py",
    "tests/tickets_fake.py",
]


@pytest.fixture
def sdk_plugins(plugins: Plugins) -> Iterator[Plugins]:
    """The built-ins and the SDK's own plugin, which adds ``headway plugin``."""
    plugins.register(headway_sdk.plugin, "sdk")
    yield plugins
    plugins.unregister("sdk")


@pytest.fixture
def new(sdk_plugins: Plugins, run_cli: Callable[..., Result]) -> Callable[..., Result]:
    """Run ``headway plugin new ARGS...``."""
    return lambda *args: run_cli("plugin", "new", *args)


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    )


def test_plugin_new_writes_a_complete_package(new, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = new("tickets")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "headway-tickets"
    assert _files(folder) == EXPECTED_FILES
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "Wrote headway-tickets, a plugin package with the tickets connector:"
    )
    assert lines[1 : 1 + len(EXPECTED_FILES)] == [
        f"  headway-tickets/{name}" for name in EXPECTED_FILES
    ]
    assert "  cd headway-tickets" in lines
    assert any("python -m pytest" in line for line in lines)
    assert any("headway plugins" in line for line in lines)

    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["name"] == "headway-tickets"
    assert project["project"]["entry-points"]["headway"] == {
        "tickets": "headway_tickets"
    }
    assert any(d.startswith("headway-sdk") for d in project["project"]["dependencies"])
    # The User-Agent names the package, however it is installed.
    connector = (folder / "headway_tickets" / "connector.py").read_text("utf-8")
    assert 'distribution = "headway-tickets"' in connector
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "{{" not in text, f"an unfilled placeholder in {path.name}"
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    assert "${TICKETS_TOKEN}" in (folder / "README.md").read_text(encoding="utf-8")
    # Nothing half-written is left beside the package.
    assert [p.name for p in tmp_path.iterdir()] == ["headway-tickets"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("tickets", ("tickets", "headway_tickets", "headway-tickets", "Tickets")),
        ("my-crm", ("my_crm", "headway_my_crm", "headway-my-crm", "MyCrm")),
        ("my_crm2", ("my_crm2", "headway_my_crm2", "headway-my-crm2", "MyCrm2")),
        ("headway-tasks", ("tasks", "headway_tasks", "headway-tasks", "Tasks")),
    ],
    ids=["plain", "hyphen", "underscore-digit", "prefix-dropped"],
)
def test_a_name_gives_every_name_of_the_package(given, expected):
    names = PluginNames.parse(given)
    assert (names.name, names.package, names.distribution, names.class_prefix) == (
        expected
    )
    assert names.env_prefix == expected[0].upper()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("Tickets", "use lowercase, as in 'tickets'"),
        ("1tickets", "starting with a letter"),
        ("my crm", "joined by - or _"),
        ("my--crm", "joined by - or _"),
        ("tickets_", "joined by - or _"),
        ("tick.ets", "joined by - or _"),
        ("../tickets", "joined by - or _"),
        ("headway", "give a short name"),
        ("headway-", "give a short name"),
        ("a" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH} characters"),
        ("class", "Python keyword"),
    ],
    ids=[
        "uppercase",
        "digit-first",
        "space",
        "double-hyphen",
        "trailing-underscore",
        "dot",
        "path",
        "only-prefix",
        "prefix-and-hyphen",
        "too-long",
        "keyword",
    ],
)
def test_a_bad_name_is_a_usage_error(new, tmp_path, given, message):
    result = new(given, "--dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "Invalid value for 'NAME'" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_name_raises_from_the_library():
    with pytest.raises(InvalidNameError) as caught:
        PluginNames.parse("Bad Name")
    assert caught.value.name == "Bad Name"
    assert caught.value.exit_code == 2


def test_plugin_new_never_writes_over_a_folder(new, tmp_path):
    existing = tmp_path / "headway-tickets"
    existing.mkdir()
    (existing / "README.md").write_text("mine", encoding="utf-8")
    result = new("tickets", "--dir", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "already exists" in result.stderr
    assert "never writes over anything" in result.stderr
    assert "Traceback" not in result.output
    assert (existing / "README.md").read_text(encoding="utf-8") == "mine"
    assert _files(existing) == ["README.md"]
    assert [p.name for p in tmp_path.iterdir()] == ["headway-tickets"]


def test_plugin_new_never_writes_over_a_file(new, tmp_path):
    (tmp_path / "headway-tickets").write_text("a file", encoding="utf-8")
    result = new("tickets", "--dir", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "already exists" in result.stderr
    assert (tmp_path / "headway-tickets").read_text(encoding="utf-8") == "a file"


def test_plugin_new_fills_an_empty_folder(new, tmp_path):
    (tmp_path / "headway-tickets").mkdir()
    result = new("tickets", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert _files(tmp_path / "headway-tickets") == EXPECTED_FILES


def test_plugin_new_makes_the_folder_it_is_given(new, tmp_path):
    parent = tmp_path / "src" / "plugins"
    result = new("tickets", "--dir", str(parent))
    assert result.exit_code == 0, result.output
    assert _files(parent / "headway-tickets") == EXPECTED_FILES
    assert f"Wrote {parent / 'headway-tickets'}," in result.stdout


@pytest.mark.parametrize("name", ["demo", "sdk"], ids=["connector", "plugin"])
def test_plugin_new_refuses_a_name_already_installed(new, tmp_path, name):
    result = new(name, "--dir", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert f"named {name!r} is already installed" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_plugin_new_under_a_file_fails_clearly(new, tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    result = new("tickets", "--dir", str(tmp_path / "notes.txt" / "sub"))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: cannot create ")
    assert "Traceback" not in result.output


def test_plugin_new_given_a_file_as_dir_is_a_usage_error(new, tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    result = new("tickets", "--dir", str(tmp_path / "notes.txt"))
    assert result.exit_code == 2, result.output
    assert "is a file" in result.stderr


def test_the_library_refuses_a_taken_name(tmp_path):
    with pytest.raises(ScaffoldError, match="already installed"):
        scaffold_plugin("tickets", tmp_path, taken={"tickets"})


def test_every_placeholder_of_the_templates_has_a_value():
    values = PluginNames.parse("tickets").placeholders()
    templates = list(template_files())
    assert len(templates) == len(EXPECTED_FILES)
    for relative, template in templates:
        render(relative.as_posix(), values)
        render(template.read_text("utf-8"), values)
    with pytest.raises(KeyError, match="nope"):
        render("{{nope}}", values)


def _ruff(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "name",
    ["tickets", "a", "b" * MAX_NAME_LENGTH, "a-b-c-d-e-f-g-h-i-j-k-l"],
    ids=["short", "one-letter", "longest", "many-parts"],
)
def test_the_generated_code_is_formatted_and_lint_clean(tmp_path, name):
    folder = scaffold_plugin(name, tmp_path).folder
    formatted = _ruff(folder, "format", "--check")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = _ruff(folder, "check")
    assert linted.returncode == 0, linted.stdout + linted.stderr


# ---------------------------------------------------------------- end to end


def _clean_environ() -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HEADWAY_", "PYTEST_")) and key != "PYTHONPATH"
    }
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return environ


def _fresh_environment(folder: Path) -> Path:
    """A new virtualenv that sees this one's packages and installs into its own.

    ``--system-site-packages`` would show the base interpreter's packages,
    not this environment's (headway, the SDK, pytest, hatchling), so a
    ``.pth`` file adds this environment's site folders instead; what pip
    installs goes into the new environment only.
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True
    )
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    lines = [f"import site; site.addsitedir({path!r})" for path in sorted(ours)]
    (Path(purelib) / "_headway_test_parent.pth").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )
    return python


@pytest.mark.slow
def test_a_scaffolded_plugin_installs_passes_its_tests_and_is_listed(tmp_path):
    package = scaffold_plugin("tickets", tmp_path / "src").folder
    python = _fresh_environment(tmp_path / "venv")
    environ = _clean_environ()

    def run(*args: str | Path, cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            [str(arg) for arg in args],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        package,
    )
    # -P: import the installed package, not the source folder pytest runs in.
    tests = run(
        python, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package
    )
    assert "15 passed" in tests.splitlines()[-1], tests

    listing = run(python, "-P", "-m", "headway", "plugins", "--json")
    plugins = {entry["name"]: entry for entry in json.loads(listing)}
    assert plugins["tickets"]["connectors"] == ["tickets"]
    assert plugins["tickets"]["package"] == "headway-tickets"
    assert plugins["tickets"]["error"] is None
    assert plugins["sdk"]["hooks"] == ["register_commands"]
