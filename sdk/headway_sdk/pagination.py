"""Walking a listing page by page, with a stop condition and loop guards.

A :class:`Paginator` turns a first request into a sequence of pages: it
decides from each answer what the next request is, or that there is none.
Five styles cover the APIs headway meets:

- :class:`LinkHeaderPaginator`: the ``Link`` header's ``rel="next"`` URL;
  stops when there is none.
- :class:`NextUrlPaginator`: a URL in the body (``nextRecordsUrl``); stops
  when there is none, or a ``done`` flag is true.
- :class:`NextTokenPaginator`: a token in the body (``nextPageToken``) sent
  back as a parameter; stops when there is none, or ``isLast`` is true.
- :class:`OffsetPaginator`: an offset advanced by the records read; stops at
  the ``total``, or at a short page when there is no total.
- :class:`PageNumberPaginator`: a page number counting up; stops at an empty
  or short page, or when the body says there are no more.

Every walk is guarded: a request the walk already sent (the same next URL,
token, offset or page number, among its latest :data:`LOOP_WINDOW`) and a
page identical to the one before raise
:class:`~headway_sdk.errors.PaginationError` instead of looping for ever,
and so does going past ``max_pages``.

Each page also carries the *position* of the next one (a URL, token, offset
or page number, all JSON-able), which a resumable full refresh saves so an
interrupted run goes on from there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from headway.secrets import redact

from .errors import PaginationError
from .parsing import dig

if TYPE_CHECKING:
    from .http import HttpClient, HttpResponse, Request

#: Pulls the records out of an answer.
Extract = Callable[["HttpResponse"], list[Any]]

#: Pages one listing may have unless told otherwise: a safety net, not a plan.
DEFAULT_MAX_PAGES = 10_000
#: How many of the latest requests of a walk the loop guard remembers.
LOOP_WINDOW = 1_000


@attrs.frozen
class PageResult:
    """One page of a walk.

    :param response: the answer.
    :param records: the raw records the extractor found in it.
    :param number: the page's place in this walk, from 1.
    :param next_position: where the next page starts (``None`` on the last).
    :param last: whether this is the listing's last page.
    """

    response: HttpResponse
    records: list[Any]
    number: int
    next_position: Any = None
    last: bool = False


@attrs.frozen(kw_only=True)
class Paginator:
    """Base of the paging styles; subclasses say how to go on and when to stop.

    :param max_pages: a walk that reaches this many pages raises
        :class:`PaginationError` (raise it for listings that are that long).
    """

    max_pages: int = DEFAULT_MAX_PAGES

    def first(self, request: Request, position: Any = None) -> Request:
        """The first request, or the one at a saved ``position``."""
        return request

    def next(
        self, request: Request, response: HttpResponse, records: list[Any]
    ) -> Request | None:
        """The request for the page after ``response``; ``None`` at the end."""
        raise NotImplementedError

    def position(self, request: Request) -> Any:
        """A JSON-able mark of where ``request`` starts, to resume there."""
        return None

    def key(self, request: Request) -> Hashable:
        """What makes two requests of one walk the same page (the loop guard)."""
        return (
            request.url,
            tuple(sorted((k, str(v)) for k, v in request.params.items())),
        )

    def walk(
        self,
        client: HttpClient,
        request: Request,
        extract: Extract,
        position: Any = None,
    ) -> Iterator[PageResult]:
        """Send the requests of one listing, yielding each page as it comes.

        :param extract: pulls the raw records out of an answer.
        :param position: resume at this saved position instead of the start.
        :raises PaginationError: a page requested twice, two identical pages
            in a row, or more than ``max_pages`` pages.
        """
        current: Request | None = self.first(request, position)
        # The latest requests only, in order: a loop comes back within a few
        # pages, and a listing of millions of items must not keep a key for
        # each of its pages; a longer cycle still ends at max_pages.
        seen: dict[Hashable, None] = {}
        previous: list[Any] = []
        number = 0
        while current is not None:
            key = self.key(current)
            where = client.describe_url(current.url)
            if key in seen:
                raise PaginationError(
                    f"{client.service}: the listing at {where} would loop: the next "
                    f"page ({self._name(key)}) was already read in this walk; "
                    "the service keeps pointing back, so the source stops instead "
                    "of reading for ever"
                )
            seen[key] = None
            if len(seen) > LOOP_WINDOW:
                del seen[next(iter(seen))]
            number += 1
            if number > self.max_pages:
                raise PaginationError(
                    f"{client.service}: the listing at {where} has more than "
                    f"{self.max_pages} pages (max_pages); if it really is that "
                    "long, raise max_pages"
                )
            response = client.send(current)
            records = extract(response)
            # Compared as values, not re-serialized: two different pages
            # differ at their first record, so this costs next to nothing,
            # where hashing every page cost more than parsing it.
            if records and records == previous:
                raise PaginationError(
                    f"{client.service}: the listing at {where} returned the same "
                    f"page twice in a row (page {number}); the service ignores the "
                    "paging parameters, so the source stops instead of looping"
                )
            previous = records
            following = self.next(current, response, records)
            yield PageResult(
                response=response,
                records=records,
                number=number,
                next_position=(
                    self.position(following) if following is not None else None
                ),
                last=following is None,
            )
            current = following

    def _name(self, key: Hashable) -> str:
        if isinstance(key, tuple):
            return "the same URL"
        return redact(f"{key!r}")


@attrs.frozen(kw_only=True)
class LinkHeaderPaginator(Paginator):
    """Follows the ``Link`` header's ``rel="next"`` URL (GitHub and others).

    The next URL carries every parameter, so the first request's are dropped.

    :param rel: the relation to follow.
    """

    rel: str = "next"

    def first(self, request: Request, position: Any = None) -> Request:
        """The first request, or the saved next URL."""
        return request.with_url(position) if position else request

    def next(
        self, request: Request, response: HttpResponse, records: list[Any]
    ) -> Request | None:
        """The request for the ``next`` link, if the answer has one."""
        url = response.links.get(self.rel)
        return request.with_url(url) if url else None

    def position(self, request: Request) -> Any:
        """The next URL itself."""
        return request.url


@attrs.frozen(kw_only=True)
class NextUrlPaginator(Paginator):
    """Follows a URL (absolute, or a path) found in the body.

    Salesforce: ``NextUrlPaginator(path="nextRecordsUrl", done_path="done")``.

    :param path: where the URL is in the body (dotted).
    :param done_path: a flag in the body that is true on the last page.
    """

    path: str = "next"
    done_path: str | None = None

    def first(self, request: Request, position: Any = None) -> Request:
        """The first request, or the saved next URL."""
        return request.with_url(position) if position else request

    def next(
        self, request: Request, response: HttpResponse, records: list[Any]
    ) -> Request | None:
        """The request for the URL in the body, unless this is the last page."""
        if self.done_path and dig(response.data, self.done_path) is True:
            return None
        url = dig(response.data, self.path)
        return request.with_url(str(url)) if url else None

    def position(self, request: Request) -> Any:
        """The next URL itself."""
        return request.url


@attrs.frozen(kw_only=True)
class NextTokenPaginator(Paginator):
    """Sends back a token found in the body (Jira Cloud, Google).

    Jira: ``NextTokenPaginator(token_path="nextPageToken",
    param="nextPageToken", last_path="isLast")``.

    :param token_path: where the token is in the body (dotted).
    :param param: the query parameter (or body field) that carries it.
    :param last_path: a flag in the body that is true on the last page.
    :param in_body: send the token in the JSON body (a POST search).
    """

    token_path: str = "nextPageToken"
    param: str = "pageToken"
    last_path: str | None = None
    in_body: bool = False

    def first(self, request: Request, position: Any = None) -> Request:
        """The first request, or the one carrying the saved token."""
        return self._with_token(request, position) if position else request

    def next(
        self, request: Request, response: HttpResponse, records: list[Any]
    ) -> Request | None:
        """The request with the next token, unless this is the last page."""
        if self.last_path and dig(response.data, self.last_path) is True:
            return None
        token = dig(response.data, self.token_path)
        return self._with_token(request, str(token)) if token else None

    def _with_token(self, request: Request, token: str) -> Request:
        if self.in_body:
            return attrs.evolve(
                request, json={**(request.json or {}), self.param: token}
            )
        return request.with_params(**{self.param: token})

    def position(self, request: Request) -> Any:
        """The token."""
        source = (request.json or {}) if self.in_body else request.params
        return source.get(self.param)

    def key(self, request: Request) -> Hashable:
        """The token: a token seen twice is a loop, whatever else differs."""
        return f"token {self.position(request)!r}"


@attrs.frozen(kw_only=True)
class OffsetPaginator(Paginator):
    """Offset and limit parameters, with a total in the body (Jira Data Center).

    The next offset is the current one plus the records received, so a
    server that caps the page size below ``limit`` loses nothing.

    :param offset_param: the offset's query parameter (``startAt``).
    :param limit_param: the page size's query parameter (``maxResults``).
    :param limit: the page size asked for.
    :param total_path: where the total is in the body; without one, a page
        shorter than the page size is the last.
    :param limit_path: where the server says the page size it used, trusted
        over ``limit`` for the short-page test.
    :param start: the first offset.
    """

    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = 100
    total_path: str | None = "total"
    limit_path: str | None = None
    start: int = 0

    def first(self, request: Request, position: Any = None) -> Request:
        """The first request, at ``start`` or the saved offset."""
        offset = int(position) if position is not None else self.start
        return request.with_params(
            **{self.offset_param: offset, self.limit_param: self.limit}
        )

    def next(
        self, request: Request, response: HttpResponse, records: list[Any]
    ) -> Request | None:
        """The request at the next offset, until the total is read."""
        if not records:
            return None
        offset = int(request.params.get(self.offset_param, self.start)) + len(records)
        total = dig(response.data, self.total_path) if self.total_path else None
        if isinstance(total, int) and not isinstance(total, bool):
            if offset >= total:
                return None
        else:
            size = dig(response.data, self.limit_path) if self.limit_path else None
            size = size if isinstance(size, int) and size > 0 else self.limit
            if len(records) < size:
                return None
        return request.with_params(**{self.offset_param: offset})

    def position(self, request: Request) -> Any:
        """The offset."""
        return request.params.get(self.offset_param)

    def key(self, request: Request) -> Hashable:
        """The offset."""
        return f"offset {self.position(request)}"


@attrs.frozen(kw_only=True)
class PageNumberPaginator(Paginator):
    """A page number parameter, counting up (many small REST APIs).

    :param page_param: the page number's query parameter.
    :param size_param: the page size's parameter (``None``: not sent).
    :param size: the page size asked for; a shorter page is the last.
    :param start: the first page's number.
    :param total_pages_path: where the body says how many pages there are.
    :param more_path: a flag in the body that is false on the last page.
    """

    page_param: str = "page"
    size_param: str | None = "per_page"
    size: int = 100
    start: int = 1
    total_pages_path: str | None = None
    more_path: str | None = None

    def first(self, request: Request, position: Any = None) -> Request:
        """The first page's request, or the saved page's."""
        page = int(position) if position is not None else self.start
        params: dict[str, Any] = {self.page_param: page}
        if self.size_param:
            params[self.size_param] = self.size
        return request.with_params(**params)

    def next(
        self, request: Request, response: HttpResponse, records: list[Any]
    ) -> Request | None:
        """The next page's request, until a page says it is the last."""
        if not records:
            return None
        page = int(request.params.get(self.page_param, self.start))
        if self.more_path is not None:
            if dig(response.data, self.more_path) is not True:
                return None
        elif self.total_pages_path is not None:
            total = dig(response.data, self.total_pages_path)
            if isinstance(total, int) and page - self.start + 1 >= total:
                return None
        elif len(records) < self.size:
            return None
        return request.with_params(**{self.page_param: page + 1})

    def position(self, request: Request) -> Any:
        """The page number."""
        return request.params.get(self.page_param)

    def key(self, request: Request) -> Hashable:
        """The page number."""
        return f"page {self.position(request)}"
