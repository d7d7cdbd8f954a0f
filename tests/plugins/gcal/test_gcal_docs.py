"""docs/connectors/gcal.md documents every setting, measure and attribute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from headway_gcal.config import GcalConfig
from headway_gcal.measures import MEASURES
from tests.plugins.gcal.fake_gcal import FakeCalendar

DOC = Path(__file__).resolve().parents[3] / "docs" / "connectors" / "gcal.md"


def rows() -> set[str]:
    """The first cell of every table row, as written (``key``)."""
    cells = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells.add(line.split("|")[1].strip())
    return cells


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = rows()
    missing = [
        f.name for f in attrs.fields(GcalConfig) if f"`{f.name}`" not in documented
    ]
    assert not missing, missing


def test_every_measure_is_documented() -> None:
    documented = rows()
    assert not [name for name, _, _ in MEASURES if f"`{name}`" not in documented]


def test_every_attribute_an_item_can_carry_is_documented(
    calendar: FakeCalendar, sync: Any, items: Any
) -> None:
    calendar.put_raw(
        "bob@acme.com",
        {
            "id": "odd1",
            "status": "confirmed",
            "start": {"dateTime": "2026-10-06T10:00:00Z"},
            "end": {"dateTime": "2026-10-06T11:00:00Z"},
            "transparency": "transparent",
            "visibility": "private",
            "attendeesOmitted": True,
            "brandNewField": 1,
        },
    )
    assert sync().status == "ok"

    seen = {name for item in items().values() for name in item["attributes"]}
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in sorted(seen) if f"`{name}`" not in text]
    assert not missing, missing
