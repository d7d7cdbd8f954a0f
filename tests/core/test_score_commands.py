"""The scoring commands, end to end: exit codes, output, no tracebacks."""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from headway.cli import build_cli
from headway.plugins import Plugins
from headway.snapshots import load_snapshot, rescore
from headway.store import Store

WORKSPACE = """
[scorecard]
name = "Small"
database = "headway.db"
period = "2026-Q3"

[teams.platform]
members = ["alice.chen@northwind.example"]

[[objectives]]
id = "P1"
perspective = "process"
title = "Automate the release pipeline"
owner = "alice.chen@northwind.example"

[[objectives]]
id = "C1"
perspective = "customer"
title = "Keep customers"

[[measures]]
id = "P1.done"
objective = "P1"
title = "Issues done"
target = 100
sql = '''select count(*) from items where state = 'done'
         and closed_at >= :start and closed_at < :end'''

[[measures]]
id = "C1.nps"
objective = "C1"
title = "NPS"
baseline = 30
target = 50

[[rules]]
name = "release work"
objective = "P1"
source = "jira"
labels = ["ci", "release"]

[sources.jira]
plugin = "demo"
system = "jira"
scale = 0.05
"""


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def no_traceback(result: Result, code: int = 1) -> str:
    """The error output of a failed command, which must be one clean message."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


@pytest.fixture
def workspace(tmp_path: Path, run_cli: Callable[..., Result]) -> Callable:
    """A small synced workspace; returns a runner bound to its config."""
    path = tmp_path / "headway.toml"
    path.write_text(textwrap.dedent(WORKSPACE), encoding="utf-8")

    def run(*args: str) -> Result:
        return run_cli("--config", str(path), *args)

    ok(run("sync"))
    return run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result, float]:
    """`headway demo` once for the module: its folder, result and seconds."""
    folder = tmp_path_factory.mktemp("demo") / "headway-demo"
    plugins = Plugins.create(entry_points=False)
    started = time.perf_counter()
    result = CliRunner().invoke(build_cli(plugins), ["demo", str(folder)])
    return folder, result, time.perf_counter() - started


def demo_cli(folder: Path, *args: str) -> Result:
    plugins = Plugins.create(entry_points=False)
    config = str(folder / "headway.toml")
    return CliRunner().invoke(build_cli(plugins), ["--config", config, *args])


# ---------------------------------------------------------------- demo


def test_the_demo_prints_a_scorecard_with_every_kind_of_insight(demo):
    _, result, seconds = demo
    output = ok(result).output
    for section in (
        "Scorecard",
        "Measures and key results",
        "Team alignment",
        "Capacity",
        "Insights",
    ):
        assert section in output
    for word in ("busy, not moving:", "trade-off:", "neglected:", "busywork:"):
        assert word in output
    assert "Weekly status sync" in output
    assert "northwind/mobile-legacy" in output
    assert "Update team wiki page" in output
    assert seconds < 30


def test_the_demo_figures_are_in_the_store_for_plain_sql(demo):
    folder, _, _ = demo
    data = json.loads(
        ok(
            demo_cli(folder, "score", "--no-save", "--json", "--as-of", "2026-09-30")
        ).output
    )
    conn = sqlite3.connect(folder / "headway.db")
    try:
        (count,) = conn.execute("SELECT count(*) FROM snapshots").fetchone()
        latest = conn.execute(
            "SELECT score, balance, alignment FROM latest_snapshot"
        ).fetchone()
        perspectives = dict(
            conn.execute(
                "SELECT key, score FROM latest_scores WHERE level = 'perspective'"
            ).fetchall()
        )
        teams = dict(
            conn.execute(
                "SELECT team, alignment FROM team_alignment "
                "WHERE snapshot_id = (SELECT id FROM latest_snapshot)"
            ).fetchall()
        )
        kinds = {r[0] for r in conn.execute("SELECT kind FROM insights")}
    finally:
        conn.close()
    assert count == 6
    snapshot = data["snapshot"]
    assert latest == (snapshot["score"], snapshot["balance"], snapshot["alignment"])
    assert perspectives == {
        p["key"]: p["score"] for p in data["scorecard"]["perspectives"]
    }
    # The view sums in SQL, in its own order: equal up to rounding.
    assert teams == {t["team"]: pytest.approx(t["alignment"]) for t in data["teams"]}
    assert kinds == {"busy_not_moving", "trade_off", "neglected", "busywork"}


def test_snapshots_diff_explain_and_check_on_the_demo(demo):
    folder, _, _ = demo
    listing = ok(demo_cli(folder, "snapshots")).output
    assert "end of 2026-09-30" in listing and "end of 2026-07-15" in listing
    moved = ok(demo_cli(folder, "diff")).output
    assert "Snapshot 5" in moved and "-> 6" in moved and "Financial" in moved
    pair = json.loads(ok(demo_cli(folder, "diff", "1", "6", "--json")).output)
    assert (pair["a"]["id"], pair["b"]["id"]) == (1, 6)
    story = ok(demo_cli(folder, "explain", "jira:PLAT-20")).output
    assert re.search(
        r'inherited from jira:PLAT-\d+ \(rule \d+ "release epics"\)', story
    )
    verdict = ok(demo_cli(folder, "check")).output
    assert "Verdict: productive" in verdict


@pytest.mark.parametrize("snapshot_id", [2, 6])
def test_a_demo_snapshot_recomputes_against_the_one_before_it(demo, snapshot_id):
    folder, _, _ = demo
    plugins = Plugins.create(entry_points=False)
    with Store.open(folder / "headway.db", create=False) as store:
        stored = load_snapshot(store, snapshot_id)
        again = rescore(store, snapshot_id, plugins).data
    # Both have a trade-off, which only a comparison with the previous
    # snapshot finds: compared with itself, a snapshot shows none.
    assert "trade_off" in {insight["kind"] for insight in stored["insights"]}
    assert again["insights"] == stored["insights"]
    assert [t["id"] for t in again["trends"]] == [*range(1, snapshot_id), None]


# ---------------------------------------------------------------- score


def test_score_prints_saves_and_narrows(workspace):
    output = ok(workspace("score")).output
    assert "snapshot 1" in output and "P1  Automate the release pipeline" in output
    narrowed = json.loads(ok(workspace("score", "--team", "platform", "--json")).output)
    assert narrowed["team"] == "platform"
    assert [t["team"] for t in narrowed["teams"]] == ["platform"]
    ok(workspace("score", "--no-save"))
    listed = json.loads(ok(workspace("snapshots", "--json")).output)
    assert [s["id"] for s in listed] == [1, 2]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--team", "nope"], 1, "no team 'nope'"),
        (["--period", "2026-Q5"], 2, "period '2026-Q5' is not one of"),
        (["--as-of", "30/09/2026"], 2, "does not match the format"),
    ],
    ids=["unknown-team", "bad-period", "bad-as-of"],
)
def test_score_refuses_bad_options_cleanly(workspace, args, code, message):
    assert message in no_traceback(workspace("score", *args), code)
    assert json.loads(ok(workspace("snapshots", "--json")).output) == []


def test_score_before_any_sync_says_what_to_do(tmp_path: Path, run_cli):
    path = tmp_path / "headway.toml"
    path.write_text(textwrap.dedent(WORKSPACE), encoding="utf-8")
    output = no_traceback(run_cli("--config", str(path), "score"))
    assert "run `headway sync`" in output


def test_a_broken_measure_query_is_one_clear_error(tmp_path: Path, run_cli):
    path = tmp_path / "headway.toml"
    text = textwrap.dedent(WORKSPACE).replace(
        "select count(*) from items", "select count(*) from itemz"
    )
    path.write_text(text, encoding="utf-8")
    ok(run_cli("--config", str(path), "sync"))
    output = no_traceback(run_cli("--config", str(path), "score"))
    assert "measure P1.done: its sql failed: no such table: itemz" in output


# ---------------------------------------------------------------- the rest


def test_snapshots_and_diff_need_snapshots(workspace):
    assert "No snapshots yet" in ok(workspace("snapshots")).output
    assert "diff needs two snapshots" in no_traceback(workspace("diff"))
    ok(workspace("score"))
    assert "name a second snapshot" in no_traceback(workspace("diff", "1"))
    assert "no snapshot 9" in no_traceback(workspace("diff", "1", "9"))


@pytest.mark.parametrize(
    ("reference", "code", "message"),
    [
        ("PLAT-1", 2, "does not name an item; write SOURCE:ID or SOURCE:KEY"),
        ("jira:PLAT-99999", 1, "no item jira:PLAT-99999 in the store"),
        ("gitlab:1", 1, "the store has items of jira"),
    ],
    ids=["no-source", "unknown-key", "unknown-source"],
)
def test_explain_names_items_by_id_or_key(workspace, reference, code, message):
    assert message in no_traceback(workspace("explain", reference), code)


def test_explain_says_where_an_item_goes(workspace):
    by_key = json.loads(ok(workspace("explain", "jira:PLAT-1", "--json")).output)
    by_id = json.loads(
        ok(workspace("explain", f"jira:{by_key['item']['id']}", "--json")).output
    )
    assert by_key == by_id
    assert by_key["assignment"]["reason"] == 'rule 1 "release work"'
    assert by_key["team"] == "platform" and by_key["matching_rules"][0]["rule"] == 1


def test_record_keeps_manual_values(workspace):
    ok(workspace("record", "C1.nps", "-4.5", "--at", "2026-09-01"))
    data = json.loads(ok(workspace("score", "--json")).output)
    (nps,) = [
        m
        for p in data["scorecard"]["perspectives"]
        for o in p["objectives"]
        for m in o["measures"]
        if m["key"] == "C1.nps"
    ]
    assert nps["value"] == -4.5 and nps["value_from"] == "manual"
    note = ok(workspace("record", "C1.nps", "40", "--at", "2025-01-01")).output
    assert "outside the period 2026-Q3" in note


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope", "1"], 1, "no measure or key result 'nope'"),
        (["P1.done", "1"], 1, "P1.done takes its value from its sql query"),
        (["C1.nps", "lots"], 2, "'lots' is not a number"),
        (["C1.nps", "nan"], 2, "'nan' is not a finite number"),
        (["C1.nps", "1", "--at", "yesterday"], 2, "'yesterday' is not a date"),
        (["C1.nps", "1", "--at", "2026-09-01T10:00"], 2, "has no time zone"),
    ],
    ids=["unknown", "computed", "not-a-number", "nan", "bad-date", "naive-time"],
)
def test_record_refuses_what_it_cannot_keep(workspace, args, code, message):
    assert message in no_traceback(workspace("record", *args), code)


def test_check_reports_and_only_strict_fails(workspace):
    output = ok(workspace("check")).output
    # The small workspace lacks owners, outcome measures in two perspectives,
    # and classifies too little of its effort.
    assert "Verdict: busy" in output
    assert re.search(r"every objective and key result has an owner\s+fail", output)
    assert re.search(r"the last sync is recent\s+pass", output)
    strict = workspace("check", "--strict", "--json")
    assert strict.exit_code == 1
    result = json.loads(strict.output)
    assert result["verdict"] == "busy"
    failed = {c["name"] for c in result["checks"] if not c["passed"]}
    assert "every perspective has an outcome measure" in failed
    assert "each team has at least 70 % of its effort classified" in failed
    assert "the last sync is recent" not in failed


def test_check_validates_source_tables_as_sync_does(
    workspace, tmp_path: Path, monkeypatch
):
    assert re.search(r"the configuration is valid\s+pass", workspace("check").output)
    monkeypatch.delenv("HEADWAY_UNSET_TOKEN", raising=False)
    path = tmp_path / "headway.toml"
    with path.open("a", encoding="utf-8") as file:
        file.write('bogus_key = 3\ntoken = "${HEADWAY_UNSET_TOKEN}"\n')
    expected = [
        "sources.jira.token: environment variable HEADWAY_UNSET_TOKEN is not set; "
        "export it before running headway",
        "sources.jira.bogus_key: unknown key for the demo connector",
    ]

    output = ok(workspace("check")).output
    assert re.search(r"the configuration is valid\s+fail", output)
    strict = workspace("check", "--strict", "--json")
    assert strict.exit_code == 1
    result = json.loads(strict.output)
    valid = next(c for c in result["checks"] if c["name"].endswith("is valid"))
    assert not valid["passed"] and valid["detail"] == "; ".join(expected)
    refused = no_traceback(workspace("sync"))
    assert all(f"  {problem}\n" in refused for problem in expected), refused


def test_check_without_a_store_fails_its_data_checks(tmp_path: Path, run_cli):
    path = tmp_path / "headway.toml"
    path.write_text(textwrap.dedent(WORKSPACE), encoding="utf-8")
    result = run_cli("--config", str(path), "check", "--strict")
    assert "no store at" in no_traceback(result)


def test_a_fresh_init_workspace_checks_and_scores_empty(tmp_path: Path, run_cli):
    ok(run_cli("init", str(tmp_path)))
    config = str(tmp_path / "headway.toml")
    checked = ok(run_cli("--config", config, "check")).output
    assert "Verdict: busy" in checked and "no store at" in checked
    ok(run_cli("--config", config, "sync"))
    scored = ok(run_cli("--config", config, "score")).output
    assert "no data" in scored and "neglected: Perspective Financial" in scored
