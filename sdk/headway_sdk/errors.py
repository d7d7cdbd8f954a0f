"""The SDK's errors, each below one of headway's connector errors.

The sync engine knows three outcomes, and every SDK error maps to one:
:class:`~headway.errors.FatalError` fails the source's run,
:class:`~headway.errors.StopSource` ends it ``partial`` with its state kept,
and :class:`~headway.errors.RetryableError` fails it after the SDK already
retried. Messages name the service and the request (path only: never a
query string, credentials or a secret) and say what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from headway.errors import ConnectorError, FatalError, RetryableError
from headway.secrets import redact


class HttpError(FatalError):
    """The service answered with an error that retrying will not fix.

    :param message: what failed and what to do; never a secret.
    :param status: the HTTP status.
    :param url: the request's URL without query or credentials.
    :param detail: the service's own error text, shortened and redacted.
    :param code: the service's error code when it gives one
        (``INVALID_FIELD``, ``rateLimitExceeded``).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        detail: str | None = None,
        code: str | None = None,
        source: str | None = None,
    ):
        self.url = url
        self.detail = detail
        self.code = code
        super().__init__(message, source=source, status=status)


class AuthError(HttpError):
    """The credentials were refused (401, or 401 again after a token refresh).

    Stops the whole source: every other request would be refused too.
    """


class NotFoundError(HttpError):
    """404: the resource does not exist or these credentials cannot see it."""


class GoneError(HttpError):
    """410: the resource or cursor expired (a stale sync token, a removed API)."""


class RetriesExhaustedError(RetryableError):
    """A request kept failing after every retry the policy allows.

    :param reason: the last failure (``HTTP 503``, ``connection reset``).
    :param attempts: how many times the request was sent.
    """

    def __init__(
        self, message: str, *, reason: str, attempts: int, status: int | None = None
    ):
        self.reason = reason
        self.attempts = attempts
        super().__init__(message, status=status)


class PaginationError(FatalError):
    """A listing would never end: a repeated page or token, or ``max_pages``."""


class RecordError(ValueError):
    """Raise in ``parse_record`` to set one record aside with a reason.

    The record goes to the ``rejected`` table with the message; the rest of
    the page is stored. Other ``ValueError``, ``TypeError`` and ``KeyError``
    raised while parsing are treated the same way.
    """


def keep_earlier_failures(
    error: ConnectorError,
    failures: Sequence[str],
    what: str = "stream partition(s)",
) -> None:
    """Add the partitions that failed before ``error`` to its message.

    For the error that ends a source early (a quota at its reserve, refused
    credentials): it becomes the run's error, and the failures before it
    would otherwise reach only the log.

    :param failures: one text for each, naming it and saying why.
    :param what: what failed, for the message.
    """
    if failures and error.args:
        error.args = (
            redact(
                f"{error.args[0]} (before that, {len(failures)} {what} could not "
                "be read: " + "; ".join(failures) + ")"
            ),
            *error.args[1:],
        )
