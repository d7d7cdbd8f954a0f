"""The HTTP client every SDK connector talks to its service through.

One :class:`HttpClient` per source: a ``requests`` session with timeouts and
a User-Agent naming headway and the plugin, credentials from
:mod:`headway_sdk.auth`, a :class:`~headway_sdk.classify.Classifier` that
decides what each answer means, retries with ``tenacity`` following the
wait rules of :mod:`headway_sdk.ratelimit`, and an optional
:class:`~headway_sdk.ratelimit.RateBudget`::

    client = HttpClient(
        "https://acme.atlassian.net",
        auth=BasicAuth(config.email, config.token),
        context=context,                 # counts into the run's row
        plugin="headway-jira",
    )
    page = client.get("/rest/api/3/search/jql", params={"jql": jql}).data

Every request, retry and wait is counted into the source's
:class:`~headway.connectors.RunStats`; retries and waits are logged as
warnings with their reason. Messages show a request as its method and path:
never a query string, credentials or a token.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
from collections.abc import Mapping
from datetime import timedelta
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import requests
import tenacity

from headway.connectors import RunStats, SourceContext
from headway.errors import StopSource
from headway.secrets import redact, register_secret, reveal

from .auth import Auth
from .classify import HOST_NOT_FOUND, Action, Classifier, Exchange, Verdict, error_code
from .clock import Clock, get_clock
from .errors import AuthError, HttpError, RetriesExhaustedError
from .parsing import format_timestamp
from .ratelimit import RateBudget, RetryPolicy, Wait, reset_wait, retry_after

log = logging.getLogger(__name__)

#: Seconds to connect, and to wait for each read of the answer.
DEFAULT_TIMEOUT = (10.0, 60.0)
#: Variables naming a CA bundle to trust instead of the built-in one, the
#: first one set wins: requests' own, curl's, then OpenSSL's.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


@attrs.frozen
class Request:
    """One request to send: method, URL (or path), parameters, body.

    ``url`` is absolute, or a path appended to the client's base URL.
    Parameters whose value is ``None`` are left out; :class:`~headway.Secret`
    values are revealed only when sent.

    :param expect_json: the answer must be JSON (an HTML page or a cut-off
        body is then retried).
    :param authenticate: add the client's credentials (off for the token
        endpoint itself).
    """

    method: str = "GET"
    url: str = ""
    params: Mapping[str, Any] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    json: Any = None
    data: Any = None
    expect_json: bool = True
    authenticate: bool = True

    def with_params(self, **changes: Any) -> Request:
        """A copy with parameters added or changed (``None`` removes one)."""
        params = {**self.params, **changes}
        return attrs.evolve(
            self, params={k: v for k, v in params.items() if v is not None}
        )

    def with_url(self, url: str, *, keep_params: bool = False) -> Request:
        """A copy for another URL (a next link), dropping the parameters."""
        return attrs.evolve(self, url=url, params=self.params if keep_params else {})

    def __repr__(self) -> str:
        return f"Request({self.method} {describe_url(self.url)})"


@attrs.frozen
class HttpResponse:
    """An answer the classifier accepted.

    :param status: the HTTP status.
    :param headers: the headers, case-insensitive.
    :param url: the URL that answered (after redirects).
    :param data: the body parsed as JSON (``None`` for an empty body, or
        when the request did not expect JSON).
    :param request: the request it answers.
    :param raw: the ``requests`` response, for what the rest does not give.
    """

    status: int
    headers: Mapping[str, str]
    url: str
    data: Any
    request: Request
    raw: requests.Response = attrs.field(repr=False, eq=False)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.raw.text

    @property
    def links(self) -> dict[str, str]:
        """The ``Link`` header's URLs by ``rel`` (``{"next": "https://..."}``)."""
        return {
            rel: link["url"] for rel, link in self.raw.links.items() if "url" in link
        }

    def __repr__(self) -> str:
        return f"HttpResponse({self.status} {describe_url(self.url)})"


def describe_url(url: str) -> str:
    """A URL fit for a message: scheme, host and path only.

    Credentials in the URL and the whole query string are dropped: either
    may hold a token, and a path is enough to know which request it was.
    """
    parts = urlsplit(url)
    if not parts.scheme:
        return parts.path or "/"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def is_loopback(url: str) -> bool:
    """Whether a URL points at this machine (tests and local fakes)."""
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def environment_proxies(url: str) -> dict[str, str]:
    """The proxies the standard variables give for ``url``.

    ``HTTPS_PROXY``, ``HTTP_PROXY`` and ``ALL_PROXY`` (either case) are
    read, and ``NO_PROXY`` is honoured, as ``requests`` and curl read them;
    this machine is never reached through a proxy (a proxy's loopback is
    its own). A password in a proxy's URL is registered for redaction.

    :returns: proxies by scheme, as ``requests`` takes them (empty: go
        direct).
    """
    if is_loopback(url):
        return {}
    proxies = {
        scheme: proxy
        for scheme, proxy in requests.utils.get_environ_proxies(url).items()
        if scheme != "no" and proxy
    }
    for proxy in proxies.values():
        password = urlsplit(proxy).password
        if password:
            register_secret(password)
    return proxies


def environment_ca_bundle() -> str | None:
    """The CA bundle the environment names (:data:`CA_BUNDLE_VARIABLES`).

    A variable naming a path that does not exist is skipped with a warning.
    """
    for name in CA_BUNDLE_VARIABLES:
        value = os.environ.get(name)
        if not value:
            continue
        if os.path.exists(value):
            return value
        log.warning("%s names %s, which does not exist; ignoring it", name, value)
    return None


def user_agent(plugin: str | None = None) -> str:
    """``headway/0.1.0 headway-sdk/0.1.0 headway-jira/0.1.0``: who is asking.

    :param plugin: the connector's distribution name; its version is read
        from the installed package.
    """
    names = ["headway", "headway-sdk"]
    if plugin and plugin not in names:
        names.append(plugin)
    return " ".join(f"{name}/{_version(name)}" for name in names)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


class _Again(Exception):
    """An attempt that should be retried (tenacity retries on this)."""

    def __init__(self, exchange: Exchange, verdict: Verdict):
        super().__init__(verdict.reason)
        self.exchange = exchange
        self.verdict = verdict
        self.wait: Wait | None = None


class HttpClient:
    """A session to one service, with auth, classification, retries and waits.

    :param base_url: the service's root; request paths are appended to it.
    :param auth: credentials (:mod:`headway_sdk.auth`).
    :param context: the source's context: its stats count every request,
        retry and wait, its logger gets the warnings, and its stop event
        cuts waits short when the sync is cancelled.
    :param stats: counters to use without a context.
    :param plugin: the connector's distribution, for the User-Agent.
    :param timeout: seconds to connect and to read, or one number for both.
    :param retry: how often and how long to retry.
    :param classifier: decides what each answer means.
    :param budget: paces requests from the quota headers.
    :param clock: where time comes from (tests pass a fake one).
    :param headers: headers sent with every request.
    :param verify: TLS verification: ``True`` (the CA bundle the
        environment names, else the built-in one), or a CA bundle's path.
    :param service: the service's name in messages (default: the host).
    :param rng: the random source of backoff jitter.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        context: SourceContext | None = None,
        stats: RunStats | None = None,
        plugin: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        classifier: Classifier | None = None,
        budget: RateBudget | None = None,
        clock: Clock | None = None,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
        service: str | None = None,
        rng: random.Random | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.context = context
        self.stats = context.stats if context is not None else (stats or RunStats())
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.classifier = classifier or Classifier()
        self.budget = budget
        self.clock = clock or get_clock()
        self.stop: threading.Event | None = context.stop if context else None
        self.service = service or urlsplit(self.base_url).hostname or self.base_url
        self.rng = rng or random.Random()
        self.log = context.logger if context is not None else log
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent(plugin)
        self.session.headers["Accept"] = "application/json"
        self.session.headers.update(headers or {})
        # Credentials come only from `auth`, never from a stray ~/.netrc:
        # requests reads the environment only all together (netrc, proxies,
        # CA bundle), so the proxies and the CA bundle are read here instead.
        self.session.trust_env = False
        if verify is True:
            verify = environment_ca_bundle() or True
        self.session.verify = verify
        # Every host this client sends to over plain http is warned about
        # once: the service's own, its token endpoint's, and any a listing's
        # next links or a token answer point at.
        self._warned: set[str] = set()
        self._warn_if_plain(self.base_url)
        token_url = getattr(auth, "token_url", None)
        if isinstance(token_url, str):
            self._warn_if_plain(self.url_for(token_url))

    def _warn_if_plain(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.netloc in self._warned or is_loopback(url):
            return
        self._warned.add(parts.netloc)
        self.log.warning(
            "%s is plain http: credentials and data travel unencrypted; use "
            "https unless this is a test server",
            describe_url(url),
        )

    # ------------------------------------------------------------ public

    def url_for(self, url: str) -> str:
        """An absolute URL: ``url`` itself, or a path under the base URL."""
        if urlsplit(url).scheme:
            return url
        if not url:
            return self.base_url
        return f"{self.base_url}/{url.lstrip('/')}"

    def describe_url(self, url: str) -> str:
        """A path or URL fit for a message: the path alone on the service's
        own host, else as :func:`describe_url` gives it."""
        full = urlsplit(self.url_for(url))
        if full.netloc == urlsplit(self.base_url).netloc:
            return full.path or "/"
        return describe_url(self.url_for(url))

    def get(self, url: str, **options: Any) -> HttpResponse:
        """Send a GET (``params``, ``headers``, ``expect_json`` as for
        :class:`Request`)."""
        return self.send(Request("GET", url, **options))

    def post(self, url: str, **options: Any) -> HttpResponse:
        """Send a POST (``json`` or ``data`` body, and the rest as for GET)."""
        return self.send(Request("POST", url, **options))

    def send(self, request: Request) -> HttpResponse:
        """Send a request, retrying and waiting as the classifier decides.

        :raises AuthError: credentials refused (after one refresh, if the
            auth can refresh).
        :raises HttpError: an error answer retrying cannot fix.
        :raises RetriesExhaustedError: still failing after every attempt.
        :raises StopSource: a wait longer than the policy's ``max_wait``, a
            quota at its reserve, a spent quota, or a cancelled sync.
        """
        refreshed = [False]
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Again),
            sleep=self._sleep_between_attempts,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, request, refreshed)
        except _Again as again:
            reason = again.verdict.reason
            attempts = self.retry.attempts
            if again.verdict.action is Action.RATE_LIMITED:
                advice = (
                    "the service keeps limiting this client: sync less often, or "
                    "raise retries"
                )
            elif reason == HOST_NOT_FOUND:
                advice = (
                    f"check the host name in the source's URL "
                    f"({urlsplit(self.url_for(request.url)).hostname}), and that this "
                    "machine has a network and DNS"
                )
            else:
                advice = "the service may be down: try again later"
            raise RetriesExhaustedError(
                f"{self.service}: {request.method} {self.describe_url(request.url)} "
                f"still failed after {attempts} attempt{'s' if attempts > 1 else ''} "
                f"({reason}); {advice}",
                reason=reason,
                attempts=self.retry.attempts,
                status=again.exchange.status,
            ) from None

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def __repr__(self) -> str:
        return f"HttpClient({describe_url(self.base_url)!r}, auth={self.auth!r})"

    # ------------------------------------------------------------ attempts

    def _attempt(self, request: Request, refreshed: list[bool]) -> HttpResponse:
        while True:
            self._respect_budget()
            exchange = self._exchange(request)
            verdict = self.classifier.classify(exchange)
            if (
                self.budget is not None
                and exchange.response is not None
                and exchange.status != 401
            ):
                # A refused token's answer carries the quota of anonymous
                # callers (GitHub: 60 an hour, per address), not this one's.
                self.budget.observe(exchange.response.headers, self.clock.now())
            if verdict.action is Action.OK:
                return self._accept(exchange)
            if verdict.action is Action.REFRESH_AUTH:
                if (
                    request.authenticate
                    and self.auth is not None
                    and self.auth.can_refresh
                    and not refreshed[0]
                ):
                    refreshed[0] = True
                    self.log.info(
                        "%s refused the access token (%s); refreshing it once",
                        self.service,
                        verdict.reason,
                    )
                    self.auth.refresh(self)
                    continue
                raise self._error(exchange, verdict, refreshed=refreshed[0])
            if verdict.action in (Action.RETRY, Action.RATE_LIMITED):
                raise _Again(exchange, verdict)
            if verdict.action is Action.STOP:
                detail = self.classifier.describe(exchange)
                raise StopSource(
                    redact(
                        f"{self.service} asks to stop ({verdict.reason}"
                        f"{': ' + detail if detail else ''}); what was read is kept "
                        "and the next sync resumes from here"
                    ),
                    status=exchange.status,
                )
            raise self._error(exchange, verdict, refreshed=refreshed[0])

    def _exchange(self, request: Request) -> Exchange:
        headers = {k: str(reveal(v)) for k, v in request.headers.items()}
        if request.authenticate and self.auth is not None:
            self.auth.apply(headers, self)
        params = {k: reveal(v) for k, v in request.params.items() if v is not None}
        data = request.data
        if isinstance(data, Mapping):
            data = {k: reveal(v) for k, v in data.items()}
        url = self.url_for(request.url)
        self._warn_if_plain(url)
        self.stats.requests += 1
        if self.budget is not None:
            self.budget.spend()
        self.log.debug("%s %s", request.method, describe_url(url))
        try:
            response = self.session.request(
                request.method,
                url,
                params=params or None,
                headers=headers,
                json=request.json,
                data=data,
                timeout=self.timeout,
                proxies=environment_proxies(url),
            )
            # Read the whole body now, so a cut-off body is a fault of this
            # attempt and not a surprise for the parser later.
            _ = response.content
        except requests.RequestException as error:
            return Exchange(request, None, error)
        return Exchange(request, response)

    def _accept(self, exchange: Exchange) -> HttpResponse:
        response = exchange.response
        assert response is not None
        data = None
        if exchange.request.expect_json and response.status_code not in (204, 304):
            data = exchange.json()
        return HttpResponse(
            status=response.status_code,
            headers=response.headers,
            url=response.url,
            data=data,
            request=exchange.request,
            raw=response,
        )

    def _error(
        self, exchange: Exchange, verdict: Verdict, *, refreshed: bool = False
    ) -> HttpError:
        request = exchange.request
        where = f"{request.method} {self.describe_url(request.url)}"
        status = exchange.status
        if exchange.response is None:
            message = f"{self.service}: {where} failed: {verdict.reason}"
            if "TLS" in verdict.reason:
                message += (
                    "; the server's certificate is not trusted (verification is "
                    "never turned off). Check the URL; for a server whose "
                    "certificate comes from a private authority, set ca_bundle in "
                    "the source's table to that authority's CA file"
                )
            return HttpError(redact(message), url=describe_url(request.url))
        detail = self.classifier.describe(exchange)
        code = _code(exchange)
        error_class = verdict.error or (AuthError if status == 401 else HttpError)
        hint = _HINTS.get(status or 0, "")
        if status == 401 and refreshed:
            hint = "the credentials were refused even after refreshing the access token"
        message = f"{self.service} answered HTTP {status} to {where}"
        if detail:
            message += f": {detail}"
        if hint:
            message += f" ({hint})"
        return error_class(
            redact(message),
            status=status,
            url=self.describe_url(request.url),
            detail=redact(detail) if detail else None,
            code=code,
        )

    # ------------------------------------------------------------ waits

    def _wait(self, state: tenacity.RetryCallState) -> float:
        again = state.outcome.exception() if state.outcome else None
        if not isinstance(again, _Again):
            return 0.0
        wait = self.wait_for(again.exchange, again.verdict, state.attempt_number)
        if wait.seconds > self.retry.max_wait:
            self._stop_for_wait(again, wait)
        again.wait = wait
        return wait.seconds

    def wait_for(self, exchange: Exchange, verdict: Verdict, retry: int) -> Wait:
        """The wait before retry number ``retry`` of ``exchange``, and its rule.

        ``Retry-After`` first, then (for a rate limit) the reset headers,
        then exponential backoff with jitter; never below the verdict's
        ``min_wait``.
        """
        now = self.clock.now()
        headers = exchange.header
        after = retry_after(headers, now)
        if after is not None:
            return Wait(max(after, verdict.min_wait), "Retry-After")
        if verdict.action is Action.RATE_LIMITED:
            reset = reset_wait(headers, now)
            if reset is not None:
                return Wait(max(reset, verdict.min_wait), "rate-limit reset")
        seconds = self.retry.backoff_for(retry, at_least=verdict.min_wait, rng=self.rng)
        return Wait(seconds, "backoff")

    def _stop_for_wait(self, again: _Again, wait: Wait) -> None:
        resume_at = format_timestamp(self.clock.now() + timedelta(seconds=wait.seconds))
        request = again.exchange.request
        raise StopSource(
            f"{self.service}: {request.method} {self.describe_url(request.url)} "
            f"got {again.verdict.reason}; the wait it needs ({wait.seconds:.0f} s, "
            f"{wait.rule}) is over max_wait ({self.retry.max_wait:.0f} s), so this "
            f"source stops here; what was read is kept and the next sync after "
            f"{resume_at} resumes from here",
            status=again.exchange.status,
            resume_at=resume_at,
        )

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        again = state.outcome.exception() if state.outcome else None
        if not isinstance(again, _Again) or again.wait is None:
            return
        request = again.exchange.request
        self.stats.retries += 1
        self.log.warning(
            "%s: %s %s: %s; retry %d of %d in %.1f s (%s)",
            self.service,
            request.method,
            self.describe_url(request.url),
            again.verdict.reason,
            state.attempt_number,
            self.retry.attempts - 1,
            again.wait.seconds,
            again.wait.rule,
        )

    def _sleep_between_attempts(self, seconds: float) -> None:
        self.pause(seconds)

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` on the client's clock, counted into the stats.

        :raises StopSource: the sync was cancelled during the wait.
        """
        if seconds <= 0:
            return
        self.stats.waited += seconds
        if self.clock.sleep(seconds, self.stop) or (self.stop and self.stop.is_set()):
            raise StopSource("the sync was cancelled; the next sync resumes here")

    def _respect_budget(self) -> None:
        if self.budget is None:
            return
        advice = self.budget.pause(self.clock.now())
        if advice is None:
            return
        seconds, why = advice
        if seconds is None:
            raise StopSource(
                f"{self.service}: the API quota is nearly spent ({why}); this source "
                "stops so the rest stays for other tools; the next sync resumes here"
            )
        if seconds > self.retry.max_wait:
            raise StopSource(
                f"{self.service}: rate budget low ({why}); the next request would "
                f"wait {seconds:.0f} s, over max_wait ({self.retry.max_wait:.0f} s); "
                "the next sync resumes here"
            )
        level = logging.WARNING if seconds >= 1 else logging.DEBUG
        self.log.log(level, "%s: %s; waiting %.1f s", self.service, why, seconds)
        self.pause(seconds)


_HINTS = {
    400: "the service refused the request as malformed",
    401: "check the credentials configured for this source",
    403: "these credentials lack the permission for this",
    404: "it does not exist, or these credentials cannot see it",
    410: "it is gone or expired",
}


def _code(exchange: Exchange) -> str | None:
    return error_code(exchange.json_or_none())
