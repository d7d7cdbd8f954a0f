"""The contract between the sync engine and a connector.

A connector is what a ``[sources.NAME]`` table builds. The engine calls its
factory with a :class:`SourceContext`, then :meth:`Connector.read` with the
state saved by earlier runs. ``read`` yields :class:`Page` objects: a batch of
records and the cursor state to save once that batch is stored. The engine
writes each page's records and its state in one transaction, so a crash loses
at most the page in flight and the next run resumes from the last state.

Connectors raise :class:`~headway.errors.FatalError` for what retrying cannot
fix, :class:`~headway.errors.StopSource` to stop cleanly with what is stored
(the run ends ``partial``), and :class:`~headway.errors.ConfigError` from the
factory for a bad source table. ``headway-sdk`` builds all of this for HTTP
APIs; the core depends on nothing but this module.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from .model import Record, Scorecard

#: The partition of a stream that has only one.
DEFAULT_PARTITION = ""


@attrs.define
class RunStats:
    """What a connector spent on its service during one run.

    The engine stores these in the run's row. Connectors (the SDK's HTTP
    client does it for them) count every request, every retry, and every
    second spent waiting for a rate limit or a backoff.
    """

    requests: int = 0
    retries: int = 0
    waited: float = 0.0
    notes: list[str] = attrs.field(factory=list)

    def note(self, text: str) -> None:
        """Keep a short remark for the run's row (a partial stop's reason)."""
        if text not in self.notes:
            self.notes.append(text)


@attrs.frozen
class Page:
    """A batch of records and the state to save once they are stored.

    :param records: work items, metric points, tombstones, rejected records
        and sweeps, in the order they should be applied.
    :param stream: the stream the state belongs to (``issues``, ``events``).
    :param partition: the part of the stream (a repository, a calendar).
    :param state: the cursor to store for ``(stream, partition)``; ``None``
        leaves the stored state as it is.
    :param reset: drop the stored state of ``(stream, partition)`` (after
        its token expired, say) before saving ``state``.
    """

    records: Sequence[Record] = ()
    stream: str = "default"
    partition: str = DEFAULT_PARTITION
    state: Mapping[str, Any] | None = None
    reset: bool = False


class State:
    """The cursor states saved for one source, by stream and partition."""

    def __init__(
        self, saved: Mapping[tuple[str, str], Mapping[str, Any]] | None = None
    ):
        self._saved: dict[tuple[str, str], Mapping[str, Any]] = dict(saved or {})

    def get(
        self, stream: str = "default", partition: str = DEFAULT_PARTITION
    ) -> Mapping[str, Any] | None:
        """The saved state of one stream partition, or ``None`` on a first run."""
        return self._saved.get((stream, partition))

    def partitions(self, stream: str = "default") -> list[str]:
        """Every partition of ``stream`` with a saved state."""
        return [part for (name, part) in self._saved if name == stream]

    def items(self) -> Iterator[tuple[tuple[str, str], Mapping[str, Any]]]:
        """Every ``((stream, partition), state)`` pair."""
        return iter(self._saved.items())

    def __bool__(self) -> bool:
        return bool(self._saved)

    def __len__(self) -> int:
        return len(self._saved)


@attrs.frozen
class SourceContext:
    """What a connector factory gets: its source, options and surroundings.

    :param name: the source's name (``[sources.NAME]``).
    :param plugin: the connector's registered name.
    :param options: the source table with ``${VAR}`` read; secret-named keys
        are :class:`~headway.secrets.Secret` values.
    :param scorecard: teams and people, for connectors that map owners.
    :param stats: counters the connector adds its requests, retries and
        waits to.
    :param full: the user asked for a full sync (``--full``): ignore cursors.
    :param stop: set when the run is being cancelled; check it between pages.
    :param root: the configuration file's folder, which relative paths in
        the source table (a CA bundle) are read from; ``None``: the current
        folder.
    """

    name: str
    plugin: str
    options: Mapping[str, Any] = attrs.field(repr=False)
    scorecard: Scorecard | None = attrs.field(default=None, repr=False)
    stats: RunStats = attrs.field(factory=RunStats)
    full: bool = False
    stop: threading.Event = attrs.field(factory=threading.Event, repr=False)
    root: Path | None = None

    def path(self, value: str | os.PathLike[str]) -> Path:
        """A path from the source table: relative ones under :attr:`root`."""
        path = Path(value).expanduser()
        return path if path.is_absolute() or self.root is None else self.root / path

    @property
    def logger(self) -> logging.Logger:
        """A logger named after the source, for the connector's messages."""
        return logging.getLogger(f"headway.source.{self.name}")


@runtime_checkable
class Connector(Protocol):
    """What a ``[sources.NAME]`` table builds."""

    def check(self) -> None:
        """Verify credentials and reachability with one cheap request.

        :raises ConnectorError: saying what is wrong and what to do.
        """

    def read(self, state: State) -> Iterable[Page]:
        """Yield pages of records, each with the cursor state to save after it.

        :param state: what earlier runs saved (empty on a first or full run).
        """


#: Builds a connector; raises :class:`~headway.errors.ConfigError` whose
#: problems have paths like ``sources.NAME.KEY`` for a bad source table.
ConnectorFactory = Callable[[SourceContext], Connector]


@attrs.frozen
class ConnectorType:
    """A registered connector: its name, factory, and the plugin that gave it."""

    name: str
    factory: ConnectorFactory
    plugin: str
    description: str = ""
