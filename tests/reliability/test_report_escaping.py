"""Markup that arrives from a service is text in the report, end to end.

``tests/core/test_report.py`` fills a store by hand; here typical XSS
payloads come from a fake Jira as issue summaries, labels, components,
people's names and a project, through the real connector, sync, score and
report commands.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w
from click.testing import CliRunner

import headway_jira
from headway.cli import build_cli
from headway.plugins import Plugins
from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi
from tests.plugins.jira.fakejira import ENV, JQL, FakeJira, user

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "attribute": '"><svg onload=alert(1)>',
    "style": "</style><script>alert(2)</script>",
    "comment": "--><script>alert(3)</script><!--",
}


def test_markup_in_what_a_service_sends_is_escaped_in_the_report(
    fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    site = FakeJira()
    first = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    for number, (name, payload) in enumerate(PAYLOADS.items(), start=1):
        site.add(
            number,
            updated=first + timedelta(days=number),
            status="10001",
            summary=f"{name}: {payload}",
            labels=[f"label{payload}"],
            components=[f"component {payload}"],
            assignee=user(f"dev{number}", f"dev{number}@acme.example")
            | {"displayName": payload},
            timespent=3600 * number,
        )
    site.serve(fake_api)
    config = {
        "scorecard": {"name": f"Acme {PAYLOADS['script']}", "period": "2026-Q1"},
        "teams": {"web": {"title": PAYLOADS["img"], "members": ["dev1@acme.example"]}},
        "objectives": [
            {"id": "P1", "perspective": "process", "title": PAYLOADS["attribute"]}
        ],
        "measures": [
            {
                "id": "P1.done",
                "objective": "P1",
                "title": PAYLOADS["style"],
                "baseline": 0,
                "target": 10,
                "sql": "select count(*) from items where state = 'done'",
            }
        ],
        # One issue is strategic; the rest are busywork the report lists.
        "rules": [{"objective": "P1", "labels": [f"label{PAYLOADS['script']}"]}],
        "sources": {
            "jira": {
                "plugin": "jira",
                "url": fake_api.url,
                "email": "${JIRA_EMAIL}",
                "token": "${JIRA_API_TOKEN}",
                "jql": JQL,
            }
        },
    }
    (tmp_path / "headway.toml").write_text(tomli_w.dumps(config))
    plugins = Plugins.create(entry_points=False)
    plugins.register(headway_jira, "jira")
    cli = build_cli(plugins)

    def run(*args: str) -> str:
        result = CliRunner().invoke(
            cli, ["--config", str(tmp_path / "headway.toml"), *args], env=ENV
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    run("sync")
    run("score")
    run("report", "-o", str(tmp_path / "report.html"))

    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for payload in PAYLOADS.values():
        assert payload not in page
    # The busywork examples show the largest unaligned issues by title.
    for shown in ("comment: ", "style: ", "attribute: ", "Acme "):
        assert shown in page, f"{shown!r} is not in the report at all"
    assert html.escape(PAYLOADS["comment"]) in page
    lowered = page.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert "<svg onload" not in lowered and "<!--" not in page
