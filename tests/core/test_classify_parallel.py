"""Classifying every item on several threads gives what one thread gives.

A full classification of a large store shares its first pass with helper
threads that read the store on connections of their own and write to
scratch databases (headway.rules._Helper). These tests lower the size at
which that starts, so a small store takes the same path.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from headway import rules as rules_module
from headway.plugins import Plugins
from headway.rules import Classifier, classification_helpers, rule_set
from headway.snapshots import score

from ._scorecard import config, fill, item, python_assignments, read_assignments

RULES = [
    {"category": "overhead", "kind": "meeting", "title": "(?i)standup"},
    {"objective": "C1", "kind": "meeting", "title": "(?i)^(customer|demo) call"},
    {"objective": "P1", "labels": ["ci", "release"]},
    {"objectives": {"F1": 0.6, "C1": 0.4}, "attributes": {"issuetype": "Epic"}},
    {"objective": "L1", "team": "b", "title": r"(?i)\bresearch\b"},
    {"category": "unaligned", "title": "(?i)spike"},
    {"objective": "P1", "people": ["ann@x.com"], "source": "gh"},
]

TITLES = ["Daily standup", "Customer call: Acme", "Research caching", "Spike: db",
          "Fix login", "Demo call", "Release notes", "Bump deps"]  # fmt: skip


def items(count: int, seed: int = 3) -> list[Any]:
    """Epics, stories and sub-tasks, meetings and pull requests, with teams
    the connector set (some not in [teams]) and people resolving others."""
    rng = random.Random(seed)
    made: list[Any] = []
    epics: list[str] = []
    stories: list[str] = []
    for n in range(count):
        roll = rng.random()
        ident = f"I{n}"
        fields: dict[str, Any] = {
            "title": rng.choice(TITLES),
            "effort": float(rng.randrange(1, 9)),
            "people": rng.choice(
                [["ann@x.com"], ["BOB@x.com", "ann@x.com"], ["gh:ann"], ["z@y.com"], []]
            ),
            "team": rng.choice([None, None, "a", "outsiders", ""]),
        }
        if roll < 0.1:
            epics.append(ident)
            made.append(item(ident, key=f"E-{n}", attributes={"issuetype": "Epic"},
                             labels=rng.choice([[], ["ci"]]), **fields))  # fmt: skip
        elif roll < 0.55 and epics:
            stories.append(ident)
            made.append(item(ident, parent=rng.choice(epics), **fields))
        elif roll < 0.7 and stories:
            made.append(item(ident, parent=rng.choice(stories), **fields))
        elif roll < 0.85:
            made.append(item(ident, source="gh", kind="pull_request", **fields))
        else:
            made.append(item(ident, source="cal", kind="meeting", **fields))
    return made


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Helper threads for a store of a few hundred items, in small ranges."""
    monkeypatch.setattr(rules_module, "PARALLEL_ITEMS", 50)
    monkeypatch.setattr(rules_module, "_MIN_RANGE", 16)
    monkeypatch.setattr(rules_module, "_cores", lambda: 3)


def classify(store: Any, ruleset: Any, helpers: int) -> int:
    """A full classification with ``helpers`` helper threads, committed; the
    number of rows the helpers wrote."""
    with (
        store.scratch(helpers) as scratch,
        store.transaction(lock_attached=False) as conn,
    ):
        Classifier(conn, ruleset, store=store.path, scratch=scratch).refresh(full=True)
        written = 0
        for part in scratch:
            if conn.execute(f"SELECT 1 FROM {part.name}.sqlite_master").fetchone():
                written += conn.execute(
                    f"SELECT count(*) FROM {part.name}.part"
                ).fetchone()[0]
        return written


def test_helper_threads_classify_as_one_thread_does(tmp_path: Path, parallel: None):
    store = fill(tmp_path / "h.db", items(600))
    ruleset = rule_set(config(RULES).scorecard)
    assert classification_helpers(store.conn, ruleset) == 2

    written = classify(store, ruleset, 2)
    shared = read_assignments(store, ruleset)
    classify(store, ruleset, 0)
    alone = read_assignments(store, ruleset)

    assert 0 < written < 600
    assert shared == alone == python_assignments(store, ruleset)
    assert {row[7] for rows in alone.values() for row in rows} >= {"a", "outsiders"}
    store.close()


def test_a_failing_helper_leaves_the_pass_to_one_thread(
    tmp_path: Path,
    parallel: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    store = fill(tmp_path / "h.db", items(300))
    ruleset = rule_set(config(RULES).scorecard)

    def full_disk(self: Any) -> sqlite3.Connection:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(rules_module._Helper, "_connect", full_disk)
    with caplog.at_level(logging.WARNING, logger="headway.rules"):
        assert classify(store, ruleset, 2) == 0

    assert "classifying on 3 threads failed (database or disk is full)" in caplog.text
    assert read_assignments(store, ruleset) == python_assignments(store, ruleset)
    store.close()


def test_helpers_only_for_a_full_classification_of_a_large_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(rules_module, "PARALLEL_ITEMS", 100)
    monkeypatch.setattr(rules_module, "_cores", lambda: 8)
    ruleset = rule_set(config(RULES).scorecard)
    store = fill(tmp_path / "h.db", items(60))
    assert classification_helpers(store.conn, ruleset) == 0  # too few items
    fill(tmp_path / "h.db", items(200)).close()
    assert classification_helpers(store.conn, ruleset) == rules_module.MAX_HELPERS
    classify(store, ruleset, 0)
    assert classification_helpers(store.conn, ruleset) == 0  # cached
    assert classification_helpers(store.conn, ruleset, full=True) == 3
    monkeypatch.setattr(rules_module, "_cores", lambda: 1)
    assert classification_helpers(store.conn, ruleset, full=True) == 0
    store.close()


def test_a_score_on_helper_threads_saves_the_same_snapshot(
    tmp_path: Path, parallel: None, monkeypatch: pytest.MonkeyPatch
):
    cfg = config(RULES, database=tmp_path / "h.db")
    plugins = Plugins.create(entry_points=False)
    store = fill(tmp_path / "h.db", items(500))
    moment = {"as_of": date(2026, 1, 9), "now": datetime(2026, 1, 12, tzinfo=UTC)}

    preview = score(cfg, store, plugins, save=False, **moment)
    # --no-save leaves no cache behind, the helpers' work included.
    assert store.conn.execute("SELECT count(*) FROM classified").fetchone() == (0,)
    shared = score(cfg, store, plugins, **moment)
    monkeypatch.setattr(rules_module, "_cores", lambda: 1)
    alone = score(cfg, store, plugins, reclassify=True, **moment)

    def figures(run: Any) -> Any:
        data = run.data
        return data["snapshot"]["alignment"], data["allocations"], data["insights"]

    assert figures(preview) == figures(shared) == figures(alone)
    assert shared.data["snapshot"]["items"] == 500
    store.close()


def test_without_a_scratch_folder_a_score_classifies_on_one_thread(
    tmp_path: Path,
    parallel: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    cfg = config(RULES, database=tmp_path / "h.db")
    plugins = Plugins.create(entry_points=False)
    store = fill(tmp_path / "h.db", items(300))

    def no_room(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.mkdtemp", no_room)
    with caplog.at_level(logging.WARNING, logger="headway.store"):
        run = score(cfg, store, plugins, as_of=date(2026, 1, 9))

    assert "no scratch folder for work on several threads" in caplog.text
    assert "No space left on device" in caplog.text
    assert run.classification.classified == 300
    ruleset = rule_set(cfg.scorecard, plugins)
    assert read_assignments(store, ruleset) == python_assignments(store, ruleset)
    store.close()
