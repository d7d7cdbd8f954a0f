"""Reading and validating ``headway.toml``.

The whole file is checked before any work starts and every problem is
reported at once, each with its key path, so a user fixes a config in one
pass. Source tables (``[sources.NAME]``) are only checked for their plugin
here: their own keys belong to the connector, which validates them when the
sync engine (or ``headway check``) builds it, and their ``${VAR}`` secrets
are read from the environment only by a sync, so ``headway score`` never
needs a sync token.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .errors import ConfigError, Problem
from .model import (
    DEFAULT_PERSPECTIVES,
    KeyResult,
    Measure,
    Objective,
    Period,
    Person,
    Perspective,
    Rule,
    Scorecard,
    Team,
    Thresholds,
)
from .secrets import MASK, Secret, is_secret_key, register_secret

CONFIG_ENV = "HEADWAY_CONFIG"
DEFAULT_CONFIG_NAME = "headway.toml"

_T = TypeVar("_T")

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

TOP_LEVEL_KEYS = (
    "scorecard",
    "perspectives",
    "teams",
    "people",
    "objectives",
    "measures",
    "key_results",
    "rules",
    "sources",
)
SCORECARD_KEYS = ("name", "database", "period", "description", "on_track", "behind")
PERSPECTIVE_KEYS = ("title", "weight", "description")
TEAM_KEYS = ("title", "members", "description")
PERSON_KEYS = ("aliases", "name")
OBJECTIVE_KEYS = (
    "id",
    "perspective",
    "title",
    "owner",
    "weight",
    "drives",
    "capacity",
    "description",
)
VALUE_SOURCE_KEYS = ("sql", "metric", "function", "params")
MEASURE_KEYS = (
    "id",
    "objective",
    "title",
    "kind",
    "unit",
    "baseline",
    "target",
    "weight",
    "owner",
    "description",
    *VALUE_SOURCE_KEYS,
)
KEY_RESULT_KEYS = (
    "id",
    "objective",
    "title",
    "owner",
    "period",
    "start",
    "target",
    "weight",
    "unit",
    "measure",
    "description",
    *VALUE_SOURCE_KEYS,
)
RULE_CONDITIONS = (
    "source",
    "kind",
    "team",
    "project",
    "labels",
    "status",
    "state",
    "title",
    "parent",
    "people",
    "attributes",
)
RULE_ASSIGNMENTS = ("objective", "objectives", "category")
RULE_KEYS = (*RULE_CONDITIONS, *RULE_ASSIGNMENTS, "name", "description")
RULE_CATEGORIES = ("overhead", "unaligned")
MEASURE_KINDS = ("outcome", "activity")
#: Keys of a ``[sources.NAME]`` table that the core reads; the rest is the
#: connector's.
SOURCE_CORE_KEYS = ("plugin", "enabled")

_SHARE_TOLERANCE = 1e-6
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@attrs.frozen
class SourceConfig:
    """A ``[sources.NAME]`` table: which plugin, and its options as written.

    ``options`` are as written in the file (``${VAR}`` not yet read); use
    :func:`resolve_options` to get the values a connector runs with.
    """

    name: str
    plugin: str
    # A secret written into the file by mistake must not show in a repr.
    options: Mapping[str, Any] = attrs.field(
        hash=False, repr=lambda options: repr(_mask_secrets(dict(options)))
    )
    enabled: bool = True


@attrs.frozen
class Config:
    """A loaded, valid ``headway.toml``."""

    scorecard: Scorecard
    database: Path
    sources: Mapping[str, SourceConfig] = attrs.field(hash=False)
    file: Path | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict, hash=False, repr=False)

    @property
    def root(self) -> Path:
        """The folder relative paths in the file resolve against."""
        return self.file.parent if self.file else Path.cwd()

    def snapshot_data(self) -> dict[str, Any]:
        """The configuration as stored with a snapshot: no secret in it.

        Source tables keep ``${VAR}`` references (names, not values); any
        value under a key that names a secret is replaced by ``***``.
        """
        return _mask_secrets(dict(self.data))


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The configuration file: ``--config``, ``$HEADWAY_CONFIG``, ``./headway.toml``.

    :raises ConfigError: when the file does not exist, saying how to create one.
    """
    chosen = explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME
    path = Path(chosen).expanduser()
    if not path.is_file():
        origin = (
            "--config"
            if explicit
            else (f"${CONFIG_ENV}" if os.environ.get(CONFIG_ENV) else "the default")
        )
        raise ConfigError(
            f"no configuration file at {path} (from {origin}); create one with "
            "`headway init` or pass --config PATH"
        )
    return path.resolve()


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    plugins: Collection[str] | None = None,
    functions: Collection[str] | None = None,
    period: str | None = None,
    environ: Mapping[str, str] | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate a configuration file.

    :param path: the file; found with :func:`find_config` when omitted.
    :param plugins: connector names that exist; sources naming another are a
        problem. ``None`` skips that check.
    :param functions: measure function names that exist, checked likewise.
    :param unavailable: why a plugin named like a missing connector is not
        there (it failed to load, or ``HEADWAY_LOAD_PLUGINS`` left it out),
        said instead of "install its package".
    :param period: overrides ``[scorecard] period`` (the ``--period`` option).
    :param environ: where ``${VAR}`` values come from (default ``os.environ``).
    :raises ConfigError: listing every problem found.
    """
    file = find_config(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file} is not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ConfigError(f"cannot read {file}: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file} is not valid TOML: {error}") from None
    return parse_config(
        data,
        file=file,
        plugins=plugins,
        functions=functions,
        period=period,
        environ=environ,
        unavailable=unavailable,
    )


def parse_config(
    data: Mapping[str, Any],
    *,
    file: Path | None = None,
    plugins: Collection[str] | None = None,
    functions: Collection[str] | None = None,
    period: str | None = None,
    environ: Mapping[str, str] | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> Config:
    """Validate configuration data already parsed from TOML.

    Takes the same parameters as :func:`load_config`.

    :raises ConfigError: listing every problem found.
    """
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    root = file.parent if file else Path.cwd()

    reader.unknown_keys(data, TOP_LEVEL_KEYS, "")
    settings = reader.table(data, "scorecard")
    reader.unknown_keys(settings, SCORECARD_KEYS, "scorecard")
    name = reader.text(settings, "name", "scorecard", default="headway")
    database = reader.text(settings, "database", "scorecard", default="headway.db")
    if database is not None and not database.strip():
        reader.problem("scorecard.database", "must be a file path, not empty")
        database = "headway.db"
    elif database is not None and "\0" in database:
        # No file system takes a NUL in a path; SQLite would refuse it later.
        reader.problem("scorecard.database", "must be a file path without NUL")
        database = "headway.db"
    current = _read_period(reader, settings, period)
    thresholds = _read_thresholds(reader, settings)

    perspectives = _read_perspectives(reader, reader.table(data, "perspectives"))
    teams = _read_teams(reader, reader.table(data, "teams"))
    people = _read_people(reader, reader.table(data, "people"))
    objectives = _read_objectives(reader, reader.array(data, "objectives"))
    measures = _read_measures(reader, reader.array(data, "measures"))
    key_results = _read_key_results(reader, reader.array(data, "key_results"))
    rules = _read_rules(reader, reader.array(data, "rules"))
    sources = _read_sources(
        reader, reader.table(data, "sources"), plugins, unavailable or {}
    )

    _check_references(
        reader, perspectives, objectives, measures, key_results, rules, teams
    )
    if functions is not None:
        for where, item in _with_paths(reader, measures, key_results):
            if item.function and item.function not in functions:
                reader.problem(
                    f"{where}.function",
                    f"no measure function {item.function!r}"
                    + _suggest(item.function, functions)
                    + "; `headway plugins` lists the installed ones",
                )

    if reader.problems:
        raise ConfigError(
            reader.problems, file=str(file) if file else None, sources=sources
        )

    scorecard = Scorecard(
        name=name,
        period=current,  # type: ignore[arg-type]
        perspectives=tuple(perspectives),
        objectives=_built(objectives),
        measures=_built(measures),
        key_results=_built(key_results),
        rules=tuple(rules),
        teams=tuple(teams),
        people=tuple(people),
        thresholds=thresholds,
    )
    database_path = Path(os.path.expanduser(database))
    if not database_path.is_absolute():
        database_path = root / database_path
    return Config(
        scorecard=scorecard,
        database=database_path,
        sources=sources,
        file=file,
        data=data,
    )


def resolve_options(
    source: SourceConfig,
    environ: Mapping[str, str] | None = None,
    *,
    secrets: bool = True,
) -> tuple[dict[str, Any], list[Problem]]:
    """A source's options with ``${VAR}`` read from the environment.

    Values under keys that name a secret (``token``, ``client_secret``, ...)
    come back as :class:`~headway.secrets.Secret` and are registered for
    redaction, as is every value read from the environment for such a key.

    :param secrets: read the variables of secret-named keys. When false, only
        whether each is set is looked at, and ``***`` stands in for its value
        (``headway check`` validates source tables so); the value is still
        registered for redaction.
    :returns: the options, and a problem per variable that is not set (its
        value is left empty so the connector can report the rest).
    """
    env = os.environ if environ is None else environ
    reader = _Reader(env, secrets=secrets)
    resolved = {
        key: reader.interpolate(value, f"sources.{source.name}.{key}", key)
        for key, value in source.options.items()
    }
    return resolved, reader.problems


def toml_key(key: str, *, quote: bool = False) -> str:
    """A key as TOML writes it in a path: bare when it can be, else quoted."""
    if not quote and _BARE_KEY.fullmatch(key):
        return key
    quoted = json.dumps(key, ensure_ascii=False)
    # Keep a message on one line whatever the key holds.
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in quoted)


def suggest(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean "x"?)`` for the closest choice, or an empty string."""
    return _suggest(value, choices)


# ---------------------------------------------------------------- internals


@attrs.frozen
class _Unbuilt:
    """An objective, measure or key result that a problem kept from being
    built: what its table names, so its references are checked all the same
    and one run reports every problem."""

    id: str | None
    perspective: str | None = None
    objective: str | None = None
    measure: str | None = None
    function: str | None = None
    drives: tuple[str, ...] = ()
    capacity: float | None = None


class _Reader:
    """Reads typed values out of TOML tables, collecting problems with paths."""

    def __init__(self, environ: Mapping[str, str], *, secrets: bool = True):
        self.environ = environ
        self.secrets = secrets
        self.problems: list[Problem] = []
        # Where each parsed entry was written, so later checks name the
        # entry's own place even when entries before it were invalid.
        self.places: dict[int, str] = {}

    def place(self, entry: Any, path: str) -> None:
        self.places[id(entry)] = path

    def where(self, entry: Any) -> str:
        return self.places[id(entry)]

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: Iterable[str], path: str
    ) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                where = f"{path}.{toml_key(key)}" if path else toml_key(key)
                self.problem(where, "unknown key" + _suggest(key, allowed))

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a table ([{key}]), got {_kind(value)}")
            return {}
        return value

    def array(self, data: Mapping[str, Any], key: str) -> list[tuple[str, Mapping]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problem(
                key, f"must be an array of tables ([[{key}]]), got {_kind(value)}"
            )
            return []
        result = []
        for index, entry in enumerate(value):
            where = f"{key}[{index}]"
            if not isinstance(entry, Mapping):
                self.problem(where, f"must be a table, got {_kind(entry)}")
                continue
            result.append((where, entry))
        return result

    def interpolate(self, value: Any, path: str, key: str = "") -> Any:
        if isinstance(value, Mapping):
            return {
                k: self.interpolate(v, f"{path}.{toml_key(k)}", k)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.interpolate(v, f"{path}[{i}]", key) for i, v in enumerate(value)
            ]
        if not isinstance(value, str):
            return value
        secret = is_secret_key(key)

        def substitute(match: re.Match[str]) -> str:
            name = match[1]
            if name not in self.environ:
                self.problem(
                    path,
                    f"environment variable {name} is not set; export it before "
                    "running headway",
                )
                return ""
            if secret and not self.secrets:
                # Not used, but masked should it turn up elsewhere (the same
                # variable under a key that is not secret-named).
                register_secret(self.environ[name])
                return MASK
            found = self.environ[name]
            if secret:
                register_secret(found)
            return found

        result = _ENV_REFERENCE.sub(substitute, value)
        return Secret(result) if secret and result else result

    def text(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: str | None = None,
        required: bool = False,
    ) -> str | None:
        if key not in table:
            if required:
                self.problem(f"{path}.{key}", "is required")
            return default
        value = self.interpolate(table[key], f"{path}.{key}", key)
        if not isinstance(value, str):
            self.problem(f"{path}.{key}", f"must be a string, got {_kind(value)}")
            return default
        if required and not value.strip():
            self.problem(f"{path}.{key}", "must not be empty")
        return value

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: float | None = None,
        required: bool = False,
        positive: bool = False,
    ) -> float | None:
        if key not in table:
            if required:
                self.problem(f"{path}.{key}", "is required")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{path}.{key}", f"must be a number, got {_kind(value)}")
            return default
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            self.problem(f"{path}.{key}", f"must be a finite number, got {value}")
            return default
        if positive and value <= 0:
            self.problem(f"{path}.{key}", f"must be greater than 0, got {_num(value)}")
            return default
        return value

    def texts(self, table: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        """A string or a list of strings, as a tuple (rule conditions, members)."""
        if key not in table:
            return ()
        value = table[key]
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.problem(
            f"{path}.{key}",
            f"must be a string or a list of strings, got {_kind(value)}",
        )
        return ()


def _read_period(
    reader: _Reader, settings: Mapping[str, Any], override: str | None
) -> Period | None:
    if override is not None:
        try:
            return Period.parse(override)
        except ValueError as error:
            reader.problem("--period", str(error))
            return None
    text = reader.text(settings, "period", "scorecard")
    if text is None:
        return _current_quarter()
    try:
        return Period.parse(text)
    except ValueError as error:
        reader.problem("scorecard.period", str(error))
        return None


def _current_quarter() -> Period:
    today = date.today()
    return Period.parse(f"{today.year}-Q{(today.month - 1) // 3 + 1}")


def _read_thresholds(reader: _Reader, settings: Mapping[str, Any]) -> Thresholds:
    default = Thresholds()
    on_track = reader.number(
        settings, "on_track", "scorecard", default=default.on_track, positive=True
    )
    behind = reader.number(
        settings, "behind", "scorecard", default=default.behind, positive=True
    )
    assert on_track is not None and behind is not None
    if behind > on_track:
        reader.problem(
            "scorecard.behind",
            f"must not be above scorecard.on_track ({_num(behind)} > {_num(on_track)})",
        )
    return Thresholds(on_track=on_track, behind=behind)


def _read_perspectives(reader: _Reader, table: Mapping[str, Any]) -> list[Perspective]:
    # Defaults first, in their map order; the file may re-title, re-weight or
    # add perspectives, never silently drop one of the four.
    found = {key: Perspective(key, title) for key, title in DEFAULT_PERSPECTIVES}
    for key, entry in table.items():
        path = f"perspectives.{toml_key(key)}"
        if not isinstance(entry, Mapping):
            reader.problem(path, f"must be a table, got {_kind(entry)}")
            continue
        reader.unknown_keys(entry, PERSPECTIVE_KEYS, path)
        default_title = (
            found[key].title if key in found else key.replace("_", " ").title()
        )
        title = reader.text(entry, "title", path, default=default_title)
        weight = reader.number(entry, "weight", path, default=1.0, positive=True)
        found[key] = Perspective(key, title or default_title, weight or 1.0)
    return list(found.values())


def _read_teams(reader: _Reader, table: Mapping[str, Any]) -> list[Team]:
    teams = []
    for key, entry in table.items():
        path = f"teams.{toml_key(key)}"
        if not isinstance(entry, Mapping):
            reader.problem(path, f"must be a table, got {_kind(entry)}")
            continue
        reader.unknown_keys(entry, TEAM_KEYS, path)
        title = reader.text(entry, "title", path, default=key)
        members = reader.texts(entry, "members", path)
        teams.append(Team(key, title or key, members))
    return teams


def _read_people(reader: _Reader, table: Mapping[str, Any]) -> list[Person]:
    people = []
    for key, entry in table.items():
        path = f"people.{toml_key(key, quote=True)}"
        if not isinstance(entry, Mapping):
            reader.problem(path, f"must be a table, got {_kind(entry)}")
            continue
        reader.unknown_keys(entry, PERSON_KEYS, path)
        aliases = reader.texts(entry, "aliases", path)
        people.append(Person(key, aliases, reader.text(entry, "name", path)))
    return people


def _read_objectives(
    reader: _Reader, entries: list[tuple[str, Mapping]]
) -> list[Objective | _Unbuilt]:
    objectives: list[Objective | _Unbuilt] = []
    for path, entry in entries:
        reader.unknown_keys(entry, OBJECTIVE_KEYS, path)
        id = reader.text(entry, "id", path, required=True)
        perspective = reader.text(entry, "perspective", path, required=True)
        title = reader.text(entry, "title", path, default=id)
        weight = reader.number(entry, "weight", path, default=1.0, positive=True)
        capacity = reader.number(entry, "capacity", path)
        if capacity is not None and not 0 <= capacity <= 1:
            reader.problem(
                f"{path}.capacity",
                f"is a share of all effort and must be between 0 and 1, got "
                f"{_num(capacity)}",
            )
        owner = reader.text(entry, "owner", path)
        drives = reader.texts(entry, "drives", path)
        description = reader.text(entry, "description", path, default="") or ""
        if id is None or perspective is None:
            objectives.append(
                _Unbuilt(id, perspective=perspective, drives=drives, capacity=capacity)
            )
        else:
            objectives.append(
                Objective(
                    id=id,
                    perspective=perspective,
                    title=title or id,
                    owner=owner,
                    weight=weight or 1.0,
                    drives=drives,
                    capacity=capacity,
                    description=description,
                )
            )
        reader.place(objectives[-1], path)
    return objectives


def _read_value_source(
    reader: _Reader, entry: Mapping[str, Any], path: str, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    found = {
        key: reader.text(entry, key, path)
        for key in ("sql", "metric", "function")
        if key in entry
    }
    chosen = [key for key in (*extra, "sql", "metric", "function") if entry.get(key)]
    if len(chosen) > 1:
        reader.problem(
            path,
            f"give one value source, not {' and '.join(chosen)} (leave all out for "
            "values recorded with `headway record`)",
        )
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        reader.problem(f"{path}.params", f"must be a table, got {_kind(params)}")
        params = {}
    elif params and not entry.get("function"):
        reader.problem(f"{path}.params", 'is only used with function = "NAME"')
    found["params"] = dict(params)
    return found


def _read_target(
    reader: _Reader, entry: Mapping[str, Any], path: str, from_key: str
) -> tuple[float | None, float | None]:
    start = reader.number(entry, from_key, path, required=from_key == "start")
    target = reader.number(entry, "target", path, required=True)
    if start is not None and target is not None and start == target:
        reader.problem(
            f"{path}.target",
            f"equals {from_key} ({_num(target)}): achievement would divide by zero; "
            "set a target that differs from where you start",
        )
    return start, target


def _read_measures(
    reader: _Reader, entries: list[tuple[str, Mapping]]
) -> list[Measure | _Unbuilt]:
    measures: list[Measure | _Unbuilt] = []
    for path, entry in entries:
        reader.unknown_keys(entry, MEASURE_KEYS, path)
        id = reader.text(entry, "id", path, required=True)
        objective = reader.text(entry, "objective", path, required=True)
        kind = reader.text(entry, "kind", path, default="outcome")
        if kind not in MEASURE_KINDS:
            reader.problem(f"{path}.kind", f"must be outcome or activity, got {kind!r}")
        baseline, target = _read_target(reader, entry, path, "baseline")
        weight = reader.number(entry, "weight", path, default=1.0, positive=True)
        values = _read_value_source(reader, entry, path)
        title = reader.text(entry, "title", path, default=id)
        unit = reader.text(entry, "unit", path, default="") or ""
        owner = reader.text(entry, "owner", path)
        if baseline is None and target == 0.0:
            reader.problem(
                f"{path}.baseline",
                "is required when the target is 0 (the default baseline is 0)",
            )
        if id is None or objective is None or target is None:
            function = values.get("function")
            measures.append(_Unbuilt(id, objective=objective, function=function))
        else:
            measures.append(
                Measure(
                    id=id,
                    objective=objective,
                    title=title or id,
                    kind=kind if kind in MEASURE_KINDS else "outcome",
                    unit=unit,
                    baseline=0.0 if baseline is None else baseline,
                    target=target,
                    weight=weight or 1.0,
                    owner=owner,
                    **values,
                )
            )
        reader.place(measures[-1], path)
    return measures


def _read_key_results(
    reader: _Reader, entries: list[tuple[str, Mapping]]
) -> list[KeyResult | _Unbuilt]:
    key_results: list[KeyResult | _Unbuilt] = []
    for path, entry in entries:
        reader.unknown_keys(entry, KEY_RESULT_KEYS, path)
        id = reader.text(entry, "id", path, required=True)
        objective = reader.text(entry, "objective", path, required=True)
        start, target = _read_target(reader, entry, path, "start")
        weight = reader.number(entry, "weight", path, default=1.0, positive=True)
        period = None
        if (text := reader.text(entry, "period", path)) is not None:
            try:
                period = Period.parse(text)
            except ValueError as error:
                reader.problem(f"{path}.period", str(error))
        values = _read_value_source(reader, entry, path, extra=("measure",))
        title = reader.text(entry, "title", path, default=id)
        owner = reader.text(entry, "owner", path)
        unit = reader.text(entry, "unit", path, default="") or ""
        measure = reader.text(entry, "measure", path)
        if id is None or objective is None or start is None or target is None:
            key_results.append(
                _Unbuilt(
                    id,
                    objective=objective,
                    measure=measure,
                    function=values.get("function"),
                )
            )
        else:
            key_results.append(
                KeyResult(
                    id=id,
                    objective=objective,
                    title=title or id,
                    start=start,
                    target=target,
                    owner=owner,
                    period=period,
                    weight=weight or 1.0,
                    unit=unit,
                    measure=measure,
                    **values,
                )
            )
        reader.place(key_results[-1], path)
    return key_results


def _read_rules(reader: _Reader, entries: list[tuple[str, Mapping]]) -> list[Rule]:
    rules = []
    for number, (path, entry) in enumerate(entries, start=1):
        reader.unknown_keys(entry, RULE_KEYS, path)
        conditions: dict[str, Any] = {
            key: reader.texts(entry, key, path)
            for key in RULE_CONDITIONS
            if key not in ("title", "attributes")
        }
        pattern = None
        if (text := reader.text(entry, "title", path)) is not None:
            try:
                pattern = re.compile(text)
            except re.error as error:
                reader.problem(f"{path}.title", f"is not a valid regex: {error}")
        attributes = _read_rule_attributes(reader, entry, path)
        shares, category = _read_rule_assignment(reader, entry, path)
        rules.append(
            Rule(
                index=number,
                title=pattern,
                attributes=attributes,
                shares=shares,
                category=category,
                name=reader.text(entry, "name", path),
                **conditions,
            )
        )
    return rules


def _read_rule_attributes(
    reader: _Reader, entry: Mapping[str, Any], path: str
) -> dict[str, tuple[Any, ...]]:
    table = entry.get("attributes", {})
    if not isinstance(table, Mapping):
        reader.problem(f"{path}.attributes", f"must be a table, got {_kind(table)}")
        return {}
    result = {}
    for name, value in table.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            reader.problem(
                f"{path}.attributes.{toml_key(name)}",
                "must be a string, number, boolean or a list of them",
            )
            continue
        result[name] = tuple(values)
    return result


def _read_rule_assignment(
    reader: _Reader, entry: Mapping[str, Any], path: str
) -> tuple[tuple[tuple[str, float], ...], str | None]:
    given = [key for key in RULE_ASSIGNMENTS if key in entry]
    if len(given) != 1:
        what = " and ".join(given) if given else "none"
        reader.problem(
            path,
            f"a rule assigns exactly one of objective, objectives or category "
            f"(found {what})",
        )
        return (), None
    if "objective" in entry:
        objective = reader.text(entry, "objective", path, required=True)
        return ((objective, 1.0),) if objective else (), None
    if "category" in entry:
        category = reader.text(entry, "category", path)
        if category not in RULE_CATEGORIES:
            reader.problem(
                f"{path}.category",
                f"must be overhead or unaligned, got {category!r} (to serve an "
                'objective, use objective = "ID")',
            )
            return (), None
        return (), category
    table = entry["objectives"]
    if not isinstance(table, Mapping) or not table:
        reader.problem(
            f"{path}.objectives",
            "must be a table of objective id to share, e.g. { P1 = 0.6, C2 = 0.4 }",
        )
        return (), None
    shares = []
    for objective in table:
        value = reader.number(table, objective, f"{path}.objectives", positive=True)
        if value is not None:
            shares.append((objective, value))
    total = sum(share for _, share in shares)
    if len(shares) == len(table) and abs(total - 1.0) > _SHARE_TOLERANCE:
        reader.problem(
            f"{path}.objectives", f"shares must sum to 1, they sum to {_num(total)}"
        )
    return tuple(shares), None


def _read_sources(
    reader: _Reader,
    table: Mapping[str, Any],
    plugins: Collection[str] | None,
    unavailable: Mapping[str, str],
) -> dict[str, SourceConfig]:
    sources = {}
    for name, entry in table.items():
        path = f"sources.{toml_key(name)}"
        if not isinstance(entry, Mapping):
            reader.problem(path, f"must be a table, got {_kind(entry)}")
            continue
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
            reader.problem(
                path,
                "a source name may hold letters, digits, '_', '-' and '.' only "
                "(it prefixes item ids, as in NAME:ID)",
            )
        plugin = reader.text(entry, "plugin", path, required=True)
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            reader.problem(
                f"{path}.enabled", f"must be true or false, got {_kind(enabled)}"
            )
            enabled = True
        missing = plugin and plugin.strip() and plugins is not None
        if missing and plugin not in plugins and plugin in unavailable:
            reader.problem(
                f"{path}.plugin",
                f"connector {plugin!r} is unavailable: {unavailable[plugin]}",
            )
        elif missing and plugin not in plugins:
            known = ", ".join(sorted(plugins)) or "none"
            # Suggest a package only for a name a package could have; the
            # message must stay on one line whatever the file holds.
            package = (
                f" (install its package, e.g. pip install headway-{plugin})"
                if _BARE_KEY.fullmatch(plugin)
                else ""
            )
            reader.problem(
                f"{path}.plugin",
                f"no connector named {plugin!r}"
                f"{_suggest(plugin, plugins)}; installed: {known}{package}",
            )
        options = {k: v for k, v in entry.items() if k not in SOURCE_CORE_KEYS}
        sources[name] = SourceConfig(name, plugin or "", options, enabled)
    return sources


def _check_references(
    reader: _Reader,
    perspectives: list[Perspective],
    objectives: list[Objective | _Unbuilt],
    measures: list[Measure | _Unbuilt],
    key_results: list[KeyResult | _Unbuilt],
    rules: list[Rule],
    teams: list[Team],
) -> None:
    perspective_keys = [p.key for p in perspectives]
    objective_ids = [o.id for o in objectives if o.id is not None]
    measure_ids = [m.id for m in measures if m.id is not None]
    activity = {
        m.id
        for m in measures
        if m.id is not None and getattr(m, "kind", "") == "activity"
    }
    team_keys = [t.key for t in teams]

    _check_duplicates(reader, objectives)
    # Measures and key results share one namespace: `headway record ID` and
    # `headway explain` name either without saying which.
    _check_duplicates(reader, [*measures, *key_results])

    def check(path: str, kind: str, value: str | None, known: list[str]) -> None:
        if value is not None and value not in known:
            reader.problem(path, f"unknown {kind} {value!r}{_suggest(value, known)}")

    for objective in objectives:
        path = reader.where(objective)
        check(
            f"{path}.perspective",
            "perspective",
            objective.perspective,
            perspective_keys,
        )
        for target in objective.drives:
            check(f"{path}.drives", "objective", target, objective_ids)
            if target == objective.id:
                reader.problem(f"{path}.drives", "an objective cannot drive itself")
    for measure in measures:
        check(
            f"{reader.where(measure)}.objective",
            "objective",
            measure.objective,
            objective_ids,
        )
    for result in key_results:
        path = reader.where(result)
        check(f"{path}.objective", "objective", result.objective, objective_ids)
        check(f"{path}.measure", "measure", result.measure, measure_ids)
        if result.measure in activity:
            reader.problem(
                f"{path}.measure",
                f"{result.measure!r} is an activity measure, shown but never "
                "scored, while a key result is scored as an outcome; point it at "
                "an outcome measure, or give it its own sql, metric or function",
            )
    for rule in rules:
        path = f"rules[{rule.index - 1}]"
        for objective, _ in rule.shares:
            key = "objective" if len(rule.shares) == 1 else "objectives"
            check(f"{path}.{key}", "objective", objective, objective_ids)
        for team in rule.team:
            check(f"{path}.team", "team", team, team_keys)

    total_capacity = sum(o.capacity or 0.0 for o in objectives)
    if total_capacity > 1 + _SHARE_TOLERANCE:
        reader.problem(
            "objectives",
            f"planned capacities sum to {_num(total_capacity)}, more than all "
            "effort (1)",
        )
    graph = {o.id: o.drives for o in objectives if o.id is not None}
    if cycle := _find_cycle(graph):
        reader.problem("objectives", f"drives form a cycle: {' -> '.join(cycle)}")


def _check_duplicates(
    reader: _Reader, entries: Iterable[Objective | Measure | KeyResult | _Unbuilt]
) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id is None:
            continue
        where = reader.where(entry)
        if entry.id in seen:
            reader.problem(
                f"{where}.id", f"duplicate id {entry.id!r} (first at {seen[entry.id]})"
            )
        else:
            seen[entry.id] = where


def _find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle in a directed graph, as a path that ends where it starts."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph or nxt == node:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


def _with_paths(
    reader: _Reader,
    measures: list[Measure | _Unbuilt],
    key_results: list[KeyResult | _Unbuilt],
) -> Iterable[tuple[str, Measure | KeyResult | _Unbuilt]]:
    for entry in (*measures, *key_results):
        yield reader.where(entry), entry


def _built(entries: Iterable[_T | _Unbuilt]) -> tuple[_T, ...]:
    """The entries that were built: all of them once no problem was found."""
    return tuple(entry for entry in entries if not isinstance(entry, _Unbuilt))


def _mask_secrets(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {k: _mask_secrets(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets(v, key) for v in value]
    if isinstance(value, Secret):
        return MASK
    if is_secret_key(key) and isinstance(value, str):
        # A reference names a variable, which is safe to keep; a literal is not.
        return value if _ENV_REFERENCE.fullmatch(value) else MASK
    if isinstance(value, str):
        # A password written into a URL (https://user:PASSWORD@host).
        return _URL_PASSWORD.sub(rf"\1:{MASK}@", value)
    return value


_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/?#@\s:]*):[^/?#@\s]*@")


def _suggest(value: str, choices: Iterable[str]) -> str:
    matches = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{matches[0]}"?)' if matches else ""


def _kind(value: Any) -> str:
    names: dict[type, str] = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def _num(value: float) -> str:
    return f"{value:g}"
