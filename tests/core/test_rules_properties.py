"""Properties of classification, over generated rules and items (hypothesis).

- the SQL classifier and the Python reference agree on every item;
- an item's assignments always add up to its effort;
- classification does not depend on the order items arrive in.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.rules import classify_items, rule_set

from ._scorecard import config, fill, item, python_assignments, sql_assignments

TITLES = [
    "Daily standup",
    "Fix login",
    "a \\b c",
    "STANDUP notes",
    "fix bug",
    "Fix login",
    "CI run",
    "Straße",
    "\u212aelvin",
    "release v1.2",
    "",
    "café",
]
PATTERNS = [
    "(?i)standup",
    "^Fix",
    r"\bci\b",
    "(?i)kelvin",
    "Straße",
    "(?i)^(fix|release)",
    r"v1\.2",
    "e",
    "(?i)caf.",
    r"(?i)fix$|\bbug\b",
    r"^Daily|login$",
    r"\\b",
    "(?i)fix (login|bug)",
    "^(Daily|STANDUP) (standup|notes)",
    r"release v1\.(1|2)",
]
LABELS = ["ci", "release", "x y", 'q"t']
PEOPLE = ["ann@x.com", "GH:ANN", "bob@x.com", "carol", "jira:a1"]
ATTRIBUTE_VALUES = ["Epic", "Story", 1, True, ["Epic", "x"], {"k": 1}, None]
RULE_VALUES = ["Epic", "Story", 1, True, ["Story", 1]]

conditions = st.fixed_dictionaries(
    {},
    optional={
        "source": st.sampled_from(["jira", "gh", ["jira", "gh"]]),
        "kind": st.sampled_from(["issue", "meeting"]),
        "project": st.sampled_from(["A", ["A", "B"]]),
        "status": st.just("Done"),
        "state": st.sampled_from(["open", ["done", "cancelled"]]),
        "team": st.sampled_from(["a", "b", ["a", "b"]]),
        "labels": st.lists(st.sampled_from(LABELS), min_size=1, max_size=2),
        "title": st.sampled_from(PATTERNS),
        "parent": st.sampled_from(["0", "K-1", ["1", "K-2"]]),
        "people": st.sampled_from(["ann@x.com", "bob@x.com", ["carol", "gh:ann"]]),
        "attributes": st.fixed_dictionaries({"t": st.sampled_from(RULE_VALUES)}),
    },
)
assignments = st.sampled_from(
    [
        {"objective": "P1"},
        {"objective": "F1"},
        {"objectives": {"F1": 0.5, "C1": 0.5}},
        {"objectives": {"P1": 0.25, "L1": 0.75}},
        {"category": "overhead"},
        {"category": "unaligned"},
    ]
)
rules = st.lists(
    st.builds(lambda c, a: {**c, **a}, conditions, assignments), max_size=6
)


@st.composite
def work(draw: st.DrawFn) -> list:
    count = draw(st.integers(min_value=1, max_value=10))
    items = []
    for n in range(count):
        attributes = {}
        value = draw(st.sampled_from(ATTRIBUTE_VALUES))
        if value is not None:
            attributes["t"] = value
        items.append(
            item(
                str(n),
                source=draw(st.sampled_from(["jira", "gh"])),
                key=draw(st.sampled_from([None, f"K-{n}"])),
                kind=draw(st.sampled_from(["issue", "meeting"])),
                title=draw(st.sampled_from(TITLES)),
                project=draw(st.sampled_from([None, "A", "B"])),
                team=draw(st.sampled_from([None, None, "a", "b"])),
                status=draw(st.sampled_from([None, "Done"])),
                state=draw(st.sampled_from(["open", "done", "cancelled"])),
                people=draw(st.lists(st.sampled_from(PEOPLE), max_size=2)),
                labels=draw(st.lists(st.sampled_from(LABELS), max_size=2)),
                effort=draw(st.sampled_from([0.0, 0.5, 1.0, 3.25])),
                parent=draw(
                    st.sampled_from([None, None, *map(str, range(count)), "9"])
                ),
                attributes=attributes,
            )
        )
    return items


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(rules=rules, items=work())
def test_sql_and_python_classify_alike_and_shares_add_up(rules, items):
    ruleset = rule_set(config(rules).scorecard)
    with tempfile.TemporaryDirectory() as folder:
        store = fill(Path(folder) / "h.db", items)
        try:
            in_sql = sql_assignments(store, ruleset)
            assert in_sql == python_assignments(store, ruleset)
            efforts = dict(
                store.conn.execute(
                    "SELECT source || ':' || item_id, sum(effort) FROM assignments "
                    "GROUP BY source, item_id"
                ).fetchall()
            )
        finally:
            store.close()
    for work_item in items:
        key = f"{work_item.source}:{work_item.id}"
        assert abs(efforts[key] - work_item.effort) < 1e-9


@SETTINGS
@given(rules=rules, items=work(), order=st.randoms(use_true_random=False))
def test_classification_does_not_depend_on_item_order(rules, items, order):
    ruleset = rule_set(config(rules).scorecard)
    shuffled = list(items)
    order.shuffle(shuffled)
    assert classify_items(items, ruleset) == classify_items(shuffled, ruleset)
    with tempfile.TemporaryDirectory() as folder:
        first = fill(Path(folder) / "a.db", items)
        second = fill(Path(folder) / "b.db", reversed(shuffled))
        try:
            assert sql_assignments(first, ruleset) == sql_assignments(second, ruleset)
        finally:
            first.close()
            second.close()
