"""A real walk of five issue pages, replayed on loopback as it was recorded."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import headway_github
from headway_sdk import FakeClock
from headway_sdk.testing import ANY, FakeApi, FakeResponse, run_source, stored_items

from .fakegithub import GOOD_TOKEN, recorded_pages

REPO = "octokit-fixture-org/tmp-scenario-paginate-issues-20220719043836917-izyoe"
# Headers that described the recorded body's bytes, not the one replayed.
_DROPPED = {"content-length", "connection"}


def replayed(
    page: dict[str, Any], url: str, drop: frozenset[str] = frozenset()
) -> FakeResponse:
    """A recorded answer, its URLs pointing at the loopback server."""
    headers = {
        name: value.replace("https://api.github.com", url)
        for name, value in page["headers"]
        if name.lower() not in _DROPPED | drop
    }
    return FakeResponse(page["status"], json=page["body"], headers=headers)


def test_the_recorded_walk_is_read_to_its_last_page(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    pages = recorded_pages()
    first, *rest = pages
    # The request the next sync will send, for its ETag: the newest issue,
    # on a page of its own.
    newest = {**first, "body": first["body"][:1]}
    fake_api.add(
        "GET",
        f"/repos/{REPO}/issues",
        replayed(newest, fake_api.url, drop=frozenset({"link"})),
        query={"since": ANY},
    )
    fake_api.add("GET", f"/repos/{REPO}/issues", replayed(first, fake_api.url))
    for number, page in enumerate(rest, start=2):
        fake_api.add(
            "GET",
            "/repositories/515435940/issues",
            replayed(page, fake_api.url),
            query={"page": str(number)},
        )

    result = run_source(
        headway_github,
        "github",
        {"token": "${GITHUB_TOKEN}", "api_url": fake_api.url, "repos": [REPO]},
        tmp_path / "headway.db",
        environ={"GITHUB_TOKEN": GOOD_TOKEN},
        source="github",
    )

    assert result.status == "ok", result.error
    assert result.stats.requests == 6
    items = {row[2]: row for row in stored_items(tmp_path / "headway.db")}
    assert sorted(items, key=lambda key: int(key.rsplit("#")[1])) == [
        f"{REPO}#{number}" for number in range(1, 14)
    ]
    issue = items[f"{REPO}#13"]
    recorded = pages[0]["body"][0]
    assert issue[1] == str(recorded["id"])
    assert issue[3:7] == ("issue", "Test issue 13", recorded["html_url"], REPO)
    assert issue[8] == '["github:octokit-fixture-user-a"]'
    assert issue[9:11] == ("open", "open")
    assert issue[11] == "2022-07-19T04:39:16.000Z"
    attributes = json.loads(issue[20])
    assert attributes["number"] == 13
    assert attributes["node_id"] == recorded["node_id"]
    assert attributes["author_association"] == "MEMBER"
    assert "body" not in attributes and "reactions" not in attributes
    with contextlib.closing(sqlite3.connect(tmp_path / "headway.db")) as conn:
        (state,) = conn.execute(
            "SELECT state FROM sync_state WHERE partition = ?", (REPO,)
        ).fetchone()
    etag = dict(first["headers"])["ETag"]
    assert json.loads(state) == {
        "watermark": "2022-07-19T04:39:16.000Z",
        "etag": etag,
        "etag_since": "2022-07-19T04:29:16Z",
    }
