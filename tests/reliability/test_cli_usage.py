"""Every command, misused, exits 2 with a usage message and no traceback.

The commands are read from the click group itself (plugins' commands
included), so a new command or option is covered without touching this
file: each required argument left out, each option given without its value,
each typed parameter given a value its type refuses, and each pair of
options a command declares exclusive (``headway.cli.exclusive``) given
together.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import headway_sdk.plugin
from headway.cli import build_cli
from headway.plugins import Plugins

# Values tried on each typed parameter; the first one its type refuses is used.
CANDIDATES = ("many", "not-a-date", "no-such-choice", "Bad Name!", "-1.5x", "")
# Conflicts the commands are known to have: declaring them is checked too.
KNOWN_CONFLICTS = {
    ((), ("verbose", "quiet")),
    (("sync",), ("check_only", "full")),
    (("query",), ("as_json", "as_csv")),
}


def the_cli() -> click.Group:
    plugins = Plugins.create(entry_points=False)
    plugins.register(headway_sdk.plugin, "sdk")
    return build_cli(plugins)


def commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group``, the group itself first."""
    yield prefix, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def leaves() -> list[tuple[tuple[str, ...], click.Command]]:
    return [(p, c) for p, c in commands(the_cli()) if not isinstance(c, click.Group)]


def filled(
    command: click.Command, leave_out: click.Parameter | None = None
) -> list[str]:
    """Values for the required arguments (and options) of ``command``."""
    args: list[str] = []
    for param in command.params:
        if param is leave_out or not param.required:
            continue
        if isinstance(param, click.Option):
            args += [param.opts[0], "x"]
        else:
            args.append("x")
    return args


def refused_value(param: click.Parameter, ctx: click.Context) -> str | None:
    """A value the parameter's type refuses, or ``None`` if it takes any text."""
    here = Path(__file__)
    for candidate in (*CANDIDATES, str(here.parent), str(here), "/no/such/path"):
        try:
            param.type.convert(candidate, param, ctx)
        except click.BadParameter:
            return candidate
    return None


def invoke(path: tuple[str, ...], args: list[str], at_top: list[str] | None = None):
    return CliRunner().invoke(
        the_cli(), [*(at_top or []), *path, *args], prog_name="headway"
    )


def assert_usage_error(result, words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Usage: headway" in result.output, result.output
    assert f"Error: {words}" in result.output or words in result.output, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def missing_cases() -> list[tuple[tuple[str, ...], click.Command, click.Parameter]]:
    return [
        (path, command, param)
        for path, command in commands(the_cli())
        for param in command.params
        if param.required or (isinstance(param, click.Option) and _takes_value(param))
    ]


def _takes_value(param: click.Option) -> bool:
    return not param.is_flag and not param.count and param.nargs == 1


MISSING = missing_cases()


@pytest.mark.parametrize(
    ("path", "command", "param"),
    MISSING,
    ids=[f"{' '.join(p) or 'headway'}-{param.name}" for p, _, param in MISSING],
)
def test_a_missing_argument_or_option_value_is_a_usage_error(
    path, command, param, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    if isinstance(command, click.Group):
        result = invoke(path, [param.opts[0]])
        assert_usage_error(result, "requires an argument")
    elif isinstance(param, click.Option) and not param.required:
        result = invoke(path, [*filled(command), param.opts[0]])
        assert_usage_error(result, "requires an argument")
    else:
        result = invoke(path, filled(command, leave_out=param))
        assert_usage_error(result, "Missing")


def typed_cases() -> list[tuple[tuple[str, ...], click.Command, click.Parameter, str]]:
    """Every parameter whose type refuses some text, with a value it refuses."""
    cases = []
    for path, command in commands(the_cli()):
        for param in command.params:
            if isinstance(param, click.Option) and (param.is_flag or param.count):
                continue
            value = refused_value(param, click.Context(command))
            if value is not None:
                cases.append((path, command, param, value))
    return cases


TYPED = typed_cases()
# Typed parameters the commands are known to have: each must be tried.
KNOWN_TYPED = {
    ((), "config_path"),
    (("demo",), "seed"),
    (("init",), "folder"),
    (("init",), "period"),
    (("score",), "period"),
    (("record",), "at"),
    (("record",), "value"),
    (("explain",), "item"),
    (("query",), "database"),
    (("plugin", "new"), "names"),
}


def test_the_known_typed_parameters_are_tried() -> None:
    assert {(path, param.name) for path, _, param, _ in TYPED} >= KNOWN_TYPED


@pytest.mark.parametrize(
    ("path", "command", "param", "value"),
    TYPED,
    ids=[f"{' '.join(p) or 'headway'}-{param.name}" for p, _, param, _ in TYPED],
)
def test_a_value_of_the_wrong_type_is_a_usage_error(
    path, command, param, value, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    given = [param.opts[0], value] if isinstance(param, click.Option) else [value]
    if isinstance(command, click.Group):
        result = invoke(("plugins",), [], at_top=given)
    else:
        rest = filled(command, leave_out=param)
        result = invoke(
            path, [*given, *rest] if given[0].startswith("-") else [*rest, *given]
        )
    assert_usage_error(result, "Invalid value")


def conflicts() -> list[tuple[tuple[str, ...], click.Command, tuple[str, ...]]]:
    return [
        (path, command, names)
        for path, command in commands(the_cli())
        for names in getattr(command.callback, "exclusive_options", ())
    ]


CONFLICTS = conflicts()


def test_the_known_conflicts_are_declared() -> None:
    declared = {(path, names) for path, _, names in CONFLICTS}
    assert declared >= KNOWN_CONFLICTS


@pytest.mark.parametrize(
    ("path", "command", "names"),
    CONFLICTS,
    ids=[f"{' '.join(p) or 'headway'}-{'-'.join(n)}" for p, _, n in CONFLICTS],
)
def test_options_that_exclude_each_other_are_a_usage_error(
    path, command, names, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    by_name = {param.name: param for param in command.params}
    given: list[str] = []
    for name in names:
        param = by_name[name]
        given.append(param.opts[0])
        if isinstance(param, click.Option) and _takes_value(param):
            given.append("x")
    if isinstance(command, click.Group):
        result = invoke(("plugins",), [], at_top=given)
    else:
        result = invoke(path, [*given, *filled(command)])
    assert_usage_error(result, "not both")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_value_that_is_not_finite_is_a_usage_error(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(("record",), ["P1.KR1", "--", value])
    assert_usage_error(result, "is not a finite number")
