"""docs/connectors/github.md keeps up with the code: every key, every measure."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

import headway_github
from headway.plugins import Plugins
from headway_github import GitHubConfig

DOC = Path(__file__).resolve().parents[3] / "docs" / "connectors" / "github.md"


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_setting_is_in_the_settings_table() -> None:
    documented = set(re.findall(r"^\| `(\w+)` \|", section("Settings"), flags=re.M))

    assert documented == {field.name for field in attrs.fields(GitHubConfig)}


def test_every_measure_is_documented() -> None:
    plugins = Plugins.create(entry_points=False, builtins=False)
    plugins.register(headway_github, "github")
    documented = set(re.findall(r"^\| `([\w.]+)` \|", section("Measures"), flags=re.M))

    assert set(plugins.measures()) <= documented


def test_the_doc_has_the_sections_a_user_needs() -> None:
    titles = re.findall(r"^## (.+)$", DOC.read_text(encoding="utf-8"), flags=re.M)

    for title in ("Set-up", "Settings", "What each item becomes", "Measures"):
        assert title in titles
    assert titles[-1] == "Known limitations"
