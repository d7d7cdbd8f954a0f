"""Broken source tables, generated, for the four real connectors.

``tests/core/test_config_fuzz.py`` breaks the whole file but only ever
meets the demo connector; this breaks the tables the connectors read
themselves. Building the connectors (what ``headway sync`` does before any
request or write) must either succeed or raise a ``ConfigError`` whose every
problem sits at a key of that source, on one line, and shows no secret.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import headway_gcal
import headway_github
import headway_jira
import headway_salesforce
from headway.config import parse_config
from headway.errors import ConfigError
from headway.plugins import Plugins
from headway.sync import plan_sync

from .sources import SOURCES

URL = "https://service.invalid"
TABLES: dict[str, dict[str, Any]] = {
    source.name: {"plugin": source.harness.connector, **source.harness.options(URL)}
    for source in SOURCES
}
ENVIRON = {k: v for source in SOURCES for k, v in source.harness.environ.items()}
SECRETS = [v for source in SOURCES for v in source.harness.secret_values()]

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3000),
    st.sampled_from([10**30, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "${UNSET_FUZZ_VAR}",
            "http://",
            "ftp://x",
            "not a url",
            "10m",
            "-5s",
            "2026-13-40",
            "owner/",
            "Opportunity",
            "([",
        ]
    ),
    st.lists(st.one_of(st.text(max_size=6), st.integers()), max_size=3),
    st.dictionaries(
        st.text(min_size=1, max_size=6),
        st.one_of(st.text(max_size=6), st.integers()),
        max_size=3,
    ),
)


@st.composite
def broken_tables(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(TABLES)))
    table = copy.deepcopy(TABLES[name])
    for _ in range(draw(st.integers(1, 3))):
        keys = [key for key in table if key != "plugin"]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "add" or not keys:
            table[draw(st.sampled_from(["tiemout", "token_url", "teams", "x"]))] = draw(
                VALUES
            )
        elif action == "delete":
            del table[draw(st.sampled_from(keys))]
        else:
            table[draw(st.sampled_from(keys))] = draw(VALUES)
    return name, {k: v for k, v in table.items() if v is not None}


def plugins() -> Plugins:
    found = Plugins.create(entry_points=False, builtins=False)
    for module, name in (
        (headway_jira, "jira"),
        (headway_github, "github"),
        (headway_gcal, "gcal"),
        (headway_salesforce, "salesforce"),
    ):
        found.register(module, name)
    return found


PLUGINS = plugins()


def test_the_unbroken_tables_build() -> None:
    config = parse_config({"sources": TABLES}, environ=ENVIRON)
    assert len(plan_sync(config, PLUGINS, environ=ENVIRON).built) == 4


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(broken=broken_tables())
def test_a_broken_source_table_is_a_config_error_at_its_keys(
    broken: tuple[str, dict[str, Any]],
) -> None:
    name, table = broken
    try:
        config = parse_config({"sources": {name: table}}, environ=ENVIRON)
        plan_sync(config, PLUGINS, environ=ENVIRON)
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.path == f"sources.{name}" or problem.path.startswith(
                f"sources.{name}."
            ), problem
            assert (
                problem.message
                and "\n" not in str(problem)
                and "\r" not in str(problem)
            )
        text = str(error)
        for secret in SECRETS:
            assert secret not in text
