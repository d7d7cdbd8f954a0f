"""The sync benchmark still runs: at a tiny size, asserting what it stored.

Timings are printed by ``python -m benchmarks.sync``, never asserted here:
the machine is shared, so only the runs' outcomes are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from benchmarks import sync
from benchmarks._jira_site import EMAIL, TOKEN, Server, Site


def test_the_benchmark_runs_both_sides_and_they_store_the_same_rows(
    tmp_path: Path,
) -> None:
    figures = sync.measure(300, rounds=1, sizes=[150], folder=tmp_path)

    assert figures.same_rows
    assert [run.items for run in figures.baseline] == [300]
    assert [run.items for run in figures.first] == [300]
    # The second sync reads only the lookback: the last ten minutes' issues.
    (incremental,) = figures.incremental
    assert 0 < incremental.items <= 12
    assert sorted(figures.memory) == [150, 300]
    assert all(kib > 0 for kib in figures.memory.values())
    text = sync.report(figures)
    assert "ratio headway / baseline" in text
    assert "incremental, nothing changed" in text


def test_the_fake_site_pages_like_jira_cloud() -> None:
    site = Site(250)
    with Server(site) as server, requests.Session() as session:
        session.auth = (EMAIL, TOKEN)
        search = f"{server.url}/rest/api/3/search/jql"
        first = session.get(search, params={"jql": "(project = PLAT)"}).json()
        token = first["nextPageToken"]
        second = session.get(search, params={"nextPageToken": token}).json()
        last = session.get(search, params={"nextPageToken": second["nextPageToken"]})
        since = site.times[200].astimezone(site.zone).strftime("%Y-%m-%d %H:%M")
        tail = session.get(
            search, params={"jql": f'(project = PLAT) AND updated >= "{since}"'}
        ).json()
        refused = requests.get(search, auth=(EMAIL, "wrong"))

    assert [len(first["issues"]), len(second["issues"])] == [100, 100]
    assert first["isLast"] is False and "total" not in first
    assert last.json()["isLast"] is True and "nextPageToken" not in last.json()
    assert len(last.json()["issues"]) == 50
    issue = first["issues"][0]
    assert issue["fields"]["updated"][-5] in "+-"  # 2026-02-27T04:00:00.000-0800
    assert issue["fields"]["status"]["statusCategory"]["key"] in {
        "new",
        "indeterminate",
        "done",
    }
    assert refused.status_code == 401
    assert "errorMessages" in refused.json()
    # An incremental search gets the issues updated since, in one page.
    assert [i["id"] for i in tail["issues"]] == site.ids[200:]
    assert tail["isLast"] is True
    assert json.loads(site.myself())["timeZone"] == "America/Los_Angeles"
