"""Mapping work items onto objectives: the rules language of docs/rules.md.

One semantics, two implementations that tests hold equal:

- :class:`RuleSet` matches one item in Python, and :func:`classify_items`
  classifies a set of items (inheritance and plugins included). ``headway
  explain`` and the tests use them.
- :class:`Classifier` compiles the rules into one SQL ``CASE`` pass over the
  store (regexes through a registered function, with a pure-SQL fast path for
  literal patterns), resolves inheritance with a recursive query, and keeps
  the result per rule set in ``assignments``: only items that changed since
  the last classification, and their descendants, are classified again.

Semantics: rules are tried in order and the first whose conditions all hold
wins. An item no rule matches inherits the assignment of its nearest live
ancestor that a rule matched (at most :data:`MAX_DEPTH` levels up); failing
that, ``classify_item`` plugins may assign it (and its children inherit that);
failing that it is ``unaligned``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from .config import RULE_CONDITIONS
from .errors import HeadwayError, PluginError
from .model import Assignment, Rule, Scorecard, WorkItem
from .store import item_from_row, now_text

log = logging.getLogger(__name__)

#: Part of every rules hash: bump it when classification changes meaning, so
#: stores classified by an older headway are classified again.
CLASSIFIER_VERSION = 1

#: How many levels up an item looks for an assignment to inherit.
MAX_DEPTH = 32

#: The reason of an item nothing assigned.
NO_MATCH = "no rule matched"

#: How an assignment was decided (the ``via`` column of ``assignments``).
VIAS = ("rule", "inherited", "plugin", "default")

ItemKey = tuple[str, str]


@attrs.frozen
class Classified:
    """Where one item goes and why.

    :param assignment: the shares or the category, with the reason.
    :param via: ``rule``, ``inherited``, ``plugin`` or ``default``.
    :param rule: the index of the rule that decided (its own or an ancestor's).
    :param depth: how many levels up the deciding item is (0: the item itself;
        ``None`` when nothing decided).
    :param team: the item's team, as resolved for classification.
    """

    assignment: Assignment
    via: str
    rule: int | None = None
    depth: int | None = None
    team: str | None = None


# ---------------------------------------------------------------- people


class Identities:
    """Who is who: one person's tool identities, and the team each belongs to.

    Identities are compared without case (e-mail addresses and logins are
    case-insensitive in every tool headway reads).
    """

    def __init__(self, scorecard: Scorecard):
        self.team_of = scorecard.team_of()
        self._aliases: dict[str, set[str]] = {}
        person_of: dict[str, str] = {}
        for person in scorecard.people:
            key = person.key.lower()
            names = {key, *(alias.lower() for alias in person.aliases)}
            self._aliases.setdefault(key, set()).update(names)
            for name in names:
                person_of.setdefault(name, key)
        self._person_of = person_of

    def team(self, team: str | None, people: Sequence[str]) -> str | None:
        """The connector's team if it set one, else the team of the first
        person who is a member of one."""
        if team:
            return team
        for identity in people:
            found = self.team_of.get(identity.lower())
            if found is not None:
                return found
        return None

    def expand(self, names: Iterable[str]) -> frozenset[str]:
        """Every identity of the people named (a person key or any alias)."""
        result: set[str] = set()
        for name in names:
            lowered = name.lower()
            person = self._person_of.get(lowered)
            result.update(self._aliases[person] if person else {lowered})
        return frozenset(result)


# ---------------------------------------------------------------- rule set


class RuleSet:
    """A scorecard's rules, ready to match items, with the hash that names them.

    :param scorecard: supplies the rules, teams and people.
    :param classifiers: names (and versions) of the plugins that implement
        ``classify_item``; they are part of the hash, since their answers are
        kept with the rule set's assignments.
    """

    def __init__(self, scorecard: Scorecard, classifiers: Sequence[str] = ()):
        self.scorecard = scorecard
        self.rules = scorecard.rules
        self.identities = Identities(scorecard)
        self.classifiers = tuple(sorted(classifiers))
        self._people = {
            rule.index: self.identities.expand(rule.people)
            for rule in self.rules
            if rule.people
        }
        self.description = _describe_rules(scorecard, self.classifiers)
        text = json.dumps(self.description, sort_keys=True, ensure_ascii=False)
        self.hash = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def team(self, item: WorkItem) -> str | None:
        """The item's team: its connector's, else its first member's."""
        return self.identities.team(item.team, item.people)

    def match(
        self, item: WorkItem, team: str | None = None, parent_key: str | None = None
    ) -> Rule | None:
        """The first rule whose conditions all hold for the item, if any.

        :param team: the item's resolved team (see :meth:`team`).
        :param parent_key: the key of the item's parent, which a rule's
            ``parent`` condition also accepts.
        """
        for rule in self.rules:
            if self.holds(rule, item, team, parent_key):
                return rule
        return None

    def holds(
        self,
        rule: Rule,
        item: WorkItem,
        team: str | None = None,
        parent_key: str | None = None,
    ) -> bool:
        """Whether every condition of ``rule`` holds for the item."""
        return all(ok for _, ok in self.conditions(rule, item, team, parent_key))

    def conditions(
        self,
        rule: Rule,
        item: WorkItem,
        team: str | None = None,
        parent_key: str | None = None,
    ) -> list[tuple[str, bool]]:
        """Each condition of ``rule`` by name, and whether it holds."""
        result = []
        for name in ("source", "kind", "project", "status", "state"):
            wanted = getattr(rule, name)
            if wanted:
                result.append((name, getattr(item, name) in wanted))
        if rule.team:
            result.append(("team", team in rule.team))
        if rule.labels:
            result.append(
                ("labels", any(label in rule.labels for label in item.labels))
            )
        for name, values in rule.attributes.items():
            ok = name in item.attributes and _attribute_matches(
                item.attributes[name], values
            )
            result.append((f"attributes.{name}", ok))
        if rule.parent:
            # A connector that cannot store the parent (outside its query)
            # may still name it by key in attributes.parent_key.
            named = item.attributes.get("parent_key")
            ok = (
                item.parent is not None
                and (item.parent in rule.parent or parent_key in rule.parent)
            ) or (isinstance(named, str) and named in rule.parent)
            result.append(("parent", ok))
        if rule.title is not None:
            result.append(("title", rule.title.search(item.title) is not None))
        if rule.people:
            wanted = self._people[rule.index]
            result.append(
                ("people", any(person.lower() in wanted for person in item.people))
            )
        return result

    def assignment(self, rule: Rule) -> Assignment:
        """What ``rule`` assigns, with its reason."""
        if rule.shares:
            return Assignment(
                shares=rule.shares, category="strategic", reason=reason(rule)
            )
        return Assignment(category=rule.category or "overhead", reason=reason(rule))

    def rule(self, index: int) -> Rule:
        """The rule with ``index`` (counted from 1)."""
        return self.rules[index - 1]


def reason(rule: Rule) -> str:
    """``rule 3 "name"``, or ``rule 3`` for a rule without a name."""
    return f'rule {rule.index} "{rule.name}"' if rule.name else f"rule {rule.index}"


def item_label(source: str, key: str | None, id: str) -> str:
    """How an item is named to people: ``SOURCE:KEY``, else ``SOURCE:ID``."""
    return f"{source}:{key or id}"


def inherited_reason(source: str, key: str | None, id: str, reason: str) -> str:
    """The reason of an assignment inherited from a deciding ancestor."""
    return f"inherited from {item_label(source, key, id)} ({reason})"


def _attribute_matches(value: Any, wanted: tuple[Any, ...]) -> bool:
    # A list attribute (components, fix versions) matches when any of its
    # elements does; tables and nulls never match.
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if candidate is None or isinstance(candidate, dict | list):
            continue
        for expected in wanted:
            if _same_scalar(candidate, expected):
                return True
    return False


def _same_scalar(a: Any, b: Any) -> bool:
    # SQLite compares JSON true as 1 and text never equals a number; Python
    # agrees on both, so the SQL and the Python paths match the same items.
    a_text, b_text = isinstance(a, str), isinstance(b, str)
    if a_text != b_text:
        return False
    return bool(a == b)


# The conditions that hold a list of values (title is a regex, attributes a table).
_LIST_CONDITIONS = tuple(c for c in RULE_CONDITIONS if c not in ("title", "attributes"))


def _describe_rules(scorecard: Scorecard, classifiers: Sequence[str]) -> dict:
    """Everything classification depends on, as JSON-able data."""
    rules = []
    for rule in scorecard.rules:
        entry: dict[str, Any] = {"index": rule.index}
        for name in _LIST_CONDITIONS:
            if getattr(rule, name):
                entry[name] = list(getattr(rule, name))
        if rule.title is not None:
            entry["title"] = rule.title.pattern
            entry["flags"] = rule.title.flags
        if rule.attributes:
            entry["attributes"] = {k: list(v) for k, v in rule.attributes.items()}
        if rule.shares:
            entry["objectives"] = dict(rule.shares)
        if rule.category:
            entry["category"] = rule.category
        if rule.name:
            entry["name"] = rule.name
        rules.append(entry)
    return {
        "version": CLASSIFIER_VERSION,
        "max_depth": MAX_DEPTH,
        "rules": rules,
        "teams": {t.key: sorted(m.lower() for m in t.members) for t in scorecard.teams},
        "people": {
            p.key.lower(): sorted(a.lower() for a in p.aliases)
            for p in scorecard.people
        },
        "classifiers": list(classifiers),
    }


def classifier_names(plugins: Any) -> list[str]:
    """``name version`` of every plugin implementing ``classify_item``."""
    if plugins is None or not plugins.has_classifiers():
        return []
    versions = {info.name: info.version for info in plugins.info()}
    names = []
    for impl in plugins.manager.hook.classify_item.get_hookimpls():
        version = versions.get(impl.plugin_name)
        names.append(f"{impl.plugin_name} {version}" if version else impl.plugin_name)
    return names


def rule_set(scorecard: Scorecard, plugins: Any = None) -> RuleSet:
    """The rule set a scorecard classifies with, given the installed plugins."""
    return RuleSet(scorecard, classifier_names(plugins))


# ---------------------------------------------------------------- python path


def classify_items(
    items: Iterable[WorkItem],
    rules: RuleSet,
    plugins: Any = None,
) -> dict[ItemKey, Classified]:
    """Classify a set of live items in Python (the reference implementation).

    Inheritance looks only at items in the set: pass an item's ancestors
    with it. ``plugins`` (a :class:`~headway.plugins.Plugins`) is asked about
    items nothing else assigned.
    """
    by_key: dict[ItemKey, WorkItem] = {(i.source, i.id): i for i in items}
    teams = {key: rules.team(item) for key, item in by_key.items()}
    own: dict[ItemKey, Rule | None] = {}
    for key, item in by_key.items():
        parent = by_key.get((item.source, item.parent)) if item.parent else None
        own[key] = rules.match(item, teams[key], parent.key if parent else None)

    result: dict[ItemKey, Classified] = {}
    leftovers: list[ItemKey] = []
    for key in sorted(by_key):
        rule = own[key]
        if rule is not None:
            result[key] = Classified(
                rules.assignment(rule), "rule", rule.index, 0, teams[key]
            )
            continue
        found = _nearest_match(key, by_key, own)
        if found is None:
            leftovers.append(key)
            continue
        ancestor, depth = found
        rule = own[ancestor]
        assert rule is not None
        origin = by_key[ancestor]
        assignment = attrs.evolve(
            rules.assignment(rule),
            reason=inherited_reason(origin.source, origin.key, origin.id, reason(rule)),
        )
        result[key] = Classified(assignment, "inherited", rule.index, depth, teams[key])

    decided = _plugin_phase(leftovers, by_key, result, teams, rules, plugins)
    result.update(decided)
    return result


def _nearest_match(
    key: ItemKey,
    by_key: Mapping[ItemKey, WorkItem],
    own: Mapping[ItemKey, Rule | None],
) -> tuple[ItemKey, int] | None:
    """The nearest ancestor a rule matched, within :data:`MAX_DEPTH` levels."""
    item = by_key[key]
    for depth in range(1, MAX_DEPTH + 1):
        if not item.parent:
            return None
        parent_key = (item.source, item.parent)
        parent = by_key.get(parent_key)
        if parent is None:
            return None
        if own[parent_key] is not None:
            return parent_key, depth
        item = parent
    return None


def _plugin_phase(
    leftovers: Sequence[ItemKey],
    by_key: Mapping[ItemKey, WorkItem],
    decided: Mapping[ItemKey, Classified],
    teams: Mapping[ItemKey, str | None],
    rules: RuleSet,
    plugins: Any,
) -> dict[ItemKey, Classified]:
    """Items no rule reached: inherit a plugin's answer, ask one, or default."""
    parents: dict[ItemKey, ItemKey | None] = {}
    for key in leftovers:
        item = by_key[key]
        parent = (item.source, item.parent) if item.parent else None
        parents[key] = parent if parent in by_key else None

    def label(key: ItemKey) -> str:
        return item_label(key[0], by_key[key].key, key[1])

    return resolve_leftovers(
        leftovers,
        parent_of=parents,
        outside=decided.get,
        ask=lambda key: _ask_plugins(plugins, by_key[key], rules, teams[key]),
        teams=teams,
        label=label,
    )


def resolve_leftovers(
    leftovers: Sequence[ItemKey],
    *,
    parent_of: Mapping[ItemKey, ItemKey | None],
    outside: Callable[[ItemKey], Classified | None],
    ask: Callable[[ItemKey], Classified | None],
    teams: Mapping[ItemKey, str | None],
    label: Callable[[ItemKey], str],
) -> dict[ItemKey, Classified]:
    """Decide the items no rule reached, parents before children.

    :param parent_of: each leftover's live parent, or ``None``.
    :param outside: the decided assignment of a parent that is not a leftover.
    :param ask: the plugins' answer for an item, or ``None``.
    :param label: how to name an item in a reason.

    An item inherits its parent's plugin-made assignment (within
    :data:`MAX_DEPTH` levels of the item the plugin answered for); otherwise
    the plugins are asked; otherwise it is unaligned. Items on a cycle of
    parents inherit from none of it, whatever order they come in.
    """
    pending = set(leftovers)
    inner = {k: p for k, p in parent_of.items() if p is not None and p in pending}
    on_cycle = _cycle_members(inner)
    result: dict[ItemKey, Classified] = {}

    def above(node: ItemKey) -> Classified | None:
        parent = parent_of.get(node)
        if parent is None or node in on_cycle:
            return None
        return result.get(parent) if parent in pending else outside(parent)

    for key in leftovers:
        if key in result:
            continue
        # Walk up to the first node whose parent is decided, outside the
        # leftovers, or on a cycle; then decide downwards.
        chain = [key]
        while chain[-1] not in on_cycle and inner.get(chain[-1]) is not None:
            parent = inner[chain[-1]]
            if parent in result:
                break
            chain.append(parent)
        for node in reversed(chain):
            result[node] = _inherit_or_ask(
                node, above(node), ask, teams, label, parent_of.get(node)
            )
    return result


def _inherit_or_ask(
    key: ItemKey,
    above: Classified | None,
    ask: Callable[[ItemKey], Classified | None],
    teams: Mapping[ItemKey, str | None],
    label: Callable[[ItemKey], str],
    parent: ItemKey | None,
) -> Classified:
    if (
        above is not None
        and above.via in ("plugin", "inherited")
        and above.rule is None
        and above.depth is not None
        and above.depth + 1 <= MAX_DEPTH
    ):
        reason_text = above.assignment.reason
        if above.via == "plugin" and parent is not None:
            reason_text = f"inherited from {label(parent)} ({reason_text})"
        return Classified(
            attrs.evolve(above.assignment, reason=reason_text),
            "inherited",
            None,
            above.depth + 1,
            teams.get(key),
        )
    answer = ask(key)
    if answer is not None:
        return answer
    return Classified(
        Assignment(reason=NO_MATCH), "default", None, None, teams.get(key)
    )


def _cycle_members(parent_of: Mapping[ItemKey, ItemKey]) -> set[ItemKey]:
    members: set[ItemKey] = set()
    state: dict[ItemKey, int] = {}
    for start in parent_of:
        path: list[ItemKey] = []
        node: ItemKey | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent_of.get(node)
        if node is not None and state.get(node) == 1:
            members.update(path[path.index(node) :])
        for visited in path:
            state[visited] = 2
    return members


def _ask_plugins(
    plugins: Any, item: WorkItem, rules: RuleSet, team: str | None
) -> Classified | None:
    if plugins is None or not plugins.has_classifiers():
        return None
    answer = plugins.classify(item, rules.scorecard)
    if answer is None:
        return None
    return Classified(
        check_plugin_assignment(answer, rules.scorecard), "plugin", None, 0, team
    )


def check_plugin_assignment(answer: Assignment, scorecard: Scorecard) -> Assignment:
    """A plugin's assignment, made consistent, or a :class:`PluginError`."""
    where = answer.reason or "a classify_item plugin"
    if answer.shares:
        total = sum(share for _, share in answer.shares)
        unknown = [o for o, _ in answer.shares if scorecard.objective(o) is None]
        if unknown:
            raise PluginError(
                f"{where}: assigned unknown objective {unknown[0]!r}; return shares "
                "of objectives in the scorecard"
            )
        if abs(total - 1.0) > 1e-6 or any(share <= 0 for _, share in answer.shares):
            raise PluginError(
                f"{where}: shares must be positive and sum to 1, they sum to {total:g}"
            )
        return attrs.evolve(answer, category="strategic")
    if answer.category not in ("overhead", "unaligned"):
        raise PluginError(
            f"{where}: category must be overhead or unaligned (or give shares), "
            f"got {answer.category!r}"
        )
    return answer


# ---------------------------------------------------------------- sql path


@attrs.frozen
class RefreshStats:
    """What bringing a rule set's assignments up to date did."""

    rules_hash: str
    full: bool
    classified: int
    seconds: float


class Classifier:
    """Keeps ``assignments`` up to date for one rule set, in SQL.

    Call :meth:`refresh` inside a write transaction of the store's
    connection; the caller commits (or rolls back, for ``--no-save``).
    """

    def __init__(self, conn: sqlite3.Connection, rules: RuleSet, plugins: Any = None):
        self.conn = conn
        self.rules = rules
        self.plugins = (
            plugins if plugins is not None and plugins.has_classifiers() else None
        )
        self._register_functions()

    # ------------------------------------------------------------ public

    def refresh(self, *, full: bool = False) -> RefreshStats:
        """Classify every item that changed since this rule set last saw the
        store (all of them the first time, or with ``full``)."""
        started = time.perf_counter()
        conn = self.conn
        hash_ = self.rules.hash
        watermark = conn.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]
        row = conn.execute(
            "SELECT classified_through FROM rule_sets WHERE rules_hash = ?", (hash_,)
        ).fetchone()
        full = full or row is None
        self._drop_temp()
        conn.execute(
            "CREATE TEMP TABLE hw_dirty (source TEXT, id TEXT, "
            "PRIMARY KEY (source, id)) WITHOUT ROWID"
        )
        if full:
            conn.execute("DELETE FROM assignments WHERE rules_hash = ?", (hash_,))
            classified = self._classify(None)
        elif row[0] < watermark:
            dirty = self._find_dirty(row[0])
            if dirty:
                # Row values with IN let SQLite seek each dirty item's rows
                # instead of testing every row of the rule set.
                conn.execute(
                    "DELETE FROM assignments WHERE rules_hash = ? AND "
                    "(source, item_id) IN (SELECT source, id FROM temp.hw_dirty)",
                    (hash_,),
                )
            classified = self._classify("hw_dirty") if dirty else 0
        else:
            classified = 0
        conn.execute(
            "INSERT INTO rule_sets (rules_hash, rules, classified_through, "
            "classified_at) VALUES (?, ?, ?, ?) ON CONFLICT (rules_hash) DO "
            "UPDATE SET classified_through = excluded.classified_through, "
            "classified_at = excluded.classified_at",
            (
                hash_,
                json.dumps(self.rules.description, ensure_ascii=False, sort_keys=True),
                watermark,
                now_text(),
            ),
        )
        self._drop_temp()
        seconds = time.perf_counter() - started
        log.info(
            "classified %d item(s) under rule set %s in %.2f s (%s)",
            classified,
            hash_,
            seconds,
            "full" if full else "changes only",
        )
        return RefreshStats(hash_, full, classified, seconds)

    # ------------------------------------------------------------ steps

    def _find_dirty(self, watermark: int) -> int:
        """Items changed by runs after ``watermark``, and their descendants."""
        conn = self.conn
        conn.execute(
            "INSERT INTO temp.hw_dirty (source, id) "
            "SELECT i.source, i.id FROM items AS i WHERE i.run_id > ? AND ("
            "  (i.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM assignments AS a "
            "     WHERE a.rules_hash = ? AND a.source = i.source AND a.item_id = i.id "
            "     AND a.version = i.version))"
            "  OR (i.deleted_at IS NOT NULL AND EXISTS (SELECT 1 FROM assignments "
            "     AS a WHERE a.rules_hash = ? AND a.source = i.source "
            "     AND a.item_id = i.id)))",
            (watermark, self.rules.hash, self.rules.hash),
        )
        changed = conn.execute("SELECT count(*) FROM temp.hw_dirty").fetchone()[0]
        if not changed:
            return 0
        conn.execute(
            "WITH RECURSIVE down (source, id, depth) AS ("
            "  SELECT source, id, 0 FROM temp.hw_dirty"
            "  UNION"
            "  SELECT c.source, c.id, down.depth + 1 FROM down JOIN items AS c"
            "    ON c.source = down.source AND c.parent = down.id"
            f"  WHERE down.depth < {MAX_DEPTH})"
            "INSERT OR IGNORE INTO temp.hw_dirty (source, id) "
            "SELECT source, id FROM down"
        )
        return conn.execute("SELECT count(*) FROM temp.hw_dirty").fetchone()[0]

    def _classify(self, dirty: str | None) -> int:
        """Classify the live items of ``dirty`` (a temp table) or of the store."""
        conn = self.conn
        hash_ = self.rules.hash
        case, params = self._case()
        if dirty is None:
            scope = "FROM items AS i WHERE i.deleted_at IS NULL"
        else:
            scope = (
                f"FROM temp.{dirty} AS d CROSS JOIN items AS i "
                "ON i.source = d.source AND i.id = d.id WHERE i.deleted_at IS NULL"
            )
        # Only the row id, the team and the rule are kept: the rest is read
        # back from items by row id, in the order it was written.
        conn.execute(
            "CREATE TEMP TABLE hw_items (rid INTEGER, team TEXT, rule INTEGER)"
        )
        self._identities()
        # One flat pass: SQLite reads each column it needs straight from the
        # row (a subquery to compute the team once would copy every column of
        # every row, several times slower).
        conn.execute(
            f"INSERT INTO temp.hw_items SELECT i.rowid, {_TEAM}, {case} {scope}",
            params,
        )
        self._rule_rows()
        conn.execute(
            "INSERT INTO assignments (rules_hash, source, item_id, objective, "
            "category, share, effort, reason, rule, via, depth, team, occurred_at, "
            "version) SELECT ?, i.source, i.id, r.objective, r.category, r.share, "
            "i.effort * r.share, r.reason, m.rule, 'rule', 0, m.team, i.occurred_at, "
            "i.version FROM temp.hw_items AS m "
            "CROSS JOIN items AS i ON i.rowid = m.rid "
            "CROSS JOIN temp.hw_rule_rows AS r ON r.rule = m.rule "
            "WHERE m.rule IS NOT NULL",
            (hash_,),
        )
        # Items no rule matched, keyed for the walk up their parents; the
        # rest of each is read back from items by row id when it is written.
        conn.execute(
            "CREATE TEMP TABLE hw_pending (source TEXT, id TEXT, parent TEXT, "
            "rid INTEGER, team TEXT, PRIMARY KEY (source, id)) WITHOUT ROWID"
        )
        conn.execute(
            "INSERT INTO temp.hw_pending SELECT i.source, i.id, i.parent, m.rid, "
            "m.team FROM temp.hw_items AS m "
            "CROSS JOIN items AS i ON i.rowid = m.rid WHERE m.rule IS NULL"
        )
        total = conn.execute("SELECT count(*) FROM temp.hw_items").fetchone()[0]
        conn.execute("DROP TABLE temp.hw_items")
        self._inherit()
        self._leftovers()
        return total

    def _inherit(self) -> None:
        """Pending items take the rule-made assignment of their nearest
        ancestor that is not pending itself."""
        conn = self.conn
        hash_ = self.rules.hash
        conn.execute(
            "CREATE TEMP TABLE hw_terminal (source TEXT, id TEXT, anc TEXT, "
            "depth INTEGER, PRIMARY KEY (source, id)) WITHOUT ROWID"
        )
        conn.execute(
            "WITH RECURSIVE up (source, id, anc, depth) AS ("
            "  SELECT source, id, parent, 1 FROM temp.hw_pending"
            "  WHERE parent IS NOT NULL"
            "  UNION ALL"
            "  SELECT up.source, up.id, p.parent, up.depth + 1 FROM up"
            "  JOIN temp.hw_pending AS p ON p.source = up.source AND p.id = up.anc"
            f"  WHERE p.parent IS NOT NULL AND up.depth < {MAX_DEPTH})"
            "INSERT OR IGNORE INTO temp.hw_terminal SELECT source, id, anc, depth "
            "FROM up WHERE NOT EXISTS (SELECT 1 FROM temp.hw_pending AS p "
            "WHERE p.source = up.source AND p.id = up.anc)"
        )
        # The deciding ancestors' rows, with the reason their descendants
        # give: built once per ancestor, not once per descendant.
        conn.execute(
            "CREATE TEMP TABLE hw_origin AS SELECT a.source, a.item_id AS anc, "
            "a.objective, a.category, a.share, a.rule, a.depth, "
            "CASE WHEN a.via = 'rule' THEN 'inherited from ' || a.source || ':' || "
            "coalesce(nullif(k.key, ''), a.item_id) || ' (' || a.reason || ')' "
            "ELSE a.reason END AS reason "
            "FROM (SELECT DISTINCT source, anc FROM temp.hw_terminal) AS d "
            # CROSS JOIN fixes the order: from each ancestor to its rows,
            # never a scan of the whole rule set.
            "CROSS JOIN assignments AS a ON a.rules_hash = ? AND a.source = d.source "
            "AND a.item_id = d.anc "
            "CROSS JOIN items AS k ON k.source = a.source AND k.id = a.item_id "
            "WHERE a.rule IS NOT NULL",
            (hash_,),
        )
        conn.execute("CREATE INDEX temp.hw_origin_anc ON hw_origin (source, anc)")
        conn.execute(
            "DELETE FROM temp.hw_terminal WHERE NOT EXISTS (SELECT 1 FROM "
            "temp.hw_origin AS o WHERE o.source = hw_terminal.source "
            "AND o.anc = hw_terminal.anc "
            f"AND hw_terminal.depth + o.depth <= {MAX_DEPTH})"
        )
        conn.execute(
            "INSERT INTO assignments (rules_hash, source, item_id, objective, "
            "category, share, effort, reason, rule, via, depth, team, occurred_at, "
            "version) "
            "SELECT ?, p.source, p.id, o.objective, o.category, o.share, "
            "i.effort * o.share, o.reason, o.rule, 'inherited', t.depth + o.depth, "
            "p.team, i.occurred_at, i.version FROM temp.hw_terminal AS t "
            "CROSS JOIN temp.hw_pending AS p ON p.source = t.source AND p.id = t.id "
            "CROSS JOIN items AS i ON i.rowid = p.rid "
            "CROSS JOIN temp.hw_origin AS o ON o.source = t.source AND o.anc = t.anc",
            (hash_,),
        )
        conn.execute(
            "DELETE FROM temp.hw_pending WHERE (source, id) IN "
            "(SELECT source, id FROM temp.hw_terminal)"
        )

    def _leftovers(self) -> None:
        """Items no rule reached: plugins, their children, else unaligned."""
        conn = self.conn
        hash_ = self.rules.hash
        if self.plugins is not None:
            self._ask_plugins()
        conn.execute(
            "INSERT INTO assignments (rules_hash, source, item_id, objective, "
            "category, share, effort, reason, rule, via, depth, team, occurred_at, "
            "version) SELECT ?, p.source, p.id, NULL, 'unaligned', 1.0, "
            "i.effort, ?, NULL, 'default', NULL, p.team, i.occurred_at, "
            "i.version FROM temp.hw_pending AS p "
            "CROSS JOIN items AS i ON i.rowid = p.rid",
            (hash_, NO_MATCH),
        )

    def _ask_plugins(self) -> None:
        """The plugin phase: Python over the leftover items only."""
        conn = self.conn
        hash_ = self.rules.hash
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row
        rows = cursor.execute(
            "SELECT i.*, p.team AS _team FROM temp.hw_pending AS p "
            "JOIN items AS i ON i.source = p.source AND i.id = p.id"
        ).fetchall()
        items = {(r["source"], r["id"]): item_from_row(r) for r in rows}
        teams = {(r["source"], r["id"]): r["_team"] for r in rows}
        versions = {(r["source"], r["id"]): r["version"] for r in rows}
        occurred = {(r["source"], r["id"]): r["occurred_at"] for r in rows}
        parent_of: dict[ItemKey, ItemKey | None] = {}
        keys: dict[ItemKey, str | None] = {k: i.key for k, i in items.items()}
        outside: dict[ItemKey, Classified] = {}
        for key, item in items.items():
            parent = (item.source, item.parent) if item.parent else None
            if parent is None or parent in items:
                parent_of[key] = parent
                continue
            found = cursor.execute(
                "SELECT a.*, i.key AS _key FROM assignments AS a JOIN items AS i "
                "ON i.source = a.source AND i.id = a.item_id "
                "WHERE a.rules_hash = ? AND a.source = ? AND a.item_id = ?",
                (hash_, *parent),
            ).fetchall()
            # A parent without assignments is deleted or not in the store.
            parent_of[key] = parent if found else None
            if found:
                outside[parent] = _classified_from_rows(found)
                keys[parent] = found[0]["_key"]

        def label(key: ItemKey) -> str:
            return item_label(key[0], keys.get(key), key[1])

        decided = resolve_leftovers(
            sorted(items),
            parent_of=parent_of,
            outside=outside.get,
            ask=lambda key: _ask_plugins(
                self.plugins, items[key], self.rules, teams[key]
            ),
            teams=teams,
            label=label,
        )
        rows_out = []
        for key, result in decided.items():
            if result.via == "default":
                continue
            effort = items[key].effort
            for objective, category, share in _rows_of(result.assignment):
                rows_out.append(
                    (
                        hash_,
                        *key,
                        objective,
                        category,
                        share,
                        effort * share,
                        result.assignment.reason,
                        None,
                        result.via,
                        result.depth,
                        teams[key],
                        occurred[key],
                        versions[key],
                    )
                )
        conn.executemany(
            "INSERT INTO assignments (rules_hash, source, item_id, objective, "
            "category, share, effort, reason, rule, via, depth, team, occurred_at, "
            "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows_out,
        )
        conn.execute(
            "DELETE FROM temp.hw_pending WHERE EXISTS (SELECT 1 FROM assignments "
            "AS a WHERE a.rules_hash = ? AND a.source = hw_pending.source "
            "AND a.item_id = hw_pending.id)",
            (hash_,),
        )

    # ------------------------------------------------------------ compiling

    def _rule_rows(self) -> None:
        conn = self.conn
        conn.execute(
            "CREATE TEMP TABLE hw_rule_rows (rule INTEGER, objective TEXT, "
            "category TEXT, share REAL, reason TEXT)"
        )
        conn.execute("CREATE INDEX temp.hw_rule_rows_rule ON hw_rule_rows (rule)")
        rows = []
        for rule in self.rules.rules:
            for objective, category, share in _rows_of(self.rules.assignment(rule)):
                rows.append((rule.index, objective, category, share, reason(rule)))
        conn.executemany("INSERT INTO temp.hw_rule_rows VALUES (?, ?, ?, ?, ?)", rows)

    def _case(self) -> tuple[str, list[Any]]:
        """The ``CASE`` expression giving each item its first matching rule.

        Items are dispatched on their source, then on their kind: each branch
        holds, in file order, only the rules that can match such an item
        (those naming its source or none, and its kind or none), and drops
        the conditions the branch already decided. An item is tried against
        its own rules only, and first-match order is kept.
        """
        params: list[Any] = []
        text = self._dispatch(self.rules.rules, ("source", "kind"), set(), params)
        if len(params) > _MAX_PARAMETERS:
            # A scorecard with very many sources and kinds: one flat chain.
            params = []
            text = self._chain(self.rules.rules, set(), params)
        return text, params

    def _dispatch(
        self,
        rules: Sequence[Rule],
        fields: Sequence[str],
        decided: set[str],
        params: list[Any],
    ) -> str:
        if not fields:
            return self._chain(rules, decided, params)
        field, rest = fields[0], fields[1:]
        values = list(dict.fromkeys(v for r in rules for v in getattr(r, field)))
        if not values:
            return self._dispatch(rules, rest, decided, params)
        parts = [f"CASE i.{field}"]
        for value in values:
            parts.append("WHEN ? THEN")
            params.append(value)
            applicable = [
                r for r in rules if not getattr(r, field) or value in getattr(r, field)
            ]
            parts.append(self._dispatch(applicable, rest, decided | {field}, params))
        parts.append("ELSE")
        others = [r for r in rules if not getattr(r, field)]
        parts.append(self._dispatch(others, rest, decided, params))
        parts.append("END")
        return " ".join(parts)

    def _chain(
        self, rules: Sequence[Rule], decided: set[str], params: list[Any]
    ) -> str:
        if not rules:
            return "NULL"
        branches = []
        for rule in rules:
            condition, values = self._condition(rule, decided=decided)
            branches.append(f"WHEN {condition} THEN {rule.index}")
            params.extend(values)
        return "CASE " + " ".join(branches) + " END"

    def _condition(
        self,
        rule: Rule,
        *,
        decided: Collection[str] = (),
    ) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []

        def any_of(column: str, values: Sequence[Any]) -> None:
            parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)

        # Cheap comparisons first: SQLite stops at the first false term, so
        # the regex and JSON work only runs for items that got this far.
        for name in ("source", "kind", "project", "status", "state"):
            # Within a branch of the dispatch, its field's condition holds.
            if getattr(rule, name) and name not in decided:
                any_of(f"i.{name}", getattr(rule, name))
        if rule.team:
            any_of(_TEAM, rule.team)
        if rule.labels:
            parts.append(_labels_sql(rule.labels, params))
        for name, values in rule.attributes.items():
            parts.append(_attribute_sql(rule, name, values, params))
        if rule.parent:
            marks = ", ".join("?" for _ in rule.parent)
            parts.append(
                f"(i.parent IN ({marks}) OR (SELECT p.key FROM items AS p "
                "WHERE p.source = i.source AND p.id = i.parent "
                f"AND p.deleted_at IS NULL) IN ({marks}) OR "
                f"json_extract(i.attributes, '$.parent_key') IN ({marks}))"
            )
            params += [*rule.parent, *rule.parent, *rule.parent]
        if rule.title is not None:
            parts.append(_title_sql(rule, params))
        if rule.people:
            parts.append(_people_sql(rule, self.rules._people[rule.index], params))
        return ("(" + " AND ".join(parts) + ")" if parts else "1"), params

    def _register_functions(self) -> None:
        rules = self.rules
        identities = rules.identities
        patterns = {r.index: r.title for r in rules.rules if r.title is not None}
        wanted = {r.index: rules._people[r.index] for r in rules.rules if r.people}
        teams: dict[str, str | None] = {}
        people_cache: dict[tuple[int, str], bool] = {}

        def team_of(people: str | None) -> str | None:
            if not people:
                return None
            if people not in teams:
                teams[people] = identities.team(None, _json_list(people))
            return teams[people]

        def title_matches(index: int, title: str | None) -> int:
            return int(patterns[index].search(title or "") is not None)

        def people_match(index: int, people: str | None) -> int:
            key = (index, people or "")
            if key not in people_cache:
                names = _json_list(people)
                people_cache[key] = any(p.lower() in wanted[index] for p in names)
            return int(people_cache[key])

        def attribute_match(index: int, name: str, attributes: str | None) -> int:
            try:
                found = json.loads(attributes or "{}")
            except ValueError:
                return 0
            wanted = rules.rule(index).attributes[name]
            return int(
                isinstance(found, dict)
                and name in found
                and _attribute_matches(found[name], wanted)
            )

        self.conn.create_function("hw_team", 1, team_of, deterministic=True)
        self.conn.create_function(
            "hw_attribute", 3, attribute_match, deterministic=True
        )
        self.conn.create_function("hw_title", 2, title_matches, deterministic=True)
        self.conn.create_function("hw_people", 2, people_match, deterministic=True)

    def _identities(self) -> None:
        """``temp.hw_identity``: every member identity (lower case) and its team."""
        # NOCASE folds ASCII like Python's lower() does; identities that are
        # not ASCII never reach this table's lookup (see _TEAM).
        self.conn.execute(
            "CREATE TEMP TABLE hw_identity (identity TEXT COLLATE NOCASE PRIMARY KEY, "
            "team TEXT) WITHOUT ROWID"
        )
        self.conn.executemany(
            "INSERT INTO temp.hw_identity VALUES (?, ?)",
            sorted(self.rules.identities.team_of.items()),
        )

    def _drop_temp(self) -> None:
        for name in (
            "hw_dirty",
            "hw_items",
            "hw_pending",
            "hw_terminal",
            "hw_rule_rows",
            "hw_identity",
            "hw_origin",
        ):
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


# SQLite's default limit on bound parameters is 32,766.
_MAX_PARAMETERS = 30_000

# An item's team in SQL: the connector's; else, when the first person is a
# member, that person's team, looked up directly; else the Python resolver
# (also for identities that are not ASCII, whose case SQLite cannot fold).
_TEAM = (
    "coalesce(nullif(i.team, ''), CASE WHEN i.people = '[]' THEN NULL "
    "WHEN length(i.people) = length(CAST(i.people AS BLOB)) THEN coalesce("
    "(SELECT t.team FROM temp.hw_identity AS t "
    "WHERE t.identity = json_extract(i.people, '$[0]')), hw_team(i.people)) "
    "ELSE hw_team(i.people) END)"
)


def _rows_of(assignment: Assignment) -> list[tuple[str | None, str, float]]:
    if assignment.shares:
        return [
            (objective, "strategic", share) for objective, share in assignment.shares
        ]
    return [(None, assignment.category, 1.0)]


def _classified_from_rows(rows: Sequence[sqlite3.Row]) -> Classified:
    first = rows[0]
    if first["category"] == "strategic":
        assignment = Assignment(
            shares=tuple((r["objective"], r["share"]) for r in rows),
            category="strategic",
            reason=first["reason"],
        )
    else:
        assignment = Assignment(category=first["category"], reason=first["reason"])
    return Classified(
        assignment, first["via"], first["rule"], first["depth"], first["team"]
    )


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# ---------------------------------------------------------------- sql pieces

# Characters a JSON encoder never escapes: a label made only of them appears
# in the stored JSON text exactly as `"label"`, which lets a cheap substring
# test rule out most items before json_each looks at the list.
_PLAIN_LABEL = re.compile(r"^[A-Za-z0-9 _.:@#+=-]+$")


def _labels_sql(labels: Sequence[str], params: list[Any]) -> str:
    marks = ", ".join("?" for _ in labels)
    exact = f"EXISTS (SELECT 1 FROM json_each(i.labels) WHERE value IN ({marks}))"
    # Most items carry no label at all: one comparison settles them.
    if all(_PLAIN_LABEL.match(label) for label in labels):
        quick = " OR ".join("instr(i.labels, ?) > 0" for _ in labels)
        params.extend(f'"{label}"' for label in labels)
        params.extend(labels)
        return f"(i.labels != '[]' AND ({quick}) AND {exact})"
    params.extend(labels)
    return f"(i.labels != '[]' AND {exact})"


def _people_sql(rule: Rule, wanted: frozenset[str], params: list[Any]) -> str:
    """People matched through their aliases: the Python matcher decides, after
    LIKE over the stored JSON has ruled out most items cheaply."""
    params.append(rule.index)
    exact = "hw_people(?, i.people)"
    if not wanted or not all(_PLAIN_LABEL.match(name) for name in wanted):
        return exact
    # A plain identity appears in the JSON text as "identity", in any case:
    # LIKE folds ASCII case (lower() would copy every value). JSON that is
    # not ASCII goes to the matcher directly.
    names = sorted(wanted)
    quick = " OR ".join("i.people LIKE ? ESCAPE '\\'" for _ in names)
    params.pop()
    params.extend('%"' + re.sub(r"([\\%_])", r"\\\1", name) + '"%' for name in names)
    params.append(rule.index)
    return (
        "(CASE WHEN length(i.people) = length(CAST(i.people AS BLOB)) "
        f"THEN ({quick}) ELSE 1 END AND {exact})"
    )


def _attribute_sql(
    rule: Rule, name: str, values: Sequence[Any], params: list[Any]
) -> str:
    if not re.fullmatch(r"[^\"\\]+", name):
        # A name a JSON path cannot quote: the Python matcher decides.
        params += [rule.index, name]
        return "hw_attribute(?, ?, i.attributes)"
    marks = ", ".join("?" for _ in values)
    sql_values = [int(v) if isinstance(v, bool) else v for v in values]
    path = (
        f"$.{name}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f'$."{name}"'
    )
    params += [path, path, *sql_values, path, *sql_values]
    # Text never equals a number in SQLite, as in Python; JSON true is 1. A
    # list attribute matches when one of its elements does.
    return (
        "(CASE json_type(i.attributes, ?) "
        "WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(i.attributes, ?) AS x "
        f"WHERE x.type NOT IN ('object', 'array', 'null') AND x.value IN ({marks})) "
        "WHEN 'object' THEN 0 WHEN 'null' THEN 0 "
        f"ELSE json_extract(i.attributes, ?) IN ({marks}) END)"
    )


def _title_sql(rule: Rule, params: list[Any]) -> str:
    pattern = rule.title
    assert pattern is not None
    literal = literal_alternatives(pattern)
    if literal is not None:
        return _literal_test(literal, params, exact=True, rule=rule)
    # Not plain text, but often plain text with word boundaries or anchors
    # (`\bci\b`): those text pieces must occur for the regex to match, so
    # testing them in SQL first spares most calls to the regex.
    loose = _without_zero_width(pattern.pattern)
    try:
        widened = literal_alternatives(re.compile(loose, pattern.flags))
    except re.error:
        widened = None
    if widened is None:
        params.append(rule.index)
        return "hw_title(?, i.title)"
    prefilter = _literal_test(widened, params, exact=False, rule=rule)
    params.append(rule.index)
    return f"({prefilter} AND hw_title(?, i.title))"


def _without_zero_width(text: str) -> str:
    """A regex without its word boundaries and anchors (``\\b``, ``^``, ``$``).

    Dropping zero-width parts only lets a regex match more, so what the
    result requires, the original requires too.
    """
    result, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            if text[index + 1] != "b":
                result.append(text[index : index + 2])
            index += 2
            continue
        if char not in "^$":
            result.append(char)
        index += 1
    return "".join(result)


def _literal_test(
    literal: tuple[list[tuple[bool, str]], bool],
    params: list[Any],
    *,
    exact: bool,
    rule: Rule,
) -> str:
    """SQL for "one of these texts occurs in the title" (at its start when
    anchored), exact for ASCII titles; other titles go to the regex."""
    alternatives, ignore_case = literal
    tests = []
    for anchored, text in alternatives:
        if ignore_case:
            # LIKE folds ASCII case without building a lowered copy of
            # every title (lower() made this pass several times slower).
            escaped = re.sub(r"([\\%_])", r"\\\1", text)
            tests.append("i.title LIKE ? ESCAPE '\\'")
            prefix = "" if anchored and exact else "%"
            params.append(f"{prefix}{escaped}%")
        elif anchored and exact:
            tests.append(f"substr(i.title, 1, {len(text)}) = ?")
            params.append(text)
        else:
            tests.append("instr(i.title, ?) > 0")
            params.append(text)
    test = "(" + " OR ".join(tests) + ")"
    if not ignore_case:
        return test
    # LIKE knows the case of ASCII letters only; a title with other
    # characters (where Python's case-insensitive match can differ) goes to
    # the regex itself.
    if exact:
        params.append(rule.index)
    fallback = "hw_title(?, i.title)" if exact else "1"
    return (
        "(CASE WHEN length(i.title) = length(CAST(i.title AS BLOB)) "
        f"THEN {test} ELSE {fallback} END)"
    )


_LITERAL_CHAR = re.compile(r"[A-Za-z0-9 _,:;!@#%&'\"=<>~/`-]")


def literal_alternatives(
    pattern: re.Pattern[str],
) -> tuple[list[tuple[bool, str]], bool] | None:
    """A regex that is only literal alternatives, as ``(anchored, text)`` pairs.

    Recognises an optional ``(?i)``, alternatives of plain text with
    backslash-escaped punctuation, each optionally anchored with ``^``, and one
    group of alternatives after ``^`` (``^(demo|call)``). Anything else (and
    case-insensitive text that is not ASCII) returns ``None``: SQL then calls
    the regex itself.
    """
    flags = pattern.flags & ~(re.UNICODE)
    ignore_case = bool(flags & re.IGNORECASE)
    if flags & ~re.IGNORECASE:
        return None
    text = pattern.pattern
    if text.startswith("(?i)"):
        text = text[4:]
    if "(?" in text.replace("(?:", ""):
        return None
    alternatives: list[tuple[bool, str]] = []
    for part in _split_top(text):
        if part is None:
            return None
        anchored = part.startswith("^")
        body = part[1:] if anchored else part
        group = re.fullmatch(r"\((?:\?:)?(.*)\)", body)
        inner = _split_top(group[1]) if group else [body]
        for option in inner:
            literal = _unescape(option) if option is not None else None
            if not literal:
                return None
            if ignore_case and not literal.isascii():
                return None
            alternatives.append((anchored, literal))
    return alternatives, ignore_case


def _split_top(text: str) -> list[str | None]:
    """Split on ``|`` outside parentheses; ``[None]`` when unbalanced."""
    parts, depth, current, escaped = [], 0, "", False
    for char in text:
        if escaped:
            current += char
            escaped = False
            continue
        if char == "\\":
            current += char
            escaped = True
        elif char == "(":
            depth += 1
            current += char
        elif char == ")":
            depth -= 1
            current += char
            if depth < 0:
                return [None]
        elif char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0 or escaped:
        return [None]
    parts.append(current)
    return parts


def _unescape(text: str) -> str | None:
    """The literal text of a regex piece, or ``None`` if it has any syntax."""
    result, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text):
                return None
            escaped = text[index + 1]
            # \b, \d, \w and friends are classes or boundaries, not text.
            if escaped.isalnum() or escaped == "_":
                return None
            result.append(escaped)
            index += 2
            continue
        if not _LITERAL_CHAR.fullmatch(char) and not (
            not char.isascii() and char.isprintable()
        ):
            return None
        result.append(char)
        index += 1
    return "".join(result)


# ---------------------------------------------------------------- explain


def find_item(store: Any, reference: str) -> dict[str, Any]:
    """The ``items`` row named ``SOURCE:ID`` or ``SOURCE:KEY``.

    :raises HeadwayError: the reference is malformed or names no item.
    """
    source, sep, name = reference.partition(":")
    if not sep or not source or not name:
        raise HeadwayError(
            f"{reference!r} does not name an item; write SOURCE:ID or SOURCE:KEY, "
            "e.g. jira:PLAT-12 or github:acme/web#42"
        )
    db = store.db
    rows = list(
        db.query("SELECT * FROM items WHERE source = ? AND id = ?", [source, name])
    )
    if not rows:
        rows = list(
            db.query(
                "SELECT * FROM items WHERE source = ? AND key = ? ORDER BY id",
                [source, name],
            )
        )
    if not rows:
        sources = [r["source"] for r in db.query("SELECT DISTINCT source FROM items")]
        hint = (
            f"; the store has items of {', '.join(sorted(sources))}"
            if source not in sources
            else ""
        )
        raise HeadwayError(f"no item {reference} in the store{hint}")
    if len(rows) > 1:
        ids = ", ".join(f"{source}:{r['id']}" for r in rows[:5])
        raise HeadwayError(f"{reference} names several items ({ids}); give the id")
    return rows[0]


def explain(store: Any, rules: RuleSet, plugins: Any, reference: str) -> dict:
    """Where an item goes under the current rules and why, as plain data.

    The item and its ancestors are classified in Python (the same semantics
    as the store's classification), so the answer is current even when the
    rules changed since the last ``headway score``.
    """
    row = find_item(store, reference)
    item = item_from_row(row)
    chain = [item]
    rows = {(item.source, item.id): row}
    seen = {(item.source, item.id)}
    current = item
    # One level past the deepest ancestor that can decide, for its own
    # parent-key conditions.
    for _ in range(MAX_DEPTH + 1):
        if not current.parent or (current.source, current.parent) in seen:
            break
        found = list(
            store.db.query(
                "SELECT * FROM items WHERE source = ? AND id = ? "
                "AND deleted_at IS NULL",
                [current.source, current.parent],
            )
        )
        if not found:
            break
        current = item_from_row(found[0])
        seen.add((current.source, current.id))
        rows[(current.source, current.id)] = found[0]
        chain.append(current)

    team = rules.team(item)
    if item.team:
        team_from = "set by the connector"
    elif team is not None:
        member = next(p for p in item.people if rules.identities.team_of.get(p.lower()))
        team_from = f"{member} is a member of [teams.{team}]"
    else:
        team_from = "no person of the item is a member of a team in [teams]"

    live = row["deleted_at"] is None
    result = None
    if live:
        result = classify_items(chain, rules, plugins)[(item.source, item.id)]
    ancestors = []
    for index, node in enumerate(chain[1:], 1):
        parent = chain[index + 1] if index + 1 < len(chain) else None
        own = rules.match(node, rules.team(node), parent.key if parent else None)
        ancestors.append(
            {
                "item": item_label(node.source, node.key, node.id),
                "title": node.title,
                "depth": index,
                "rule": own.index if own else None,
                "reason": reason(own) if own else None,
            }
        )
    parent_key = chain[1].key if len(chain) > 1 else None
    decided = rules.rule(result.rule) if result and result.rule else None
    matched = []
    for rule in rules.rules:
        if rules.holds(rule, item, team, parent_key):
            matched.append({"rule": rule.index, "reason": reason(rule)})
    cached = list(
        store.db.query(
            "SELECT a.objective, a.category, a.share, a.reason, s.id AS snapshot_id "
            "FROM latest_snapshot AS s JOIN assignments AS a ON a.rules_hash = "
            "s.rules_hash WHERE a.source = ? AND a.item_id = ?",
            [item.source, item.id],
        )
    )
    return {
        "item": {
            "source": item.source,
            "id": item.id,
            "key": item.key,
            "label": item_label(item.source, item.key, item.id),
            "kind": item.kind,
            "title": item.title,
            "url": item.url,
            "project": item.project,
            "people": list(item.people),
            "labels": list(item.labels),
            "status": item.status,
            "state": item.state,
            "occurred_at": row["occurred_at"],
            "effort": item.effort,
            "parent": item.parent,
            "deleted_at": row["deleted_at"],
        },
        "team": team,
        "team_from": team_from,
        "live": live,
        "assignment": None
        if result is None
        else {
            "category": result.assignment.category,
            "shares": [
                {"objective": o, "share": s} for o, s in result.assignment.shares
            ],
            "reason": result.assignment.reason,
            "via": result.via,
            "rule": result.rule,
            "depth": result.depth,
        },
        "conditions": [
            {"condition": name, "holds": ok}
            for name, ok in (
                rules.conditions(
                    decided,
                    *(
                        (item, team, parent_key)
                        if result and result.via == "rule"
                        else _decider(chain, rules, result.depth if result else 0)
                    ),
                )
                if decided
                else []
            )
        ],
        "matching_rules": matched,
        "ancestors": ancestors,
        "rules_hash": rules.hash,
        "latest_snapshot": [dict(r) for r in cached],
    }


def _decider(
    chain: Sequence[WorkItem], rules: RuleSet, depth: int | None
) -> tuple[WorkItem, str | None, str | None]:
    node = chain[depth or 0]
    parent = chain[(depth or 0) + 1] if (depth or 0) + 1 < len(chain) else None
    return node, rules.team(node), parent.key if parent else None
