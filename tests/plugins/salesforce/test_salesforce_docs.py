"""docs/connectors/salesforce.md documents every key, kind and measure function."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from headway_salesforce import SalesforceConfig
from headway_salesforce.config import DEFAULT_EFFORT
from headway_salesforce.measures import MEASURES

GUIDE = (
    Path(__file__).resolve().parents[3] / "docs" / "connectors" / "salesforce.md"
).read_text(encoding="utf-8")
KEYS = [field.alias or field.name for field in attrs.fields(SalesforceConfig)]


@pytest.mark.parametrize("key", KEYS, ids=KEYS)
def test_every_key_has_a_row_in_the_configuration_table(key):
    assert re.search(rf"^\| `{key}` \|", GUIDE, flags=re.M), key


@pytest.mark.parametrize("name", [m[0] for m in MEASURES], ids=[m[0] for m in MEASURES])
def test_every_measure_function_is_documented(name):
    assert f"| `{name}` |" in GUIDE


def test_the_guide_has_the_sections_a_user_needs():
    headings = re.findall(r"^## (.+)$", GUIDE, flags=re.M)
    for heading in (
        "Set-up",
        "Configuration",
        "What becomes of each field",
        "Measures",
        "Known limitations",
    ):
        assert heading in headings
    for kind in ("opportunity", "case", *DEFAULT_EFFORT):
        assert f"`{kind}`" in GUIDE
