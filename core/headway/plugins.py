"""The plugin manager: loading plugins and collecting what they register.

Plugins come from the ``headway`` entry-point group, loaded one at a time: a
plugin that fails to import is recorded with its error (``headway plugins``
shows it) and every other command still works. ``HEADWAY_LOAD_PLUGINS``
(comma-separated entry-point names, empty for none) restricts loading.
Built-in features, such as the demo connector, are ordinary plugins
registered through the same hooks.
"""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .connectors import ConnectorFactory, ConnectorType
from .errors import PluginError
from .measures import MeasureFunction, MeasureType
from .model import Assignment, Scorecard, Snapshot, WorkItem

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "headway"
LOAD_PLUGINS_ENV = "HEADWAY_LOAD_PLUGINS"
PROJECT_NAME = "headway"

#: Modules inside headway that register themselves like any plugin.
BUILTIN_PLUGINS = ("headway.demo",)

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@attrs.frozen
class PluginInfo:
    """What ``headway plugins`` shows for one plugin."""

    name: str
    version: str | None
    package: str | None
    hooks: tuple[str, ...] = ()
    connectors: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    error: str | None = None
    builtin: bool = False


class Plugins:
    """A plugin manager and what its plugins registered.

    Build one with :meth:`create`; tests pass ``entry_points=False`` so they
    never load whatever happens to be installed, then :meth:`register` the
    plugins they test.
    """

    def __init__(self, manager: pluggy.PluginManager):
        self.manager = manager
        self.load_errors: dict[str, str] = {}
        #: Installed plugins not loaded, by name: what left them out.
        self.left_out: dict[str, str] = {}
        self._not_installed: set[str] = set()
        self._versions: dict[str, tuple[str | None, str | None]] = {}
        self._builtin: set[str] = set()
        self._connectors: dict[str, ConnectorType] | None = None
        self._measures: dict[str, MeasureType] | None = None
        self.hook_errors: dict[str, str] = {}
        # Registrations refused as duplicates, by registry, then by plugin.
        self._refused: dict[str, dict[str, list[str]]] = {}

    @classmethod
    def create(
        cls,
        *,
        entry_points: bool = True,
        builtins: bool = True,
        only: Iterable[str] | None = None,
    ) -> Plugins:
        """A fresh manager with the hook specs, built-ins and installed plugins.

        :param entry_points: load plugins of the ``headway`` entry-point group.
        :param builtins: register headway's own plugins (the demo connector).
        :param only: load just these entry points; default from
            ``$HEADWAY_LOAD_PLUGINS`` when it is set.
        """
        manager = pluggy.PluginManager(PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        plugins = cls(manager)
        if builtins:
            for module_name in BUILTIN_PLUGINS:
                module = importlib.import_module(module_name)
                name = module_name.rpartition(".")[2]
                plugins.register(module, name)
                plugins._builtin.add(name)
        if entry_points:
            plugins.load_entry_points(only)
        return plugins

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (a module or an instance with hookimpls)."""
        registered = self.manager.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name!r} is already registered", plugin=name)
        self._invalidate()
        return registered

    def unregister(self, name: str) -> None:
        """Remove a plugin by name (tests always do, in a fixture)."""
        self.manager.unregister(name=name)
        self.load_errors.pop(name, None)
        self._invalidate()

    def load_entry_points(self, only: Iterable[str] | None = None) -> None:
        """Import each plugin of the entry-point group, recording failures.

        A plugin whose import raises anything, ``SystemExit`` included (some
        libraries exit when a dependency is missing), is recorded with its
        error; only Ctrl-C goes through. A name in ``only`` (or
        ``$HEADWAY_LOAD_PLUGINS``) that no installed plugin has is warned
        about and recorded too.
        """
        source = "the plugins to load"
        if only is None and (env := os.environ.get(LOAD_PLUGINS_ENV)) is not None:
            only = [name.strip() for name in env.split(",") if name.strip()]
            source = LOAD_PLUGINS_ENV
        wanted = set(only) if only is not None else None
        found: set[str] = set()
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if wanted is not None and entry_point.name not in wanted:
                self.left_out[entry_point.name] = source
                continue
            found.add(entry_point.name)
            if self.manager.has_plugin(entry_point.name):
                continue
            dist = entry_point.dist
            version = (dist.version if dist else None, dist.name if dist else None)
            self._versions[entry_point.name] = version
            try:
                plugin = entry_point.load()
                self.manager.register(plugin, name=entry_point.name)
            except KeyboardInterrupt:
                raise
            except BaseException as error:
                self.load_errors[entry_point.name] = _describe(error)
                log.warning(
                    "plugin %s could not be loaded: %s",
                    entry_point.name,
                    self.load_errors[entry_point.name],
                )
                log.debug("plugin %s load traceback", entry_point.name, exc_info=True)
        for name in sorted((wanted or set()) - found - self._builtin):
            if self.manager.has_plugin(name):
                continue
            self.load_errors[name] = f"not installed ({source} names it)"
            self._not_installed.add(name)
            log.warning(
                "plugin %s is not installed, but %s names it; `headway plugins` "
                "lists the installed ones",
                name,
                source,
            )
        self._invalidate()

    # ------------------------------------------------------------ registries

    def connectors(self) -> dict[str, ConnectorType]:
        """Every registered connector type by name.

        A name belongs to one plugin; a second plugin's registration of it is
        refused (see :meth:`_resolve`), never the whole registry.
        """
        if self._connectors is None:
            offers: list[ConnectorType] = []

            def collect(plugin: str) -> Callable[..., None]:
                def register(
                    name: str, factory: ConnectorFactory, description: str = ""
                ) -> None:
                    offers.append(ConnectorType(name, factory, plugin, description))

                return register

            self._call_registration("register_connectors", collect)
            self._connectors = self._resolve("connector", offers)
        return self._connectors

    def measures(self) -> dict[str, MeasureType]:
        """Every registered measure function by name (duplicates as for
        :meth:`connectors`)."""
        if self._measures is None:
            offers: list[MeasureType] = []

            def collect(plugin: str) -> Callable[..., None]:
                def register(
                    name: str,
                    function: MeasureFunction,
                    description: str = "",
                    kind: str = "outcome",
                ) -> None:
                    offers.append(
                        MeasureType(name, function, plugin, description, kind)
                    )

                return register

            self._call_registration("register_measures", collect)
            self._measures = self._resolve("measure", offers)
        return self._measures

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its click commands to ``cli``.

        A command already there (headway's own, or an earlier plugin's) is
        kept: a plugin that replaces one is refused, and that is recorded.
        """
        refused: dict[str, list[str]] = {}
        owners = dict.fromkeys(getattr(cli, "commands", {}), "headway")
        for impl in self.manager.hook.register_commands.get_hookimpls():
            before = dict(getattr(cli, "commands", {}))
            try:
                impl.function(cli=cli)
            except Exception as error:
                self._hook_failed(impl.plugin_name, "register_commands", error)
            for name, command in list(getattr(cli, "commands", {}).items()):
                kept = before.get(name)
                if kept is None:
                    owners[name] = impl.plugin_name
                elif command is not kept:
                    cli.commands[name] = kept
                    message = (
                        f"command {name!r} refused: it is {owners[name]}'s"
                        if owners[name] == "headway"
                        else f"command {name!r} refused: plugin {owners[name]!r} "
                        "adds it too and keeps it"
                    )
                    refused.setdefault(impl.plugin_name, []).append(message)
                    log.warning("plugin %s: %s", impl.plugin_name, message)
        self._refused["command"] = refused

    def classify(self, item: WorkItem, scorecard: Scorecard) -> Assignment | None:
        """The first plugin's assignment for an item no rule matched, if any.

        A plugin whose hook raises is reported by name and skipped.
        """
        for impl in reversed(self.manager.hook.classify_item.get_hookimpls()):
            try:
                result = impl.function(item=item, scorecard=scorecard)
            except Exception as error:
                self._hook_failed(impl.plugin_name, "classify_item", error)
                continue
            if result is None:
                continue
            if not isinstance(result, Assignment):
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: classify_item returned "
                    f"{type(result).__name__}, expected headway.Assignment or None",
                    plugin=impl.plugin_name,
                )
            if not result.reason:
                result = attrs.evolve(result, reason=f"plugin {impl.plugin_name}")
            return result
        return None

    def has_classifiers(self) -> bool:
        """Whether any plugin implements ``classify_item``."""
        return bool(self.manager.hook.classify_item.get_hookimpls())

    def snapshot_saved(self, snapshot: Snapshot, db: Any) -> None:
        """Tell every plugin about a stored snapshot; failures are logged."""
        for impl in self.manager.hook.snapshot_saved.get_hookimpls():
            try:
                impl.function(snapshot=snapshot, db=db)
            except Exception as error:
                self._hook_failed(impl.plugin_name, "snapshot_saved", error)

    # ------------------------------------------------------------ reporting

    def info(self) -> list[PluginInfo]:
        """One entry per registered or failed plugin, sorted by name."""
        connectors, measures = self.connectors(), self.measures()
        result = []
        for name, plugin in self.manager.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(
                caller.name for caller in self.manager.get_hookcallers(plugin) or ()
            )
            version, package = self._versions.get(name, (None, None))
            if name in self._builtin:
                version, package = _own_version(), "headway"
            result.append(
                PluginInfo(
                    name=name,
                    version=version,
                    package=package,
                    hooks=tuple(hooks),
                    connectors=tuple(
                        sorted(c.name for c in connectors.values() if c.plugin == name)
                    ),
                    measures=tuple(
                        sorted(m.name for m in measures.values() if m.plugin == name)
                    ),
                    error=self.problems(name),
                    builtin=name in self._builtin,
                )
            )
        for name, error in self.load_errors.items():
            version, package = self._versions.get(name, (None, None))
            result.append(PluginInfo(name, version, package, error=error))
        return sorted(result, key=lambda info: info.name)

    def unavailable(self) -> dict[str, str]:
        """Why each plugin that is not loaded is not, by name: for a source
        that names a connector of that name."""
        found = {
            name: f"plugin {name} could not be loaded ({error}); `headway -vv "
            "plugins` shows why"
            for name, error in self.load_errors.items()
            if name not in self._not_installed
        }
        for name, source in self.left_out.items():
            found.setdefault(
                name,
                f"plugin {name} is installed, but {source} leaves it out; add it "
                "there to use it",
            )
        return found

    def problems(self, name: str) -> str | None:
        """What went wrong with a loaded plugin: a failed hook, refused
        registrations; ``None`` when nothing did."""
        found = [self.hook_errors[name]] if name in self.hook_errors else []
        for refused in self._refused.values():
            found.extend(refused.get(name, ()))
        return "; ".join(found) or None

    # ------------------------------------------------------------ internals

    def _resolve(self, what: str, offers: list[Any]) -> dict[str, Any]:
        """One registration per name; every other one is refused and recorded.

        The name goes to a built-in plugin if one registers it, else to the
        plugin named like it (plugin ``jira`` for connector ``jira`` and
        measure ``jira.lead_time``), else to the plugin registered first. So
        in the usual clash, a third-party plugin reusing a first-party name,
        the owner wins whatever order installed plugins are found in.
        """
        claims: dict[str, list[Any]] = {}
        for entry in offers:
            claims.setdefault(entry.name, []).append(entry)
        found: dict[str, Any] = {}
        refused: dict[str, list[str]] = {}
        for name, entries in claims.items():
            # min() keeps the first of equal ranks: registration order.
            kept = min(
                entries, key=lambda e: _claim_rank(e.plugin, self._builtin, name)
            )
            found[name] = kept
            for entry in entries:
                if entry is kept:
                    continue
                message = (
                    f"{what} {name!r} registered twice; the first is kept"
                    if entry.plugin == kept.plugin
                    else f"{what} {name!r} refused: plugin {kept.plugin!r} "
                    "registers it too and keeps it"
                )
                refused.setdefault(entry.plugin, []).append(message)
                log.warning("plugin %s: %s", entry.plugin, message)
        self._refused[what] = refused
        return found

    def _call_registration(
        self, hook: str, make_register: Callable[[str], Callable[..., None]]
    ) -> None:
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            try:
                impl.function(register=make_register(impl.plugin_name))
            except Exception as error:
                self._hook_failed(impl.plugin_name, hook, error)

    def _hook_failed(self, plugin: str, hook: str, error: BaseException) -> None:
        message = f"{hook} failed: {_describe(error)}"
        self.hook_errors[plugin] = message
        log.error("plugin %s: %s", plugin, message)
        log.debug("plugin %s: %s", plugin, "".join(traceback.format_exception(error)))

    def _invalidate(self) -> None:
        self._connectors = None
        self._measures = None
        # Commands are added once, to the command line: their refusals stay.
        self._refused = {k: v for k, v in self._refused.items() if k == "command"}


def _claim_rank(plugin: str, builtin: set[str], name: str) -> int:
    """How strong ``plugin``'s claim on a registered ``name`` is (0 best)."""
    if plugin in builtin:
        return 0
    if name == plugin or name.startswith(f"{plugin}."):
        return 1
    return 2


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _own_version() -> str:
    from . import __version__

    return __version__


_default: Plugins | None = None


def get_plugins() -> Plugins:
    """The process's plugin set, created on first use (the CLI's)."""
    global _default
    if _default is None:
        _default = Plugins.create()
    return _default
