"""Deciding what to do with each answer: ok, retry, wait, refresh, stop, fail.

The :class:`Classifier` looks at one :class:`Exchange` (the request, and the
response or the exception it ended in) and gives a :class:`Verdict`. Its
defaults follow HTTP and what most services do; a connector refines them
with :class:`ResponseRule` entries for its service's quirks (GitHub's
secondary limit arrives as a 403, Salesforce's daily quota as a 403 that
must never be retried, Google's quota errors as a 403 ``rateLimitExceeded``)::

    classifier = Classifier(
        rules=[
            ResponseRule(
                status=403,
                contains="secondary rate limit",
                action=Action.RATE_LIMITED,
                min_wait=60,
                reason="secondary rate limit",
            ),
        ]
    )
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import requests

try:
    import orjson
except ImportError:  # pragma: no cover - json does the same, more slowly
    orjson = None  # type: ignore[assignment]

from .errors import AuthError, GoneError, HttpError, NotFoundError

if TYPE_CHECKING:
    from .http import Request

_UNREAD = object()
_DETAIL_LENGTH = 300

#: Statuses worth a retry: the service or a proxy in front of it had a fault.
RETRY_STATUSES = frozenset({408, 500, 502, 503, 504, 520, 521, 522, 523, 524})
#: Headers that say how many requests are left, tried in order.
REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining")


class Action(enum.Enum):
    """What the client does with an answer."""

    #: Use the response.
    OK = "ok"
    #: Try again after a backoff (a fault that may pass).
    RETRY = "retry"
    #: Try again after the wait the service asks for (``Retry-After``, reset).
    RATE_LIMITED = "rate-limited"
    #: Refresh the access token once and send again; then fail as auth.
    REFRESH_AUTH = "refresh-auth"
    #: Stop the source now, ``partial`` with its state kept (a spent quota).
    STOP = "stop"
    #: Raise an error: retrying cannot help.
    FAIL = "fail"


@attrs.frozen
class Verdict:
    """A classifier's decision about one exchange.

    :param action: what to do.
    :param reason: a few words for logs and errors (``HTTP 503``,
        ``connection reset``, ``secondary rate limit``).
    :param min_wait: wait at least this many seconds before retrying; a
        backoff then grows from here.
    :param error: the error class :attr:`Action.FAIL` raises (default by
        status: :class:`AuthError`, :class:`NotFoundError`, ...).
    """

    action: Action
    reason: str = ""
    min_wait: float = 0.0
    error: type[HttpError] | None = None


# Every digit as "0", anything else as a space: a long number is then a run
# of zeros, found at C speed (a regular expression is ten times slower).
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 20


def _parse_json(content: bytes) -> Any:
    """A body parsed as JSON, exactly as :func:`json.loads` parses it.

    orjson, where installed, parses a page of records in about half the time.
    What it refuses (``NaN``, UTF-16, bytes that are not UTF-8, broken JSON)
    goes to :mod:`json`, which decides; so does a body with a run of 20
    digits, which could be an integer past 64 bits, which orjson would turn
    into a float.

    :raises ValueError: the body is not (complete) JSON.
    """
    if orjson is not None and content.translate(_DIGITS).find(_LONG_NUMBER) < 0:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(content)
    except UnicodeDecodeError:
        # Bytes that are not UTF-8 inside a string (a server writing
        # Latin-1): keep them as surrogate escapes, so the one record holding
        # them is set aside by the store instead of the whole page being
        # retried and lost.
        return json.loads(content.decode("utf-8", "surrogateescape"))


@attrs.define
class Exchange:
    """One request and what came of it: a response, or an exception.

    :param request: what was sent.
    :param response: the answer, if one arrived.
    :param error: the exception sending or reading ended in, if any.
    """

    request: Request
    response: requests.Response | None = None
    error: BaseException | None = None
    _data: Any = attrs.field(default=_UNREAD, repr=False)

    @property
    def status(self) -> int | None:
        """The HTTP status, or ``None`` when no answer arrived."""
        return self.response.status_code if self.response is not None else None

    @property
    def text(self) -> str:
        """The body as text (empty without a response)."""
        if self.response is None:
            return ""
        try:
            return self.response.text
        except (requests.RequestException, UnicodeError):
            return ""

    def json(self) -> Any:
        """The body parsed as JSON, once.

        :raises ValueError: the body is not (complete) JSON.
        """
        if self._data is _UNREAD:
            if self.response is None:
                raise ValueError("no response")
            content = self.response.content
            self._data = _parse_json(content) if content.strip() else None
        return self._data

    def json_or_none(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON."""
        try:
            return self.json()
        except ValueError:
            return None

    @property
    def header(self) -> Mapping[str, str]:
        """The response headers (case-insensitive); empty without a response."""
        return self.response.headers if self.response is not None else {}

    def __repr__(self) -> str:
        # The method, the URL without its query, the status and the error's
        # type: a requests exception's text holds the full URL, query and all.
        from .http import describe_url

        parts = [f"{self.request.method} {describe_url(self.request.url)}"]
        if self.response is not None:
            parts.append(str(self.response.status_code))
        if self.error is not None:
            parts.append(type(self.error).__name__)
        return f"Exchange({' '.join(parts)})"


@attrs.frozen
class ResponseRule:
    """A refinement: when an answer matches, this verdict wins over the default.

    Every condition given must hold.

    :param status: a status or statuses (``403``, ``(403, 429)``).
    :param contains: text searched, ignoring case, in the body.
    :param code: an error code the body carries (``REQUEST_LIMIT_EXCEEDED``,
        ``rateLimitExceeded``), as :func:`error_code` reads it.
    :param when: any other test of the :class:`Exchange`.
    :param action: the verdict's action.
    :param reason: the verdict's reason (default: ``HTTP <status>``).
    :param min_wait: the verdict's minimum wait.
    :param error: the error class for :attr:`Action.FAIL`.
    """

    action: Action
    status: int | Sequence[int] | None = None
    contains: str | None = None
    code: str | Sequence[str] | None = None
    when: Callable[[Exchange], bool] | None = None
    reason: str = ""
    min_wait: float = 0.0
    error: type[HttpError] | None = None

    def matches(self, exchange: Exchange) -> bool:
        """Whether every condition of the rule holds for ``exchange``."""
        if exchange.response is None:
            return False
        if self.status is not None:
            statuses = (self.status,) if isinstance(self.status, int) else self.status
            if exchange.status not in statuses:
                return False
        if self.contains is not None and (
            self.contains.lower() not in exchange.text.lower()
        ):
            return False
        if self.code is not None:
            codes = (self.code,) if isinstance(self.code, str) else tuple(self.code)
            if error_code(exchange.json_or_none()) not in codes:
                return False
        return self.when is None or bool(self.when(exchange))

    def verdict(self, exchange: Exchange) -> Verdict:
        """The verdict this rule gives."""
        reason = self.reason or f"HTTP {exchange.status}"
        return Verdict(self.action, reason, self.min_wait, self.error)


class Classifier:
    """Maps each exchange to a :class:`Verdict`; rules first, then defaults.

    Subclass and override :meth:`classify` (calling ``super()``) for what
    rules cannot say, or :meth:`describe` to word the service's errors.

    :param rules: refinements tried in order before the defaults.
    """

    def __init__(self, rules: Iterable[ResponseRule] = ()):
        self.rules: tuple[ResponseRule, ...] = tuple(rules)

    def classify(self, exchange: Exchange) -> Verdict:
        """The verdict for one exchange."""
        for rule in self.rules:
            if rule.matches(exchange):
                return rule.verdict(exchange)
        if exchange.response is None:
            return self.classify_error(exchange.error)
        return self.classify_response(exchange)

    def classify_error(self, error: BaseException | None) -> Verdict:
        """The verdict for a request that got no (complete) answer."""
        if isinstance(error, requests.exceptions.SSLError):
            return Verdict(Action.FAIL, "TLS certificate verification failed")
        if isinstance(
            error,
            requests.exceptions.InvalidURL
            | requests.exceptions.MissingSchema
            | requests.exceptions.InvalidSchema
            | requests.exceptions.TooManyRedirects,
        ):
            return Verdict(Action.FAIL, _error_words(error))
        if isinstance(error, requests.exceptions.ConnectTimeout):
            return Verdict(Action.RETRY, "could not connect in time")
        if isinstance(error, requests.exceptions.ReadTimeout):
            return Verdict(Action.RETRY, "no answer within the read timeout")
        if isinstance(
            error,
            requests.exceptions.ChunkedEncodingError
            | requests.exceptions.ContentDecodingError,
        ):
            if "reset" in str(error).lower():
                return Verdict(Action.RETRY, "connection reset mid-body")
            return Verdict(Action.RETRY, "the answer was cut off mid-body")
        if isinstance(error, requests.exceptions.ConnectionError):
            text = str(error).lower()
            if "reset" in text or "aborted" in text:
                return Verdict(Action.RETRY, "connection reset")
            if "refused" in text:
                return Verdict(Action.RETRY, "connection refused")
            if any(words in text for words in _NAME_RESOLUTION):
                # A typo in the URL, or no network: worth a retry or two
                # (DNS blips), but not to be taken for the service being down.
                return Verdict(Action.RETRY, HOST_NOT_FOUND)
            return Verdict(Action.RETRY, "connection failed")
        return Verdict(Action.RETRY, _error_words(error))

    def classify_response(self, exchange: Exchange) -> Verdict:
        """The default verdict for an HTTP answer."""
        status = exchange.status or 0
        if 200 <= status < 300 or status == 304:
            return self._check_body(exchange)
        if status == 401:
            return Verdict(Action.REFRESH_AUTH, "HTTP 401", error=AuthError)
        if status == 429:
            return Verdict(Action.RATE_LIMITED, "HTTP 429 (rate limited)")
        if status == 403 and says_rate_limited(exchange):
            return Verdict(Action.RATE_LIMITED, "HTTP 403 (rate limited)")
        if status in RETRY_STATUSES:
            return Verdict(Action.RETRY, f"HTTP {status}")
        if status == 404:
            return Verdict(Action.FAIL, "HTTP 404", error=NotFoundError)
        if status == 410:
            return Verdict(Action.FAIL, "HTTP 410", error=GoneError)
        return Verdict(Action.FAIL, f"HTTP {status}")

    def _check_body(self, exchange: Exchange) -> Verdict:
        if not exchange.request.expect_json or exchange.status in (204, 304):
            return Verdict(Action.OK)
        content_type = exchange.header.get("content-type", "").lower()
        body = exchange.response.content if exchange.response is not None else b""
        if "html" in content_type or body.lstrip()[:1] == b"<":
            # A proxy, a login wall or a maintenance page answering for the
            # service: usually passes, and never holds the records we want.
            return Verdict(Action.RETRY, "an HTML page came instead of JSON")
        try:
            exchange.json()
        except ValueError:
            return Verdict(Action.RETRY, "the JSON body is cut short or invalid")
        return Verdict(Action.OK)

    def describe(self, exchange: Exchange) -> str | None:
        """The service's own words about an error answer, shortened."""
        return error_detail(exchange.json_or_none(), exchange.text)


#: The reason of a request whose host name could not be resolved.
HOST_NOT_FOUND = "the host name could not be resolved"
# How resolvers word it (glibc, macOS, Windows), as urllib3 passes it on.
_NAME_RESOLUTION = (
    "failed to resolve",
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated with hostname",
    "getaddrinfo failed",
)


# ---------------------------------------------------------------- helpers


def says_rate_limited(exchange: Exchange) -> bool:
    """Whether an answer's headers say a rate limit refused it: a
    ``Retry-After``, or no requests remaining. What tells a rate-limited
    403 from a refused permission."""
    return "retry-after" in exchange.header or _remaining(exchange.header) == 0


def _remaining(headers: Mapping[str, str]) -> int | None:
    for name in REMAINING_HEADERS:
        value = headers.get(name)
        if value is not None:
            try:
                return int(float(value))
            except ValueError:
                return None
    return None


def _error_words(error: BaseException | None) -> str:
    if error is None:
        return "no answer"
    return type(error).__name__


def error_code(data: Any) -> str | None:
    """The error code an error body carries, in the common shapes.

    Reads Salesforce's ``[{"errorCode": ...}]``, Google's
    ``{"error": {"errors": [{"reason": ...}], "status": ...}}`` and OAuth's
    ``{"error": "invalid_grant"}``; ``None`` when there is none.
    """
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        code = data[0].get("errorCode")
        return str(code) if code else None
    if not isinstance(data, Mapping):
        return None
    error = data.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        for entry in error.get("errors") or ():
            if isinstance(entry, Mapping) and entry.get("reason"):
                return str(entry["reason"])
        if error.get("status"):
            return str(error["status"])
    code = data.get("errorCode") or data.get("code")
    return str(code) if isinstance(code, str) and code else None


def error_detail(data: Any, text: str = "") -> str | None:
    """A service's error message, from the common JSON shapes or the text.

    Understands Jira's ``errorMessages``/``errors``, GitHub's ``message``,
    Google's ``error.message``, OAuth's ``error_description`` and
    Salesforce's list of ``{"message", "errorCode"}``. An HTML page is not
    quoted. The result is at most a few hundred characters.
    """
    parts: list[str] = []
    if isinstance(data, list):
        for entry in data[:3]:
            if isinstance(entry, Mapping) and entry.get("message"):
                code = entry.get("errorCode")
                parts.append(
                    f"{code}: {entry['message']}" if code else entry["message"]
                )
    elif isinstance(data, Mapping):
        parts += [str(m) for m in data.get("errorMessages") or () if m]
        errors = data.get("errors")
        if isinstance(errors, Mapping):
            parts += [f"{key}: {value}" for key, value in errors.items()]
        error = data.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            parts.append(str(error["message"]))
        elif isinstance(error, str):
            description = data.get("error_description")
            parts.append(f"{error}: {description}" if description else error)
        if data.get("message") and not parts:
            parts.append(str(data["message"]))
    if not parts and text and not text.lstrip().startswith("<"):
        parts.append(text)
    if not parts:
        return None
    detail = re.sub(r"\s+", " ", "; ".join(str(p) for p in parts)).strip()
    if len(detail) > _DETAIL_LENGTH:
        detail = detail[: _DETAIL_LENGTH - 1] + "…"
    return detail
