"""Keeping secrets out of logs, errors, reprs, the store and the report.

Two mechanisms work together:

- :class:`Secret` wraps a value so that ``str``, ``repr`` and formatting show
  ``***``; code that needs the real value calls :meth:`Secret.reveal`.
- A process-wide redactor remembers every secret value seen (the
  configuration registers each one it resolves) and :func:`redact` replaces
  them in any text. The CLI installs :class:`RedactingFilter` on its log
  handlers, and error messages pass through :func:`redact` before printing,
  so a token that reaches a message by accident is still masked.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"

# Values shorter than this are not registered for redaction: masking every
# "1" or "ok" in every log line would destroy the logs and protect nothing.
_MIN_SECRET_LENGTH = 4

# Keys whose values are treated as secrets wherever they appear in a
# configuration, so they are masked even when written in literally.
SECRET_KEY_PATTERN = re.compile(
    r"(token|secret|password|passwd|api[_-]?key|private[_-]?key|credential|^pat$)",
    re.IGNORECASE,
)
# A key that names where something is (``token_url``, an OAuth endpoint)
# holds an address, not a secret, whatever word comes before it.
_ADDRESS_KEY_PATTERN = re.compile(r"_(url|uri)$", re.IGNORECASE)


class Secret:
    """A string that never shows itself: ``str`` and ``repr`` give ``***``.

    :param value: the secret text. It is registered with the redactor.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)
        register_secret(self._value)

    def reveal(self) -> str:
        """The real value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def reveal(value: Any) -> Any:
    """The plain value of ``value``, whether it is a :class:`Secret` or not."""
    return value.reveal() if isinstance(value, Secret) else value


class _Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if not isinstance(value, str) or len(value) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


_redactor = _Redactor()


def register_secret(value: str) -> None:
    """Remember ``value`` so that :func:`redact` masks it from now on."""
    _redactor.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    return _redactor.redact(text)


def forget_secrets() -> None:
    """Forget every registered secret (for tests)."""
    _redactor.clear()


def is_secret_key(key: str) -> bool:
    """Whether a configuration key holds a secret by its name.

    ``token`` and ``client_secret`` do; ``token_url`` (an address) does not.
    """
    return bool(SECRET_KEY_PATTERN.search(key)) and not _ADDRESS_KEY_PATTERN.search(key)


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the formatter uses ours.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True
