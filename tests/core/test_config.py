"""Configuration: every problem reported at once, each at its key path."""

from __future__ import annotations

import json

import pytest

from headway.config import find_config, load_config, resolve_options
from headway.errors import ConfigError
from headway.model import Period
from headway.secrets import Secret, redact

GOOD = """
[scorecard]
name = "Acme"
period = "2026-Q4"

[teams.platform]
members = ["alice@acme.com"]

[people."alice@acme.com"]
aliases = ["github:alice"]

[[objectives]]
id = "P1"
perspective = "process"
title = "Automate releases"
drives = ["C1"]

[[objectives]]
id = "C1"
perspective = "customer"
title = "Delight customers"

[[measures]]
id = "P1.lead"
objective = "P1"
title = "Lead time"
baseline = 72
target = 24

[[rules]]
objective = "P1"
labels = ["ci"]

[[rules]]
objectives = { P1 = 0.6, C1 = 0.4 }
title = "(?i)release"

[[rules]]
category = "overhead"
kind = "meeting"

[sources.jira]
plugin = "jira"
token = "${JIRA_TOKEN}"
"""


def problems(write_config, text: str, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config(write_config(text), **kwargs)
    return [str(p) for p in error.value.problems]


def test_a_valid_config_loads_into_the_model(write_config):
    config = load_config(write_config(GOOD), plugins=["jira"])
    card = config.scorecard
    assert card.name == "Acme"
    assert card.period == Period.parse("2026-Q4")
    assert [p.key for p in card.perspectives] == [
        "financial",
        "customer",
        "process",
        "learning",
    ]
    assert [o.id for o in card.objectives] == ["P1", "C1"]
    assert card.rules[1].shares == (("P1", 0.6), ("C1", 0.4))
    assert card.rules[2].category == "overhead" and card.rules[2].kind == ("meeting",)
    assert card.team_of() == {"alice@acme.com": "platform", "github:alice": "platform"}
    assert config.database == config.file.parent / "headway.db"


def test_every_problem_is_reported_at_once_with_its_path(write_config):
    found = problems(
        write_config,
        """
        [scorecard]
        name = "Acme"
        period = "2026-Q5"
        colour = "red"

        [perspectives.financial]
        weight = 0

        [[objectives]]
        id = "P1"
        perspective = "finance"
        drives = ["C9"]

        [[objectives]]
        id = "P1"
        perspective = "process"

        [[measures]]
        id = "M1"
        objective = "P2"
        baseline = 5
        target = 5

        [[measures]]
        id = "M2"
        objective = "P1"
        target = "high"

        [[rules]]
        objective = "P1"
        title = "([unclosed"

        [[rules]]
        objectives = { P1 = 0.5 }

        [[rules]]
        labels = ["x"]
        """,
    )
    # Each of these must be among them, in file order within its kind.
    expected = [
        "scorecard.colour: unknown key",
        "scorecard.period:",
        "perspectives.financial.weight: must be greater than 0",
        "objectives[0].perspective: unknown perspective 'finance'",
        "objectives[0].drives: unknown objective 'C9'",
        "objectives[1].id: duplicate id 'P1'",
        "measures[0].target: equals baseline",
        "measures[0].objective: unknown objective 'P2'",
        "measures[1].target: must be a number",
        "rules[0].title: is not a valid regex",
        "rules[1].objectives: shares must sum to 1, they sum to 0.5",
        "rules[2]: a rule assigns exactly one of",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in found), (start, found)
    assert len(found) == len(expected)


OBJECTIVE = '[[objectives]]\nid = "P1"\nperspective = "process"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            OBJECTIVE + '[[measures]]\nid = "M1"\nobjective = "NOPE"\ntarget = "high"',
            [
                "measures[0].target: must be a number, got a string",
                "measures[0].objective: unknown objective 'NOPE'",
            ],
            id="measure",
        ),
        pytest.param(
            '[[key_results]]\nobjective = "NOPE"\nmeasure = "M9"\nstart = 0\n'
            "target = 1",
            [
                "key_results[0].id: is required",
                "key_results[0].objective: unknown objective 'NOPE'",
                "key_results[0].measure: unknown measure 'M9'",
            ],
            id="key-result",
        ),
        pytest.param(
            '[[objectives]]\nid = "P1"\ndrives = ["X"]',
            [
                "objectives[0].perspective: is required",
                "objectives[0].drives: unknown objective 'X'",
            ],
            id="objective",
        ),
        pytest.param(
            OBJECTIVE + '[[measures]]\nid = "M1"\nobjective = "P1"\ntarget = "high"\n'
            '[[key_results]]\nid = "M1"\nobjective = "P1"\nstart = 0\ntarget = 1',
            [
                "measures[0].target: must be a number, got a string",
                "key_results[0].id: duplicate id 'M1' (first at measures[0])",
            ],
            id="duplicate",
        ),
        pytest.param(
            '[[objectives]]\nid = "P1"\n'
            '[[measures]]\nid = "M1"\nobjective = "P1"\ntarget = "high"\n'
            '[[key_results]]\nid = "K1"\nobjective = "P1"\nmeasure = "M1"\n'
            "start = 0\ntarget = 1",
            [
                "objectives[0].perspective: is required",
                "measures[0].target: must be a number, got a string",
            ],
            id="still-known",
        ),
    ],
)
def test_an_entry_that_cannot_be_built_has_its_references_checked(
    write_config, text, expected
):
    # One run shows every problem: a bad field does not hide a bad reference
    # of the same entry, nor make the entry unknown to those that name it.
    assert problems(write_config, text) == expected


def test_a_key_result_cannot_take_its_value_from_an_activity_measure(write_config):
    found = problems(
        write_config,
        OBJECTIVE + '[[measures]]\nid = "M1"\nobjective = "P1"\nkind = "activity"\n'
        "target = 10\n"
        '[[key_results]]\nid = "K1"\nobjective = "P1"\nmeasure = "M1"\n'
        "start = 0\ntarget = 1",
    )
    assert len(found) == 1
    assert found[0].startswith(
        "key_results[0].measure: 'M1' is an activity measure, shown but never scored"
    )


def test_a_number_too_large_for_a_float_is_a_problem_at_its_key(write_config):
    found = problems(
        write_config,
        OBJECTIVE + '[[measures]]\nid = "M1"\nobjective = "P1"\ntarget = 1' + "0" * 400,
    )
    assert found == ["measures[0].target: must be a finite number, got inf"]


def test_unknown_keys_get_a_suggestion(write_config):
    found = problems(
        write_config, '[[objectives]]\nid = "P1"\nperspectve = "process"\n'
    )
    assert (
        'objectives[0].perspectve: unknown key (did you mean "perspective"?)' in found
    )
    assert "objectives[0].perspective: is required" in found


def test_drives_cycles_are_found(write_config):
    found = problems(
        write_config,
        """
        [[objectives]]
        id = "A"
        perspective = "process"
        drives = ["B"]
        [[objectives]]
        id = "B"
        perspective = "customer"
        drives = ["C"]
        [[objectives]]
        id = "C"
        perspective = "financial"
        drives = ["A"]
        """,
    )
    assert found == ["objectives: drives form a cycle: A -> B -> C -> A"]


def test_unknown_plugin_is_a_problem_naming_the_installed_ones(write_config):
    found = problems(
        write_config,
        GOOD.replace('plugin = "jira"', 'plugin = "jiar"'),
        plugins=["jira", "demo"],
    )
    assert found == [
        "sources.jira.plugin: no connector named 'jiar' (did you mean \"jira\"?); "
        "installed: demo, jira (install its package, e.g. pip install headway-jiar)"
    ]


@pytest.mark.parametrize(
    ("value", "words"),
    [(" ", "not empty"), ("a\\u0000b.db", "without NUL")],
    ids=["blank", "nul"],
)
def test_a_database_path_no_file_system_takes_is_a_problem(write_config, value, words):
    found = problems(
        write_config, f'[scorecard]\nname = "Acme"\ndatabase = "{value}"\n'
    )
    (problem,) = [p for p in found if p.startswith("scorecard.database")]
    assert words in problem


def test_not_toml_is_one_clear_problem(write_config):
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(write_config("[scorecard\nname = 1"))


def test_missing_file_says_how_to_create_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="headway init"):
        find_config()


def test_config_path_comes_from_the_environment(write_config, monkeypatch):
    path = write_config(GOOD, name="other.toml")
    monkeypatch.setenv("HEADWAY_CONFIG", str(path))
    assert find_config() == path.resolve()


def test_source_secrets_are_read_at_sync_time_and_never_shown(write_config):
    config = load_config(write_config(GOOD))  # no JIRA_TOKEN needed to load
    options, missing = resolve_options(
        config.sources["jira"], {"JIRA_TOKEN": "s3cr3t-value"}
    )
    assert missing == []
    assert isinstance(options["token"], Secret)
    assert options["token"].reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(options) and "s3cr3t" not in str(options)
    assert redact("token=s3cr3t-value") == "token=***"
    options, missing = resolve_options(config.sources["jira"], {})
    assert [str(p) for p in missing] == [
        "sources.jira.token: environment variable JIRA_TOKEN is not set; export it "
        "before running headway"
    ]


def test_source_tables_can_be_resolved_without_using_a_secret(write_config):
    text = GOOD + 'url = "${JIRA_URL}"\npat = "${JIRA_PAT}"\n'
    source = load_config(write_config(text)).sources["jira"]
    environ = {"JIRA_TOKEN": "s3cr3t-value", "JIRA_URL": "https://acme.example"}
    options, missing = resolve_options(source, environ, secrets=False)
    assert options["token"] == Secret("***")
    assert options["url"] == "https://acme.example"
    assert [str(p) for p in missing] == [
        "sources.jira.pat: environment variable JIRA_PAT is not set; export it "
        "before running headway"
    ]
    # Its value is not used, but masked wherever else it shows.
    assert redact("saw s3cr3t-value") == "saw ***"


def test_snapshot_data_masks_a_password_written_into_a_url(write_config):
    text = GOOD + '\n[sources.gh]\nplugin = "github"\n'
    text += 'api_url = "https://bob:PASSW0RD@ghe.example/api/v3"\n'
    stored = json.dumps(load_config(write_config(text)).snapshot_data())
    assert "PASSW0RD" not in stored
    assert "https://bob:***@ghe.example/api/v3" in stored


def test_snapshot_data_excludes_secrets(write_config):
    text = GOOD + '\n[sources.gh]\nplugin = "github"\ntoken = "ghp_literal_token"\n'
    config = load_config(write_config(text))
    data = config.snapshot_data()
    assert data["sources"]["jira"]["token"] == "${JIRA_TOKEN}"
    assert data["sources"]["gh"]["token"] == "***"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q4", "2026-10-01", "2026-12-31"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2026", "2026-01-01", "2026-12-31"),
        ("2026-10-15..2026-11-14", "2026-10-15", "2026-11-14"),
    ],
    ids=["quarter", "month", "leap-month", "year", "range"],
)
def test_periods_parse(text, start, end):
    period = Period.parse(text)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)


@pytest.mark.parametrize(
    "text", ["2026-Q0", "Q4", "2026-13", "2026-12-01..2026-11-01", "soon"]
)
def test_bad_periods_are_refused(text):
    with pytest.raises(ValueError):
        Period.parse(text)


def test_period_bounds_are_exclusive_at_the_end():
    assert Period.parse("2026-Q4").bounds() == (
        "2026-10-01T00:00:00.000Z",
        "2027-01-01T00:00:00.000Z",
    )


def test_problems_name_the_entry_even_after_an_invalid_one(write_config):
    found = problems(
        write_config,
        """
        [[objectives]]
        perspective = "process"
        [[objectives]]
        id = "C1"
        perspective = "customer"
        drives = ["F1"]
        """,
    )
    assert found == [
        "objectives[0].id: is required",
        "objectives[1].drives: unknown objective 'F1'",
    ]
