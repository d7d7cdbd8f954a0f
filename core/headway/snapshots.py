"""Score runs and snapshots: classify, gather, score, store, load, compare.

:func:`score` is what ``headway score`` runs: it brings the rule set's
classification up to date, reads every measure's value, sums effort per team
and objective, scores with :mod:`headway.scoring`, and stores an immutable
snapshot. :func:`load_snapshot` returns everything a stored snapshot holds as
plain data; ``headway score --json`` prints exactly that, and the HTML
report renders it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import logging
import math
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from . import __version__
from .config import Config, parse_config
from .errors import HeadwayError, ScoringError
from .measures import MeasureContext
from .model import KeyResult, Measure, Period, Scorecard, Snapshot, format_utc
from .rules import (
    TEAM_STRIDE,
    Classifier,
    Identities,
    RefreshStats,
    classification_helpers,
    item_label,
    rule_set,
)
from .scoring import (
    BUSYWORK_GROUPS,
    Alignment,
    Allocation,
    Insight,
    Node,
    Picture,
    Reading,
    WorkGroup,
    align,
    balance,
    busy_not_moving,
    busywork,
    by_team,
    capacity_plan,
    group_work,
    neglected,
    picture,
    rank_groups,
    score_scorecard,
    share,
    title_pattern,
    trade_offs,
)
from .store import Store, now_text

log = logging.getLogger(__name__)

_SCORING_PRAGMAS = (
    "PRAGMA cache_size = -262144",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA mmap_size = 1073741824",
)

#: How many rule sets keep their classification cache.
KEPT_RULE_SETS = 5

_NO_TEAM = "(no team)"


@attrs.frozen
class Window:
    """The span a score looks at, and the moment its pace is measured at.

    :param period: the scorecard's period.
    :param moment: "now" for the pace: the end of the ``--as-of`` day, else
        the time of scoring.
    :param as_of: the end of the ``--as-of`` day (exclusive), if given.
    """

    period: Period
    moment: datetime
    as_of: datetime | None = None

    @property
    def start(self) -> datetime:
        """The first instant counted."""
        return self.period.start_at

    @property
    def end(self) -> datetime:
        """The first instant not counted: the period's end, or the moment if
        earlier (the end of the ``--as-of`` day, or the time of scoring):
        effort that has not happened yet (next week's meetings) is not
        counted as spent."""
        return min(self.moment, self.period.end_at)

    def bounds(self) -> tuple[str, str]:
        """``start`` and ``end`` in the store's text form (``:start``, ``:end``)."""
        return format_utc(self.start), format_utc(self.end)  # type: ignore[return-value]

    def measured_period(self) -> Period:
        """The period cut at :attr:`end`, as measure functions see it: up to
        the day of the moment (the ``--as-of`` day, or today)."""
        end = self.end
        if end >= self.period.end_at:
            return self.period
        last = max(self.period.start, (end - timedelta(microseconds=1)).date())
        return Period(self.period.start, last, self.period.label)


def window(period: Period, *, as_of: date | None, now: datetime) -> Window:
    """The window of a score at ``now``, or as the store stood at ``as_of``."""
    if as_of is None:
        return Window(period, now)
    end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)
    return Window(period, end, end)


@attrs.frozen
class ScoreRun:
    """What :func:`score` did: the snapshot as data, and whether it was saved.

    :param timings: seconds spent in each step (``classify``, ``effort``,
        ``values``, ``insights``, ``save``), for ``-v`` and the benchmarks.
    :param cpu_timings: the CPU seconds of the same steps.
    """

    data: dict[str, Any]
    snapshot: Snapshot | None
    classification: RefreshStats
    timings: Mapping[str, float] = attrs.field(factory=dict)
    cpu_timings: Mapping[str, float] = attrs.field(factory=dict)


# ---------------------------------------------------------------- scoring


def score(
    config: Config,
    store: Store,
    plugins: Any,
    *,
    as_of: date | None = None,
    now: datetime | None = None,
    save: bool = True,
    reclassify: bool = False,
    recomputing: int | None = None,
) -> ScoreRun:
    """Classify, score and (unless ``save`` is false) store a snapshot.

    Holds the store's lock for the run, so no sync changes items meanwhile.
    Without ``save`` everything, the classification cache included, is
    rolled back: the store is left as it was.

    :param as_of: score as the store stood at the end of this day: items that
        occurred by then, metrics and manual values recorded by then, and the
        pace measured then.
    :param now: the time of scoring (tests pass a fixed one).
    :param reclassify: classify every item again, ignoring the cache.
    :param recomputing: the id of the stored snapshot this computes again:
        only the snapshots stored before it count as previous ones.
    :raises ScoringError: a measure's SQL fails or returns something that is
        not one number.
    """
    scorecard = config.scorecard
    now = now or datetime.now(UTC)
    span = window(scorecard.period, as_of=as_of, now=now)
    rules = rule_set(scorecard, plugins)

    clock = _Clock()
    figures_of = functools.partial(
        _figures,
        store,
        config=config,
        plugins=plugins,
        span=span,
        now=now,
        rules_hash=rules.hash,
        clock=clock,
        recomputing=recomputing,
    )
    store.acquire_lock("score")
    # Scoring reads and writes every row of large tables: a bigger page
    # cache, memory-mapped reads and temporary tables in memory spare
    # SQLite most of its system calls.
    for pragma in _SCORING_PRAGMAS:
        store.conn.execute(pragma)
    try:
        # Classifying every item of a large store shares the work with
        # helper threads, which read the store on their own connections and
        # write to scratch databases this transaction leaves unlocked.
        helpers = classification_helpers(store.conn, rules, full=reclassify)
        with (
            store.scratch(helpers) as scratch,
            store.transaction(rollback=not save, lock_attached=False) as conn,
        ):
            classifier = Classifier(
                conn, rules, plugins, store=store.path, scratch=scratch
            )
            classification = classifier.refresh(full=reclassify)
            if not save:
                clock.lap("classify")
                # Nothing may stay: the figures are read in this same
                # transaction, which alone sees the classification.
                figures = figures_of(conn, classification, save=False)
        if save:
            clock.lap("classify")
            # The classification is committed (a cache, right whatever comes
            # next): the figures read it on several connections at once.
            with store.transaction() as conn:
                figures = figures_of(conn, classification, save=True)
        clock.lap("save")
    finally:
        store.release_lock()
    row, scores, allocations, insights, snapshot_id = figures
    log.info(
        "scored in %.2f s (%s)",
        sum(clock.laps.values()),
        ", ".join(f"{name} {seconds:.2f} s" for name, seconds in clock.laps.items()),
    )

    if snapshot_id is None:
        unsaved = {**row, "id": None}
        data = snapshot_data(
            unsaved,
            scores,
            [a.row() for a in allocations],
            [_insight_row(index, i) for index, i in enumerate(insights, 1)],
            trends=[
                *_trends(store, row["taken_at"], before=recomputing),
                _trend_entry(unsaved, scores, allocations),
            ],
            sources=_sources(store, row["config"]),
        )
        return ScoreRun(data, None, classification, clock.laps, clock.cpu)

    snapshot = Snapshot(
        id=snapshot_id,
        taken_at=span.moment,
        period=scorecard.period.label,
        score=row["score"],
        balance=row["balance"],
        alignment=row["alignment"],
        rules_hash=rules.hash,
    )
    log.info("saved snapshot %d", snapshot_id)
    if plugins is not None:
        plugins.snapshot_saved(snapshot, store.db)
    return ScoreRun(
        load_snapshot(store, snapshot_id),
        snapshot,
        classification,
        clock.laps,
        clock.cpu,
    )


def _figures(
    store: Store,
    conn: sqlite3.Connection,
    classification: RefreshStats,
    *,
    config: Config,
    plugins: Any,
    span: Window,
    now: datetime,
    rules_hash: str,
    clock: _Clock,
    recomputing: int | None,
    save: bool,
) -> tuple[
    dict[str, Any], list[dict[str, Any]], list[Allocation], list[Insight], int | None
]:
    """Everything a snapshot holds, computed in the transaction of ``conn``
    and, with ``save``, stored: its row, scores, allocations and insights,
    and its id.

    With ``save`` the classification is committed, so the unaligned work is
    read on a connection of its own, in a thread, while this one sums the
    allocations and reads the measures' values: the first is mostly Python,
    the others mostly SQLite, which runs without Python's lock.
    """
    scorecard = config.scorecard
    rule_set = classification.rule_set
    with contextlib.ExitStack() as stack:
        work: concurrent.futures.Future[dict[tuple[Any, ...], list[Any]]] | None = None
        if save:
            pool = stack.enter_context(
                concurrent.futures.ThreadPoolExecutor(1, "headway-busywork")
            )
            work = pool.submit(_read_unaligned_work, store.path, rule_set, span)
        allocations, items = _allocations(conn, rule_set, scorecard, span)
        clock.lap("effort")
        readings = read_values(store, config, plugins, span)
        nodes = score_scorecard(scorecard, readings, span.moment)
        clock.lap("values")
        merged = work.result() if work else _unaligned_work(conn, rule_set, span)
    overall = align(allocations)
    groups = _unaligned_groups(conn, merged, overall.effort)
    before = _previous_picture(conn, scorecard.period.label, span.moment, recomputing)
    current = picture(nodes, overall)
    insights = [
        *busy_not_moving(scorecard, current, before),
        *trade_offs(scorecard, current, before),
        *neglected(scorecard, current),
        *busywork(groups, overall.effort),
    ]
    row = _snapshot_row(config, span, now, rules_hash, nodes, overall, items)
    scores = [node.row() for node in nodes]
    clock.lap("insights")
    snapshot_id = None
    if save:
        snapshot_id = _insert(conn, row, scores, allocations, insights)
        _prune_rule_sets(conn, rules_hash)
    return row, scores, allocations, insights, snapshot_id


class _Clock:
    """Seconds per step of a score run, on the wall clock and of CPU."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.laps[name] = now[0] - self._last[0]
        self.cpu[name] = now[1] - self._last[1]
        self._last = now


def rescore(store: Store, snapshot_id: int, plugins: Any = None) -> ScoreRun:
    """Compute a stored snapshot again from the configuration it stored.

    Nothing is saved. With the same items, metrics and manual values the
    figures are the same as the stored ones.
    """
    row = _snapshot(store, snapshot_id)
    data = json.loads(row["config"])
    config = parse_config(data, period=row["period"], environ=_NoEnvironment())
    config = attrs.evolve(config, database=store.path)
    as_of = None
    if row["as_of"]:
        as_of = (datetime.fromisoformat(row["as_of"]) - timedelta(days=1)).date()
    moment = datetime.fromisoformat(row["taken_at"])
    return score(
        config,
        store,
        plugins,
        as_of=as_of,
        now=moment,
        save=False,
        recomputing=snapshot_id,
    )


class _NoEnvironment(dict):
    """A stored configuration's ``${VAR}`` references resolve to nothing:
    scoring needs no secret."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return ""


# ---------------------------------------------------------------- values


def read_values(
    store: Store, config: Config, plugins: Any, span: Window
) -> dict[str, Reading]:
    """The current value of every measure and key result, by id.

    SQL runs on a read-only connection with ``:start`` and ``:end`` bound to
    the window (``:now`` to the moment of the pace). A metric's value is its
    latest point in the window; a manual value is the latest recorded in it.
    """
    scorecard = config.scorecard
    functions = plugins.measures() if plugins is not None else {}
    sources = {name: s.plugin for name, s in config.sources.items()}
    resolve_team = Identities(scorecard).team

    def bound(window: Window) -> tuple[dict[str, str], dict[str, Any]]:
        start, end = window.bounds()
        params = {"start": start, "end": end, "now": format_utc(window.moment)}
        context = {
            "period": window.measured_period(),
            "sources": sources,
            "now": window.moment,
            "resolve_team": resolve_team,
        }
        return params, context

    params, context = bound(span)
    measures = {m.id: m for m in scorecard.measures}
    readings: dict[str, Reading] = {}
    with Store.open_readonly(store.path) as readonly:
        for measure in scorecard.measures:
            readings[measure.id] = _read(readonly, measure, params, functions, context)
        for result in scorecard.key_results:
            if result.period is not None and result.period != span.period:
                # A key result of its own period is read over that period
                # (cut at the same moment), its measure's value included.
                own_params, own_context = bound(
                    attrs.evolve(span, period=result.period)
                )
                entry = measures.get(result.measure or "", result)
                found = _read(readonly, entry, own_params, functions, own_context)
            elif result.measure:
                found = readings.get(result.measure, Reading(None, "measure"))
            else:
                found = _read(readonly, result, params, functions, context)
            if result.measure:
                found = Reading(found.value, "measure", found.note)
            readings[result.id] = found
    return readings


def _read(
    store: Store,
    entry: Measure | KeyResult,
    params: Mapping[str, str],
    functions: Mapping[str, Any],
    context: Mapping[str, Any],
) -> Reading:
    what = f"{'measure' if isinstance(entry, Measure) else 'key result'} {entry.id}"
    source = entry.source
    if entry.sql:
        return Reading(_sql_value(store.conn, entry.sql, params, what), source)
    if entry.metric:
        row = store.conn.execute(
            "SELECT value FROM metrics WHERE name = ? AND at >= ? AND at < ? "
            "ORDER BY at DESC, source, dims LIMIT 1",
            (entry.metric, params["start"], params["end"]),
        ).fetchone()
        return Reading(row[0] if row else None, source)
    if entry.function:
        return _function_value(store, entry, functions, context, what)
    row = store.conn.execute(
        "SELECT value FROM manual_values WHERE measure = ? AND at >= ? AND at < ? "
        "ORDER BY at DESC LIMIT 1",
        (entry.id, params["start"], params["end"]),
    ).fetchone()
    return Reading(row[0] if row else None, source)


def _sql_value(
    conn: sqlite3.Connection, sql: str, params: Mapping[str, str], what: str
) -> float | None:
    try:
        cursor = conn.execute(sql, dict(params))
        rows = cursor.fetchmany(2)
    except (sqlite3.Error, ValueError) as error:
        raise ScoringError(
            f"{what}: its sql failed: {error}. Fix it in the configuration; "
            "`headway query` runs SQL against the store (:start and :end are the "
            "period's bounds)"
        ) from None
    if not rows:
        return None
    if len(rows) > 1 or len(rows[0]) != 1:
        raise ScoringError(
            f"{what}: its sql must return one number (one row, one column); it "
            f"returned {'several rows' if len(rows) > 1 else f'{len(rows[0])} columns'}"
        )
    return _number(rows[0][0], what, "its sql")


def _function_value(
    store: Store,
    entry: Measure | KeyResult,
    functions: Mapping[str, Any],
    context: Mapping[str, Any],
    what: str,
) -> Reading:
    kind = functions.get(entry.function)
    if kind is None:
        note = f"no measure function {entry.function!r} is installed"
        log.warning("%s: %s", what, note)
        return Reading(None, "function", note)
    measure_context = MeasureContext(db=store.db, params=dict(entry.params), **context)
    try:
        value = kind.function(measure_context)
        return Reading(_number(value, what, f"function {entry.function}"), "function")
    except ScoringError as error:
        note = str(error)
    except Exception as error:
        # A plugin's bug costs this measure its value, not the whole score.
        note = (
            f"function {entry.function} (plugin {kind.plugin}) failed: "
            f"{type(error).__name__}: {error}"
        )
        log.debug("%s", note, exc_info=True)
    log.error("%s: %s", what, note)
    return Reading(None, "function", note)


def _number(value: Any, what: str, origin: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScoringError(
            f"{what}: {origin} returned {value!r}, not a number; return a number "
            "or NULL for no data"
        )
    if not math.isfinite(value):
        raise ScoringError(f"{what}: {origin} returned {value}, not a finite number")
    return float(value)


# ---------------------------------------------------------------- effort


def _allocations(
    conn: sqlite3.Connection, rule_set: int, scorecard: Scorecard, span: Window
) -> tuple[list[Allocation], int]:
    """Effort per team and objective (or category) in the window, and the
    number of items it came from."""
    start, end = span.bounds()
    conn.execute("DROP TABLE IF EXISTS temp.hw_alloc")
    conn.execute(
        "CREATE TEMP TABLE hw_alloc (k INTEGER PRIMARY KEY, effort REAL NOT NULL, "
        "items INTEGER NOT NULL)"
    )
    # One pass sums each item's effort under its team and outcome, one
    # integer key (a key of two columns is several times slower, and GROUP
    # BY would sort every item first); the outcomes' shares split it below.
    conn.execute(
        "INSERT INTO temp.hw_alloc SELECT ifnull(c.team, 0) * ? + c.outcome, "
        "i.effort, 1 FROM classified AS c CROSS JOIN items AS i ON i.rid = c.item "
        "WHERE c.rule_set = ? AND i.occurred_at >= ? AND i.occurred_at < ? "
        "ON CONFLICT (k) DO UPDATE SET effort = effort + excluded.effort, "
        "items = items + 1",
        (TEAM_STRIDE, rule_set, start, end),
    )
    parts: dict[int, list[tuple[str | None, str, float]]] = {}
    for outcome, objective, category, fraction in conn.execute(
        "SELECT outcome, objective, category, share FROM outcomes "
        "WHERE rule_set = ? ORDER BY outcome, part",
        (rule_set,),
    ):
        parts.setdefault(outcome, []).append((objective, category, fraction))
    names = _team_names(conn)
    sums: dict[tuple[str, str, str], list[Any]] = {}
    summed = conn.execute("SELECT k, effort, items FROM temp.hw_alloc")
    for key, effort, count in summed:
        team = names.get(key // TEAM_STRIDE) or ""
        for objective, category, fraction in parts[key % TEAM_STRIDE]:
            entry = sums.setdefault((team, objective or "", category), [0.0, 0, 0.0])
            entry[0] += effort * fraction
            entry[1] += count
            entry[2] += count * fraction
    conn.execute("DROP TABLE temp.hw_alloc")

    perspective_of = {o.id: o.perspective for o in scorecard.objectives}
    allocations = []
    items = 0.0
    for (team, objective, category), (effort, count, shares) in sorted(
        sums.items(), key=lambda entry: (entry[0][0], entry[0][2], entry[0][1])
    ):
        items += shares
        allocations.append(
            Allocation(
                team=team or None,
                perspective=perspective_of.get(objective) if objective else None,
                objective=objective or None,
                category=category,
                effort=round(effort, 9),
                items=count,
            )
        )
    return allocations, round(items)


def _team_names(conn: sqlite3.Connection) -> dict[int, str]:
    return dict(conn.execute("SELECT id, name FROM team_names"))


def _read_unaligned_work(
    path: Path, rule_set: int, span: Window
) -> dict[tuple[Any, ...], list[Any]]:
    """:func:`_unaligned_work` on a read-only connection of its own."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
    )
    try:
        for pragma in _SCORING_PRAGMAS:
            conn.execute(pragma)
        return _unaligned_work(conn, rule_set, span)
    finally:
        conn.close()


def _unaligned_work(
    conn: sqlite3.Connection, rule_set: int, span: Window
) -> dict[tuple[Any, ...], list[Any]]:
    """Unaligned work of the window, summed per group for the busywork insight.

    One pass over the unaligned items sums them per parent, or per title
    pattern for items without one, and keeps each group's three largest
    items; titles repeat, so each distinct title is masked once.

    :returns: ``(source, kind, project, parent, pattern)`` to its effort,
        number of items and examples.
    """
    start, end = span.bounds()
    unaligned = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT outcome FROM outcomes WHERE rule_set = ? "
            "AND category = 'unaligned'",
            (rule_set,),
        )
    ]
    rows = conn.execute(
        "SELECT i.source, i.kind, i.project, i.parent, i.title, i.effort, i.id, "
        "c.item FROM classified AS c CROSS JOIN items AS i "
        "ON i.rid = c.item WHERE c.rule_set = ? "
        f"AND c.outcome IN ({', '.join('?' for _ in unaligned)}) "
        "AND i.occurred_at >= ? AND i.occurred_at < ?",
        (rule_set, *unaligned, start, end),
    )
    patterns: dict[str, str] = {}
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for source, kind, project, parent, title, effort, item, rid in rows:
        if parent is None:
            pattern = patterns.get(title)
            if pattern is None:
                pattern = patterns[title] = title_pattern(title)
            group_key = (source, kind, project, None, pattern)
        else:
            group_key = (source, kind, project, parent, None)
        entry = merged.get(group_key)
        if entry is None:
            entry = merged[group_key] = [0.0, 0, []]
        entry[0] += effort
        entry[1] += 1
        top = entry[2]
        # Keep the three largest (ties: the smaller id), cheaply: most items
        # are smaller than the third largest so far.
        if len(top) == 3:
            last = top[-1]
            if effort < last[0] or (effort == last[0] and item > last[1]):
                continue
        top.append((effort, item, rid, source, title))
        top.sort(key=lambda e: (-e[0], e[1]))
        del top[3:]
    # Only the examples kept are named in full: their key, link and team.
    names = _team_names(conn)
    kept = [e[2] for entry in merged.values() for e in entry[2]]
    details: dict[int, tuple[Any, ...]] = {}
    for first in range(0, len(kept), _BATCH):
        batch = kept[first : first + _BATCH]
        details.update(
            (rid, (key, url, names.get(team)))
            for rid, key, url, team in conn.execute(
                "SELECT i.rid, i.key, i.url, c.team FROM items AS i "
                "CROSS JOIN classified AS c ON c.rule_set = ? AND c.item = i.rid "
                f"WHERE i.rid IN ({', '.join('?' for _ in batch)})",
                (rule_set, *batch),
            )
        )
    for entry in merged.values():
        examples = []
        for effort, item, rid, source, title in entry[2]:
            key, url, team = details[rid]
            examples.append(_example(source, item, key, title, url, team, effort))
        entry[2] = examples
    return merged


def _unaligned_groups(
    conn: sqlite3.Connection, merged: dict[tuple[Any, ...], list[Any]], total: float
) -> list[WorkGroup]:
    """The unaligned work's groups (:func:`~headway.scoring.group_work`); only
    those listed get their parent named."""
    groups = group_work(
        (
            (*group_key, effort, count, examples)
            for group_key, (effort, count, examples) in merged.items()
        ),
        total,
    )
    chosen = {id(g) for g in rank_groups(groups)[:BUSYWORK_GROUPS]}
    return [
        _with_parent(conn, g) if id(g) in chosen and g.parent is not None else g
        for g in groups
    ]


# Items named in one query.
_BATCH = 500


def _example(
    source: str,
    id: str,
    key: str | None,
    title: str,
    url: str | None,
    team: str | None,
    effort: float,
) -> dict[str, Any]:
    return {
        "source": source,
        "id": id,
        "key": key,
        "title": title,
        "url": url,
        "team": team,
        "effort": effort,
    }


def _with_parent(conn: sqlite3.Connection, group: WorkGroup) -> WorkGroup:
    """A listed parent's group, with the parent named."""
    parent_id = group.parent["id"]  # type: ignore[index]
    found = conn.execute(
        "SELECT key, title, deleted_at FROM items WHERE source = ? AND id = ?",
        (group.source, parent_id),
    ).fetchone()
    key, title, deleted = found if found else (None, None, None)
    parent = {
        "id": parent_id,
        "key": key,
        "label": item_label(group.source, key, parent_id),
        "title": title if title is not None else "(not in the store)",
        "deleted": bool(deleted),
    }
    return attrs.evolve(group, parent=parent)


def _previous_picture(
    conn: sqlite3.Connection, period: str, moment: datetime, before: int | None
) -> Picture | None:
    """The figures of the latest stored snapshot of the period up to ``moment``.

    With ``before``, the snapshot being computed again, only those stored
    before it count (by ``taken_at``, then id): never itself or a later one.
    """
    condition, args = "taken_at <= ?", [period, format_utc(moment)]
    if before is not None:
        condition = "(taken_at, id) < (SELECT taken_at, id FROM snapshots WHERE id = ?)"
        args = [period, before]
    row = conn.execute(
        f"SELECT id, effort FROM snapshots WHERE period = ? AND {condition} "
        "ORDER BY taken_at DESC, id DESC LIMIT 1",
        args,
    ).fetchone()
    if row is None:
        return None
    snapshot_id, total = row
    scores = {
        (level, key): value
        for level, key, value in conn.execute(
            "SELECT level, key, score FROM scores WHERE snapshot_id = ?",
            (snapshot_id,),
        )
    }
    effort = {
        objective: value
        for objective, value in conn.execute(
            "SELECT objective, sum(effort) FROM allocations WHERE snapshot_id = ? "
            "AND objective IS NOT NULL GROUP BY objective",
            (snapshot_id,),
        )
    }
    shares = {objective: share(value, total) for objective, value in effort.items()}
    return Picture(scores, shares, effort)


# ---------------------------------------------------------------- storing


def _snapshot_row(
    config: Config,
    span: Window,
    now: datetime,
    rules_hash: str,
    nodes: Sequence[Node],
    overall: Alignment,
    items: int,
) -> dict[str, Any]:
    start, end = span.period.bounds()
    return {
        "taken_at": format_utc(span.moment),
        "created_at": format_utc(now),
        "as_of": format_utc(span.as_of),
        "period": span.period.label,
        "period_start": start,
        "period_end": end,
        "expected": span.period.elapsed(span.moment),
        "score": nodes[-1].score,
        "balance": balance(n.score for n in nodes if n.level == "perspective"),
        "alignment": overall.alignment,
        "overhead": overall.overhead_share,
        "unaligned": overall.unaligned_share,
        "effort": round(overall.effort, 9),
        "items": items,
        "rules_hash": rules_hash,
        "name": config.scorecard.name,
        "config": json.dumps(
            config.snapshot_data(), ensure_ascii=False, sort_keys=True, default=str
        ),
        "version": __version__,
    }


_SNAPSHOT_COLUMNS = (
    "taken_at",
    "created_at",
    "as_of",
    "period",
    "period_start",
    "period_end",
    "expected",
    "score",
    "balance",
    "alignment",
    "overhead",
    "unaligned",
    "effort",
    "items",
    "rules_hash",
    "name",
    "config",
    "version",
)
_SCORE_COLUMNS = tuple(attrs.fields_dict(Node))


def _insert(
    conn: sqlite3.Connection,
    row: Mapping[str, Any],
    scores: Sequence[Mapping[str, Any]],
    allocations: Sequence[Allocation],
    insights: Sequence[Insight],
) -> int:
    cursor = conn.execute(
        f"INSERT INTO snapshots ({', '.join(_SNAPSHOT_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _SNAPSHOT_COLUMNS)})",
        [row[c] for c in _SNAPSHOT_COLUMNS],
    )
    snapshot_id = int(cursor.lastrowid)  # type: ignore[arg-type]
    conn.executemany(
        f"INSERT INTO scores (snapshot_id, {', '.join(_SCORE_COLUMNS)}) "
        f"VALUES (?, {', '.join('?' for _ in _SCORE_COLUMNS)})",
        [
            (
                snapshot_id,
                *(
                    json.dumps(s[c]) if c == "drives" and s[c] is not None else s[c]
                    for c in _SCORE_COLUMNS
                ),
            )
            for s in scores
        ],
    )
    conn.executemany(
        "INSERT INTO allocations (snapshot_id, team, perspective, objective, "
        "category, effort, items) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                snapshot_id,
                a.team,
                a.perspective,
                a.objective,
                a.category,
                a.effort,
                a.items,
            )
            for a in allocations
        ],
    )
    conn.executemany(
        "INSERT INTO insights (snapshot_id, seq, kind, subject, message, figures) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                snapshot_id,
                seq,
                i.kind,
                i.subject,
                i.message,
                json.dumps(i.figures, ensure_ascii=False, sort_keys=True),
            )
            for seq, i in enumerate(insights, 1)
        ],
    )
    return snapshot_id


def _prune_rule_sets(conn: sqlite3.Connection, current: str) -> None:
    """Drop the classification cache of all but the latest rule sets."""
    stale = conn.execute(
        "SELECT id, rules_hash FROM rule_sets WHERE rules_hash != ? "
        "ORDER BY classified_at DESC, id DESC LIMIT -1 OFFSET ?",
        (current, KEPT_RULE_SETS - 1),
    ).fetchall()
    for number, rules_hash in stale:
        for table in ("classified", "outcomes"):
            conn.execute(f"DELETE FROM {table} WHERE rule_set = ?", (number,))
        conn.execute("DELETE FROM rule_sets WHERE id = ?", (number,))
        log.info("dropped the classification cache of rule set %s", rules_hash)


def _insight_row(seq: int, insight: Insight) -> dict[str, Any]:
    return {
        "seq": seq,
        "kind": insight.kind,
        "subject": insight.subject,
        "message": insight.message,
        "figures": dict(insight.figures),
    }


# ---------------------------------------------------------------- loading


def load_snapshot(store: Store, snapshot_id: int | None = None) -> dict[str, Any]:
    """Everything a stored snapshot holds, as plain data (the latest by default).

    The same structure ``headway score --json`` prints and the HTML report
    renders: the snapshot's figures, the scorecard tree with every score,
    team alignment, capacity, allocations, insights, trends over the stored
    snapshots up to this one, and the store's sources.

    :raises HeadwayError: there is no such snapshot.
    """
    row = _snapshot(store, snapshot_id)
    snapshot_id = row["id"]
    db = store.db
    scores = list(
        db.query(
            "SELECT * FROM scores WHERE snapshot_id = ? ORDER BY position",
            [snapshot_id],
        )
    )
    allocations = list(
        db.query(
            "SELECT team, perspective, objective, category, effort, items "
            "FROM allocations WHERE snapshot_id = ? "
            "ORDER BY team, category, objective",
            [snapshot_id],
        )
    )
    insights = list(
        db.query(
            "SELECT seq, kind, subject, message, figures FROM insights "
            "WHERE snapshot_id = ? ORDER BY seq",
            [snapshot_id],
        )
    )
    return snapshot_data(
        row,
        scores,
        allocations,
        insights,
        trends=_trends(store, row["taken_at"], row["id"]),
        sources=_sources(store, row["config"]),
    )


def _snapshot(store: Store, snapshot_id: int | None) -> dict[str, Any]:
    if snapshot_id is None:
        rows = list(store.db.query("SELECT * FROM latest_snapshot"))
        if not rows:
            raise HeadwayError("no snapshot yet; run `headway score` first")
        return rows[0]
    rows = list(store.db.query("SELECT * FROM snapshots WHERE id = ?", [snapshot_id]))
    if not rows:
        raise HeadwayError(
            f"no snapshot {snapshot_id}; `headway snapshots` lists the stored ones"
        )
    return rows[0]


def snapshot_data(
    snapshot: Mapping[str, Any],
    scores: Sequence[Mapping[str, Any]],
    allocations: Sequence[Mapping[str, Any]],
    insights: Sequence[Mapping[str, Any]],
    *,
    trends: Sequence[Mapping[str, Any]] = (),
    sources: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Shape a snapshot's rows (as stored) into the plain data of
    :func:`load_snapshot`."""
    config = snapshot["config"]
    config = json.loads(config) if isinstance(config, str) else dict(config)
    team_titles = {
        key: (entry.get("title") or key) if isinstance(entry, Mapping) else key
        for key, entry in (config.get("teams") or {}).items()
    }
    rows = [dict(s) for s in scores]
    for node in rows:
        node.pop("snapshot_id", None)
        if isinstance(node.get("drives"), str):
            node["drives"] = json.loads(node["drives"])
    allocation_rows = [Allocation(**dict(a)) for a in allocations]
    overall = align(allocation_rows)

    def effort_of(node: dict[str, Any]) -> None:
        if node["level"] == "objective":
            node["effort"] = overall.objectives.get(node["key"], 0.0)
            node["share"] = overall.objective_share(node["key"])
        elif node["level"] == "perspective":
            node["effort"] = overall.perspectives.get(node["key"], 0.0)
            node["share"] = overall.perspective_share(node["key"])

    for node in rows:
        effort_of(node)
    top = next((n for n in rows if n["level"] == "scorecard"), {})
    tree = {**top, "perspectives": []}
    for perspective in (n for n in rows if n["level"] == "perspective"):
        objectives = []
        for objective in (
            n
            for n in rows
            if n["level"] == "objective" and n["parent"] == perspective["key"]
        ):
            children = [n for n in rows if n["parent"] == objective["key"]]
            objectives.append(
                {
                    **objective,
                    "measures": [n for n in children if n["level"] == "measure"],
                    "key_results": [n for n in children if n["level"] == "key_result"],
                }
            )
        tree["perspectives"].append({**perspective, "objectives": objectives})

    # A configured team with no effort in the period is listed with none (no
    # alignment, not 0): the team a broken source or identity mapping left
    # out must show, not vanish.
    found: dict[str | None, Alignment] = dict(by_team(allocation_rows))
    for key in team_titles:
        found.setdefault(key, Alignment(0.0, 0.0, 0.0, 0.0))
    teams = []
    for team, alignment in sorted(
        found.items(), key=lambda t: (t[0] is None, t[0] or "")
    ):
        teams.append(
            {"team": team, "title": team_titles.get(team, team) if team else _NO_TEAM}
            | _alignment_data(alignment)
        )
    titles = {n["key"]: n["title"] for n in rows if n["level"] == "objective"}
    capacity = [
        {"objective": c.objective, "title": titles[c.objective]} | attrs.asdict(c)
        for c in capacity_plan(
            ((n["key"], n.get("capacity")) for n in rows if n["level"] == "objective"),
            overall,
        )
    ]
    return {
        "snapshot": {k: v for k, v in snapshot.items() if k != "config"},
        "scorecard": tree,
        "overall": _alignment_data(overall),
        "teams": teams,
        "capacity": capacity,
        "allocations": [a.row() for a in allocation_rows],
        "insights": [
            {
                **dict(i),
                "figures": json.loads(i["figures"])
                if isinstance(i["figures"], str)
                else dict(i["figures"]),
            }
            for i in insights
        ],
        "trends": [dict(t) for t in trends],
        "sources": [dict(s) for s in sources],
        "config": config,
    }


def _alignment_data(alignment: Alignment) -> dict[str, Any]:
    return {
        "effort": alignment.effort,
        "strategic": alignment.strategic,
        "overhead": alignment.overhead,
        "unaligned": alignment.unaligned,
        "alignment": alignment.alignment,
        "overhead_share": alignment.overhead_share,
        "unaligned_share": alignment.unaligned_share,
        "perspectives": {
            key: alignment.perspective_share(key)
            for key in sorted(alignment.perspectives)
        },
        "objectives": {
            key: alignment.objective_share(key) for key in sorted(alignment.objectives)
        },
    }


def _trends(
    store: Store,
    taken_at: str,
    snapshot_id: int | None = None,
    *,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Every stored snapshot up to ``taken_at`` (and ``snapshot_id``), oldest
    first; with ``before``, only those stored before that snapshot."""
    if snapshot_id is not None:
        condition, args = "(taken_at, id) <= (?, ?)", [taken_at, snapshot_id]
    elif before is not None:
        condition = "(taken_at, id) < (SELECT taken_at, id FROM snapshots WHERE id = ?)"
        args = [before]
    else:
        condition, args = "taken_at <= ?", [taken_at]
    db = store.db
    entries = {
        row["id"]: {**row, "perspectives": {}, "teams": []}
        for row in db.query(
            "SELECT id, taken_at, period, score, balance, alignment FROM snapshots "
            f"WHERE {condition} ORDER BY taken_at, id",
            args,
        )
    }
    if not entries:
        return []
    first = min(entries)
    for row in db.query(
        "SELECT snapshot_id, key, score FROM scores WHERE level = 'perspective' "
        "AND snapshot_id >= ? ORDER BY snapshot_id, position",
        [first],
    ):
        if row["snapshot_id"] in entries:
            entries[row["snapshot_id"]]["perspectives"][row["key"]] = row["score"]
    for row in db.query(
        "SELECT snapshot_id, team, alignment FROM team_alignment "
        "WHERE snapshot_id >= ? ORDER BY snapshot_id, team",
        [first],
    ):
        if row["snapshot_id"] in entries:
            entries[row["snapshot_id"]]["teams"].append(
                {"team": row["team"], "alignment": row["alignment"]}
            )
    return list(entries.values())


def _trend_entry(
    row: Mapping[str, Any],
    scores: Sequence[Mapping[str, Any]],
    allocations: Sequence[Allocation],
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "taken_at": row["taken_at"],
        "period": row["period"],
        "score": row["score"],
        "balance": row["balance"],
        "alignment": row["alignment"],
        "perspectives": {
            s["key"]: s["score"] for s in scores if s["level"] == "perspective"
        },
        "teams": [
            {"team": team, "alignment": alignment.alignment}
            for team, alignment in sorted(
                by_team(allocations).items(), key=lambda t: (t[0] is None, t[0] or "")
            )
        ],
    }


#: What a snapshot's data says of each source.
_SOURCE_FIELDS = (
    "source",
    "plugin",
    "status",
    "started_at",
    "finished_at",
    "last_ok_at",
    "items",
    "error",
)


def _sources(store: Store, config: Any) -> list[dict[str, Any]]:
    """The latest run of every source, with when it last ended ``ok``; and
    every enabled source of ``config`` (a snapshot's) that never synced."""
    found = {
        run["source"]: {key: run[key] for key in _SOURCE_FIELDS}
        for run in store.last_runs()
    }
    config = json.loads(config) if isinstance(config, str) else config or {}
    for name, entry in (config.get("sources") or {}).items():
        if name in found or not isinstance(entry, Mapping):
            continue
        if entry.get("enabled", True) is not False:
            found[name] = dict.fromkeys(_SOURCE_FIELDS) | {
                "source": name,
                "plugin": entry.get("plugin"),
                "status": "never synced",
            }
    return [found[name] for name in sorted(found)]


# ---------------------------------------------------------------- views


def for_team(
    data: Mapping[str, Any], team: str, teams: Sequence[str] | None = None
) -> dict[str, Any]:
    """A snapshot's data narrowed to one team's alignment and allocations.

    :param teams: the configured team keys, to refuse an unknown one.
    :raises HeadwayError: ``team`` is not a configured team.
    """
    known = (
        list(teams)
        if teams is not None
        else [t["team"] for t in data["teams"] if t["team"] is not None]
    )
    if team not in known:
        from .config import suggest

        listed = ", ".join(known) or "none"
        raise HeadwayError(f"no team {team!r}{suggest(team, known)}; teams: {listed}")
    narrowed = dict(data)
    narrowed["teams"] = [t for t in data["teams"] if t["team"] == team]
    narrowed["allocations"] = [a for a in data["allocations"] if a["team"] == team]
    narrowed["team"] = team
    return narrowed


def list_snapshots(store: Store) -> list[dict[str, Any]]:
    """Every stored snapshot's headline figures, oldest first."""
    return list(
        store.db.query(
            "SELECT id, taken_at, as_of, period, score, balance, alignment, effort, "
            "items, rules_hash, created_at FROM snapshots ORDER BY taken_at, id"
        )
    )


def diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """What moved from snapshot data ``a`` to ``b``: scores per perspective
    and objective, effort shares, and each team's alignment."""

    def nodes(data: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
        found = {("scorecard", data["scorecard"].get("key", "")): data["scorecard"]}
        for perspective in data["scorecard"]["perspectives"]:
            found[("perspective", perspective["key"])] = perspective
            for objective in perspective["objectives"]:
                found[("objective", objective["key"])] = objective
        return found

    before, after = nodes(a), nodes(b)
    scores = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key, {}), after.get(key, {})
        scores.append(
            {
                "level": key[0],
                "key": key[1],
                "title": new.get("title") or old.get("title"),
                "before": old.get("score"),
                "after": new.get("score"),
                "change": _change(old.get("score"), new.get("score")),
                "status_before": old.get("status"),
                "status_after": new.get("status"),
                "share_before": old.get("share"),
                "share_after": new.get("share"),
            }
        )
    categories = []
    for name in ("alignment", "overhead_share", "unaligned_share"):
        old, new = a["overall"].get(name), b["overall"].get(name)
        categories.append(
            {
                "category": name.removesuffix("_share").replace(
                    "alignment", "strategic"
                ),
                "before": old,
                "after": new,
                "change": _change(old, new),
            }
        )
    teams = []
    old_teams = {t["team"]: t for t in a["teams"]}
    new_teams = {t["team"]: t for t in b["teams"]}
    for team in [*old_teams, *(t for t in new_teams if t not in old_teams)]:
        old, new = old_teams.get(team, {}), new_teams.get(team, {})
        teams.append(
            {
                "team": team,
                "title": new.get("title") or old.get("title"),
                "before": old.get("alignment"),
                "after": new.get("alignment"),
                "change": _change(old.get("alignment"), new.get("alignment")),
                "effort_before": old.get("effort"),
                "effort_after": new.get("effort"),
            }
        )
    headline = ("id", "taken_at", "as_of", "period", "score", "balance", "alignment")
    return {
        "a": {k: a["snapshot"].get(k) for k in headline},
        "b": {k: b["snapshot"].get(k) for k in headline},
        "scores": scores,
        "effort": categories,
        "teams": teams,
    }


def _change(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else new - old


def snapshot_pair(
    store: Store, first: int | None, second: int | None
) -> tuple[int, int]:
    """The snapshots ``headway diff`` compares: the two given, one given and
    the latest, or the last two.

    :raises HeadwayError: fewer than two snapshots exist.
    """
    ids = [row["id"] for row in list_snapshots(store)]
    if first is not None and second is not None:
        return first, second
    if first is not None:
        latest = ids[-1] if ids else None
        if latest is None or latest == first:
            raise HeadwayError(
                f"name a second snapshot to compare {first} with: headway diff "
                f"{first} ID"
            )
        return first, latest
    if len(ids) < 2:
        raise HeadwayError(
            f"diff needs two snapshots and the store has {len(ids)}; run `headway "
            "score` again later, or name two with headway diff A B"
        )
    return ids[-2], ids[-1]


# ---------------------------------------------------------------- manual values


def record_value(
    store: Store,
    scorecard: Scorecard,
    measure: str,
    value: float,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record a manual value of a measure or key result.

    :raises HeadwayError: the id is unknown, or its value comes from
        elsewhere (``sql``, ``metric``, ``function``, or a key result's
        ``measure``).
    """
    entries = {e.id: e for e in (*scorecard.measures, *scorecard.key_results)}
    entry = entries.get(measure)
    if entry is None:
        from .config import suggest

        manual = sorted(i for i, e in entries.items() if e.source == "manual")
        raise HeadwayError(
            f"no measure or key result {measure!r}{suggest(measure, entries)}; "
            f"manual ones: {', '.join(manual) or 'none'}"
        )
    if entry.source != "manual":
        origin = (
            "its sql query"
            if entry.source == "sql"
            else f"{entry.source} {getattr(entry, entry.source)!r}"
        )
        raise HeadwayError(
            f"{measure} takes its value from {origin}; only measures and key results "
            "without sql, metric, function or measure take recorded values"
        )
    if not math.isfinite(value):
        raise HeadwayError(f"{value} is not a finite number")
    moment = at or datetime.now(UTC)
    row = {
        "measure": measure,
        "at": format_utc(moment),
        "value": float(value),
        "recorded_at": now_text(),
    }
    store.acquire_lock("record")
    try:
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO manual_values (measure, at, value, recorded_at) "
                "VALUES (:measure, :at, :value, :recorded_at) ON CONFLICT "
                "(measure, at) DO UPDATE SET value = excluded.value, "
                "recorded_at = excluded.recorded_at",
                row,
            )
    finally:
        store.release_lock()
    in_period = scorecard.period.start_at <= moment < scorecard.period.end_at
    return {**row, "in_period": in_period, "period": scorecard.period.label}


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A date (``2026-09-30``) or an ISO 8601 time with a zone, in UTC.

    A date means its midnight UTC, or with ``end_of_day`` the next midnight.

    :raises HeadwayError: the text is neither.
    """
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end_of_day else moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HeadwayError(
            f"{text!r} is not a date (2026-09-30) or a time (2026-09-30T14:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise HeadwayError(
            f"{text!r} has no time zone; add one (2026-09-30T14:00:00Z) or give a date"
        )
    return moment.astimezone(UTC)
