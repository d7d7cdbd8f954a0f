"""The HTML report: escaping, figures as stored, the command, scale, and the
page as a real browser renders it (tests marked ``browser``)."""

from __future__ import annotations

import contextlib
import html
import importlib.util
import io
import json
import math
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner, Result

from headway._html import concat, element, link, safe_url
from headway.cli import build_cli
from headway.config import parse_config
from headway.plugins import Plugins
from headway.report import DEFAULT_NAME, render_report, write_report
from headway.snapshots import load_snapshot, score
from headway.store import Store

from ._scorecard import BASE, fill, item

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = [
    "Scorecard",
    "Strategy map",
    "Team alignment",
    "Trends",
    "Insights",
    "Busywork candidates",
]
PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "attribute": '"><svg onload=alert(1)>',
    "style": "</style><script>alert(2)</script>",
}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def failed(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.output


def cli(config: Path, *args: str) -> Result:
    plugins = Plugins.create(entry_points=False)
    return CliRunner().invoke(build_cli(plugins), ["--config", str(config), *args])


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """`headway demo` once for the module: its folder and result."""
    folder = tmp_path_factory.mktemp("demo") / "headway-demo"
    plugins = Plugins.create(entry_points=False)
    result = CliRunner().invoke(build_cli(plugins), ["demo", str(folder)])
    assert result.exit_code == 0, result.output
    return folder, result


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "headway_report_benchmark", ROOT / "benchmarks" / "report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict]:
    """The report benchmark run at a tiny item count, but with the full
    50 objectives, 30 teams and 200 snapshots: its folder, output, figures."""
    folder = tmp_path_factory.mktemp("large")
    out = io.StringIO()
    with redirect_stdout(out):
        figures = load_benchmark().main(
            ["--items", "2000", "--scored", "2", "--repeat", "1", "--keep", str(folder)]
        )
    return folder, out.getvalue(), figures


def xss_config(database: Path) -> Any:
    """A scorecard whose names, titles and units all carry markup."""
    data = {
        **BASE,
        "scorecard": {
            "name": f"Acme {PAYLOADS['script']}",
            "period": "2026-01-01..2026-01-10",
            "database": str(database),
        },
        "perspectives": {"financial": {"title": f"Money {PAYLOADS['style']}"}},
        "teams": {
            "a": {"title": f"Team {PAYLOADS['img']}", "members": ["ann@x.com"]},
            "b": {"title": "Team B", "members": ["bob@x.com"]},
        },
        "objectives": [
            {
                "id": "F1",
                "perspective": "financial",
                "title": f"Grow {PAYLOADS['attribute']}",
                "owner": PAYLOADS["img"],
                "capacity": 0.2,
            },
            {
                "id": "C1",
                "perspective": "customer",
                "title": "Delight",
                "drives": ["F1"],
            },
        ],
        "measures": [
            {
                "id": "F1.m",
                "objective": "F1",
                "title": f"Revenue {PAYLOADS['script']}",
                "unit": PAYLOADS["img"],
                "baseline": 0,
                "target": 10,
                "sql": "select count(*) from items",
            }
        ],
        "rules": [{"objective": "F1", "labels": ["money"]}],
    }
    return parse_config(data, environ={})


def xss_items() -> list[Any]:
    items = [
        item(f"m{n}", labels=["money"], effort=2, people=["ann@x.com"])
        for n in range(3)
    ]
    for name, payload in PAYLOADS.items():
        for n in range(3):
            items.append(
                item(
                    f"{name}-{n}",
                    key=f"X-{name}-{n}",
                    title=payload,
                    url="javascript:alert(1)",
                    project=f"<b onmouseover=alert(1)>{name}</b>",
                    effort=5,
                    people=["ann@x.com"],
                )
            )
    return items


@pytest.fixture
def xss_report(tmp_path: Path, plugins: Plugins) -> Path:
    """The report of a scored store full of markup."""
    cfg = xss_config(tmp_path / "x.db")
    with fill(cfg.database, xss_items()) as store:
        score(cfg, store, plugins)
        return write_report(store).path


# ---------------------------------------------------------------- the builder


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        ("<b>&'\"", "<p>&lt;b&gt;&amp;&#x27;&quot;</p>"),
        (element("b", "x"), "<p><b>x</b></p>"),
        ([1, None, "a", [2.5]], "<p>1a2.5</p>"),
    ],
    ids=["text-escaped", "markup-kept", "nested"],
)
def test_elements_escape_text_and_keep_markup(child, expected):
    assert element("p", child) == expected


def test_attributes_are_escaped_and_named():
    made = element(
        "td", data_value='1" onclick="x', class_="r", hidden=True, title=None
    )
    assert made == '<td data-value="1&quot; onclick=&quot;x" class="r" hidden></td>'
    assert element("br") == "<br>"
    assert concat("<", element("i")) == "&lt;<i></i>"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://acme.atlassian.net/browse/X-1", True),
        ("http://localhost:8080/x", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("/relative/path", False),
        (None, False),
    ],
    ids=[
        "https",
        "http",
        "javascript",
        "javascript-spaced",
        "data",
        "relative",
        "none",
    ],
)
def test_only_web_links_become_links(url, safe):
    assert (safe_url(url) is not None) is safe
    made = link(url, "x")
    assert made.startswith("<a ") is safe
    assert "javascript" not in made.lower()


# ---------------------------------------------------------------- escaping


def test_markup_from_sources_and_the_config_is_escaped(xss_report: Path):
    page = xss_report.read_text(encoding="utf-8")
    for payload in PAYLOADS.values():
        assert payload not in page
        assert html.escape(payload) in page
    assert "<script" not in page.lower()
    assert "<img" not in page.lower() and "<b onmouseover" not in page
    assert "javascript:" not in page.lower()
    # The busywork examples are the items themselves: shown by key, as text.
    assert "X-script-0" in page


def test_secrets_never_reach_the_report(
    tmp_path: Path, plugins: Plugins, monkeypatch: pytest.MonkeyPatch
):
    data = {
        **BASE,
        "scorecard": {**BASE["scorecard"], "database": str(tmp_path / "h.db")},
        "sources": {
            "tool": {"plugin": "demo", "token": "literal-secret-1234"},
            "other": {"plugin": "demo", "api_key": "${TOKEN}"},
        },
    }
    cfg = parse_config(data, environ={"TOKEN": "env-secret-5678"})
    # A token a tool echoed into a title, and a run error an older version
    # stored unmasked: the report masks every secret the configuration names.
    store = fill(
        cfg.database, [item("1", title="deploy with env-secret-5678", effort=3)]
    )
    with store:
        store.conn.execute(
            "UPDATE runs SET status = 'failed', "
            "error = '401 for token literal-secret-1234'"
        )
        score(cfg, store, plugins)
        monkeypatch.setenv("TOKEN", "env-secret-5678")
        written = write_report(store, config=cfg)
    page = written.path.read_text(encoding="utf-8")
    assert "literal-secret-1234" not in page and "env-secret-5678" not in page
    assert "deploy with ***" in page and "401 for token ***" in page


# ---------------------------------------------------------------- figures


class FigureParser(HTMLParser):
    """Every ``data-figure`` element of a page: its reference, stored value
    and the text shown."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str, str]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-figure" in found:
            self._open.append([found["data-figure"] or "", found["data-value"] or ""])

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open:
            ref, value, *text = self._open.pop()
            self.figures.append((ref, value, "".join(text)))


def page_figures(page: str) -> list[tuple[str, str, str]]:
    parser = FigureParser()
    parser.feed(page)
    return parser.figures


def stored_figures(database: Path, snapshot_id: int) -> dict[str, float | None]:
    """What the page must show, read from the snapshot tables with SQL."""
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    expected: dict[str, float | None] = {}
    try:
        row = conn.execute("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,))
        snapshot = dict(row.fetchone())
        for name in ("score", "balance", "alignment", "overhead", "unaligned"):
            expected[f"snapshot::{name}"] = snapshot[name]
        for name in ("effort", "items", "expected"):
            expected[f"snapshot::{name}"] = snapshot[name]
        total = snapshot["effort"]
        for node in conn.execute(
            "SELECT * FROM scores WHERE snapshot_id = ?", (snapshot_id,)
        ):
            level, key = node["level"], node["key"]
            if level in ("perspective", "objective"):
                expected[f"{level}:{key}:score"] = node["score"]
            if level == "objective":
                expected[f"objective:{key}:achievement"] = node["achievement"]
                if node["capacity"] is not None:
                    expected[f"capacity:{key}:planned"] = node["capacity"]
            if level in ("measure", "key_result"):
                for name in ("value", "target", "achievement"):
                    expected[f"{level}:{key}:{name}"] = node[name]
        for column in ("perspective", "objective"):
            for key, effort in conn.execute(
                f"SELECT {column}, sum(effort) FROM allocations WHERE snapshot_id = ? "
                f"AND {column} IS NOT NULL GROUP BY {column}",
                (snapshot_id,),
            ):
                expected[f"{column}:{key}:share"] = effort / total
                expected[f"capacity:{key}:actual"] = effort / total
        for key in [k for k in expected if k.endswith(":score")]:
            level, name, _ = key.split(":")
            share = f"{level}:{name}:share"
            if level in ("perspective", "objective") and share not in expected:
                expected[share] = 0.0
        for team in conn.execute(
            "SELECT * FROM team_alignment WHERE snapshot_id = ?", (snapshot_id,)
        ):
            ref = f"team:{team['team'] or ''}"
            expected[f"{ref}:effort"] = team["effort"]
            expected[f"{ref}:alignment"] = team["alignment"]
            expected[f"{ref}:overhead"] = team["overhead"]
            expected[f"{ref}:unaligned"] = team["unaligned"]
            expected[f"trend:{ref}:latest"] = team["alignment"]
        busywork = conn.execute(
            "SELECT json_extract(figures, '$.items'), "
            "json_extract(figures, '$.effort'), json_extract(figures, '$.share') "
            "FROM insights "
            "WHERE snapshot_id = ? AND kind = 'busywork' ORDER BY seq",
            (snapshot_id,),
        )
        for rank, (items, effort, share) in enumerate(busywork, 1):
            expected[f"busywork:{rank}:items"] = items
            expected[f"busywork:{rank}:effort"] = effort
            expected[f"busywork:{rank}:share"] = share
        for name in ("score", "balance", "alignment"):
            expected[f"trend:overall:{name}:latest"] = snapshot[name]
        for key, value in conn.execute(
            "SELECT key, score FROM scores WHERE snapshot_id = ? "
            "AND level = 'perspective'",
            (snapshot_id,),
        ):
            expected[f"trend:perspective:{key}:latest"] = value
        history = conn.execute(
            "SELECT id, score, balance, alignment FROM snapshots "
            "WHERE taken_at <= ? OR id = ?",
            (snapshot["taken_at"], snapshot_id),
        ).fetchall()
        for row in history:
            for name in ("score", "balance", "alignment"):
                expected[f"history:{row['id']}:{name}"] = row[name]
            for key, value in conn.execute(
                "SELECT key, score FROM scores WHERE snapshot_id = ? "
                "AND level = 'perspective'",
                (row["id"],),
            ):
                expected[f"history:{row['id']}:perspective:{key}"] = value
        strategic = conn.execute(
            "SELECT ifnull(team, ''), perspective, sum(effort) FROM allocations "
            "WHERE snapshot_id = ? AND category = 'strategic' "
            "AND perspective IS NOT NULL GROUP BY team, perspective",
            (snapshot_id,),
        ).fetchall()
        totals: dict[str, float] = {}
        for team, _, effort in strategic:
            totals[team] = totals.get(team, 0.0) + effort
        for team, key, effort in strategic:
            expected[f"split:{team}:{key}"] = effort / totals[team]
    finally:
        conn.close()
    return expected


def shown_number(text: str) -> tuple[float, int, bool]:
    """A figure's text as a number, its decimals, and whether it was a %."""
    percent = text.endswith("%")
    digits = re.sub(r"[^0-9.\-]", "", text.replace(",", ""))
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits), decimals, percent


def check_figures(
    figures: list[tuple[str, str, str]], expected: dict[str, float | None]
) -> set[str]:
    """Every figure on the page is the stored one, as stored and as shown at
    the precision shown; returns the references checked."""
    seen = set()
    for ref, value, text in figures:
        assert ref in expected, f"{ref} is on the page but not in the store"
        want = expected[ref]
        text = text.strip()
        seen.add(ref)
        if want is None:
            assert value == "" and text == "-", (ref, value, text)
            continue
        assert math.isclose(float(value), want, rel_tol=1e-9, abs_tol=1e-9), ref
        number, decimals, percent = shown_number(text)
        target = want * 100 if percent else want
        assert abs(number - target) <= 0.5 * 10**-decimals + 1e-9, (ref, text, want)
    return seen


def references(database: Path, snapshot_id: int) -> set[str]:
    """The figures a page of this snapshot must show at least."""
    conn = sqlite3.connect(database)
    try:
        nodes = conn.execute(
            "SELECT level, key FROM scores WHERE snapshot_id = ? AND level != "
            "'scorecard'",
            (snapshot_id,),
        ).fetchall()
        teams = conn.execute(
            "SELECT DISTINCT ifnull(team, '') FROM allocations WHERE snapshot_id = ?",
            (snapshot_id,),
        ).fetchall()
        history = conn.execute(
            "SELECT id FROM snapshots WHERE taken_at <= "
            "(SELECT taken_at FROM snapshots WHERE id = ?)",
            (snapshot_id,),
        ).fetchall()
        split = conn.execute(
            "SELECT DISTINCT ifnull(team, ''), perspective FROM allocations "
            "WHERE snapshot_id = ? AND category = 'strategic' "
            "AND perspective IS NOT NULL",
            (snapshot_id,),
        ).fetchall()
    finally:
        conn.close()
    wanted = {"snapshot::score", "snapshot::balance", "snapshot::alignment"}
    for level, key in nodes:
        field = "score" if level in ("perspective", "objective") else "value"
        wanted.add(f"{level}:{key}:{field}")
    wanted |= {f"team:{team}:alignment" for (team,) in teams}
    wanted |= {f"history:{row}:{name}" for (row,) in history for name in ("score",)}
    wanted |= {f"split:{team}:{key}" for team, key in split}
    return wanted


def drives(database: Path, snapshot_id: int) -> list[tuple[str, str]]:
    """The arrows of the strategy map, from the stored objectives."""
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute(
            "SELECT key, drives FROM scores WHERE snapshot_id = ? AND level = "
            "'objective'",
            (snapshot_id,),
        ).fetchall()
    finally:
        conn.close()
    return [(key, target) for key, listed in rows for target in json.loads(listed)]


def test_the_figures_on_the_page_are_the_stored_ones(demo):
    folder, _ = demo
    database = folder / "headway.db"
    page = (folder / DEFAULT_NAME).read_text(encoding="utf-8")
    figures = page_figures(page)
    seen = check_figures(figures, stored_figures(database, 6))
    assert references(database, 6) <= seen
    assert {"busywork:5:share", "capacity:P1:actual", "trend:team:web:latest"} <= seen


def test_a_changed_figure_is_caught(demo):
    folder, _ = demo
    database = folder / "headway.db"
    page = (folder / DEFAULT_NAME).read_text(encoding="utf-8")
    figures = page_figures(page)
    expected = stored_figures(database, 6)
    ref = "objective:P2:score"
    expected[ref] = (expected[ref] or 0) + 1
    with pytest.raises(AssertionError):
        check_figures(figures, expected)


# ---------------------------------------------------------------- the command


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A synced workspace with no snapshot yet; returns its configuration."""
    config = tmp_path / "headway.toml"
    config.write_text(
        '[scorecard]\nname = "Small"\ndatabase = "data/headway.db"\n'
        'period = "2026-Q3"\n\n[[objectives]]\nid = "P1"\n'
        'perspective = "process"\ntitle = "Automate"\n\n'
        '[[rules]]\nobjective = "P1"\nsource = "jira"\n\n'
        '[sources.jira]\nplugin = "demo"\nsystem = "jira"\nscale = 0.05\n',
        encoding="utf-8",
    )
    ok(cli(config, "sync"))
    return config


def test_report_writes_beside_the_database_and_names_the_snapshot(workspace: Path):
    assert "run `headway score` first" in failed(cli(workspace, "report"))
    ok(cli(workspace, "score"))
    ok(cli(workspace, "score"))
    output = ok(cli(workspace, "report")).output
    path = workspace.parent / "data" / DEFAULT_NAME
    assert f"Wrote {path} (snapshot 2," in output
    one = workspace.parent / "one.html"
    first = ok(cli(workspace, "report", "--snapshot", "1", "-o", str(one))).output
    assert f"Wrote {one} (snapshot 1," in first
    folder = workspace.parent / "out"
    folder.mkdir()
    ok(cli(workspace, "report", "-o", str(folder)))
    page = (folder / DEFAULT_NAME).read_text(encoding="utf-8")
    assert "Snapshot 2," in page and page.startswith("<!DOCTYPE html>")


def test_sources_show_when_they_last_synced_ok_and_which_never_did(workspace: Path):
    with workspace.open("a", encoding="utf-8") as config:
        config.write('\n[sources.extra]\nplugin = "demo"\nsystem = "github"\n')
    database = workspace.parent / "data" / "headway.db"
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        ok_at = conn.execute("SELECT finished_at FROM runs").fetchone()[0]
        conn.execute(
            "INSERT INTO runs (source, plugin, started_at, finished_at, status, "
            "error) VALUES ('jira', 'demo', '2026-12-01T00:00:00.000Z', "
            "'2026-12-01T00:00:01.000Z', 'failed', 'HTTP 401')"
        )
    ok(cli(workspace, "score"))
    ok(cli(workspace, "report"))
    page = (workspace.parent / "data" / DEFAULT_NAME).read_text(encoding="utf-8")

    def row(source: str) -> str:
        return page[page.index(f'<tr data-source="{source}">') :].split("</tr>")[0]

    assert "failed" in row("jira") and "HTTP 401" in row("jira")
    assert f"{ok_at[:10]} {ok_at[11:16]} UTC" in row("jira")
    assert "never synced" in row("extra") and ">never<" in row("extra")


def test_a_measure_shows_its_owner_and_its_unit_even_without_a_value(
    workspace: Path,
):
    with workspace.open("a", encoding="utf-8") as config:
        config.write(
            '\n[[measures]]\nid = "P1.conv"\nobjective = "P1"\ntitle = "Conversion"\n'
            'owner = "dana"\nunit = "%"\nbaseline = 2\ntarget = 4\n'
        )
    ok(cli(workspace, "score"))
    ok(cli(workspace, "report"))
    page = (workspace.parent / "data" / DEFAULT_NAME).read_text(encoding="utf-8")
    row = page[page.index('<tr data-node="measure:P1.conv">') :].split("</tr>")[0]
    assert "owner dana" in row
    assert re.search(r'data-figure="measure:P1.conv:target"[^>]*>4</span> %', row), row


def test_a_team_with_no_effort_is_listed_with_none(workspace: Path):
    with workspace.open("a", encoding="utf-8") as config:
        config.write('\n[teams.design]\ntitle = "Design"\nmembers = ["x@y.z"]\n')
    printed = ok(cli(workspace, "score")).output
    assert re.search(r"Design\s+0\s+-\s+-\s+-", printed), printed
    ok(cli(workspace, "report"))
    page = (workspace.parent / "data" / DEFAULT_NAME).read_text(encoding="utf-8")
    row = page[page.index('<tr data-team="design">') :].split("</tr>", 1)[0]
    assert "Design" in row and "no effort" in row
    assert 'data-figure="team:design:alignment" data-value=""' in row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--snapshot", "9"], "no snapshot 9; `headway snapshots` lists"),
        (["-o", "missing/report.html"], "the folder missing does not exist"),
        (["-o", "headway.toml/report.html"], "headway.toml is a file, not a folder"),
    ],
    ids=["unknown-snapshot", "missing-folder", "folder-is-a-file"],
)
def test_report_refuses_what_it_cannot_do(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, args, message
):
    ok(cli(workspace, "score"))
    monkeypatch.chdir(workspace.parent)
    assert message in failed(cli(workspace, "report", *args))
    assert not list(workspace.parent.rglob("*.tmp"))


def test_a_failed_write_keeps_the_old_report(workspace: Path, monkeypatch):
    ok(cli(workspace, "score"))
    ok(cli(workspace, "report"))
    path = workspace.parent / "data" / DEFAULT_NAME
    before = path.read_bytes()

    def refuse(source: Any, target: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("headway.report.os.replace", refuse)
    assert "Permission denied; choose another file with -o" in failed(
        cli(workspace, "report")
    )
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.tmp"))


def test_a_report_to_a_link_or_a_pipe_keeps_the_link_or_the_pipe(workspace: Path):
    ok(cli(workspace, "score"))
    target = workspace.parent / "kept.html"
    target.write_text("old", encoding="utf-8")
    link = workspace.parent / "link.html"
    link.symlink_to(target)
    ok(cli(workspace, "report", "-o", str(link)))
    assert link.is_symlink() and target.read_text(encoding="utf-8").startswith(
        "<!DOCTYPE html>"
    )

    pipe = workspace.parent / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    ok(cli(workspace, "report", "-o", str(pipe)))
    reader.join(timeout=30)
    assert stat.S_ISFIFO(pipe.lstat().st_mode), "the pipe is still a pipe"
    assert received and received[0].startswith(b"<!DOCTYPE html>")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_report_to_a_full_device_fails_and_leaves_the_device(workspace: Path):
    ok(cli(workspace, "score"))
    # Through a link, so that a regression replaces the link, never the
    # machine's /dev/full.
    link = workspace.parent / "full.html"
    link.symlink_to("/dev/full")
    refused = failed(cli(workspace, "report", "-o", str(link)))
    assert "No space left on device" in refused
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_report_without_a_store_says_to_sync(tmp_path: Path):
    config = tmp_path / "headway.toml"
    config.write_text('[scorecard]\nname = "x"\nperiod = "2026-Q3"\n', encoding="utf-8")
    assert "run `headway sync`" in failed(cli(config, "report"))


def test_the_demo_ends_with_its_report(demo):
    folder, result = demo
    path = folder / DEFAULT_NAME
    assert result.output.rstrip().splitlines()[-2] == f"Report: {path}"
    page = path.read_text(encoding="utf-8")
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert "Northwind Robotics" in page and "Weekly status sync" in page


def test_the_readme_shows_the_report():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "](docs/report.png)" in quickstart
    image = (ROOT / "docs" / "report.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 20_000


# ---------------------------------------------------------------- scale


def test_the_report_benchmark_runs(large):
    _, output, figures = large
    assert re.search(r"^baseline: SELECT team, SUM\(effort\).*: [\d.]+ s", output, re.M)
    assert re.search(r"^headway report: [\d.]+ s", output, re.M)
    assert re.search(r"^ratio: [\d.]+ \(target: at most 3\)", output, re.M)
    assert figures["snapshots"] == 200 and figures["objectives"] == 50


def test_a_large_scorecard_with_a_long_history_stays_small(large):
    folder, _, figures = large
    page = (folder / DEFAULT_NAME).read_text(encoding="utf-8")
    assert figures["size"] == len(page.encode("utf-8")) < 5 * 1024 * 1024
    assert page.count('class="objective"') == 50
    assert page.count("<tr data-team=") == 30
    assert page.count("<tr data-snapshot=") == 200
    assert page.count('data-trend="trend:team:') == 30


def test_trends_are_read_with_a_few_queries_whatever_the_history(large):
    folder, _, _ = large
    statements: list[str] = []
    with Store.open(folder / "headway.db", create=False) as store:
        store.db  # noqa: B018 - sqlite-utils' start-up pragma is not the report's
        store.conn.set_trace_callback(statements.append)
        data = load_snapshot(store)
        render_report(data)
    assert len(data["trends"]) == 200
    assert len(statements) < 25, statements


# ---------------------------------------------------------------- in a browser


def chromium() -> tuple[str, str]:
    """The paths of Chromium and ChromeDriver. Without them the test is
    skipped, unless HEADWAY_REQUIRE_BROWSER=1 (CI) makes that a failure."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary and driver_path:
        return binary, driver_path
    message = (
        "Chromium and ChromeDriver are not installed "
        "(apt-get install chromium chromium-driver)"
    )
    if os.environ.get("HEADWAY_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize(
    ("required", "outcome"),
    [("1", pytest.fail.Exception), ("", pytest.skip.Exception)],
    ids=["required-fails", "optional-skips"],
)
def test_a_missing_browser_skips_unless_required(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: type
):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("HEADWAY_REQUIRE_BROWSER", required)
    with pytest.raises(outcome, match="not installed"):
        chromium()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through ChromeDriver, with a fresh profile."""
    binary, driver_path = chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="headway-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1500",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(browser: Any, path: Path) -> list[dict]:
    """Load a report; returns what the console said while it did."""
    browser.get_log("browser")
    browser.get(path.resolve().as_uri())
    return browser.get_log("browser")


@contextmanager
def full_page(browser: Any) -> Iterator[None]:
    """Make the window as tall as the document (so a screenshot shows all of
    it, every section laid out); the window's size is put back after."""
    size = browser.get_window_size()
    try:
        for _ in range(5):
            # Two frames: sections come on screen and are laid out.
            browser.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "requestAnimationFrame(() => requestAnimationFrame(done));"
            )
            inner, tall, chrome = browser.execute_script(
                "const e = document.documentElement;"
                "return [innerHeight, e.scrollHeight, outerHeight - innerHeight];"
            )
            if inner >= tall:
                break
            # Sections laid out as they come on screen can change the
            # document's height: measure again until it fits.
            browser.set_window_size(size["width"], tall + chrome)
        yield
    finally:
        browser.set_window_size(size["width"], size["height"])


def no_alert(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 (the property raises when none is open)


@pytest.mark.browser
def test_the_demo_report_renders_in_a_browser(browser, demo, tmp_path: Path):
    folder, _ = demo
    console = open_page(browser, folder / DEFAULT_NAME)
    assert [e for e in console if e["level"] in ("SEVERE", "WARNING")] == []
    no_alert(browser)
    headings = [h.text for h in browser.find_elements("css selector", "h2")]
    assert headings == SECTIONS
    assert browser.find_element("css selector", "h1").text == "Northwind Robotics"
    assert len(browser.find_elements("css selector", "svg.map g.node")) == 12
    arrows = browser.find_elements("css selector", "svg.map .edges path")
    assert len(arrows) == len(drives(folder / "headway.db", 6)) > 10
    assert len(browser.find_elements("css selector", "tr[data-team]")) == 4
    assert len(browser.find_elements("css selector", "tr[data-busywork]")) == 5
    text = browser.find_element("tag name", "body").text
    for phrase in ("★ achieved", "✕ at risk", "Busy, not moving (", "Trade-offs ("):
        assert phrase in text
    assert "Legacy reports rewrite" in text and "northwind/mobile-legacy" in text
    example = browser.find_element("css selector", "tr[data-busywork] .examples a")
    assert example.get_attribute("href").startswith("https://")
    shot = tmp_path / "report.png"
    with full_page(browser):
        assert browser.save_screenshot(str(shot))
    assert (
        shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    )
    # HEADWAY_SCREENSHOT=docs/report.png keeps it: how the README's picture
    # is made (docs/report.md).
    keep = os.environ.get("HEADWAY_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


MAP_GEOMETRY = """
const svg = document.querySelector('svg.map');
const box = e => { const b = e.getBBox(); return [b.x, b.y, b.width, b.height]; };
return {
  bands: [...svg.querySelectorAll('g[data-perspective]')].map(g => [
    g.dataset.perspective,
    box(g.querySelector('rect')),
    g.getBoundingClientRect().top,
  ]),
  nodes: [...svg.querySelectorAll('g.node')].map(g => [
    g.dataset.objective, box(g.querySelector('rect')),
  ]),
  arrows: [...svg.querySelectorAll('.edges path')].map(p => {
    const start = p.getPointAtLength(0);
    const end = p.getPointAtLength(p.getTotalLength());
    return [
      [start.x, start.y], [end.x, end.y],
      p.getAttribute('marker-start'), p.getAttribute('marker-end'),
    ];
  }),
};
"""


def perspectives_of(database: Path, snapshot_id: int) -> dict[str, str]:
    """Each objective's perspective, as the snapshot stores it."""
    conn = sqlite3.connect(database)
    try:
        return dict(
            conn.execute(
                "SELECT key, perspective FROM scores WHERE snapshot_id = ? AND "
                "level = 'objective'",
                (snapshot_id,),
            ).fetchall()
        )
    finally:
        conn.close()


def on_side(point: list[float], box: list[float]) -> str | None:
    """``top`` or ``bottom`` when ``point`` lies on that side of ``box``."""
    x, y = point
    left, top, width, height = box
    if not left - 0.5 <= x <= left + width + 0.5:
        return None
    if abs(y - top) < 0.5:
        return "top"
    if abs(y - (top + height)) < 0.5:
        return "bottom"
    return None


@pytest.fixture
def upside_down(tmp_path: Path, plugins: Plugins) -> tuple[Path, Path]:
    """A report whose perspectives are declared learning first, with one
    objective driving another in a lower band: its path and its database."""
    data = {
        **BASE,
        "scorecard": {**BASE["scorecard"], "database": str(tmp_path / "m.db")},
        "perspectives": {
            "learning": {"title": "Learning"},
            "process": {"title": "Process"},
            "customer": {"title": "Customer"},
            "financial": {"title": "Financial"},
        },
        "objectives": [
            {"id": "L1", "perspective": "learning", "title": "Learn", "drives": ["P1"]},
            {"id": "P1", "perspective": "process", "title": "Run", "drives": ["C1"]},
            {"id": "P2", "perspective": "process", "title": "Simplify"},
            {
                "id": "C1",
                "perspective": "customer",
                "title": "Please",
                "drives": ["F1"],
            },
            {"id": "F1", "perspective": "financial", "title": "Grow", "drives": ["P2"]},
        ],
    }
    cfg = parse_config(data, environ={})
    with fill(cfg.database, [item("a", effort=1)]) as store:
        score(cfg, store, plugins)
        return write_report(store).path, cfg.database


@pytest.mark.browser
def test_the_strategy_map_puts_financial_on_top_and_arrows_leave_the_driver(
    browser, demo, upside_down
):
    folder, _ = demo
    pages = [(folder / DEFAULT_NAME, folder / "headway.db", 6), (*upside_down, 1)]
    for page, database, snapshot_id in pages:
        open_page(browser, page)
        geometry = browser.execute_script(MAP_GEOMETRY)
        # Top to bottom as drawn on the screen: financial first, learning last.
        order = [key for key, _, top in sorted(geometry["bands"], key=lambda b: b[2])]
        assert order == ["financial", "customer", "process", "learning"], page
        bands = {key: box for key, box, _ in geometry["bands"]}
        nodes = {key: box for key, box in geometry["nodes"]}
        perspective = perspectives_of(database, snapshot_id)
        assert nodes.keys() == perspective.keys()
        for key, (_, top, _, height) in nodes.items():
            _, band_top, _, band_height = bands[perspective[key]]
            assert band_top <= top and top + height <= band_top + band_height, key

        # Each arrow starts on its driver's box and ends, where its head is,
        # on the box of the objective driven: one per stored `drives`.
        drawn = []
        for start, end, marker_start, marker_end in geometry["arrows"]:
            assert (marker_start, marker_end) == (None, "url(#arrow)")
            driver = [k for k, box in nodes.items() if on_side(start, box)]
            driven = [k for k, box in nodes.items() if on_side(end, box)]
            assert len(driver) == len(driven) == 1, (start, end)
            drawn.append((driver[0], driven[0]))
            below = bands[perspective[driver[0]]][1] > bands[perspective[driven[0]]][1]
            above = bands[perspective[driver[0]]][1] < bands[perspective[driven[0]]][1]
            # Up the map from a lower band, down it from a higher one.
            assert not below or start[1] > end[1], drawn[-1]
            assert not above or start[1] < end[1], drawn[-1]
        assert sorted(drawn) == sorted(drives(database, snapshot_id))
    # The upside-down scorecard has arrows both up and down the map.
    assert ("F1", "P2") in drawn and ("L1", "P1") in drawn


VISIBLE = """
const all = [...document.body.querySelectorAll('*')];
return all.map(e => e.checkVisibility({visibilityProperty: true}));
"""


@pytest.mark.browser
def test_the_page_prints_every_section_and_hides_only_the_navigation(browser, demo):
    folder, _ = demo
    open_page(browser, folder / DEFAULT_NAME)
    media = browser.execute_script(
        "return [...document.styleSheets].flatMap(s => [...s.cssRules])"
        ".filter(r => r instanceof CSSMediaRule).map(r => r.media.mediaText)"
    )
    assert "print" in media
    on_screen = browser.execute_script(VISIBLE)
    try:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        assert browser.execute_script("return matchMedia('print').matches")
        with full_page(browser):
            printed = browser.execute_script(VISIBLE)
            sections = browser.execute_script(
                "return [...document.querySelectorAll('main > section')].map(s => {"
                "const r = s.getBoundingClientRect(), c = getComputedStyle(s);"
                "return [s.querySelector('h2').textContent, r.height, c.display,"
                " c.visibility, c.breakBefore, s.innerText.length]; })"
            )
            hidden = browser.execute_script(
                "const all = [...document.body.querySelectorAll('*')];"
                "return arguments[0].map(i => all[i].closest('nav.toc, summary')"
                " ? null : all[i].outerHTML.slice(0, 80));",
                [
                    n
                    for n, (shown, kept) in enumerate(
                        zip(on_screen, printed, strict=True)
                    )
                    if shown and not kept
                ],
            )
            panels = browser.execute_script(
                "return [...document.querySelectorAll('.panel')]"
                ".map(p => Math.round(p.getBoundingClientRect().left))"
            )
            toc = browser.execute_script(
                "return getComputedStyle(document.querySelector('nav.toc')).display"
            )
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    assert [title for title, *_ in sections] == SECTIONS
    for title, height, display, visibility, _, text in sections:
        assert display != "none" and visibility == "visible", title
        assert height > 40 and text > 40, title
    # The map and the trends start a page of their own.
    breaks = {title: before for title, _, _, _, before, _ in sections}
    assert breaks["Strategy map"] == breaks["Trends"] == "page"
    # Only the navigation and the folds' toggles are left out of print.
    assert toc == "none"
    assert [shown for shown in hidden if shown] == []
    # One column: every perspective's panel starts at the same left edge.
    assert len(panels) == 4 and len(set(panels)) == 1


@pytest.mark.browser
def test_the_rendered_figures_are_the_stored_ones(browser, demo):
    folder, _ = demo
    open_page(browser, folder / DEFAULT_NAME)
    figures = browser.execute_script(
        "return [...document.querySelectorAll('[data-figure]')].map("
        "e => [e.dataset.figure, e.dataset.value, e.textContent]);"
    )
    database = folder / "headway.db"
    seen = check_figures([tuple(f) for f in figures], stored_figures(database, 6))
    assert references(database, 6) <= seen
    # What a reader sees, not only what the markup holds.
    score = browser.find_element("css selector", '[data-figure="snapshot::score"]')
    assert (
        score.is_displayed()
        and score.text == f"{stored_figures(database, 6)['snapshot::score']:.0f}"
    )


@pytest.mark.browser
def test_markup_in_titles_shows_as_text_and_runs_nothing(browser, xss_report: Path):
    console = open_page(browser, xss_report)
    no_alert(browser)
    assert [e for e in console if e["level"] == "SEVERE"] == []
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.find_elements("css selector", "img, b, svg[onload], [onerror]") == []
    text = browser.find_element("tag name", "body").text
    for payload in PAYLOADS.values():
        assert payload in text
    assert (
        browser.title == f"Acme {PAYLOADS['script']}: 2026-01-01..2026-01-10 scorecard"
    )
    assert browser.find_elements("css selector", 'a[href^="javascript"]') == []


@pytest.mark.browser
def test_a_large_report_renders_within_a_second(browser, large):
    folder, _, _ = large
    # The machine is shared: a busy moment can slow any one load, so the page
    # gets up to ten tries to show that it can be loaded and painted in 1 s.
    times: list[float] = []
    while len(times) < 10 and (not times or min(times) >= 1000):
        console = open_page(browser, folder / DEFAULT_NAME)
        assert [e for e in console if e["level"] == "SEVERE"] == []
        times.append(
            browser.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "const p = performance.getEntriesByType('paint').map(e => e.startTime);"
                "return Math.max(n.loadEventEnd, ...p);"
            )
        )
    assert len(browser.find_elements("css selector", "svg.map g.node")) == 50
    assert min(times) < 1000, times
