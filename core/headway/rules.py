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

import contextlib
import hashlib
import json
import logging
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .config import RULE_CONDITIONS
from .errors import HeadwayError, PluginError
from .model import Assignment, Rule, Scorecard, WorkItem
from .store import Scratch, item_from_row, now_text

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
    """What bringing a rule set's classification up to date did.

    :param rule_set: the rule set's number (``rule_sets.id``), which
        ``classified`` and ``outcomes`` rows carry.
    """

    rules_hash: str
    full: bool
    classified: int
    seconds: float
    rule_set: int = 0


#: The outcome of an item that no rule, ancestor or plugin decided.
DEFAULT_OUTCOME = 0

#: Effort is summed per team and outcome under one integer key,
#: ``team * TEAM_STRIDE + outcome`` (SQLite sums into an integer key several
#: times faster than into a key of two columns).
TEAM_STRIDE = 1 << 32


class Classifier:
    """Keeps a rule set's classification of the store up to date, in SQL.

    The cache is one narrow row per live item in ``classified``: the item's
    number (``items.rid``), its outcome (what decided it: a rule, a plugin's
    answer or nothing, spelled out in ``outcomes``), the ancestor it
    inherited that from, how far up that is, its team (a ``team_names``
    number) and the item's version. The ``assignments`` view turns it back
    into one row per item and objective.

    Call :meth:`refresh` inside a write transaction of the store's
    connection; the caller commits (or rolls back, for ``--no-save``).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        rules: RuleSet,
        plugins: Any = None,
        *,
        store: Path | None = None,
        scratch: Sequence[Scratch] = (),
    ):
        """Classify under ``rules`` on ``conn``, the store's connection.

        :param store: the store's file, and ``scratch``, databases attached
            to ``conn`` (:meth:`~headway.store.Store.scratch`) that the
            transaction has not locked: with both, classifying every item
            shares the first pass with one helper thread per scratch
            database, each reading the store on a connection of its own.
        """
        self.conn = conn
        self.rules = rules
        self.plugins = (
            plugins if plugins is not None and plugins.has_classifiers() else None
        )
        self.store = store
        self.scratch = tuple(scratch) if store is not None else ()
        self.rule_set = 0
        self._team_numbers: dict[str, int] = {}
        self._plugin_outcomes: dict[tuple[Any, ...], int] | None = None
        self._teams_of_people: dict[str, int | None] = {}
        self._register_functions(conn)

    # ------------------------------------------------------------ public

    def refresh(self, *, full: bool = False) -> RefreshStats:
        """Classify every item that changed since this rule set last saw the
        store (all of them the first time, or with ``full``)."""
        started = time.perf_counter()
        conn = self.conn
        hash_ = self.rules.hash
        watermark = conn.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]
        row = conn.execute(
            "SELECT id, classified_through FROM rule_sets WHERE rules_hash = ?",
            (hash_,),
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO rule_sets (rules_hash, rules, classified_at) "
                "VALUES (?, ?, ?)",
                (
                    hash_,
                    json.dumps(
                        self.rules.description, ensure_ascii=False, sort_keys=True
                    ),
                    now_text(),
                ),
            )
            self.rule_set, through, full = int(cursor.lastrowid or 0), 0, True
        else:
            self.rule_set, through = row

        self._drop_temp()
        classified = 0
        if full:
            conn.execute("DELETE FROM classified WHERE rule_set = ?", (self.rule_set,))
            self._write_outcomes()
            self._prepare()
            classified = self._classify(None)
        elif through < watermark:
            self._prepare()
            if self._find_dirty(through):
                # The dirty items' rows go first; each is a seek by key.
                conn.execute(
                    "DELETE FROM classified WHERE rule_set = ? "
                    "AND item IN (SELECT rid FROM temp.hw_dirty)",
                    (self.rule_set,),
                )
                classified = self._classify("hw_dirty")
        conn.execute(
            "UPDATE rule_sets SET classified_through = ?, classified_at = ? "
            "WHERE id = ?",
            (max(watermark, through), now_text(), self.rule_set),
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
        return RefreshStats(hash_, full, classified, seconds, self.rule_set)

    # ------------------------------------------------------------ steps

    def _write_outcomes(self) -> None:
        """The rule set's outcomes: nothing matched (0), and each rule's
        assignment under its index. Plugins' answers are added as they come."""
        conn = self.conn
        conn.execute("DELETE FROM outcomes WHERE rule_set = ?", (self.rule_set,))
        rows = [
            (
                self.rule_set,
                DEFAULT_OUTCOME,
                0,
                None,
                "unaligned",
                1.0,
                NO_MATCH,
                None,
                "default",
            )
        ]
        for rule in self.rules.rules:
            parts = _rows_of(self.rules.assignment(rule))
            for part, (objective, category, share) in enumerate(parts):
                rows.append(
                    (
                        self.rule_set,
                        rule.index,
                        part,
                        objective,
                        category,
                        share,
                        reason(rule),
                        rule.index,
                        "rule",
                    )
                )
        conn.executemany(_INSERT_OUTCOME, rows)
        self._plugin_outcomes = {}

    def _prepare(self) -> None:
        """Number the teams, and ``temp.hw_identity``: every member identity
        (lower case) with its team's number."""
        conn = self.conn
        scorecard = self.rules.scorecard
        names = [t.key for t in scorecard.teams]
        names += [t for rule in self.rules.rules for t in rule.team]
        conn.executemany(
            "INSERT OR IGNORE INTO team_names (name) VALUES (?)",
            [(name,) for name in dict.fromkeys(names)],
        )
        self._team_numbers = dict(conn.execute("SELECT name, id FROM team_names"))
        self._lookups(conn)

    def _lookups(self, conn: sqlite3.Connection) -> None:
        """The temporary tables the first pass looks teams up in, on ``conn``:
        every team's number, and every member identity with its team's."""
        conn.execute(
            "CREATE TEMP TABLE hw_team_number (name TEXT PRIMARY KEY, "
            "number INTEGER NOT NULL) WITHOUT ROWID"
        )
        conn.executemany(
            "INSERT INTO temp.hw_team_number VALUES (?, ?)",
            self._team_numbers.items(),
        )
        # NOCASE folds ASCII like Python's lower() does; identities that are
        # not ASCII never reach this table's lookup (see _TEAM).
        conn.execute(
            "CREATE TEMP TABLE hw_identity (identity TEXT COLLATE NOCASE PRIMARY "
            "KEY, team INTEGER NOT NULL) WITHOUT ROWID"
        )
        conn.executemany(
            "INSERT INTO temp.hw_identity VALUES (?, ?)",
            sorted(
                (identity, self._team_numbers[team])
                for identity, team in self.rules.identities.team_of.items()
            ),
        )

    def _find_dirty(self, watermark: int) -> int:
        """Items changed by runs after ``watermark``, and their descendants."""
        conn = self.conn
        conn.execute("CREATE TEMP TABLE hw_dirty (rid INTEGER PRIMARY KEY)")
        conn.execute(
            "INSERT INTO temp.hw_dirty (rid) "
            "SELECT i.rid FROM items AS i WHERE i.run_id > ? AND ("
            "  (i.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM classified AS c "
            "     WHERE c.rule_set = ? AND c.item = i.rid AND c.version = i.version))"
            "  OR (i.deleted_at IS NOT NULL AND EXISTS (SELECT 1 FROM classified "
            "     AS c WHERE c.rule_set = ? AND c.item = i.rid)))",
            (watermark, self.rule_set, self.rule_set),
        )
        changed = conn.execute("SELECT count(*) FROM temp.hw_dirty").fetchone()[0]
        if not changed:
            return 0
        conn.execute(
            "WITH RECURSIVE down (rid, source, id, depth) AS ("
            "  SELECT i.rid, i.source, i.id, 0 FROM temp.hw_dirty AS d"
            "  CROSS JOIN items AS i ON i.rid = d.rid"
            "  UNION"
            "  SELECT c.rid, c.source, c.id, down.depth + 1 FROM down JOIN items AS c"
            "    ON c.source = down.source AND c.parent = down.id"
            f"  WHERE down.depth < {MAX_DEPTH})"
            "INSERT OR IGNORE INTO temp.hw_dirty (rid) SELECT rid FROM down"
        )
        return conn.execute("SELECT count(*) FROM temp.hw_dirty").fetchone()[0]

    def _classify(self, dirty: str | None) -> int:
        """Classify the live items of ``dirty`` (a temp table) or of the store."""
        conn = self.conn
        case, params = self._case()
        if dirty is None:
            scope = "FROM items AS i WHERE i.deleted_at IS NULL"
        else:
            scope = (
                f"FROM temp.{dirty} AS d CROSS JOIN items AS i ON i.rid = d.rid "
                "WHERE i.deleted_at IS NULL"
            )
        # Each item's own outcome (NULL: no rule matched), team, version and
        # live parent. `team` has no type: a team name that is not numbered
        # yet stays text until _number_new_teams gives it a number.
        conn.execute(
            "CREATE TEMP TABLE hw_items (rid INTEGER PRIMARY KEY, outcome INTEGER, "
            "team, version INTEGER NOT NULL, parent INTEGER)"
        )
        # One flat pass: SQLite reads each column it needs straight from the
        # row (a subquery to compute the team once would copy every column of
        # every row, several times slower).
        select = f"SELECT i.rid, {case}, {_TEAM}, i.version, {_PARENT} {scope}"
        if dirty is None and self.scratch:
            self._first_pass_shared(select, params)
        else:
            conn.execute(f"INSERT INTO temp.hw_items {select}", params)
        self._number_new_teams()
        # What the items no rule matched get instead: an ancestor's outcome,
        # or a plugin's answer.
        conn.execute(
            "CREATE TEMP TABLE hw_decided (rid INTEGER PRIMARY KEY, "
            "outcome INTEGER NOT NULL, origin INTEGER, depth INTEGER NOT NULL)"
        )
        self._inherit(full=dirty is None)
        if self.plugins is not None:
            self._ask_plugins()
        conn.execute(
            "INSERT INTO classified (rule_set, item, outcome, origin, depth, team, "
            "version) SELECT ?, h.rid, coalesce(h.outcome, d.outcome, ?), d.origin, "
            "CASE WHEN h.outcome IS NOT NULL THEN 0 ELSE d.depth END, h.team, "
            "h.version FROM temp.hw_items AS h "
            "LEFT JOIN temp.hw_decided AS d ON d.rid = h.rid",
            (self.rule_set, DEFAULT_OUTCOME),
        )
        if self.plugins is not None:
            self._forget_unused_answers()
        return conn.execute("SELECT count(*) FROM temp.hw_items").fetchone()[0]

    def _first_pass_shared(self, select: str, params: list[Any]) -> None:
        """The first pass over every item, in ranges of item numbers that this
        thread and the helper threads take in turn.

        SQLite runs each statement without Python's lock, so the threads run
        on as many cores. A helper writes its rows to its scratch database,
        read back here when all are done. Should a helper fail (its scratch
        database's disk is full, say), this thread does the pass alone.
        """
        conn = self.conn
        low, high = conn.execute("SELECT min(rid), max(rid) FROM items").fetchone()
        if low is None:
            return
        workers = len(self.scratch) + 1
        size = max(_MIN_RANGE, -(-(high - low + 1) // (workers * _RANGES_EACH)))
        ranges: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        for start in range(low, high + 1, size):
            ranges.put((start, start + size))
        ranged = f"{select} AND i.rid >= ? AND i.rid < ?"
        helpers = [
            _Helper(self, scratch, ranged, params, ranges) for scratch in self.scratch
        ]
        for helper in helpers:
            helper.start()
        try:
            _take_ranges(conn, "temp.hw_items", ranged, params, ranges)
        except BaseException:
            for helper in helpers:
                helper.cancel()
            raise
        finally:
            for helper in helpers:
                helper.join()
        failed = [helper.error for helper in helpers if helper.error is not None]
        if failed:
            log.warning(
                "classifying on %d threads failed (%s); classifying on one",
                workers,
                failed[0],
            )
            conn.execute("DELETE FROM temp.hw_items")
            conn.execute(f"INSERT INTO temp.hw_items {select}", params)
            return
        for scratch in self.scratch:
            conn.execute(f"INSERT INTO temp.hw_items SELECT * FROM {scratch.name}.part")
        log.debug(
            "first pass in ranges of %d item numbers on %d threads", size, workers
        )

    def _number_new_teams(self) -> None:
        """Team names the connectors set that have no number yet get one."""
        conn = self.conn
        new = [
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT team FROM temp.hw_items WHERE typeof(team) = 'text'"
            )
        ]
        if not new:
            return
        conn.executemany(
            "INSERT OR IGNORE INTO team_names (name) VALUES (?)", [(n,) for n in new]
        )
        self._team_numbers = dict(conn.execute("SELECT name, id FROM team_names"))
        conn.execute(
            "UPDATE temp.hw_items SET team = (SELECT t.id FROM team_names AS t "
            "WHERE t.name = hw_items.team) WHERE typeof(team) = 'text'"
        )

    def _inherit(self, *, full: bool) -> None:
        """Items no rule matched take the rule-made outcome of their nearest
        ancestor that a rule decided, within :data:`MAX_DEPTH` levels."""
        conn = self.conn
        # Most have a parent that a rule matched: one join decides them.
        conn.execute(
            "INSERT INTO temp.hw_decided SELECT h.rid, p.outcome, h.parent, 1 "
            "FROM temp.hw_items AS h CROSS JOIN temp.hw_items AS p "
            "ON p.rid = h.parent WHERE h.outcome IS NULL AND p.outcome IS NOT NULL"
        )
        conn.execute(
            "CREATE TEMP TABLE hw_terminal (rid INTEGER PRIMARY KEY, "
            "anc INTEGER NOT NULL, depth INTEGER NOT NULL)"
        )
        # The others walk up through ancestors no rule matched, and stop at
        # the first one that is not such an ancestor of this batch.
        conn.execute(
            "WITH RECURSIVE up (rid, anc, depth) AS ("
            "  SELECT h.rid, h.parent, 1 FROM temp.hw_items AS h"
            "  LEFT JOIN temp.hw_items AS p ON p.rid = h.parent"
            "  WHERE h.outcome IS NULL AND h.parent IS NOT NULL AND p.outcome IS NULL"
            "  UNION ALL"
            "  SELECT up.rid, h.parent, up.depth + 1 FROM up"
            "  JOIN temp.hw_items AS h ON h.rid = up.anc"
            "  WHERE h.outcome IS NULL AND h.parent IS NOT NULL"
            f"  AND up.depth < {MAX_DEPTH})"
            "INSERT OR IGNORE INTO temp.hw_terminal SELECT rid, anc, depth FROM up "
            "WHERE NOT EXISTS (SELECT 1 FROM temp.hw_items AS h "
            "WHERE h.rid = up.anc AND h.outcome IS NULL)"
        )
        # That ancestor is in this batch and a rule matched it...
        conn.execute(
            "INSERT INTO temp.hw_decided SELECT t.rid, h.outcome, t.anc, t.depth "
            "FROM temp.hw_terminal AS t CROSS JOIN temp.hw_items AS h ON h.rid = t.anc"
        )
        if not full:
            # ... or is an unchanged item whose cached outcome is a rule's,
            # its own or inherited.
            conn.execute(
                "INSERT OR IGNORE INTO temp.hw_decided SELECT t.rid, c.outcome, "
                "coalesce(c.origin, t.anc), t.depth + c.depth "
                "FROM temp.hw_terminal AS t CROSS JOIN classified AS c "
                "ON c.rule_set = ? AND c.item = t.anc "
                f"WHERE c.outcome BETWEEN 1 AND ? AND t.depth + c.depth <= {MAX_DEPTH}",
                (self.rule_set, len(self.rules.rules)),
            )
        conn.execute("DROP TABLE temp.hw_terminal")

    def _ask_plugins(self) -> None:
        """The plugin phase: Python over the items nothing decided yet."""
        conn = self.conn
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row
        rows = cursor.execute(
            "SELECT i.*, h.team AS _team, h.parent AS _parent FROM temp.hw_items AS h "
            "CROSS JOIN items AS i ON i.rid = h.rid WHERE h.outcome IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM temp.hw_decided AS d WHERE d.rid = h.rid)"
        ).fetchall()
        if not rows:
            return
        team_names = {number: name for name, number in self._team_numbers.items()}
        items: dict[ItemKey, WorkItem] = {}
        rid_of: dict[ItemKey, int] = {}
        key_of: dict[int, ItemKey] = {}
        teams: dict[ItemKey, str | None] = {}
        for r in rows:
            key = (r["source"], r["id"])
            items[key] = item_from_row(r)
            rid_of[key], key_of[r["rid"]] = r["rid"], key
            teams[key] = team_names.get(r["_team"])
        keys: dict[ItemKey, str | None] = {k: i.key for k, i in items.items()}
        parent_of: dict[ItemKey, ItemKey | None] = {}
        outside: dict[ItemKey, tuple[Classified, int, int | None]] = {}
        for r in rows:
            key, parent = key_of[r["rid"]], r["_parent"]
            if parent is None or parent in key_of:
                parent_of[key] = key_of.get(parent) if parent is not None else None
                continue
            found = self._decided(parent)
            parent_of[key] = None
            if found is not None:
                classified, outcome, origin, source, ident, label_key = found
                parent_key = (source, ident)
                parent_of[key] = parent_key
                outside[parent_key] = (classified, outcome, origin)
                rid_of[parent_key] = parent
                keys[parent_key] = label_key

        def label(key: ItemKey) -> str:
            return item_label(key[0], keys.get(key), key[1])

        decided = resolve_leftovers(
            sorted(items),
            parent_of=parent_of,
            outside=lambda key: outside[key][0] if key in outside else None,
            ask=lambda key: _ask_plugins(
                self.plugins, items[key], self.rules, teams[key]
            ),
            teams=teams,
            label=label,
        )

        # Where each decided item's outcome came from: the item a plugin
        # answered for (an inherited item names it in its reason).
        found: dict[ItemKey, tuple[int, int | None]] = {}

        def source_of(key: ItemKey) -> tuple[int, int | None]:
            if key in outside:
                return outside[key][1], outside[key][2]
            if key not in found:
                result = decided[key]
                if result.via == "plugin":
                    found[key] = (self._plugin_outcome(result.assignment), None)
                else:
                    parent = parent_of[key]
                    assert parent is not None
                    outcome, origin = source_of(parent)
                    above = outside[parent][0] if parent in outside else decided[parent]
                    found[key] = (
                        outcome,
                        rid_of[parent] if above.via == "plugin" else origin,
                    )
            return found[key]

        rows_out = []
        for key, result in decided.items():
            if result.via == "default":
                continue
            outcome, origin = source_of(key)
            rows_out.append((rid_of[key], outcome, origin, result.depth or 0))
        conn.executemany("INSERT INTO temp.hw_decided VALUES (?, ?, ?, ?)", rows_out)

    def _decided(
        self, rid: int
    ) -> tuple[Classified, int, int | None, str, str, str | None] | None:
        """How an item outside the plugin phase's leftovers was decided, if it
        was: its classification, outcome and origin, with its name."""
        conn = self.conn
        row = conn.execute(
            "SELECT outcome, origin, depth FROM temp.hw_decided WHERE rid = ? "
            "UNION ALL SELECT outcome, NULL, 0 FROM temp.hw_items "
            "WHERE rid = ? AND outcome IS NOT NULL "
            "UNION ALL SELECT outcome, origin, depth FROM classified "
            "WHERE rule_set = ? AND item = ? LIMIT 1",
            (rid, rid, self.rule_set, rid),
        ).fetchone()
        named = conn.execute(
            "SELECT source, id, key FROM items WHERE rid = ?", (rid,)
        ).fetchone()
        if row is None or named is None:
            return None
        outcome, origin, depth = row
        parts = conn.execute(
            "SELECT objective, category, share, reason, rule, via FROM outcomes "
            "WHERE rule_set = ? AND outcome = ? ORDER BY part",
            (self.rule_set, outcome),
        ).fetchall()
        first = parts[0]
        if first[1] == "strategic":
            assignment = Assignment(
                shares=tuple((p[0], p[2]) for p in parts),
                category="strategic",
                reason=first[3],
            )
        else:
            assignment = Assignment(category=first[1], reason=first[3])
        via = "inherited" if origin is not None else first[5]
        classified = Classified(assignment, via, first[4], depth)
        return classified, outcome, origin, *named

    def _plugin_outcome(self, assignment: Assignment) -> int:
        """The outcome number of a plugin's answer: the same answer shares one."""
        conn = self.conn
        if self._plugin_outcomes is None:
            known: dict[int, list[Any]] = {}
            for outcome, objective, category, share, text in conn.execute(
                "SELECT outcome, objective, category, share, reason FROM outcomes "
                "WHERE rule_set = ? AND via = 'plugin' ORDER BY outcome, part",
                (self.rule_set,),
            ):
                known.setdefault(outcome, []).append((objective, category, share, text))
            self._plugin_outcomes = {
                _answer_key(parts): outcome for outcome, parts in known.items()
            }
        parts = [
            (objective, category, share, assignment.reason)
            for objective, category, share in _rows_of(assignment)
        ]
        answer = _answer_key(parts)
        if answer not in self._plugin_outcomes:
            top = conn.execute(
                "SELECT max(outcome) FROM outcomes WHERE rule_set = ?",
                (self.rule_set,),
            ).fetchone()[0]
            number = max(top or 0, len(self.rules.rules)) + 1
            conn.executemany(
                _INSERT_OUTCOME,
                [
                    (self.rule_set, number, part, o, c, s, text, None, "plugin")
                    for part, (o, c, s, text) in enumerate(parts)
                ],
            )
            self._plugin_outcomes[answer] = number
        return self._plugin_outcomes[answer]

    def _forget_unused_answers(self) -> None:
        """Plugin answers no item has any more leave ``outcomes``."""
        self.conn.execute(
            "DELETE FROM outcomes WHERE rule_set = ? AND via = 'plugin' "
            "AND outcome NOT IN (SELECT outcome FROM classified "
            "WHERE rule_set = ? AND outcome > ?)",
            (self.rule_set, self.rule_set, len(self.rules.rules)),
        )
        self._plugin_outcomes = None

    # ------------------------------------------------------------ compiling

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
        # the JSON, team and regex work only runs for items that got this far.
        for name in ("source", "kind", "project", "status", "state"):
            # Within a branch of the dispatch, its field's condition holds.
            if getattr(rule, name) and name not in decided:
                any_of(f"i.{name}", getattr(rule, name))
        if rule.labels:
            parts.append(_labels_sql(rule.labels, params))
        title = rule.title
        if title is not None and _title_is_sql(title):
            parts.append(_title_sql(rule, params))
            title = None
        for name, values in rule.attributes.items():
            parts.append(_attribute_sql(rule, name, values, params))
        if rule.team:
            any_of(f"({_TEAM})", [self._team_numbers[t] for t in rule.team])
        if rule.parent:
            marks = ", ".join("?" for _ in rule.parent)
            parts.append(
                f"(i.parent IN ({marks}) OR (SELECT p.key FROM items AS p "
                "WHERE p.source = i.source AND p.id = i.parent "
                f"AND p.deleted_at IS NULL) IN ({marks}) OR "
                f"json_extract(i.attributes, '$.parent_key') IN ({marks}))"
            )
            params += [*rule.parent, *rule.parent, *rule.parent]
        if title is not None:
            parts.append(_title_sql(rule, params))
        if rule.people:
            parts.append(_people_sql(rule, self.rules._people[rule.index], params))
        return ("(" + " AND ".join(parts) + ")" if parts else "1"), params

    def _register_functions(self, conn: sqlite3.Connection) -> None:
        """The Python functions the compiled rules call, on ``conn``; the
        helper threads' connections share them (and their caches)."""
        rules = self.rules
        identities = rules.identities
        patterns = {r.index: r.title for r in rules.rules if r.title is not None}
        wanted = {r.index: rules._people[r.index] for r in rules.rules if r.people}
        teams = self._teams_of_people
        people_cache: dict[tuple[int, str], bool] = {}

        def team_of(people: str | None) -> int | None:
            if not people:
                return None
            if people not in teams:
                name = identities.team(None, _json_list(people))
                teams[people] = None if name is None else self._team_numbers[name]
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

        conn.create_function("hw_team", 1, team_of, deterministic=True)
        conn.create_function("hw_attribute", 3, attribute_match, deterministic=True)
        conn.create_function("hw_title", 2, title_matches, deterministic=True)
        conn.create_function("hw_people", 2, people_match, deterministic=True)

    def _drop_temp(self) -> None:
        for name in (
            "hw_dirty",
            "hw_items",
            "hw_decided",
            "hw_terminal",
            "hw_team_number",
            "hw_identity",
        ):
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


# SQLite's default limit on bound parameters is 32,766.
_MAX_PARAMETERS = 30_000

#: A full classification of at least this many item numbers shares its first
#: pass with helper threads (see :func:`classification_helpers`).
PARALLEL_ITEMS = 100_000
#: At most this many helper threads.
MAX_HELPERS = 3
# Each thread takes about this many ranges of item numbers (smaller ranges
# even out threads that meet costlier items), each of at least _MIN_RANGE.
_RANGES_EACH = 8
_MIN_RANGE = 1_000

_FIRST_PASS_COLUMNS = (
    "rid INTEGER PRIMARY KEY, outcome INTEGER, team, version INTEGER NOT NULL, "
    "parent INTEGER"
)


def classification_helpers(
    conn: sqlite3.Connection, rules: RuleSet, *, full: bool = False
) -> int:
    """How many helper threads classifying the store under ``rules`` should
    use: one per spare core (at most :data:`MAX_HELPERS`) when every item is
    classified (a rule set new to the store, or ``full``) and there are at
    least :data:`PARALLEL_ITEMS` of them; else none."""
    cores = _cores()
    if cores < 2:
        return 0
    known = conn.execute(
        "SELECT 1 FROM rule_sets WHERE rules_hash = ?", (rules.hash,)
    ).fetchone()
    if known is not None and not full:
        return 0
    low, high = conn.execute("SELECT min(rid), max(rid) FROM items").fetchone()
    if low is None or high - low + 1 < PARALLEL_ITEMS:
        return 0
    return min(cores - 1, MAX_HELPERS)


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _take_ranges(
    conn: sqlite3.Connection,
    table: str,
    select: str,
    params: list[Any],
    ranges: queue.SimpleQueue[tuple[int, int]],
    stop: threading.Event | None = None,
) -> None:
    """Run the first pass over ranges from ``ranges`` into ``table`` until
    there are none left (or ``stop`` is set)."""
    while stop is None or not stop.is_set():
        try:
            start, end = ranges.get_nowait()
        except queue.Empty:
            return
        conn.execute(f"INSERT INTO {table} {select}", [*params, start, end])


class _Helper(threading.Thread):
    """A thread that runs part of the first pass on a connection of its own:
    its scratch database, with the store attached read-only."""

    def __init__(
        self,
        classifier: Classifier,
        scratch: Scratch,
        select: str,
        params: list[Any],
        ranges: queue.SimpleQueue[tuple[int, int]],
    ):
        super().__init__(name=f"headway-classify-{scratch.name}", daemon=True)
        self.classifier = classifier
        self.scratch = scratch
        self.select = select
        self.params = params
        self.ranges = ranges
        self.error: BaseException | None = None
        self._stop_taking = threading.Event()
        self._conn: sqlite3.Connection | None = None

    def run(self) -> None:
        try:
            self._conn = self._connect()
            conn = self._conn
            conn.execute(f"CREATE TABLE part ({_FIRST_PASS_COLUMNS})")
            conn.execute("BEGIN")
            _take_ranges(
                conn,
                "main.part",
                self.select,
                self.params,
                self.ranges,
                self._stop_taking,
            )
            conn.execute("COMMIT")
        except BaseException as error:  # reported to the main thread
            self.error = error
        finally:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()

    def cancel(self) -> None:
        """Stop at once: the main thread is failing (or interrupted)."""
        self._stop_taking.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.interrupt()

    def _connect(self) -> sqlite3.Connection:
        classifier = self.classifier
        assert classifier.store is not None
        conn = sqlite3.connect(
            self.scratch.path.as_uri(),
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        # Scratch: nothing in it must survive a crash.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        conn.execute(
            "ATTACH DATABASE ? AS store",
            (f"{classifier.store.resolve().as_uri()}?mode=ro",),
        )
        conn.execute("PRAGMA store.cache_size = -65536")
        conn.execute("PRAGMA store.mmap_size = 1073741824")
        classifier._register_functions(conn)
        classifier._lookups(conn)
        return conn


_BUSY_MS = 30_000

_INSERT_OUTCOME = (
    "INSERT INTO outcomes (rule_set, outcome, part, objective, category, share, "
    "reason, rule, via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# An item's team number in SQL: the connector's team (text until it is
# numbered); else, when the first person is a member, that person's team,
# looked up directly; else the Python resolver (also for identities that are
# not ASCII, whose case SQLite cannot fold).
_TEAM = (
    "CASE WHEN i.team IS NOT NULL AND i.team != '' THEN coalesce("
    "(SELECT n.number FROM temp.hw_team_number AS n WHERE n.name = i.team), i.team) "
    "WHEN i.people = '[]' THEN NULL "
    "WHEN length(i.people) = length(CAST(i.people AS BLOB)) THEN coalesce("
    "(SELECT t.team FROM temp.hw_identity AS t "
    "WHERE t.identity = json_extract(i.people, '$[0]')), hw_team(i.people)) "
    "ELSE hw_team(i.people) END"
)

# The number of an item's parent, if the store has it. A tombstoned parent
# needs no test here: it is never classified (not in this batch, no row in
# `classified`), so nothing inherits from it. That keeps the look-up inside
# the (source, id) index.
_PARENT = (
    "CASE WHEN i.parent IS NULL THEN NULL ELSE (SELECT p.rid FROM items AS p "
    "WHERE p.source = i.source AND p.id = i.parent) END"
)


def _rows_of(assignment: Assignment) -> list[tuple[str | None, str, float]]:
    if assignment.shares:
        return [
            (objective, "strategic", share) for objective, share in assignment.shares
        ]
    return [(None, assignment.category, 1.0)]


def _answer_key(parts: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(tuple(part) for part in parts)


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


def _title_is_sql(pattern: re.Pattern[str]) -> bool:
    """Whether a title test is SQL text comparisons (for ASCII titles): plain
    text, or a regex whose text pieces SQL tests before calling it."""
    if literal_alternatives(pattern) is not None:
        return True
    try:
        loose = re.compile(_without_zero_width(pattern.pattern), pattern.flags)
    except re.error:
        return False
    return literal_alternatives(loose) is not None


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
    backslash-escaped punctuation, each optionally anchored with ``^``, and
    groups of plain alternatives inside them (``^(demo|call)``, ``sprint
    (planning|retro)``), which are spelled out into every text they allow
    (at most :data:`_MAX_SPELLED` of them). Anything else (and
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
        spelled = _spell_out(part[1:] if anchored else part)
        if spelled is None:
            return None
        for literal in spelled:
            if not literal or (ignore_case and not literal.isascii()):
                return None
            alternatives.append((anchored, literal))
        if len(alternatives) > _MAX_SPELLED:
            return None
    return alternatives, ignore_case


#: The most texts a pattern of literal groups is spelled out into for SQL.
_MAX_SPELLED = 32


def _spell_out(body: str) -> list[str] | None:
    """Every text a run of plain text and groups of plain alternatives
    matches (``a (b|c)`` gives ``a b`` and ``a c``), or ``None`` if it has
    any other syntax."""
    texts, index = [""], 0
    while index < len(body):
        if body[index] == "(":
            close = _group_end(body, index)
            if close is None or body[close + 1 : close + 2] in ("?", "*", "+", "{"):
                return None
            inner = body[index + 1 : close].removeprefix("?:")
            options = [
                _unescape(o) if o is not None else None for o in _split_top(inner)
            ]
            if any(o is None or "(" in inner for o in options):
                return None
            texts = [t + o for t in texts for o in options if o is not None]
            index = close + 1
        else:
            end = index
            while end < len(body) and body[end] != "(":
                end += 2 if body[end] == "\\" else 1
            literal = _unescape(body[index:end])
            if literal is None:
                return None
            texts = [t + literal for t in texts]
            index = end
        if len(texts) > _MAX_SPELLED:
            return None
    return texts


def _group_end(text: str, start: int) -> int | None:
    """The index of the ``)`` closing the group opened at ``start``."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == ")":
            return index
        index += 1
    return None


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
