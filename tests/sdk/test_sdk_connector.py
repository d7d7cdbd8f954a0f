"""Base classes through the engine: rejected records, partitions, auth."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import sdk_tickets
from sdk_engine import rows, sync
from sdk_tickets import GOOD_TOKEN, TicketsConnector, make_tickets, serve_tickets

from headway.connectors import SourceContext
from headway.errors import ConfigError
from headway_sdk import (
    BearerAuth,
    Connector,
    HttpSettings,
    HttpStream,
    Stream,
    WorkItem,
    hookimpl,
    option,
)
from headway_sdk.testing import FakeApi, FakeResponse

ENV = {"TICKETS_TOKEN": GOOD_TOKEN}


def table(fake_api: FakeApi, **extra: Any) -> dict[str, Any]:
    return {"url": fake_api.url, "token": "${TICKETS_TOKEN}", "page_size": 4, **extra}


def test_a_malformed_record_is_set_aside_and_the_rest_kept(fake_api, clock, tmp_path):
    tickets = list(make_tickets(6).tickets.values())
    tickets[2]["title"] = ""
    del tickets[4]["updated_at"]
    tickets[1]["updated_at"] = "yesterday"
    fake_api.add("GET", "/api/tickets", FakeResponse(json={"tickets": tickets}))
    database = tmp_path / "r.db"
    result = sync(sdk_tickets, "tickets", table(fake_api), database, environ=ENV)
    assert result.status == "partial" and result.rejected == 3 and result.items == 3
    reasons = dict(rows(database, "SELECT record_id, reason FROM rejected"))
    assert reasons == {
        "2": "'yesterday' is not an ISO 8601 timestamp",
        "3": "a ticket without a title",
        "5": "required field 'updated_at' is missing",
    }
    raw = rows(database, "SELECT raw FROM rejected WHERE record_id = '3'")[0][0]
    assert '"id": 3' in raw


def test_an_answer_without_the_records_list_fails_clearly(fake_api, clock, tmp_path):
    fake_api.add("GET", "/api/tickets", FakeResponse(json={"tickets": "nope"}))
    result = sync(
        sdk_tickets, "tickets", table(fake_api), tmp_path / "x.db", environ=ENV
    )
    assert result.status == "failed"
    assert "no list of records at 'tickets'" in (result.error or "")


def test_an_answer_that_leaves_the_list_out_is_a_wrong_path_not_an_empty_page(
    fake_api, clock, tmp_path
):
    fake_api.add("GET", "/api/tickets", FakeResponse(json={"results": []}))
    result = sync(
        sdk_tickets, "tickets", table(fake_api), tmp_path / "x.db", environ=ENV
    )
    assert result.status == "failed"
    assert "no list of records at 'tickets'; is the URL right?" in result.error


def test_a_stream_may_allow_an_api_to_leave_empty_lists_out(
    fake_api, clock, tmp_path, monkeypatch
):
    monkeypatch.setattr(sdk_tickets.Tickets, "records_optional", True)
    fake_api.add("GET", "/api/tickets", FakeResponse(json={"results": []}))
    result = sync(
        sdk_tickets, "tickets", table(fake_api), tmp_path / "x.db", environ=ENV
    )
    assert (result.status, result.items) == ("ok", 0), result.error


def test_refused_credentials_fail_the_source_without_the_token(
    fake_api, clock, tmp_path
):
    serve_tickets(fake_api, make_tickets(3))
    env = {"TICKETS_TOKEN": "wrong-token-5555"}
    result = sync(
        sdk_tickets, "tickets", table(fake_api), tmp_path / "a.db", environ=env
    )
    assert result.status == "failed"
    assert "HTTP 401" in result.error and "Bad credentials" in result.error
    assert "wrong-token-5555" not in result.error


def test_config_problems_come_with_source_paths():
    context = SourceContext("tix", "tickets", {"url": "ftp://x", "colour": "red"})
    with pytest.raises(ConfigError) as failed:
        TicketsConnector.build(context)
    paths = {p.path for p in failed.value.problems}
    assert paths == {"sources.tix.url", "sources.tix.token", "sources.tix.colour"}


def test_the_connector_repr_hides_the_token(fake_api):
    from headway.secrets import Secret

    context = SourceContext(
        "tix", "tickets", {"url": fake_api.url, "token": Secret("repr-token-77")}
    )
    connector = TicketsConnector.build(context)
    assert "repr-token-77" not in repr(connector)
    assert "repr-token-77" not in repr(connector.client)


def test_the_user_agent_names_a_plugin_installed_in_editable_mode(
    fake_api, tmp_path, monkeypatch
):
    from importlib import metadata

    from headway.secrets import Secret
    from headway_sdk.connector import _distribution_of

    # What `pip install -e` leaves: the distribution's metadata and its
    # entry points, but no list of the package's files.
    info = tmp_path / "headway_widgets-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: headway-widgets\nVersion: 0.3.0\n"
    )
    (info / "entry_points.txt").write_text("[headway]\nwidgets = headway_widgets\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _distribution_of.cache_clear()
    assert "headway_widgets" not in metadata.packages_distributions()

    widgets = type(
        "WidgetsConnector",
        (TicketsConnector,),
        {"__module__": "headway_widgets.connector"},
    )
    context = SourceContext(
        "w", "widgets", {"url": fake_api.url, "token": Secret("widget-token-1")}
    )
    try:
        agent = widgets.build(context).client.session.headers["User-Agent"]
    finally:
        _distribution_of.cache_clear()
    assert agent.startswith("headway/") and " headway-sdk/" in agent
    assert agent.endswith(" headway-widgets/0.3.0")


# ---------------------------------------------------------------- partitions


@attrs.frozen
class ReposConfig(HttpSettings):
    url: str = option(help="the API root")
    token: Any = option(default=None)
    repos: tuple[str, ...] = option(default=())


class Issues(HttpStream):
    name = "issues"

    def partitions(self) -> list[str]:
        return list(self.config.repos)

    def request(self, partition: str, run: Any) -> Any:
        from headway_sdk import Request

        return Request("GET", f"/repos/{partition}/issues")

    def parse_record(self, raw: Any, partition: str) -> WorkItem:
        return WorkItem(id=raw["id"], kind="issue", project=partition)


class Repos(Connector[ReposConfig]):
    config_class = ReposConfig

    def auth(self) -> Any:
        return BearerAuth(self.config.token) if self.config.token else None

    def streams(self) -> list[Stream]:
        return [Issues(self)]


class ReposPlugin:
    @hookimpl
    def register_connectors(self, register: Any) -> None:
        register("repos", Repos.build)


def test_a_missing_partition_is_reported_and_the_others_sync(fake_api, clock, tmp_path):
    fake_api.add("GET", "/repos/acme/web/issues", FakeResponse(json=[{"id": 1}]))
    fake_api.add(
        "GET",
        "/repos/acme/gone/issues",
        FakeResponse(
            404, json={"message": "Not Found", "documentation_url": "https://docs"}
        ),
    )
    fake_api.add("GET", "/repos/acme/infra/issues", FakeResponse(json=[{"id": 2}]))
    options = {"url": fake_api.url, "repos": ["acme/web", "acme/gone", "acme/infra"]}
    database = tmp_path / "p.db"
    result = sync(ReposPlugin(), "repos", options, database)
    assert result.status == "failed"
    assert "1 of 3 stream partitions" in result.error
    assert "issues acme/gone" in result.error and "HTTP 404" in result.error
    assert rows(database, "SELECT id, project FROM items ORDER BY id") == [
        ("1", "acme/web"),
        ("2", "acme/infra"),
    ]


def test_refused_credentials_stop_every_partition(fake_api, clock, tmp_path):
    fake_api.add(
        "GET",
        "/repos/acme/web/issues",
        FakeResponse(401, json={"message": "Bad credentials"}),
    )
    options = {
        "url": fake_api.url,
        "repos": ["acme/web", "acme/infra"],
        "token": "t" * 12,
    }
    result = sync(ReposPlugin(), "repos", options, tmp_path / "p.db")
    assert result.status == "failed" and "Bad credentials" in result.error
    assert len(fake_api.requests) == 1


def test_a_long_rate_limit_ends_partial_with_state_kept(fake_api, clock, tmp_path):
    fake_api.add("GET", "/repos/acme/web/issues", FakeResponse(json=[{"id": 1}]))
    reset = str(int(clock.now().timestamp()) + 3600)
    fake_api.add(
        "GET",
        "/repos/acme/infra/issues",
        FakeResponse(
            403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            json={"message": "API rate limit exceeded"},
        ),
    )
    options = {"url": fake_api.url, "repos": ["acme/web", "acme/infra"]}
    database = tmp_path / "p.db"
    result = sync(ReposPlugin(), "repos", options, database)
    assert result.status == "partial" and "max_wait" in result.error
    assert rows(database, "SELECT partition FROM sync_state") == [("acme/web",)]
    assert clock.sleeps == []


def test_a_stop_after_a_failed_partition_keeps_that_failure_in_the_error(
    fake_api, clock, tmp_path
):
    fake_api.add(
        "GET",
        "/repos/acme/gone/issues",
        FakeResponse(404, json={"message": "Not Found"}),
    )
    reset = str(int(clock.now().timestamp()) + 3600)
    fake_api.add(
        "GET",
        "/repos/acme/infra/issues",
        FakeResponse(
            403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
            json={"message": "API rate limit exceeded"},
        ),
    )
    options = {"url": fake_api.url, "repos": ["acme/gone", "acme/infra"]}
    result = sync(ReposPlugin(), "repos", options, tmp_path / "p.db")
    assert result.status == "partial" and "max_wait" in result.error
    assert "before that, 1 stream partition(s) could not be read" in result.error
    assert "issues acme/gone" in result.error and "HTTP 404" in result.error
