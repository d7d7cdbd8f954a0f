"""The SDK's own headway plugin, loaded through the ``headway`` entry point.

It adds ``headway plugin new NAME [--dir DIR]``, the scaffolder, through
``register_commands``. The command is thin: the work is
:func:`headway_sdk.scaffold.scaffold_plugin`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from headway.cli import App, pass_app
from headway.plugins import hookimpl

from .scaffold import InvalidNameError, PluginNames, Scaffold, scaffold_plugin


class PluginNameType(click.ParamType):
    """A click parameter type: a plugin's short name, as :class:`PluginNames`."""

    name = "name"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> PluginNames:
        """The names derived from ``value``; a bad one is a usage error (exit 2)."""
        if isinstance(value, PluginNames):
            return value
        try:
            return PluginNames.parse(str(value))
        except InvalidNameError as error:
            self.fail(str(error), param, ctx)


@click.group(name="plugin")
def plugin_group() -> None:
    """Write your own plugins (from headway-sdk)."""


@plugin_group.command(name="new")
@click.argument("names", metavar="NAME", type=PluginNameType())
@click.option(
    "--dir",
    "parent",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to create the package headway-NAME in (made if missing).",
)
@pass_app
def new_plugin(app: App, names: PluginNames, parent: Path) -> None:
    """Write a connector plugin package, headway-NAME, ready to test.

    NAME is short and lowercase, such as tickets or my-crm. The package
    has a pyproject.toml with the entry point, a connector with one stream
    built on the SDK, tests that run the conformance suite against a fake
    API, and a README. Nothing is fetched and nothing is overwritten.
    """
    taken = set(app.plugins.connectors()) | {i.name for i in app.plugins.info()}
    result = scaffold_plugin(names, parent, taken=taken)
    click.echo(describe_scaffold(result))


def describe_scaffold(result: Scaffold) -> str:
    """What ``headway plugin new`` prints: the files written and the next steps."""
    folder = _shown(result.folder)
    names = result.names
    lines = [f"Wrote {folder}, a plugin package with the {names.name} connector:"]
    lines += [f"  {folder / path}" for path in result.files]
    lines += [
        "Next steps:",
        f"  cd {folder}",
        "  pip install -e '.[test]'   # into the environment headway runs in",
        "  python -m pytest           # the conformance suite, against a fake API",
        f"  headway plugins            # lists {names.name}",
        "Then make it speak your API: the README's last section says what to "
        "change, in order.",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> Path:
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the ``headway plugin`` command group."""
    cli.add_command(plugin_group)


__all__ = [
    "PluginNameType",
    "describe_scaffold",
    "new_plugin",
    "plugin_group",
    "register_commands",
]
