"""The scaffolder behind ``headway plugin new``: a plugin package from a name.

:func:`scaffold_plugin` renders the templates shipped in
``headway_sdk/templates/plugin`` into a new folder: a ``pyproject.toml``
with the ``headway`` entry point, a connector with one stream built on the
SDK (settings, auth, paginator, cursor, parse), tests that run the
conformance suite against a fake of the API, and a README. It needs no
network, and it never writes over anything: the package is written into a
hidden folder beside the target and renamed into place once complete.

A template is plain text with ``{{key}}`` placeholders (the keys of
:meth:`PluginNames.placeholders`); a path part ``dot-x`` becomes ``.x`` and
the ``.tmpl`` suffix is dropped.
"""

from __future__ import annotations

import keyword
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

import attrs

from headway.errors import HeadwayError, UsageError

#: The longest plugin name: it becomes class names and must keep the
#: generated code within 88 columns.
MAX_NAME_LENGTH = 24

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_PREFIX = re.compile(r"^headway[-_]")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SUFFIX = ".tmpl"


class InvalidNameError(UsageError):
    """NAME cannot name a plugin (a usage error: the CLI exits 2).

    :param name: the name as given.
    """

    def __init__(self, message: str, name: str):
        self.name = name
        super().__init__(message)


class ScaffoldError(HeadwayError):
    """The package cannot be written: the folder exists, or the name is taken.

    :param path: the folder concerned, if any.
    """

    def __init__(self, message: str, path: Path | None = None):
        self.path = path
        super().__init__(message)


@attrs.frozen
class PluginNames:
    """Every name a plugin package derives from its short name.

    For ``my-crm``: connector and entry point ``my_crm``, import package
    ``headway_my_crm``, distribution ``headway-my-crm``, classes
    ``MyCrm...``, variables ``MY_CRM_...``.
    """

    #: The connector's and entry point's name (``plugin = "my_crm"``).
    name: str
    #: The import package.
    package: str
    #: The distribution, as ``pip install`` names it.
    distribution: str
    #: The prefix of the generated class names.
    class_prefix: str
    #: The name as words, for descriptions.
    title: str
    #: The prefix of environment variable names.
    env_prefix: str

    @classmethod
    def parse(cls, text: str) -> PluginNames:
        """The names for NAME as a user typed it.

        NAME is lowercase letters and digits, starting with a letter, in
        parts joined by ``-`` or ``_`` (a leading ``headway-`` is dropped),
        at most :data:`MAX_NAME_LENGTH` characters.

        :raises InvalidNameError: saying what a good name looks like.
        """
        given = text.strip()
        short = _PREFIX.sub("", given)
        hint = "such as tickets or my-crm"
        if not short or short == "headway":
            raise InvalidNameError(
                f"{given!r} is not a plugin name: give a short name, {hint} "
                "(headway- is added for you)",
                text,
            )
        if short.lower() != short and _NAME.fullmatch(short.lower()):
            raise InvalidNameError(
                f"{given!r} is not a plugin name: use lowercase, as in "
                f"{short.lower()!r}",
                text,
            )
        if not _NAME.fullmatch(short):
            raise InvalidNameError(
                f"{given!r} is not a plugin name: use lowercase letters and digits, "
                f"starting with a letter, in parts joined by - or _, {hint}",
                text,
            )
        if len(short) > MAX_NAME_LENGTH:
            raise InvalidNameError(
                f"{given!r} is too long for a plugin name: use at most "
                f"{MAX_NAME_LENGTH} characters",
                text,
            )
        parts = re.split(r"[-_]", short)
        name = "_".join(parts)
        if keyword.iskeyword(name):
            raise InvalidNameError(
                f"{given!r} is a Python keyword; choose another plugin name", text
            )
        return cls(
            name=name,
            package=f"headway_{name}",
            distribution="headway-" + "-".join(parts),
            class_prefix="".join(part.capitalize() for part in parts),
            title=" ".join(parts),
            env_prefix=name.upper(),
        )

    def placeholders(self) -> dict[str, str]:
        """What each ``{{key}}`` of the templates becomes."""
        from . import __version__

        return {
            "name": self.name,
            "package": self.package,
            "distribution": self.distribution,
            "Class": self.class_prefix,
            "title": self.title,
            "ENV": self.env_prefix,
            "sdk_requirement": f"headway-sdk>={_release(__version__)}",
        }


@attrs.frozen
class Scaffold:
    """What :func:`scaffold_plugin` wrote.

    :param folder: the new package's folder.
    :param names: the names it used.
    :param files: the files written, relative to ``folder``, sorted.
    """

    folder: Path
    names: PluginNames
    files: tuple[PurePosixPath, ...]


def scaffold_plugin(
    name: str | PluginNames, parent: Path, *, taken: Iterable[str] = ()
) -> Scaffold:
    """Write a new plugin package into ``parent/headway-NAME``.

    :param name: the plugin's short name (see :meth:`PluginNames.parse`).
    :param parent: the folder to create the package in; made if missing.
    :param taken: names already used by installed plugins or connectors.
    :raises InvalidNameError: the name is not usable.
    :raises ScaffoldError: the name is taken, the package's folder exists
        and is not empty, or a file cannot be written.
    """
    names = name if isinstance(name, PluginNames) else PluginNames.parse(name)
    taken = set(taken)
    if names.name in taken:
        raise ScaffoldError(
            f"a plugin or connector named {names.name!r} is already installed "
            "(see `headway plugins`); choose another name"
        )
    parent = Path(parent)
    target = parent / names.distribution
    _refuse_existing(target)

    values = names.placeholders()
    rendered = {
        _output_path(relative, values): render(template.read_text("utf-8"), values)
        for relative, template in template_files()
    }

    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".{names.distribution}.{secrets.token_hex(4)}.partial"
        staging.mkdir()
    except OSError as error:
        raise ScaffoldError(
            f"cannot create {parent}: {error.strerror or error}", parent
        ) from None
    try:
        for relative, text in rendered.items():
            path = staging.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
        _refuse_existing(target)
        if target.is_dir():
            target.rmdir()
        os.rename(staging, target)
    except OSError as error:
        raise ScaffoldError(
            f"cannot write {target}: {error.strerror or error}", target
        ) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return Scaffold(target, names, tuple(sorted(rendered)))


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{{key}}`` replaced by ``values[key]``.

    :raises KeyError: a placeholder has no value (a bug in a template).
    """

    def value(match: re.Match[str]) -> str:
        key = match[1]
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return _PLACEHOLDER.sub(value, text)


def template_files() -> Iterator[tuple[PurePosixPath, Traversable]]:
    """Every template, with its path relative to the template folder."""
    root = resources.files("headway_sdk") / "templates" / "plugin"

    def walk(
        folder: Traversable, prefix: PurePosixPath
    ) -> Iterator[tuple[PurePosixPath, Traversable]]:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                yield from walk(entry, prefix / entry.name)
            elif entry.name.endswith(_SUFFIX):
                yield prefix / entry.name, entry

    return walk(root, PurePosixPath())


def _output_path(relative: PurePosixPath, values: Mapping[str, str]) -> PurePosixPath:
    parts = []
    for part in relative.parts:
        part = render(part, values).removesuffix(_SUFFIX)
        if part.startswith("dot-"):
            part = "." + part[len("dot-") :]
        parts.append(part)
    return PurePosixPath(*parts)


def _refuse_existing(target: Path) -> None:
    if target.is_dir() and not any(target.iterdir()):
        return
    if target.exists() or target.is_symlink():
        raise ScaffoldError(
            f"{target} already exists; headway plugin new never writes over "
            "anything: choose another name or --dir, or move it away",
            target,
        )


def _release(version: str) -> str:
    # A source checkout reports 0.0.0; the requirement must still be valid.
    match = re.match(r"\d+(?:\.\d+)*", version)
    return match[0] if match else "0"


__all__ = [
    "MAX_NAME_LENGTH",
    "InvalidNameError",
    "PluginNames",
    "Scaffold",
    "ScaffoldError",
    "render",
    "scaffold_plugin",
    "template_files",
]
