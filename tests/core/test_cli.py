"""The command line: help everywhere, exit codes, no tracebacks for mistakes."""

from __future__ import annotations

import json
import logging
import sqlite3

import click
import pytest
from click.testing import CliRunner

from headway import hookimpl
from headway.cli import build_cli
from headway.config import load_config


def all_command_paths(group: click.Group, prefix=()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        paths.append(path)
        if isinstance(command, click.Group):
            paths += all_command_paths(command, path)
    return paths


def test_every_command_has_help(plugins, run_cli):
    paths = all_command_paths(build_cli(plugins))
    assert {"sync", "query", "init", "demo", "plugins", "state"} <= {
        p[0] for p in paths
    }
    for path in paths:
        result = run_cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.stdout
        command = build_cli(plugins)
        for part in path:
            command = command.commands[part]
        assert command.help, f"{' '.join(path)} has no help text"


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["sync", "--no-such-option"],
        ["-v", "-q", "plugins"],
        ["query"],
        ["query", "select 1", "--json", "--csv"],
        ["query", "select 1", "--param", "novalue"],
        ["state", "reset"],
        ["demo", "--seed", "many"],
    ],
    ids=[
        "unknown-command",
        "unknown-option",
        "verbose-and-quiet",
        "missing-sql",
        "json-and-csv",
        "bad-param",
        "missing-source",
        "bad-seed",
    ],
)
def test_misuse_exits_2_with_usage(run_cli, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output or "Error:" in result.output
    assert "Traceback" not in result.output


def test_a_missing_config_is_one_message_and_exit_1(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("sync")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no configuration file at headway.toml")
    assert "headway init" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_config_errors_are_listed_all_at_once(run_cli, write_config):
    path = write_config('[scorecard]\nperiod = "soon"\n[[objectives]]\nid = "X"\n')
    result = run_cli("--config", str(path), "sync")
    assert result.exit_code == 1
    assert "(2 problems)" in result.stderr
    assert "scorecard.period:" in result.stderr
    assert "objectives[0].perspective: is required" in result.stderr


def test_headway_debug_shows_the_traceback(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("sync", env={"HEADWAY_DEBUG": "1"})
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "ConfigError"


def test_init_writes_a_valid_config_and_refuses_to_overwrite(run_cli, tmp_path):
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "headway.toml")
    assert [p.key for p in config.scorecard.perspectives] == [
        "financial",
        "customer",
        "process",
        "learning",
    ]
    again = run_cli("init", str(tmp_path))
    assert again.exit_code == 1 and "--force" in again.stderr
    assert run_cli("init", str(tmp_path), "--force").exit_code == 0


@pytest.fixture
def synced(run_cli, write_config, scripted):
    path = write_config(
        '[sources.alpha]\nplugin = "scripted"\ncount = 12\npage_size = 5\n'
    )
    result = run_cli("--config", str(path), "sync", "--json")
    assert result.exit_code == 0, result.output
    return path


def test_sync_prints_a_row_per_source(synced, run_cli):
    result = run_cli("--config", str(synced), "sync", "--json", "--full")
    rows = json.loads(result.stdout)
    assert [(r["source"], r["status"], r["items"], r["pages"]) for r in rows] == [
        ("alpha", "ok", 12, 3)
    ]


def test_sync_exits_1_when_a_source_fails(run_cli, write_config, scripted):
    path = write_config(
        '[sources.alpha]\nplugin = "scripted"\ncount = 2\nfatal = "bad token"\n'
        '[sources.beta]\nplugin = "scripted"\ncount = 2\n'
    )
    result = run_cli("--config", str(path), "sync")
    assert result.exit_code == 1
    assert result.stderr.count("bad token") == 1, result.stderr
    assert "alpha: failed: bad token" in result.stderr
    assert "beta" in result.stdout and "ok" in result.stdout


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_query_prints_rows(synced, run_cli, fmt):
    args = [
        "--config",
        str(synced),
        "query",
        "select id, effort from items where id in ('T1', 'T2') order by id",
    ]
    if fmt != "table":
        args.append(f"--{fmt}")
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.stdout) == [
            {"id": "T1", "effort": 2.0},
            {"id": "T2", "effort": 3.0},
        ]
    elif fmt == "csv":
        assert result.stdout == "id,effort\nT1,2.0\nT2,3.0\n"
    else:
        assert "T1" in result.stdout and "2.00" in result.stdout


def test_query_binds_parameters(synced, run_cli):
    result = run_cli(
        "--config",
        str(synced),
        "query",
        "select count(*) as n from items where id = :id",
        "-p",
        "id=T3",
        "--json",
    )
    assert json.loads(result.stdout) == [{"n": 1}]


def test_query_json_is_strict_json_even_for_an_infinite_number(synced, run_cli):
    result = run_cli(
        "--config", str(synced), "query", "select 1e999 as big, 2.5 as small", "--json"
    )
    assert result.exit_code == 0, result.output

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    assert json.loads(result.stdout, parse_constant=refuse) == [
        {"big": None, "small": 2.5}
    ]


def test_query_refuses_writes_and_leaves_the_file_alone(synced, run_cli):
    db = synced.parent / "headway.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = db.read_bytes()
    result = run_cli("--config", str(synced), "query", "delete from items")
    assert result.exit_code == 1
    assert "headway query only reads" in result.stderr
    assert db.read_bytes() == before


def test_query_reports_sql_errors_plainly(synced, run_cli):
    result = run_cli("--config", str(synced), "query", "selec nonsense")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: SQL error:")
    missing = run_cli("--config", str(synced), "query", "select * from missing_table")
    assert (
        "no such table: missing_table" in missing.stderr
        and "docs/store.md" in missing.stderr
    )


def test_state_show_and_reset(synced, run_cli):
    shown = run_cli("--config", str(synced), "state", "show", "--json")
    assert json.loads(shown.stdout)[0]["state"] == {"offset": 12}
    reset = run_cli("--config", str(synced), "state", "reset", "alpha")
    assert reset.exit_code == 0 and "Dropped 1 cursor" in reset.stdout
    assert (
        json.loads(run_cli("--config", str(synced), "state", "show", "--json").stdout)
        == []
    )
    unknown = run_cli("--config", str(synced), "state", "reset", "nope")
    assert unknown.exit_code == 1 and "no source 'nope'" in unknown.stderr


def test_the_cursors_of_a_renamed_source_can_be_shown_and_reset(synced, run_cli):
    text = synced.read_text(encoding="utf-8").replace("[sources.alpha]", "[sources.a2]")
    synced.write_text(text, encoding="utf-8")
    shown = run_cli("--config", str(synced), "state", "show", "alpha", "--json")
    assert shown.exit_code == 0, shown.output
    assert [row["source"] for row in json.loads(shown.stdout)] == ["alpha"]
    reset = run_cli("--config", str(synced), "state", "reset", "alpha")
    assert reset.exit_code == 0 and "Dropped 1 cursor" in reset.stdout
    again = run_cli("--config", str(synced), "state", "reset", "alpha")
    assert again.exit_code == 1 and "no source 'alpha'" in again.stderr


def test_demo_builds_a_workspace(run_cli, tmp_path):
    result = run_cli("demo", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert "items from 5 sources" in result.stdout
    conn = sqlite3.connect(tmp_path / "demo" / "headway.db")
    kinds = dict(
        conn.execute("select kind, count(*) from items group by kind").fetchall()
    )
    assert sum(kinds.values()) >= 5000
    assert {"issue", "pull_request", "meeting", "opportunity"} <= set(kinds)
    config = load_config(tmp_path / "demo" / "headway.toml")
    card = config.scorecard
    assert len(card.teams) == 4
    assert len(card.objectives) >= 10 and len(card.rules) >= 25
    assert {o.perspective for o in card.objectives} == {
        "financial",
        "customer",
        "process",
        "learning",
    }
    assert conn.execute(
        "select count(*) from items where parent is not null"
    ).fetchone()[0]
    first = conn.execute(ITEM_COLUMNS).fetchall()
    conn.close()

    # Same seed, same data: a second demo stores exactly the same items.
    again = run_cli("demo", str(tmp_path / "demo"))
    assert again.exit_code == 0, again.output
    conn = sqlite3.connect(tmp_path / "demo" / "headway.db")
    assert conn.execute(ITEM_COLUMNS).fetchall() == first
    conn.close()


# Everything an item is, but when and by which run it was stored.
ITEM_COLUMNS = (
    "select source, id, key, kind, title, url, project, team, people, status, "
    "state, created_at, updated_at, closed_at, occurred_at, effort, points, "
    "value, labels, parent, attributes from items order by source, id"
)


def test_sync_check_tests_credentials_without_storing(run_cli, write_config, scripted):
    path = write_config(
        '[sources.alpha]\nplugin = "scripted"\ncount = 2\nfatal = "401: bad token"\n'
        '[sources.beta]\nplugin = "scripted"\ncount = 2\n'
    )
    result = run_cli("--config", str(path), "sync", "--check", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {"source": "alpha", "ok": False, "error": "401: bad token"},
        {"source": "beta", "ok": True, "error": None},
    ]
    assert not (path.parent / "headway.db").exists()
    assert run_cli("--config", str(path), "sync", "--check", "beta").exit_code == 0
    assert run_cli("--config", str(path), "sync", "--check", "--full").exit_code == 2


# ---------------------------------------------------------------- logging

CHATTY_TOKEN = "chatty-secret-token-5d1e"


class _ChattyConnector:
    """Logs on the SDK's module loggers and its own package's, like a plugin."""

    def __init__(self, context):
        self.context = context

    def check(self) -> None:
        pass

    def read(self, state):
        token = self.context.options["token"].reveal()
        logging.getLogger("headway_sdk.auth").info("sdk info: a new access token")
        logging.getLogger("headway_sdk.cursors").warning("sdk warning with %s", token)
        logging.getLogger(__name__).warning("plugin warning with %s", token)
        yield from ()


class _ChattyPlugin:
    @hookimpl
    def register_connectors(self, register) -> None:
        register("chatty", _ChattyConnector, description="logs a lot")


@pytest.fixture
def chatty(plugins, write_config):
    plugins.register(_ChattyPlugin(), "chatty")
    path = write_config(
        '[sources.alpha]\nplugin = "chatty"\ntoken = "${CHATTY_TOKEN}"\n'
    )
    yield lambda *flags: run_chatty(plugins, path, flags)
    plugins.unregister("chatty")


def run_chatty(plugins, path, flags):
    # As in a real process: no handler on the root logger (pytest's capture
    # handlers would swallow what Python's last-resort handler prints).
    handlers = logging.root.handlers[:]
    logging.root.handlers.clear()
    try:
        return CliRunner().invoke(
            build_cli(plugins),
            [*flags, "--config", str(path), "sync", "--json"],
            env={"CHATTY_TOKEN": CHATTY_TOKEN},
        )
    finally:
        logging.root.handlers[:] = handlers


def test_sdk_and_plugin_loggers_go_through_the_redacting_handler(chatty):
    result = chatty()
    assert result.exit_code == 0, result.output
    assert CHATTY_TOKEN not in result.stderr
    assert "warning: sdk warning with ***" in result.stderr
    assert "warning: plugin warning with ***" in result.stderr
    assert "sdk info" not in result.stderr


def test_quiet_silences_sdk_and_plugin_warnings(chatty):
    result = chatty("-q")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr, result.stderr
    assert CHATTY_TOKEN not in result.stderr


def test_verbose_shows_sdk_info(chatty):
    result = chatty("-v")
    assert result.exit_code == 0, result.output
    assert "info: sdk info: a new access token" in result.stderr
    assert CHATTY_TOKEN not in result.stderr


def test_a_run_leaves_the_loggers_as_they_were(chatty):
    names = ("headway", "headway_sdk", "tests", "urllib3")
    before = [
        (logging.getLogger(n).level, list(logging.getLogger(n).handlers)) for n in names
    ]
    assert chatty("-vv").exit_code == 0
    after = [
        (logging.getLogger(n).level, list(logging.getLogger(n).handlers)) for n in names
    ]
    assert after == before


# ---------------------------------------------------------------- workspaces


@pytest.mark.parametrize("command", ["init", "demo"])
def test_a_folder_that_cannot_be_created_is_one_error_line(run_cli, tmp_path, command):
    (tmp_path / "afile").write_text("not a folder")
    target = tmp_path / "afile" / "sub"
    result = run_cli(command, str(target))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr == (
        f"Error: cannot create the folder {target}: Not a directory\n"
    )


def test_demo_leaves_a_store_it_did_not_make(run_cli, tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    store = folder / "headway.db"
    conn = sqlite3.connect(store)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    before = store.read_bytes()
    result = run_cli("demo", str(folder))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"Error: {store} exists and `headway demo` did not make it" in (
        result.stderr
    )
    assert store.read_bytes() == before
    assert not (folder / "headway.toml").exists()


def test_demo_replaces_only_a_store_of_its_own(run_cli, tmp_path):
    from headway.store import Store
    from headway.workspace import DEMO_STORE, write_demo

    folder = tmp_path / "demo"
    config = write_demo(folder)
    assert f'database = "{DEMO_STORE}"' in config.read_text()
    with Store.open(folder / DEMO_STORE) as store:
        store.start_run("crm", "demo")
    write_demo(folder)  # the demo's own store: replaced
    assert not (folder / DEMO_STORE).exists()

    with Store.open(folder / DEMO_STORE) as store:
        store.start_run("crm", "demo")
        store.start_run("tickets", "jira")  # a real source synced into it
    before = (folder / DEMO_STORE).read_bytes()
    result = run_cli("demo", str(folder))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "holds data synced by other plugins than the demo's (jira)" in (
        result.stderr
    )
    assert (folder / DEMO_STORE).read_bytes() == before


def test_state_show_in_a_fresh_workspace_creates_no_store(run_cli, write_config):
    config = write_config('[scorecard]\nname = "fresh"\n')
    result = run_cli("--config", str(config), "state", "show")
    assert not (config.parent / "headway.db").exists()
    assert result.exit_code == 1, result.output
    assert "no store at" in result.stderr


def test_headway_debug_0_is_off(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("sync", env={"HEADWAY_DEBUG": "0"})
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", ["sync", "check"])
def test_sync_and_check_report_scorecard_and_source_problems_at_once(
    run_cli, write_config, scripted, command
):
    path = write_config(
        """
        [scorecard]
        name = "Both"
        period = "2026-Q5"

        [sources.alpha]
        plugin = "scripted"
        count = 2
        colour = "red"

        [sources.beta]
        plugin = "scripted"
        count = 2
        token = "${NOT_SET_ANYWHERE}"
        """
    )
    result = run_cli("--config", str(path), command)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "scorecard.period" in result.stderr
    assert "sources.alpha.colour: unknown key" in result.stderr
    assert "sources.beta.token" in result.stderr and "NOT_SET_ANYWHERE" in result.stderr
    assert not (path.parent / "headway.db").exists()


@pytest.mark.parametrize("command", ["sync", "check", "score"])
def test_an_unknown_plugin_is_one_problem_for_every_command(
    run_cli, write_config, scripted, command
):
    path = write_config(
        '[scorecard]\nname = "One"\n[sources.alpha]\nplugin = "nonexistent"\n'
    )
    result = run_cli("--config", str(path), command)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("no connector named 'nonexistent'") == 1, result.stderr


def test_score_reports_the_scorecard_without_asking_for_source_secrets(
    run_cli, write_config, scripted
):
    path = write_config(
        '[scorecard]\nname = "S"\nperiod = "2026-Q5"\n'
        '[sources.beta]\nplugin = "scripted"\ncount = 2\ntoken = "${NOT_SET}"\n'
    )
    result = run_cli("--config", str(path), "score")
    assert result.exit_code == 1, result.output
    assert "scorecard.period" in result.stderr
    assert "NOT_SET" not in result.stderr


@pytest.mark.parametrize("scale", [0, -1, 101, 2**63, 10**400, "big"])
def test_a_demo_source_refuses_a_scale_it_cannot_generate(run_cli, write_config, scale):
    # A scale in the millions would fill the memory before a page is read.
    path = write_config('[sources.d]\nplugin = "demo"\nscale = ' + repr(scale) + "\n")
    result = run_cli("--config", str(path), "sync")
    assert result.exit_code == 1, result.output
    assert "sources.d.scale: must be a number greater than 0 and at most 100" in (
        result.stderr
    )
    assert "Traceback" not in result.output
