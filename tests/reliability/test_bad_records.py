"""Bad records through the real connectors: set aside with their reason, the
rest of their page stored, the run ``partial`` with a count; and unknown
fields kept."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from headway_sdk import FakeClock
from headway_sdk.testing import FakeApi, FakeResponse, stored_items

from .faults import FaultPlan
from .sources import SOURCES, Source

CASES = [(source, variant) for source in SOURCES for variant in source.bad]


def by_id(database: Path) -> dict[str, tuple[Any, ...]]:
    return {row[1]: row for row in stored_items(database)}


def query(database: Path, sql: str) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


@pytest.mark.parametrize(
    ("source", "variant"), CASES, ids=[f"{s.name}-{v}" for s, v in CASES]
)
def test_a_bad_record_is_set_aside_and_the_rest_of_its_page_is_stored(
    source: Source, variant: str, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    source.harness.serve(fake_api, source.harness.dataset())
    reference = tmp_path / "reference.db"
    assert source.sync(fake_api, reference).status == "ok"
    bad = source.bad[variant]
    broken: list[dict[str, Any]] = []

    def change(answer: FakeResponse) -> FakeResponse:
        changed, raw = source.break_record(answer, bad.change)
        broken.append(raw)
        return changed

    FaultPlan(fake_api).on(source.listing, change, nth=2, sticky=True)
    database = tmp_path / "headway.db"
    result = source.sync(fake_api, database)

    raw = broken[0]
    affected = source.item_ids(raw)
    expected, stored = by_id(reference), by_id(database)
    # Everything else, on that page and after it, is stored as without the fault.
    assert {k: v for k, v in stored.items() if k not in affected} == {
        k: v for k, v in expected.items() if k not in affected
    }
    rejected = query(database, "SELECT * FROM rejected")
    (run,) = query(database, "SELECT * FROM runs")
    if bad.reason is None:
        assert result.status == "ok", result.error
        assert rejected == []
        assert affected & stored.keys()
        return
    assert result.status == "partial", result.error
    assert result.rejected == run["rejected"] == 1
    assert "1 record(s) could not be stored" in (run["error"] or "")
    (row,) = rejected
    assert row["source"] == source.harness.source
    assert row["run_id"] == run["id"]
    if variant == "missing-required-field" and source.name == "salesforce":
        assert row["record_id"] is None  # the field missing is the id itself
    else:
        assert row["record_id"] in affected
    assert bad.reason.lower() in row["reason"].lower(), row["reason"]
    assert row["raw"], "the raw record is kept"
    if variant == "not-utf-8":
        # The bytes are kept, escaped, so nothing about them is lost.
        assert "\\xe9" in row["raw"] or "\\udce9" in row["raw"], row["raw"][:300]
    elif variant != "megabyte-title":
        assert json.loads(row["raw"]), row["raw"][:300]


@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_unknown_fields_of_a_record_are_kept_in_its_attributes(
    source: Source, fake_api: FakeApi, clock: FakeClock, tmp_path: Path
) -> None:
    source.harness.serve(fake_api, source.harness.dataset())
    field, value, where = source.extra
    *parents, last = field.split(".")
    broken: list[dict[str, Any]] = []

    def add(raw: dict[str, Any]) -> None:
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value

    def change(answer: FakeResponse) -> FakeResponse:
        changed, raw = source.break_record(answer, add)
        broken.append(raw)
        return changed

    FaultPlan(fake_api).on(source.listing, change, nth=2)
    database = tmp_path / "headway.db"
    result = source.sync(fake_api, database)

    assert result.status == "ok", result.error
    (raw,) = broken
    found = query(
        database,
        "SELECT id, attributes FROM items WHERE id IN ({})".format(
            ", ".join(f"'{i}'" for i in source.item_ids(raw))
        ),
    )
    assert found, "the record with an unknown field was not stored"
    attributes = json.loads(found[0]["attributes"])
    node = attributes
    for part in where.split("."):
        node = node[part]
    assert node == value
