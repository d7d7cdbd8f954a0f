"""Each paginator: where it goes next, where it stops, and its loop guards."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from headway_sdk import (
    HttpClient,
    LinkHeaderPaginator,
    NextTokenPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationError,
    Request,
    RetryPolicy,
    pagination,
)
from headway_sdk.testing import ANY, FakeApi, FakeResponse


def walk(
    fake_api: FakeApi, clock, paginator, request=None, records="items", position=None
):
    client = HttpClient(fake_api.url, clock=clock, retry=RetryPolicy(jitter=0))
    request = request or Request("GET", "/list")

    def extract(response: Any) -> list[Any]:
        data = response.data
        return data if records is None else data[records]

    return list(paginator.walk(client, request, extract, position))


SEARCH = Request("GET", "/search")


def ids(pages) -> list[int]:
    return [record["id"] for page in pages for record in page.records]


# ---------------------------------------------------------------- Link header


def _link(fake_api: FakeApi, target: str) -> dict[str, str]:
    last = fake_api.url_for("/x?page=9")
    return {"Link": f'<{fake_api.url_for(target)}>; rel="next", <{last}>; rel="last"'}


def test_link_header_follows_next_until_there_is_none(fake_api, clock):
    fake_api.add(
        "GET",
        "/repos/acme/web/issues",
        FakeResponse(
            json=[{"id": 1}], headers=_link(fake_api, "/repositories/7/issues?page=2")
        ),
        query={"per_page": "1"},
    )
    fake_api.add(
        "GET",
        "/repositories/7/issues",
        FakeResponse(
            json=[{"id": 2}], headers=_link(fake_api, "/repositories/7/issues?page=3")
        ),
        query={"page": "2"},
    )
    fake_api.add(
        "GET",
        "/repositories/7/issues",
        FakeResponse(json=[{"id": 3}]),
        query={"page": "3"},
    )
    request = Request("GET", "/repos/acme/web/issues", params={"per_page": 1})
    pages = walk(fake_api, clock, LinkHeaderPaginator(), request, records=None)
    assert ids(pages) == [1, 2, 3]
    assert [p.last for p in pages] == [False, False, True]
    assert pages[0].next_position == fake_api.url_for("/repositories/7/issues?page=2")
    # The next link carries every parameter; the first request's are dropped.
    assert fake_api.requests[1].query == {"page": "2"}


def test_link_header_resumes_at_a_saved_url(fake_api, clock):
    fake_api.add(
        "GET",
        "/repositories/7/issues",
        FakeResponse(json=[{"id": 3}]),
        query={"page": "3"},
    )
    position = fake_api.url_for("/repositories/7/issues?page=3")
    pages = walk(
        fake_api, clock, LinkHeaderPaginator(), records=None, position=position
    )
    assert ids(pages) == [3]


def test_link_header_pointing_back_is_a_loop(fake_api, clock):
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json=[{"id": 1}], headers=_link(fake_api, "/list?page=2")),
        query={},
    )
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json=[{"id": 2}], headers=_link(fake_api, "/list?page=2")),
        query={"page": "2"},
    )
    with pytest.raises(PaginationError, match="would loop"):
        walk(fake_api, clock, LinkHeaderPaginator(), records=None)


# ---------------------------------------------------------------- next URL


def test_next_url_in_body_until_done(fake_api, clock):
    fake_api.add(
        "GET",
        "/query",
        FakeResponse(
            json={
                "totalSize": 3,
                "done": False,
                "records": [{"id": 1}, {"id": 2}],
                "nextRecordsUrl": "/query/01gD0000002HU6KIAW-2000",
            }
        ),
    )
    fake_api.add(
        "GET",
        "/query/01gD0000002HU6KIAW-2000",
        FakeResponse(
            json={
                "totalSize": 3,
                "done": True,
                "records": [{"id": 3}],
                "nextRecordsUrl": "/query/ignored-because-done",
            }
        ),
    )
    paginator = NextUrlPaginator(path="nextRecordsUrl", done_path="done")
    pages = walk(
        fake_api,
        clock,
        paginator,
        Request("GET", "/query", params={"q": "SELECT Id"}),
        records="records",
    )
    assert ids(pages) == [1, 2, 3]
    assert pages[0].next_position == "/query/01gD0000002HU6KIAW-2000"


def test_next_url_missing_ends_the_listing(fake_api, clock):
    fake_api.add(
        "GET", "/list", FakeResponse(json={"items": [{"id": 1}], "next": None})
    )
    assert ids(walk(fake_api, clock, NextUrlPaginator())) == [1]


def test_next_url_repeated_is_a_loop(fake_api, clock):
    fake_api.add(
        "GET", "/list", FakeResponse(json={"items": [{"id": 1}], "next": "/list/2"})
    )
    fake_api.add(
        "GET", "/list/2", FakeResponse(json={"items": [{"id": 2}], "next": "/list/2"})
    )
    with pytest.raises(PaginationError, match="would loop"):
        walk(fake_api, clock, NextUrlPaginator())


# ---------------------------------------------------------------- next token


def test_next_token_until_is_last(fake_api, clock):
    fake_api.add(
        "GET",
        "/search",
        FakeResponse(
            json={"issues": [{"id": 1}], "nextPageToken": "t2", "isLast": False}
        ),
        query={"jql": "x"},
    )
    fake_api.add(
        "GET",
        "/search",
        FakeResponse(
            json={"issues": [{"id": 2}], "isLast": True, "nextPageToken": "stale"}
        ),
        query={"nextPageToken": "t2", "jql": "x"},
    )
    paginator = NextTokenPaginator(
        token_path="nextPageToken", param="nextPageToken", last_path="isLast"
    )
    pages = walk(
        fake_api,
        clock,
        paginator,
        Request("GET", "/search", params={"jql": "x"}),
        records="issues",
    )
    assert ids(pages) == [1, 2]
    assert pages[0].next_position == "t2"


@pytest.mark.parametrize(
    "last",
    [
        pytest.param({}, id="absent"),
        pytest.param({"nextPageToken": None}, id="null"),
        pytest.param({"nextPageToken": ""}, id="empty"),
    ],
)
def test_next_token_missing_ends_the_listing(fake_api, clock, last):
    fake_api.add("GET", "/list", FakeResponse(json={"items": [{"id": 1}], **last}))
    assert ids(
        walk(fake_api, clock, NextTokenPaginator(token_path="nextPageToken"))
    ) == [1]


def test_next_token_repeated_is_a_loop(fake_api, clock):
    fake_api.add(
        "GET", "/list", FakeResponse(json={"items": [{"id": 1}], "next": "A"}), query={}
    )
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json={"items": [{"id": 2}], "next": "B"}),
        query={"cursor": "A"},
    )
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json={"items": [{"id": 3}], "next": "A"}),
        query={"cursor": "B"},
    )
    with pytest.raises(PaginationError, match="token 'A'"):
        walk(fake_api, clock, NextTokenPaginator(token_path="next", param="cursor"))


def test_the_loop_guard_remembers_the_latest_requests_only(
    fake_api, clock, monkeypatch
):
    # A cycle longer than the window is left to max_pages: the guard keeps
    # no key per page of a listing of millions.
    monkeypatch.setattr(pagination, "LOOP_WINDOW", 2)
    tokens = ["A", "B", "C", "A", "B", "C", "A"]
    fake_api.add(
        "GET", "/list", FakeResponse(json={"items": [{"id": 0}], "next": "A"}), query={}
    )
    for number, (token, following) in enumerate(itertools.pairwise(tokens), 1):
        fake_api.add(
            "GET",
            "/list",
            FakeResponse(json={"items": [{"id": number}], "next": following}),
            query={"cursor": token},
        )

    with pytest.raises(PaginationError, match="more than 7 pages"):
        walk(
            fake_api,
            clock,
            NextTokenPaginator(token_path="next", param="cursor", max_pages=7),
        )


def test_next_token_in_a_post_body(fake_api, clock):
    fake_api.add(
        "POST",
        "/search",
        FakeResponse(json={"items": [{"id": 1}], "next": "A"}),
        FakeResponse(json={"items": [{"id": 2}]}),
    )
    paginator = NextTokenPaginator(
        token_path="next", param="nextPageToken", in_body=True
    )
    pages = walk(
        fake_api, clock, paginator, Request("POST", "/search", json={"jql": "x"})
    )
    assert ids(pages) == [1, 2]
    assert fake_api.requests[1].json() == {"jql": "x", "nextPageToken": "A"}


# ---------------------------------------------------------------- offset


def _offset_route(
    fake_api: FakeApi,
    offset: int,
    ids_: list[int],
    total: int | None = 5,
    server_max: int = 2,
) -> None:
    body: dict[str, Any] = {
        "startAt": offset,
        "maxResults": server_max,
        "issues": [{"id": i} for i in ids_],
    }
    if total is not None:
        body["total"] = total
    fake_api.add(
        "GET", "/search", FakeResponse(json=body), query={"startAt": str(offset)}
    )


def test_offset_until_the_total(fake_api, clock):
    for offset, chunk in ((0, [1, 2]), (2, [3, 4]), (4, [5])):
        _offset_route(fake_api, offset, chunk)
    paginator = OffsetPaginator(
        offset_param="startAt", limit_param="maxResults", limit=50
    )
    pages = walk(
        fake_api, clock, paginator, Request("GET", "/search"), records="issues"
    )
    # The server capped the page at 2: the offset moves by what arrived.
    assert ids(pages) == [1, 2, 3, 4, 5]
    assert fake_api.requests[0].query == {"startAt": "0", "maxResults": "50"}
    assert [p.next_position for p in pages] == [2, 4, None]


def test_offset_without_total_stops_at_a_short_page(fake_api, clock):
    _offset_route(fake_api, 0, [1, 2], total=None)
    _offset_route(fake_api, 2, [3], total=None)
    paginator = OffsetPaginator(
        offset_param="startAt",
        limit_param="maxResults",
        limit=50,
        total_path=None,
        limit_path="maxResults",
    )
    assert ids(walk(fake_api, clock, paginator, SEARCH, records="issues")) == [1, 2, 3]


def test_offset_stops_at_an_empty_page_even_below_the_total(fake_api, clock):
    _offset_route(fake_api, 0, [1, 2], total=10)
    _offset_route(fake_api, 2, [], total=10)
    paginator = OffsetPaginator(offset_param="startAt", limit=2)
    assert ids(walk(fake_api, clock, paginator, SEARCH, records="issues")) == [1, 2]


def test_offset_ignored_by_the_server_is_a_loop(fake_api, clock):
    page = FakeResponse(json={"total": 9, "issues": [{"id": 1}, {"id": 2}]})
    fake_api.add("GET", "/search", page, repeat=True)
    paginator = OffsetPaginator(limit=2)
    with pytest.raises(PaginationError, match="same page twice"):
        walk(fake_api, clock, paginator, SEARCH, records="issues")
    assert len(fake_api.requests) == 2


def test_the_same_records_in_another_key_order_are_the_same_page(fake_api, clock):
    first = '{"total": 9, "issues": [{"id": 1, "f": {"a": 1, "b": 2}}]}'
    again = '{"issues": [{"f": {"b": 2, "a": 1}, "id": 1}], "total": 9}'
    fake_api.add("GET", "/search", FakeResponse(body=first), query={"offset": "0"})
    fake_api.add("GET", "/search", FakeResponse(body=again), query={"offset": "1"})
    paginator = OffsetPaginator(limit=1)
    with pytest.raises(PaginationError, match="same page twice"):
        walk(fake_api, clock, paginator, SEARCH, records="issues")


def test_a_page_of_the_same_ids_with_new_values_is_not_a_loop(fake_api, clock):
    # An issue edited between two requests moves to the end of a listing by
    # update time: the next page may hold it again, changed.
    first = {"total": 2, "issues": [{"id": 1, "fields": {"updated": "10:00"}}]}
    again = {"total": 2, "issues": [{"id": 1, "fields": {"updated": "10:05"}}]}
    fake_api.add("GET", "/search", FakeResponse(json=first), query={"offset": "0"})
    fake_api.add("GET", "/search", FakeResponse(json=again), query={"offset": "1"})
    pages = walk(fake_api, clock, OffsetPaginator(limit=1), SEARCH, records="issues")
    assert ids(pages) == [1, 1]


def test_offset_resumes_at_a_saved_offset(fake_api, clock):
    _offset_route(fake_api, 4, [5])
    paginator = OffsetPaginator(offset_param="startAt", limit=2)
    assert ids(
        walk(fake_api, clock, paginator, SEARCH, records="issues", position=4)
    ) == [5]


# ---------------------------------------------------------------- page number


def test_page_number_until_a_short_page(fake_api, clock):
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json={"items": [{"id": 1}, {"id": 2}]}),
        query={"page": "1", "per_page": "2"},
    )
    fake_api.add(
        "GET", "/list", FakeResponse(json={"items": [{"id": 3}]}), query={"page": "2"}
    )
    pages = walk(fake_api, clock, PageNumberPaginator(size=2))
    assert ids(pages) == [1, 2, 3] and [p.next_position for p in pages] == [2, None]


def test_page_number_until_the_body_says_no_more(fake_api, clock):
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json={"items": [{"id": 1}], "has_more": True}),
        query={"page": "1"},
    )
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json={"items": [{"id": 2}], "has_more": False}),
        query={"page": "2"},
    )
    pages = walk(fake_api, clock, PageNumberPaginator(size=50, more_path="has_more"))
    assert ids(pages) == [1, 2]


def test_page_number_until_the_total_pages(fake_api, clock):
    for page in (1, 2):
        fake_api.add(
            "GET",
            "/list",
            FakeResponse(json={"items": [{"id": page}], "pages": 2}),
            query={"page": str(page)},
        )
    assert ids(
        walk(fake_api, clock, PageNumberPaginator(size=1, total_pages_path="pages"))
    ) == [1, 2]


def test_page_number_ignored_by_the_server_is_a_loop(fake_api, clock):
    fake_api.add(
        "GET",
        "/list",
        FakeResponse(json={"items": [{"id": 1}, {"id": 2}]}),
        query={"page": ANY},
        repeat=True,
    )
    with pytest.raises(PaginationError, match="same page twice"):
        walk(fake_api, clock, PageNumberPaginator(size=2))


# ---------------------------------------------------------------- max_pages


@pytest.mark.parametrize(
    "paginator",
    [
        pytest.param(
            NextTokenPaginator(token_path="next", param="cursor", max_pages=3),
            id="token",
        ),
        pytest.param(PageNumberPaginator(size=1, max_pages=3), id="page-number"),
    ],
)
def test_max_pages_is_a_safety_net(fake_api, clock, paginator):
    counter = iter(range(1, 100))

    def endless(request):
        number = next(counter)
        return {"items": [{"id": number}], "next": f"t{number}"}

    fake_api.handle("GET", "/list", endless)
    with pytest.raises(PaginationError, match="more than 3 pages"):
        walk(fake_api, clock, paginator)
    assert len(fake_api.requests) == 3
