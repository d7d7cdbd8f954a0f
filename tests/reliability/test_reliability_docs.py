"""docs/reliability.md names real tests, and every reliability test is named."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
DOC = TESTS.parent / "docs" / "reliability.md"
REFERENCE = re.compile(r"`(?:([\w/]+\.py))?::(test_\w+)`")


def referenced() -> list[tuple[str, str]]:
    found, last = [], None
    for match in REFERENCE.finditer(DOC.read_text(encoding="utf-8")):
        file = match[1] or last
        assert file, f"{match[0]} names no file"
        found.append((file, match[2]))
        last = file
    return found


def test_every_test_the_guarantees_name_exists() -> None:
    missing = [
        f"{file}::{name}"
        for file, name in referenced()
        if not (TESTS / file).is_file()
        or not re.search(
            rf"^(def {name}\(|{name} = )", (TESTS / file).read_text(), re.M
        )
    ]
    assert referenced() and not missing, missing


def test_every_reliability_test_backs_a_guarantee() -> None:
    named = {(file, name) for file, name in referenced()}
    unnamed = [
        f"{path.name}::{name}"
        for path in sorted((TESTS / "reliability").glob("test_*.py"))
        if path.name != Path(__file__).name
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.M)
        if (f"reliability/{path.name}", name) not in named
    ]
    assert not unnamed, unnamed
