"""Broken configurations, generated: never a traceback, always a key path,
and nothing written to the store before the file is valid."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.cli import build_cli
from headway.plugins import Plugins

VALID: dict[str, Any] = {
    "scorecard": {"name": "Fuzz", "period": "2026-Q4", "database": "fuzz.db"},
    "perspectives": {"financial": {"title": "Money", "weight": 2}},
    "teams": {"web": {"title": "Web", "members": ["a@x.com"]}},
    "people": {"a@x.com": {"aliases": ["github:a"]}},
    "objectives": [
        {"id": "F1", "perspective": "financial", "title": "Grow", "drives": []},
        {"id": "C1", "perspective": "customer", "title": "Delight", "drives": ["F1"]},
    ],
    "measures": [
        {"id": "F1.m", "objective": "F1", "baseline": 0, "target": 10, "metric": "rev"}
    ],
    "key_results": [
        {"id": "C1.kr", "objective": "C1", "start": 1, "target": 5, "period": "2026-Q4"}
    ],
    "rules": [
        {"objective": "F1", "kind": "opportunity"},
        {"objectives": {"F1": 0.5, "C1": 0.5}, "title": "(?i)renewal"},
        {"category": "overhead", "kind": "meeting"},
    ],
    "sources": {"demo": {"plugin": "demo", "system": "crm", "scale": 0.01}},
}

# Values of every TOML type, good and bad, to put anywhere.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([10**400, -(10**400), 2**63]),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.text(max_size=8),
    st.sampled_from(["([", "2026-Q9", "finance", "F9", "", "${UNSET_FUZZ_VAR}", "-1"]),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=2),
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def broken_configs(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        targets = paths(data)
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(ANY_VALUE)
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["colour", "wieght", "titel", "x"]))] = draw(
                ANY_VALUE
            )
    return data


def to_toml(data: dict[str, Any]) -> str | None:
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [clean(v) for v in value if v is not None]
        return value

    try:
        return tomli_w.dumps(clean(data))
    except (TypeError, ValueError):
        return None  # not expressible in TOML (mixed arrays, say)


STORE_SUFFIXES = ("", "-wal", "-shm", "-journal", ".lock")


def configured_store(folder: Path, data: Any) -> list[Path]:
    """The files of the store ``data`` names (``scorecard.database`` when it
    is text, read from ``folder`` when relative), wherever they are."""
    scorecard = data.get("scorecard") if isinstance(data, dict) else None
    database = scorecard.get("database") if isinstance(scorecard, dict) else None
    if not isinstance(database, str) or not database.strip() or "\0" in database:
        return []  # no file by that name can be made
    path = folder / Path(database).expanduser()
    return [path.with_name(path.name + suffix) for suffix in STORE_SUFFIXES]


def written(folder: Path, config: Path, elsewhere: list[Path]) -> list[str]:
    """Every file or folder under ``folder`` but ``config`` (any ``*.db``,
    ``-wal``, ``-shm`` or lock among them), and the paths of ``elsewhere``
    that exist now."""
    made = [str(p) for p in sorted(folder.rglob("*")) if p != config]
    return made + [str(p) for p in elsewhere if p.exists()]


# "  path: message", the path being a key path such as objectives[0].id.
PROBLEM_LINE = re.compile(r"^  \S.*?: .+")


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=broken_configs())
def test_broken_configs_never_crash_and_always_name_the_key(tmp_path_factory, data):
    text = to_toml(data)
    if text is None:
        return
    folder = Path(tmp_path_factory.mktemp("fuzz"))
    path = folder / "headway.toml"
    path.write_text(text, encoding="utf-8")
    # The configured store, where a broken value points outside the folder.
    elsewhere = [p for p in configured_store(folder, data) if not p.exists()]
    cli = build_cli(Plugins.create(entry_points=False))
    result = CliRunner().invoke(
        cli, ["--config", str(path), "sync"], env={"UNSET_FUZZ_VAR": None}
    )

    assert result.exit_code in (0, 1), result.output
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: a bug
    if result.exit_code == 1:
        message = result.stderr
        assert message.startswith("Error: "), message
        assert "Traceback" not in message
        lines = message.splitlines()
        if "problems)" in lines[0]:
            assert all(PROBLEM_LINE.match(line) for line in lines[1:]), message
        elif "invalid configuration" in lines[0]:
            assert re.search(r"\.toml: \S.*?: ", lines[0]), message
        else:  # not the file's content: a store or a source problem, one line
            assert len(lines) == 1, message
        if "invalid configuration" in message:
            # No store anywhere: not fuzz.db only, whatever the (perhaps
            # broken) scorecard.database names, and no -wal, -shm or lock.
            made = written(folder, path, elsewhere)
            assert not made, f"written before the config was valid: {made}"


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_are_a_clear_error(tmp_path_factory, raw):
    folder = Path(tmp_path_factory.mktemp("bytes"))
    path = folder / "headway.toml"
    path.write_bytes(raw)
    cli = build_cli(Plugins.create(entry_points=False))
    result = CliRunner().invoke(cli, ["--config", str(path), "sync"])
    assert result.exit_code in (0, 1)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code == 1:
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
        if "invalid configuration" in result.stderr:
            made = written(folder, path, [])
            assert not made, f"written before the config was valid: {made}"
