"""A connector's settings: an attrs class, checked all at once with key paths.

A connector declares what its ``[sources.NAME]`` table holds as an attrs
class; the types of its fields are the checks::

    @attrs.frozen
    class TicketsConfig(HttpSettings):
        url: str = option(validator=http_url, help="the API's root URL")
        token: Secret = option(help="an API token, as ${TICKETS_TOKEN}")
        projects: tuple[str, ...] = option(default=(), help="project keys")
        start: datetime = option(default=None, help="how far back to reach")

:func:`parse_options` reads a table into it and reports every problem at
once, each at its path (``sources.tickets.token: required: an API token``):
unknown keys (with a suggestion), missing required keys, wrong types,
failed validators, and what the class's optional ``validate`` method says.
``${VAR}`` references were already read by headway's core, which hands
secret-named keys (``token``, ``client_secret``, ...) over as
:class:`~headway.secrets.Secret` values; a field holding one must be typed
``Secret`` so that it never shows in a ``repr`` or a log line.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar, Union
from urllib.parse import urlsplit

import attrs

from headway.config import suggest, toml_key
from headway.errors import ConfigError, Problem
from headway.secrets import Secret, is_secret_key

from .parsing import parse_timestamp

T = TypeVar("T")

_HELP = "headway_sdk.help"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_DURATION_UNITS = {
    None: 1.0,
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def option(
    *,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    help: str = "",
    validator: Any = None,
    kw_only: bool | None = None,
) -> Any:
    """An attrs field for a connector setting, with its help text.

    Without ``default`` or ``factory`` the key is required. The help text
    is what a "required" problem says, so write it as what the value is
    (``"the site root, such as https://acme.atlassian.net"``).
    """
    if factory is not None:
        default = attrs.Factory(factory)
    extra = {} if kw_only is None else {"kw_only": kw_only}
    return attrs.field(
        default=default, validator=validator, metadata={_HELP: help}, **extra
    )


def help_of(field: attrs.Attribute) -> str:
    """The help text given to :func:`option` for a field."""
    return str(field.metadata.get(_HELP, ""))


@attrs.frozen(kw_only=True)
class HttpSettings:
    """Settings every HTTP connector takes; extend it with your own fields.

    :param timeout: seconds to wait for each read of an answer.
    :param retries: retries of a failing request before the source fails.
    :param max_wait: the longest wait (rate limit or backoff) worth
        sleeping; a longer one ends the run ``partial`` to resume later.
    :param ca_bundle: a CA bundle file for a server with a private
        certificate authority (verification is never turned off).
    """

    timeout: float = option(default=60.0, help="seconds to wait for an answer")
    retries: int = option(default=5, help="retries of a failing request")
    max_wait: float = option(
        default=300.0, help="the longest rate-limit or backoff wait, in seconds"
    )
    ca_bundle: str | None = option(default=None, help="a CA bundle file")

    def validate(self) -> Iterable[tuple[str, str]]:
        """Problems that involve the shared settings, as ``(key, message)``."""
        if self.timeout <= 0:
            yield "timeout", "must be a number of seconds greater than 0"
        if self.retries < 0:
            yield "retries", "must be 0 or more"
        if self.max_wait < 0:
            yield "max_wait", "must be 0 or more seconds"


def http_url(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Validator: an ``http`` or ``https`` URL with a host.

    :raises ValueError: saying what a good value looks like.
    """
    if value is None:
        return
    parts = urlsplit(str(value))
    if parts.password is not None:
        # Never echo it: the value is quoted without its user part.
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise ValueError(
            "must not hold a user name and password (they would be stored and "
            "shown with the URL); give them in the source's credential keys, "
            f"which are kept secret: {bare!r}"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"must be an http(s) URL such as https://example.com, got {value!r}"
        )


def positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    """Validator: a number greater than 0."""
    if value is not None and value <= 0:
        raise ValueError(f"must be greater than 0, got {value!r}")


def parse_options(cls: type[T], options: Mapping[str, Any], path: str) -> T:
    """Read a source table into the attrs class ``cls``, checking everything.

    :param options: the table, ``${VAR}`` already read (as the core's
        :class:`~headway.connectors.SourceContext` holds it).
    :param path: where the table is, ``sources.NAME``.
    :raises ConfigError: listing every problem, each at ``PATH.KEY``.
    :raises TypeError: a secret-named field not typed ``Secret`` (a bug in
        the connector, found by its first test).
    """
    problems: list[Problem] = []
    value = _read_class(cls, options, path, problems)
    if problems:
        raise ConfigError(problems)
    return value


def _read_class(
    cls: type[T], options: Mapping[str, Any], path: str, problems: list[Problem]
) -> T:
    attrs.resolve_types(cls)
    fields = {field.alias or field.name: field for field in attrs.fields(cls)}
    for key in options:
        if key not in fields:
            problems.append(
                Problem(
                    f"{path}.{toml_key(str(key))}",
                    "unknown key"
                    + suggest(str(key), fields)
                    + "; known keys: "
                    + ", ".join(sorted(fields)),
                )
            )
    values: dict[str, Any] = {}
    before = len(problems)
    for key, field in fields.items():
        where = f"{path}.{key}"
        if is_secret_key(key) and not _allows_secret(field.type):
            raise TypeError(
                f"{cls.__name__}.{field.name} holds a secret: type it as Secret "
                "(headway.Secret) so it never shows in a repr or a log line"
            )
        if key not in options:
            if field.default is attrs.NOTHING:
                text = help_of(field)
                problems.append(
                    Problem(where, "required" + (f": {text}" if text else ""))
                )
            continue
        try:
            converted = _convert(options[key], field.type, where, problems)
        except _Invalid:
            continue
        if field.validator is not None:
            try:
                field.validator(None, field, converted)
            except (ValueError, TypeError) as error:
                problems.append(Problem(where, str(error)))
                continue
        values[field.name] = converted
    if len(problems) > before:
        return None  # type: ignore[return-value]
    try:
        instance = cls(**values)
    except (ValueError, TypeError) as error:
        problems.append(Problem(path, str(error)))
        return None  # type: ignore[return-value]
    validate = getattr(instance, "validate", None)
    if callable(validate):
        for key, message in validate() or ():
            problems.append(Problem(f"{path}.{key}" if key else path, message))
    return instance


class _Invalid(Exception):
    """A value was wrong; its problem is already recorded."""


def _allows_secret(tp: Any) -> bool:
    if tp is Secret or tp is Any:
        return True
    return any(_allows_secret(arg) for arg in typing.get_args(tp))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int) and abs(value) >= 10**18:
        return "a number too large"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, Secret):
        return "a secret"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _fail(problems: list[Problem], where: str, message: str) -> typing.NoReturn:
    problems.append(Problem(where, message))
    raise _Invalid


def _convert(value: Any, tp: Any, where: str, problems: list[Problem]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is None:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        choices = [a for a in args if a is not type(None)]
        if len(choices) == 1:
            return _convert(value, choices[0], where, problems)
        scratch: list[Problem] = []
        for choice in choices:
            try:
                return _convert(value, choice, where, scratch)
            except _Invalid:
                continue
        _fail(
            problems,
            where,
            "must be "
            + " or ".join(_describe(c) for c in choices)
            + f", got {_kind(value)}",
        )
    if origin is Literal:
        if value not in args:
            _fail(
                problems,
                where,
                "must be one of "
                + ", ".join(repr(a) for a in args)
                + f", got {_kind(value)}",
            )
        return value
    if tp is Secret:
        if isinstance(value, Secret):
            return value
        if isinstance(value, str):
            return Secret(value)
        _fail(problems, where, f"must be a string, got {_kind(value)}")
    if isinstance(value, Secret) and tp is str:
        return value
    if tp is str:
        if not isinstance(value, str):
            _fail(problems, where, f"must be a string, got {_kind(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            _fail(problems, where, f"must be true or false, got {_kind(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(problems, where, f"must be an integer, got {_kind(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(problems, where, f"must be a number, got {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            _fail(problems, where, f"must be a finite number, got {_kind(value)}")
        return number
    if tp is datetime:
        try:
            if isinstance(value, date) and not isinstance(value, datetime):
                return datetime(value.year, value.month, value.day, tzinfo=UTC)
            parsed = parse_timestamp(value, assume=UTC) if value != "" else None
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None or isinstance(value, bool | int | float):
            _fail(
                problems,
                where,
                f"must be a date or time such as 2026-01-01, got {_kind(value)}",
            )
        return parsed
    if tp is date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        _fail(problems, where, f"must be a date such as 2026-01-01, got {_kind(value)}")
    if tp is timedelta:
        return _duration(value, where, problems)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if not isinstance(value, list | tuple):
            _fail(problems, where, f"must be a list, got {_kind(value)}")
        item_type = args[0] if args else Any
        items, bad = [], False
        for index, item in enumerate(value):
            try:
                items.append(_convert(item, item_type, f"{where}[{index}]", problems))
            except _Invalid:
                bad = True
        if bad:
            raise _Invalid
        return items if origin is list or tp is list else tuple(items)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            _fail(problems, where, f"must be a table, got {_kind(value)}")
        value_type = args[1] if len(args) == 2 else Any
        result, bad = {}, False
        for key, item in value.items():
            try:
                result[str(key)] = _convert(
                    item, value_type, f"{where}.{toml_key(str(key))}", problems
                )
            except _Invalid:
                bad = True
        if bad:
            raise _Invalid
        return result
    if isinstance(tp, type) and attrs.has(tp):
        if not isinstance(value, Mapping):
            _fail(problems, where, f"must be a table, got {_kind(value)}")
        before = len(problems)
        instance = _read_class(tp, value, where, problems)
        if len(problems) > before:
            raise _Invalid
        return instance
    if isinstance(tp, type):
        if not isinstance(value, tp):
            _fail(problems, where, f"must be {_describe(tp)}, got {_kind(value)}")
        return value
    return value


def _describe(tp: Any) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        Secret: "a string",
        datetime: "a date or time",
        date: "a date",
        timedelta: "a duration",
    }
    if tp in names:
        return names[tp]
    origin = typing.get_origin(tp)
    if origin in (list, tuple, Sequence):
        return "a list"
    if origin in (dict, Mapping):
        return "a table"
    return getattr(tp, "__name__", str(tp))


def _duration(value: Any, where: str, problems: list[Problem]) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value >= 0:
                return timedelta(seconds=value)
        elif isinstance(value, str) and (match := _DURATION.match(value)):
            return timedelta(seconds=float(match[1]) * _DURATION_UNITS[match[2]])
    except (OverflowError, ValueError):
        _fail(problems, where, f"is too long a duration, got {_kind(value)}")
    _fail(
        problems,
        where,
        f"must be a duration such as 10m, 2h or 90 (seconds), got {_kind(value)}",
    )
