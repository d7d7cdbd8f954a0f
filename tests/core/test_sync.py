"""The sync engine: pages and state in one transaction, resume, failures."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from headway import hookimpl
from headway.config import load_config
from headway.connectors import Page
from headway.store import Store
from headway.sync import Progress, run_sync

from .fakeplugin import make_items

CONFIG = """
[scorecard]
name = "Test"
period = "2026-Q4"

[sources.alpha]
plugin = "scripted"
count = {count}
page_size = 10
{extra}

[sources.beta]
plugin = "scripted"
count = 25
prefix = "B"
page_size = 5
"""


def rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT source, id, key, kind, title, state, effort, labels, people, "
            "updated_at, deleted_at FROM items ORDER BY source, id"
        ).fetchall()
    finally:
        conn.close()


def state_rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT source, stream, partition, state FROM sync_state ORDER BY 1, 2"
        ).fetchall()
    finally:
        conn.close()


class CtrlC(Progress):
    """Presses Ctrl-C in the writer's thread after ``pages`` stored pages."""

    def __init__(self, pages: int):
        self.pages = pages

    def advance(self, result) -> None:
        if result.pages >= self.pages:
            raise KeyboardInterrupt


def sync(config_path: Path, plugins, names=(), full=False, progress=None):
    config = load_config(config_path, plugins=plugins.connectors().keys())
    with Store.open(config.database) as store:
        return run_sync(config, store, plugins, names, full=full, progress=progress)


def test_clean_sync_stores_every_item_and_the_final_state(
    write_config, plugins, scripted
):
    path = write_config(CONFIG.format(count=95, extra=""))
    report = sync(path, plugins)
    assert report.ok
    by_source = {r.source: r for r in report.results}
    assert by_source["alpha"].items == 95 and by_source["alpha"].pages == 10
    assert by_source["beta"].items == 25
    db = path.parent / "headway.db"
    assert len(rows(db)) == 120
    assert ("alpha", "items", "", '{"offset": 95}') in state_rows(db)


@pytest.mark.parametrize("stop_after", [0, 1, 4, 9], ids=lambda n: f"after-{n}-pages")
def test_a_crash_mid_sync_resumes_to_the_same_rows_as_a_clean_run(
    write_config, plugins, scripted, tmp_path, stop_after
):
    text = CONFIG.format(count=95, extra="").replace(
        'period = "2026-Q4"', 'period = "2026-Q4"\ndatabase = "clean.db"'
    )
    clean = write_config(text, name="clean.toml")
    sync(clean, plugins)

    crashing = write_config(CONFIG.format(count=95, extra=""))
    scripted.overrides["alpha"] = {"crash_after": stop_after}
    sync(crashing, plugins, ["alpha"])
    stored = rows(tmp_path / "headway.db")
    assert len(stored) == stop_after * 10  # whole pages only

    scripted.overrides.clear()
    report = sync(crashing, plugins)
    assert report.ok
    assert rows(tmp_path / "headway.db") == rows(tmp_path / "clean.db")
    assert state_rows(tmp_path / "headway.db") == state_rows(tmp_path / "clean.db")
    # The resumed run read only what was missing.
    alpha = next(r for r in report.results if r.source == "alpha")
    assert alpha.items == 95 - stop_after * 10


def test_ctrl_c_keeps_stored_pages_and_records_the_run_as_partial(
    write_config, plugins, scripted
):
    path = write_config(CONFIG.format(count=40, extra=""))
    with pytest.raises(KeyboardInterrupt):
        sync(path, plugins, ["alpha"], progress=CtrlC(pages=2))
    conn = sqlite3.connect(path.parent / "headway.db")
    status, items, pages, error = conn.execute(
        "SELECT status, items, pages, error FROM runs WHERE source = 'alpha'"
    ).fetchone()
    assert (status, items, pages) == ("partial", 20, 2)
    assert "resumes" in error


def test_one_failing_source_does_not_stop_the_others(write_config, plugins, scripted):
    path = write_config(
        CONFIG.format(count=30, extra='fatal = "401 Unauthorized: check the token"')
    )
    report = sync(path, plugins)
    assert not report.ok
    results = {r.source: r for r in report.results}
    assert results["alpha"].status == "failed"
    assert "check the token" in results["alpha"].error
    assert results["beta"].status == "ok" and results["beta"].items == 25
    conn = sqlite3.connect(path.parent / "headway.db")
    assert conn.execute(
        "SELECT status, error FROM runs WHERE source = 'alpha'"
    ).fetchone() == ("failed", "401 Unauthorized: check the token")


def test_a_connector_bug_fails_its_source_with_the_plugin_named(
    write_config, plugins, scripted, caplog
):
    path = write_config(CONFIG.format(count=30, extra="crash_after = 1"))
    report = sync(path, plugins)
    alpha = next(r for r in report.results if r.source == "alpha")
    assert alpha.status == "failed"
    assert "connector 'scripted'" in alpha.error and "ZeroDivisionError" in alpha.error
    assert alpha.items == 10  # the page before the bug is kept
    assert "Traceback" in caplog.text  # a bug keeps its traceback, in the log


def test_config_problems_of_every_source_are_reported_before_any_work(
    write_config, plugins, scripted, monkeypatch
):
    monkeypatch.delenv("ALPHA_TOKEN", raising=False)
    path = write_config(
        """
        [sources.alpha]
        plugin = "scripted"
        token = "${ALPHA_TOKEN}"
        count = 3
        colour = "blue"

        [sources.beta]
        plugin = "scripted"
        """
    )
    from headway.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        sync(path, plugins)
    paths = [p.path for p in error.value.problems]
    assert paths == [
        "sources.alpha.token",
        "sources.alpha.colour",
        "sources.beta.count",
    ]
    assert "ALPHA_TOKEN is not set" in str(error.value)
    assert (
        not (path.parent / "headway.db").exists()
        or rows(path.parent / "headway.db") == []
    )


def test_unknown_source_name_is_a_config_error_with_a_suggestion(
    write_config, plugins, scripted
):
    path = write_config(CONFIG.format(count=3, extra=""))
    from headway.errors import ConfigError

    with pytest.raises(ConfigError, match='did you mean "alpha"'):
        sync(path, plugins, ["alpah"])


def test_a_second_sync_is_refused_while_one_holds_the_store(
    write_config, plugins, scripted
):
    path = write_config(CONFIG.format(count=3, extra=""))
    config = load_config(path, plugins=plugins.connectors().keys())
    from headway.errors import StoreLockedError

    with Store.open(config.database) as holder:
        holder.acquire_lock("sync")
        with (
            Store.open(config.database) as other,
            pytest.raises(
                StoreLockedError, match="another headway run holds the store"
            ),
        ):
            run_sync(config, other, plugins)


def test_runs_left_running_by_a_killed_process_are_closed(
    write_config, plugins, scripted
):
    path = write_config(CONFIG.format(count=3, extra=""))
    config = load_config(path, plugins=plugins.connectors().keys())
    with Store.open(config.database) as store:
        store.start_run("alpha", "scripted")  # as if the process died here
    sync(path, plugins)
    conn = sqlite3.connect(config.database)
    first = conn.execute(
        "SELECT status, error FROM runs ORDER BY id LIMIT 1"
    ).fetchone()
    assert first[0] == "failed" and first[1].startswith("interrupted")


def test_full_sync_ignores_saved_state(write_config, plugins, scripted):
    path = write_config(CONFIG.format(count=20, extra=""))
    sync(path, plugins)
    again = sync(path, plugins)
    assert {r.source: r.items for r in again.results} == {"alpha": 0, "beta": 0}
    full = sync(path, plugins, full=True)
    assert {r.source: r.items for r in full.results} == {"alpha": 20, "beta": 25}
    # Nothing changed, so nothing was rewritten.
    assert {r.source: r.changed for r in full.results} == {"alpha": 0, "beta": 0}


class Rendezvous:
    """A plugin whose sources wait for each other inside ``read``: they can
    only finish if they run at the same time."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.readers: set[str] = set()
        self.writers: set[str] = set()

    @hookimpl
    def register_connectors(self, register) -> None:
        register("rendezvous", self.build)

    def build(self, context):
        plugin = self

        class Connector:
            def check(self) -> None:
                pass

            def read(self, state):
                plugin.readers.add(threading.current_thread().name)
                plugin.barrier.wait()
                yield Page(make_items(3, prefix=context.name), stream="items")

        return Connector()


def test_sources_read_at_the_same_time_and_one_thread_writes(write_config, plugins):
    rendezvous = Rendezvous(parties=3)
    plugins.register(rendezvous, "rendezvous")
    path = write_config(
        '[scorecard]\nname = "T"\nperiod = "2026-Q4"\n'
        + "".join(f'[sources.{n}]\nplugin = "rendezvous"\n' for n in ("a", "b", "c"))
    )
    writes = []
    original = Store.write_page

    def write_page(self, *args, **kwargs):
        writes.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Store, "write_page", write_page)
            report = sync(path, plugins)
    finally:
        plugins.unregister("rendezvous")

    # Run one after another, the first source would wait for the others in
    # vain and fail when the barrier times out.
    assert report.ok, [r.error for r in report.results]
    assert len(rows(path.parent / "headway.db")) == 9
    assert len(rendezvous.readers) == 3
    assert len(writes) == 3 and len(set(writes)) == 1
    assert not set(writes) & rendezvous.readers
