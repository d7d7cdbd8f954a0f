"""The fake API: routes, recording, and its own verification."""

from __future__ import annotations

import re
import socket

import pytest
import requests

from headway_sdk.testing import ANY, FakeApi, FakeResponse


def test_routes_match_method_path_and_query():
    with FakeApi() as api:
        api.add("GET", "/x", FakeResponse(json={"page": 2}), query={"page": "2"})
        api.add("GET", "/x", FakeResponse(json={"page": "any"}), query={"page": ANY})
        api.add("GET", re.compile(r"/items/\d+"), FakeResponse(json={"item": True}))
        api.add("POST", "/x", FakeResponse(201, json={"made": True}))
        assert requests.get(api.url_for("/x?page=2")).json() == {"page": 2}
        assert requests.get(api.url_for("/x?page=7")).json() == {"page": "any"}
        assert requests.get(api.url_for("/items/42")).json() == {"item": True}
        assert requests.post(api.url_for("/x"), json={"a": 1}).status_code == 201
        api.verify()
        assert api.requests[3].json() == {"a": 1}
        assert api.requests[0].query == {"page": "2"}


def test_an_unused_scripted_answer_fails_verification():
    with FakeApi() as api:
        api.add("GET", "/x", FakeResponse(json={}), FakeResponse(json={}))
        requests.get(api.url_for("/x"))
        with pytest.raises(AssertionError, match="never used: GET /x"):
            api.verify()


def test_a_request_no_route_matches_fails_verification():
    with FakeApi() as api:
        response = requests.get(api.url_for("/nowhere?a=1"))
        assert response.status_code == 404
        assert "nothing scripted for GET /nowhere?a=1" in response.json()["message"]
        with pytest.raises(AssertionError, match="matched no route"):
            api.verify()


def test_a_handler_that_raises_fails_verification():
    with FakeApi() as api:
        api.handle("GET", "/x", lambda request: 1 / 0)
        assert requests.get(api.url_for("/x")).status_code == 500
        with pytest.raises(AssertionError, match="ZeroDivisionError"):
            api.verify()


def test_injected_answers_come_first_and_once():
    with FakeApi() as api:
        api.add("GET", "/x", FakeResponse(json={"ok": True}), repeat=True)
        api.inject(FakeResponse(503))
        statuses = [requests.get(api.url_for("/x")).status_code for _ in range(3)]
        assert statuses == [503, 200, 200]
        api.verify()


def test_an_answer_is_one_write_with_headers_and_length():
    with FakeApi() as api:
        api.add("GET", "/x", FakeResponse(json={"a": 1}, headers={"ETag": '"v1"'}))
        host, port = api.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            data = conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b'ETag: "v1"' in head and b"Content-Length: 8" in head
        assert body == b'{"a": 1}'
