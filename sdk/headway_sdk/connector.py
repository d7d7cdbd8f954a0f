"""Base classes: a :class:`Connector` of :class:`Stream` objects over HTTP.

A connector is a settings class, a client, and a few streams::

    class Tickets(HttpStream):
        name = "tickets"
        path = "/api/tickets"
        records_path = "tickets"

        def paginator(self) -> Paginator:
            return NextTokenPaginator(token_path="next", param="cursor")

        def cursor(self) -> Cursor:
            return WatermarkCursor(start=self.config.start)

        def params(self, partition: str, run: CursorRun) -> dict[str, Any]:
            return {"updated_since": run.since and format_timestamp(run.since)}

        def parse_record(self, raw: Any, partition: str) -> WorkItem:
            return WorkItem(id=raw["id"], kind="ticket", title=raw["title"], ...)


    class TicketsConnector(Connector[TicketsConfig]):
        config_class = TicketsConfig

        def auth(self) -> Auth:
            return BearerAuth(self.config.token)

        def streams(self) -> list[Stream]:
            return [Tickets(self)]


    @hookimpl
    def register_connectors(register):
        register("tickets", TicketsConnector.build, description="Tickets API")

:meth:`Connector.read` reads every stream partition in turn, each page
with its cursor state, and keeps going past a partition the service
refuses (a missing repository, a calendar without access) so the others
still sync; the run then fails naming each such partition. Credentials
refused, a rate limit to wait out and a cancelled sync stop the source.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from typing import Any, ClassVar, Generic, TypeVar

from headway.connectors import DEFAULT_PARTITION, Page, SourceContext, State
from headway.errors import ConfigError, ConnectorError, FatalError, Problem
from headway.model import Record, Rejected
from headway.plugins import ENTRY_POINT_GROUP
from headway.secrets import redact

from .auth import Auth
from .classify import Classifier
from .config import HttpSettings, parse_options
from .cursors import Cursor, CursorRun, FullRefreshCursor
from .errors import (
    AuthError,
    HttpError,
    PaginationError,
    RecordError,
    keep_earlier_failures,
)
from .http import HttpClient, HttpResponse, Request
from .pagination import LinkHeaderPaginator, PageResult, Paginator
from .parsing import dig
from .ratelimit import RateBudget, RetryPolicy

ConfigT = TypeVar("ConfigT")

# Raw records longer than this are cut in the rejected table's reason.
_REASON_LENGTH = 500


class Connector(Generic[ConfigT]):
    """Base of an SDK connector: settings, a client, streams, ``check``, ``read``.

    Subclasses set :attr:`config_class` and implement :meth:`streams`; HTTP
    connectors also give :meth:`base_url` (default: the ``url``,
    ``api_url`` or ``base_url`` setting) and :meth:`auth`.

    :param config: the parsed settings.
    :param context: the source's context from the sync engine.
    """

    #: The attrs class of the source table (see :mod:`headway_sdk.config`).
    config_class: ClassVar[type]
    #: The connector's distribution, for the User-Agent (default: the one
    #: whose ``headway`` entry point registered the module's package).
    distribution: ClassVar[str | None] = None

    def __init__(self, config: ConfigT, context: SourceContext):
        self.config = config
        self.context = context
        self.log = context.logger

    @classmethod
    def build(cls, context: SourceContext) -> Connector[ConfigT]:
        """The factory to register: parse the source table, build the connector.

        :raises ConfigError: every problem of the table, at ``sources.NAME.KEY``.
        """
        config = parse_options(
            cls.config_class, context.options, f"sources.{context.name}"
        )
        bundle = getattr(config, "ca_bundle", None)
        if isinstance(config, HttpSettings) and bundle:
            path = context.path(bundle)
            if not path.is_file():
                raise ConfigError(
                    [
                        Problem(
                            f"sources.{context.name}.ca_bundle",
                            f"no file at {path}: give the CA bundle (PEM) of the "
                            "authority that signed the server's certificate; a "
                            "relative path is read from the configuration's folder",
                        )
                    ]
                )
        return cls(config, context)

    # ------------------------------------------------------------ to override

    def streams(self) -> Sequence[Stream]:
        """The streams this connector reads, in order."""
        raise NotImplementedError

    def base_url(self) -> str:
        """The service's root URL (default: the ``url``, ``api_url`` or
        ``base_url`` setting)."""
        for name in ("url", "api_url", "base_url"):
            value = getattr(self.config, name, None)
            if value:
                return str(value)
        raise NotImplementedError(f"{type(self).__name__} must define base_url()")

    def auth(self) -> Auth | None:
        """The client's credentials (default: none)."""
        return None

    def classifier(self) -> Classifier:
        """How the client reads answers; override to add :class:`ResponseRule`\\ s."""
        return Classifier()

    def budget(self) -> RateBudget | None:
        """A rate budget for the client (default: none)."""
        return None

    def make_client(self) -> HttpClient:
        """The client, built from the methods above and :class:`HttpSettings`."""
        config = self.config
        retry, timeout, verify = RetryPolicy(), (10.0, 60.0), True
        if isinstance(config, HttpSettings):
            retry = RetryPolicy(attempts=config.retries + 1, max_wait=config.max_wait)
            timeout = (min(10.0, config.timeout), config.timeout)
            if config.ca_bundle:
                verify = str(self.context.path(config.ca_bundle))
        return HttpClient(
            self.base_url(),
            auth=self.auth(),
            context=self.context,
            plugin=self.distribution or _distribution_of(type(self).__module__),
            timeout=timeout,
            retry=retry,
            classifier=self.classifier(),
            budget=self.budget(),
            verify=verify,
        )

    @functools.cached_property
    def client(self) -> HttpClient:
        """The connector's one client, made on first use."""
        return self.make_client()

    # ------------------------------------------------------------ the contract

    def check(self) -> None:
        """Verify credentials and reachability: one request of the first stream.

        Override with a cheaper request where the service has one (``/user``,
        ``/myself``).

        :raises ConnectorError: saying what is wrong and what to do.
        """
        streams = list(self.streams())
        if streams:
            streams[0].check()

    def read(self, state: State) -> Iterator[Page]:
        """Every stream partition's pages, each with the state to save after it.

        :raises AuthError: the credentials were refused.
        :raises FatalError: some partitions failed (each named); the others
            were read and stored.
        :raises StopSource: a wait too long, a quota at its reserve, or a
            cancelled sync; the next run resumes.
        """
        failures: list[str] = []
        done = 0
        try:
            for stream in self.streams():
                for partition in stream.partitions():
                    if self.context.stop.is_set():
                        return
                    saved = state.get(stream.name, partition)
                    try:
                        yield from stream.read(partition, saved)
                    except AuthError:
                        raise
                    except (HttpError, PaginationError) as error:
                        if isinstance(error, HttpError) and error.status is None:
                            # No answer at all (a certificate refused, a URL
                            # that cannot be): no other partition would fare
                            # better.
                            raise
                        label = f"{stream.name} {partition}".strip()
                        self.log.error("%s: %s", label, error)
                        failures.append(f"{label}: {error}")
                        continue
                    done += 1
        except ConnectorError as error:
            # What ends the source early (a quota, refused credentials) is the
            # run's error; the partitions that failed before it stay in it.
            keep_earlier_failures(error, failures)
            raise
        if failures:
            raise FatalError(
                redact(
                    f"{len(failures)} of {len(failures) + done} stream partitions "
                    "could not be read (the others were stored): " + "; ".join(failures)
                ),
                source=self.context.name,
            )

    def close(self) -> None:
        """Release the client's connections."""
        if "client" in self.__dict__:
            self.client.close()

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(source={self.context.name!r}, config={self.config!r})"


@functools.lru_cache(maxsize=64)
def _distribution_of(module: str) -> str | None:
    """The distribution that registered ``module``'s package as a plugin.

    Read from the ``headway`` entry point naming a module of that package,
    which an editable install (``pip install -e``) has too; else from the
    files an installed distribution lists.
    """
    top = module.partition(".")[0]
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.module.partition(".")[0] == top and entry_point.dist:
            return entry_point.dist.name
    names = metadata.packages_distributions().get(top)
    return names[0] if names else None


class Stream:
    """One kind of record a connector reads, split into partitions.

    :param connector: the connector it belongs to.
    """

    #: The stream's name in ``sync_state`` (``issues``, ``events``).
    name: ClassVar[str] = "default"

    def __init__(self, connector: Connector[Any]):
        self.connector = connector
        self.config: Any = connector.config
        self.context = connector.context
        self.log = connector.log

    def partitions(self) -> Iterable[str]:
        """The partitions (repositories, calendars, objects); one by default."""
        return [DEFAULT_PARTITION]

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """Yield the pages of one partition, from its saved state."""
        raise NotImplementedError

    def check(self) -> None:
        """Verify this stream can be read (credentials, access)."""


class HttpStream(Stream):
    """A stream read over HTTP: request, paginator, cursor and ``parse``.

    Set :attr:`path` (and :attr:`records_path`), override
    :meth:`parse_record`, and where needed :meth:`params` (or
    :meth:`request`), :meth:`paginator`, :meth:`cursor`,
    :meth:`partitions` and :meth:`sweep_scope`.

    A record whose parsing raises :class:`~headway_sdk.errors.RecordError`,
    ``ValueError``, ``TypeError`` or ``KeyError`` is set aside as a
    :class:`~headway.model.Rejected` with the reason; the rest of the page
    is kept.
    """

    #: The listing's path under the client's base URL (or an absolute URL).
    path: ClassVar[str] = ""
    #: The HTTP method of the listing.
    method: ClassVar[str] = "GET"
    #: Where the records are in the body (dotted); ``None``: the body is the list.
    records_path: ClassVar[str | None] = None
    #: Whether an answer may leave :attr:`records_path` out when it has no
    #: records (some APIs omit empty lists). Off, such an answer is an error:
    #: a wrong path must not pass as an empty listing.
    records_optional: ClassVar[bool] = False

    @property
    def client(self) -> HttpClient:
        """The connector's client."""
        return self.connector.client

    # ------------------------------------------------------------ to override

    def paginator(self) -> Paginator:
        """How the listing pages (default: the ``Link`` header)."""
        return LinkHeaderPaginator()

    def cursor(self) -> Cursor:
        """The incremental state (default: a resumable full refresh)."""
        return FullRefreshCursor()

    def params(self, partition: str, run: CursorRun) -> Mapping[str, Any]:
        """The first request's query parameters (``None`` values are dropped)."""
        return {}

    def request(self, partition: str, run: CursorRun) -> Request:
        """The listing's first request for a partition and cursor run."""
        return Request(self.method, self.path, params=dict(self.params(partition, run)))

    def extract(self, response: HttpResponse) -> list[Any]:
        """The raw records of an answer (at :attr:`records_path`).

        :raises HttpError: the answer does not hold a list there.
        """
        data = response.data
        if response.status == 304:
            return []
        records = dig(data, self.records_path) if self.records_path else data
        if records is None and self.records_optional and isinstance(data, Mapping):
            return []
        if not isinstance(records, list):
            raise HttpError(
                f"{self.client.service}: the answer to "
                f"{self.client.describe_url(response.request.url)} has no list of "
                f"records at {self.records_path or 'its top level'!r}; is the URL "
                "right?",
                status=response.status,
                url=self.client.describe_url(response.request.url),
            )
        return records

    def parse_record(
        self, raw: Any, partition: str
    ) -> Record | Iterable[Record] | None:
        """One raw record as headway records (an item, a tombstone, ...).

        Return ``None`` to skip it. Raise :class:`RecordError` (or let a
        ``KeyError``/``ValueError``/``TypeError`` escape) to reject it.
        """
        raise NotImplementedError

    def record_id(self, raw: Any) -> str | None:
        """The id of a raw record, for the rejected table (default: ``id``)."""
        value = raw.get("id") if isinstance(raw, Mapping) else None
        return str(value) if value is not None else None

    def sweep_scope(self, partition: str) -> Mapping[str, Any] | None:
        """The items a full listing of ``partition`` covers, for its sweep.

        After a complete listing, items in this scope that it did not return
        are tombstoned. ``None`` (the default) never sweeps. Return a
        :class:`~headway.model.Sweep` scope such as ``{"kind": "meeting",
        "attributes.calendar": partition}``.
        """
        return None

    # ------------------------------------------------------------ reading

    def parse(self, page: PageResult, partition: str) -> list[Record]:
        """Every record of a page; a record that fails becomes a ``Rejected``."""
        records: list[Record] = []
        for raw in page.records:
            try:
                parsed = self.parse_record(raw, partition)
            except (RecordError, ValueError, TypeError, KeyError) as error:
                reason = _reason(error)
                self.log.warning(
                    "%s: set aside a record (%s): %s",
                    self.name,
                    self.record_id(raw),
                    reason,
                )
                records.append(Rejected(reason, raw, self.record_id(raw)))
                continue
            if parsed is None:
                continue
            if isinstance(parsed, Record):
                records.append(parsed)
            else:
                records.extend(parsed)
        return records

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """Walk the partition's listing from its saved state.

        When the saved state turns out stale (a 410 on a sync token, a
        saved page position the service refuses), it is dropped with the
        first page of a fresh full listing, once. When that listing fails
        too, the error says how to forget the saved state by hand.
        """
        now = self.client.clock.now()
        run = self.cursor().begin(saved, now=now, full=self.context.full)
        reset = False
        while True:
            try:
                yield from self._walk(partition, run, reset)
                return
            except HttpError as error:
                if reset and not isinstance(error, AuthError):
                    error.args = (
                        f"{error}; the saved state was refused and listing from "
                        "the start failed too. If the next sync fails the same "
                        f"way, run `headway state reset {self.context.name}` to "
                        "forget the saved state",
                        *error.args[1:],
                    )
                if reset or not run.expired(error):
                    raise
                self.log.warning(
                    "%s %s: the saved state was refused (%s); listing everything "
                    "again from the start",
                    self.name,
                    partition,
                    error,
                )
                run = self.cursor().begin(None, now=now, full=True)
                reset = True

    def _walk(self, partition: str, run: CursorRun, reset: bool) -> Iterator[Page]:
        paginator = self.paginator()
        request = self.request(partition, run)
        scope = self.sweep_scope(partition)
        first = True
        for page in paginator.walk(self.client, request, self.extract, run.position):
            records = self.parse(page, partition)
            run.observe(page, records)
            records += run.marks(records, scope)
            if page.last:
                records += run.closing(scope)
            yield Page(
                records,
                stream=self.name,
                partition=partition,
                state=run.state(page),
                reset=reset and first,
            )
            first = False
            if self.context.stop.is_set():
                return

    def check(self) -> None:
        """Send the first request of the first partition."""
        partition = next(iter(self.partitions()), DEFAULT_PARTITION)
        run = self.cursor().begin(None, now=self.client.clock.now(), full=True)
        request = self.paginator().first(self.request(partition, run))
        self.client.send(request)


def _reason(error: BaseException) -> str:
    if isinstance(error, KeyError):
        text = f"required field {error.args[0]!r} is missing"
    else:
        text = str(error) or type(error).__name__
    text = redact(text)
    return text if len(text) <= _REASON_LENGTH else text[: _REASON_LENGTH - 1] + "…"
