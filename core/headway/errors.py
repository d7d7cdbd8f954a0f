"""The errors headway raises for problems a user can act on.

Every error below :class:`HeadwayError` means "the user (or the service) did
something we can explain": the CLI prints its message on one line and exits 1.
Anything else that escapes is a bug in headway or a plugin and keeps its
traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs


class HeadwayError(Exception):
    """Root of every error headway reports to the user without a traceback."""

    #: Exit status the CLI uses for this error.
    exit_code: int = 1


@attrs.frozen
class Problem:
    """One thing wrong with a configuration, at a place in it.

    :param path: where, as a dotted key path (``objectives[3].perspective``).
    :param message: what is wrong and, where it helps, what to do.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(HeadwayError):
    """The configuration is invalid; :attr:`problems` lists every problem found.

    :param problems: all problems, so one run of ``headway check`` shows them all.
    :param file: the configuration file they were found in, if any.
    :param sources: the ``[sources.*]`` tables that could be read, by name
        (:class:`~headway.config.SourceConfig`), so a caller can validate
        them too and report their problems with the rest.
    """

    def __init__(
        self,
        problems: Iterable[Problem] | str,
        file: str | None = None,
        sources: Mapping[str, Any] | None = None,
    ):
        plain = isinstance(problems, str)
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: list[Problem] = list(problems)
        self.file = file
        self.sources = sources
        super().__init__(self.problems[0].message if plain else self._render())

    def _render(self) -> str:
        where = f" in {self.file}" if self.file else ""
        if len(self.problems) == 1:
            return f"invalid configuration{where}: {self.problems[0]}"
        lines = [f"invalid configuration{where} ({len(self.problems)} problems):"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


class PluginError(HeadwayError):
    """A plugin could not be loaded, registered something twice, or misbehaved.

    :param plugin: the plugin's name.
    """

    def __init__(self, message: str, plugin: str | None = None):
        self.plugin = plugin
        super().__init__(message)


class ConnectorError(HeadwayError):
    """A connector could not read from its service.

    :param message: what failed and what to do about it; never a secret.
    :param source: the configured source name (``[sources.NAME]``).
    :param status: the HTTP status, when the failure was an HTTP answer.
    """

    def __init__(
        self, message: str, *, source: str | None = None, status: int | None = None
    ):
        self.source = source
        self.status = status
        super().__init__(message)


class RetryableError(ConnectorError):
    """A failure that may pass if the same request is tried again later."""


class FatalError(ConnectorError):
    """A failure that retrying cannot fix (bad credentials, a bad query)."""


class StopSource(ConnectorError):
    """Stop this source cleanly: what is stored stays, the run ends ``partial``.

    Raised when going on would cost more than it is worth now: a rate-limit
    wait over the configured maximum, or an API quota about to run out. The
    state of every page already stored is kept, so the next sync resumes.

    :param resume_at: when trying again makes sense, if the service said.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        status: int | None = None,
        resume_at: str | None = None,
    ):
        self.resume_at = resume_at
        super().__init__(message, source=source, status=status)


class StoreError(HeadwayError):
    """The store cannot be opened, read or written.

    :param path: the database file.
    """

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class StoreLockedError(StoreError):
    """Another headway process holds the store for a sync."""


class ScoringError(HeadwayError):
    """A measure or key result could not be evaluated."""


class ReportError(HeadwayError):
    """The HTML report cannot be written where it was asked to go.

    :param path: the file the report was to be written to.
    """

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)


class UsageError(HeadwayError):
    """The command line was used wrongly in a way click cannot see."""

    exit_code = 2


def join_problems(problems: Sequence[Problem]) -> str:
    """Render problems one per line, as the CLI prints them."""
    return "\n".join(str(problem) for problem in problems)
