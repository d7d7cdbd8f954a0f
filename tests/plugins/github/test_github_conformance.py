"""The SDK's conformance suite, run on the GitHub connector."""

from __future__ import annotations

from datetime import datetime, timedelta

import headway_github
from headway_sdk.testing import FakeApi, FakeResponse, Harness, conformance_suite

from .conftest import fill
from .fakegithub import BAD_TOKEN, GOOD_TOKEN, FakeGitHub, Repo


def make_data() -> FakeGitHub:
    """Two repositories, 14 items, updated two hours apart."""
    github = FakeGitHub()
    fill(github, github.add_repo("acme/web"), 8, every=timedelta(hours=2))
    fill(github, github.add_repo("acme/infra"), 6, every=timedelta(hours=2))
    return github


def serve(api: FakeApi, github: FakeGitHub) -> None:
    """Serve the data set from the conformance suite's server."""
    github.install(api)


def change(github: FakeGitHub, now: datetime) -> int:
    """Retitle the oldest item of acme/web: one item changes."""
    github.touch(github.repos["acme/web"], 1, now, title="Retitled")
    return 1


def serve_loop(api: FakeApi, github: FakeGitHub) -> None:
    """A server that ignores ``page``: every next link serves page 2 again,
    pointing at a page 3 that is page 2 once more."""
    github.install(api)
    repo: Repo = github.repos["acme/web"]
    rows = sorted(repo.issues.values(), key=lambda r: r["updated_at"])[3:6]

    def same_page(request: object) -> FakeResponse:
        number = int(getattr(request, "query", {}).get("page", 2)) + 1
        link = f"{api.url}/repositories/{repo.id}/issues?per_page=3&page={number}"
        return FakeResponse(json=rows, headers={"Link": f'<{link}>; rel="next"'})

    api.inject(
        method="GET",
        path=f"/repositories/{repo.id}/issues",
        handler=same_page,
        times=200,
    )


def harness() -> Harness:
    """The GitHub connector against the fake, three items a page."""
    return Harness(
        plugin=headway_github,
        connector="github",
        options=lambda url: {
            "token": "${GITHUB_TOKEN}",
            "api_url": url,
            "repos": ["acme/web", "acme/infra"],
            "page_size": 3,
            "start": "2026-01-01",
        },
        environ={"GITHUB_TOKEN": GOOD_TOKEN},
        bad_environ={"GITHUB_TOKEN": BAD_TOKEN},
        dataset=make_data,
        serve=serve,
        change=change,
        serve_loop=serve_loop,
    )


test_conformance = conformance_suite(harness)
