"""The hooks a headway plugin can implement.

Implement them in a module or class decorated with :data:`headway.hookimpl`
and expose it through the ``headway`` entry-point group::

    [project.entry-points.headway]
    acme = "headway_acme"

Registration hooks receive a ``register`` callback instead of returning
values, so the host can reject a duplicate name and remember which plugin
registered what.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    import sqlite_utils

    from .model import Assignment, Scorecard, Snapshot, WorkItem

hookspec = pluggy.HookspecMarker("headway")


@hookspec
def register_connectors(register: Callable[..., None]) -> None:
    """Register connector types, called once when the sync engine starts.

    Call ``register(name, factory, description="")`` for each connector.
    ``name`` is what a source's ``plugin = "name"`` selects; ``factory`` takes
    a :class:`~headway.connectors.SourceContext` and returns a
    :class:`~headway.connectors.Connector`, raising
    :class:`~headway.errors.ConfigError` for a bad source table. A name
    another plugin also registers goes to one of them and is refused for the
    other, which ``headway plugins`` shows; its other connectors still load.
    Return nothing.
    """


@hookspec
def register_measures(register: Callable[..., None]) -> None:
    """Register measure functions, called when a scorecard is loaded or scored.

    Call ``register(name, function, description="", kind="outcome")`` for
    each. A ``[[measures]]`` or ``[[key_results]]`` entry uses one with
    ``function = "name"`` and ``params = {...}``. The function takes a
    :class:`~headway.measures.MeasureContext` and returns the current value
    as a float, or ``None`` when there is no data. Return nothing.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to ``cli``, called once when the CLI is built.

    Use ``@cli.command()`` inside the implementation. Return nothing.
    """


@hookspec(firstresult=True)
def classify_item(item: WorkItem, scorecard: Scorecard) -> Assignment | None:
    """Assign an item that no rule matched and that inherits nothing.

    Called during scoring, once per such item and rule set (results are kept
    with the rule set's assignments). Return an
    :class:`~headway.model.Assignment`, or ``None`` to let the next plugin
    decide. Only the first non-``None`` answer counts; an item no plugin
    claims is ``unaligned``.
    """


@hookspec
def snapshot_saved(snapshot: Snapshot, db: sqlite_utils.Database) -> None:
    """React to a stored snapshot (export it, notify someone).

    Called after the snapshot's transaction committed. ``db`` is the store.
    An exception is reported with the plugin's name; the snapshot stays.
    Return nothing.
    """


HOOK_NAMES: tuple[str, ...] = (
    "register_connectors",
    "register_measures",
    "register_commands",
    "classify_item",
    "snapshot_saved",
)

__all__: list[Any] = ["hookspec", *HOOK_NAMES]
