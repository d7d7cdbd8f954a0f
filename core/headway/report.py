"""The HTML dashboard: one self-contained file rendered from a snapshot.

:func:`render_report` turns the plain data of
:func:`headway.snapshots.load_snapshot` (what ``headway score --json``
prints) into a page: CSS and SVG inline, no script, nothing fetched when it
is opened. :func:`write_report` loads a stored snapshot, renders it and
writes the file. docs/report.md says what each section shows.

Markup is written only through :mod:`headway._html`, which escapes every
string and masks registered secrets, so titles from sources and names from
the configuration always show as text.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from . import __version__
from ._html import Markup, concat, element, link
from ._svg import MapNode, MapRow, sparkline, status_class, strategy_map
from ._views import as_of_day, num, pct, score_text
from .config import Config, resolve_options
from .errors import ReportError
from .scoring import SHARE_STEP, clamp
from .snapshots import load_snapshot
from .store import Store

log = logging.getLogger(__name__)

#: The report's file name when ``-o`` does not give one.
DEFAULT_NAME = "headway-report.html"

#: A symbol beside every status word, so status never rests on colour alone.
STATUS_SYMBOLS = {
    "achieved": "★",
    "on track": "✓",
    "behind": "▲",
    "at risk": "✕",
    "no data": "○",
    "not scored": "·",
    "ok": "✓",
    "partial": "▲",
    "failed": "✕",
    "running": "↻",
    "never synced": "○",
    "on plan": "✓",
    "over plan": "▲",
    "under plan": "▽",
}

#: Insight kinds, in the order the report lists them, with their headings.
INSIGHT_KINDS = {
    "busy_not_moving": "Busy, not moving",
    "trade_off": "Trade-offs",
    "neglected": "Neglected",
}

#: Where the standard perspectives go on the strategy map, top to bottom;
#: perspectives a configuration adds sit between process and learning.
MAP_RANKS = {"financial": 0, "customer": 1, "process": 2, "learning": 4}
_ADDED_RANK = 3

_CATEGORIES = (
    ("strategic", "Strategic"),
    ("overhead", "Overhead"),
    ("unaligned", "Unaligned"),
)
_PALETTE = 8
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


@attrs.frozen
class Report:
    """A written report: where, which snapshot, how many bytes."""

    path: Path
    snapshot_id: int
    size: int


# ---------------------------------------------------------------- writing


def report_path(database: Path, output: str | os.PathLike[str] | None) -> Path:
    """Where the report goes: ``output``, a file named :data:`DEFAULT_NAME`
    inside ``output`` when it is a folder, else beside the database."""
    if output is None:
        return Path(database).parent / DEFAULT_NAME
    path = Path(output)
    return path / DEFAULT_NAME if path.is_dir() else path


def write_report(
    store: Store,
    output: str | os.PathLike[str] | None = None,
    snapshot_id: int | None = None,
    *,
    config: Config | None = None,
) -> Report:
    """Render a stored snapshot (the latest by default) and write the file.

    The file is written beside its final name and then renamed, so a
    reader never sees half a report and a failed write leaves any old one.

    :param config: the configuration in use: every secret it names (literal
        values under secret keys, and the set ``${VAR}`` values they refer
        to) is masked wherever it would appear on the page.
    :raises HeadwayError: there is no snapshot, or no snapshot ``snapshot_id``.
    :raises ReportError: the file cannot be written there.
    """
    if config is not None:
        for source in config.sources.values():
            # Resolving registers the secrets with the redactor; a variable
            # that is not set is no matter here, the report needs no token.
            resolve_options(source)
    data = load_snapshot(store, snapshot_id)
    path = report_path(store.path, output)
    page = render_report(data).encode("utf-8")
    if path.is_symlink():
        # Replace the file the link points to, and keep the link.
        path = path.resolve()
    if path.exists() and not path.is_file() and not path.is_dir():
        # A device or a pipe (/dev/stdout, a FIFO): written in place, since
        # renaming a file over it would replace the device node itself.
        return _write_in_place(path, page, data)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise ReportError(
            f"cannot write the report to {path}: {folder} is a file, not a folder; "
            "choose another file with -o FILE",
            path=str(path),
        )
    if not folder.is_dir():
        raise ReportError(
            f"cannot write the report to {path}: the folder {folder} does not exist; "
            "create it or choose another file with -o FILE",
            path=str(path),
        )
    partial = folder / f".{path.name}.{os.getpid()}.tmp"
    try:
        partial.write_bytes(page)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise _cannot_write(path, error) from None
    return _written(path, page, data)


def _write_in_place(path: Path, page: bytes, data: Mapping[str, Any]) -> Report:
    try:
        with path.open("wb") as stream:
            stream.write(page)
    except OSError as error:
        raise _cannot_write(path, error) from None
    return _written(path, page, data)


def _cannot_write(path: Path, error: OSError) -> ReportError:
    return ReportError(
        f"cannot write the report to {path}: {error.strerror or error}; "
        "choose another file with -o FILE",
        path=str(path),
    )


def _written(path: Path, page: bytes, data: Mapping[str, Any]) -> Report:
    log.info("wrote %s (%d bytes)", path, len(page))
    return Report(path, data["snapshot"]["id"], len(page))


# ---------------------------------------------------------------- the page


def render_report(data: Mapping[str, Any]) -> str:
    """The whole page for a snapshot's data, as one HTML document."""
    snapshot = data["snapshot"]
    page = _Page(data)
    body = element(
        "body",
        page.header(),
        element(
            "main",
            page.scorecard(),
            page.strategy_map(),
            page.alignment(),
            page.trends(),
            page.insights(),
            page.busywork(),
            page.footer(),
        ),
    )
    head = element(
        "head",
        element("meta", charset="utf-8"),
        element("meta", http_equiv="Content-Security-Policy", content=_CSP),
        element("meta", name="viewport", content="width=device-width, initial-scale=1"),
        element("meta", name="generator", content=f"headway {__version__}"),
        element("title", f"{snapshot['name']}: {snapshot['period']} scorecard"),
        element("link", rel="icon", href="data:,"),
        element("style", Markup(_stylesheet())),
    )
    return "<!DOCTYPE html>\n" + element("html", head, body, lang="en") + "\n"


def _stylesheet() -> str:
    return resources.files("headway").joinpath("report.css").read_text("utf-8")


class _Page:
    """The sections of one report, each a method returning markup."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.snapshot = data["snapshot"]
        self.tree = data["scorecard"]
        self.perspectives = list(self.tree.get("perspectives", []))
        self.colour = {
            p["key"]: f"p{index % _PALETTE}"
            for index, p in enumerate(self.perspectives)
        }
        config_teams = data.get("config", {}).get("teams") or {}
        self.team_titles = {
            key: (entry.get("title") if isinstance(entry, Mapping) else None) or key
            for key, entry in config_teams.items()
        }
        for team in data.get("teams", []):
            if team["team"] is not None:
                self.team_titles[team["team"]] = team["title"]

    # ------------------------------------------------------------ header

    def header(self) -> Markup:
        s = self.snapshot
        overall = self.data["overall"]
        top = self.tree
        return element(
            "header",
            element(
                "div",
                element("h1", s["name"]),
                element("p", self._when(), class_="meta"),
                element(
                    "div",
                    _tile(
                        "Score",
                        _fig("snapshot::score", s["score"], score_text(s["score"])),
                        concat(
                            _status(top.get("status") or "no data"),
                            " the weighted mean of the perspectives, 0 to 100",
                        ),
                    ),
                    _tile(
                        "Balance",
                        _fig(
                            "snapshot::balance", s["balance"], score_text(s["balance"])
                        ),
                        self._balance_note(),
                    ),
                    _tile(
                        "Alignment",
                        _fig(
                            "snapshot::alignment", s["alignment"], pct(s["alignment"])
                        ),
                        concat(
                            _stack(_category_parts(overall)),
                            "of effort went to objectives; overhead ",
                            _fig(
                                "snapshot::overhead", s["overhead"], pct(s["overhead"])
                            ),
                            ", unaligned ",
                            _fig(
                                "snapshot::unaligned",
                                s["unaligned"],
                                pct(s["unaligned"]),
                            ),
                        ),
                    ),
                    _tile(
                        "Effort",
                        _fig("snapshot::effort", s["effort"], _hours(s["effort"])),
                        concat(
                            "in ",
                            _fig("snapshot::items", s["items"], f"{s['items']:,}"),
                            " work items that occurred in the period",
                        ),
                    ),
                    class_="tiles",
                ),
                self.sources(),
                element(
                    "nav",
                    [
                        element("a", title, href=f"#{anchor}")
                        for anchor, title in (
                            ("scorecard", "Scorecard"),
                            ("map", "Strategy map"),
                            ("alignment", "Team alignment"),
                            ("trends", "Trends"),
                            ("insights", "Insights"),
                            ("busywork", "Busywork candidates"),
                        )
                    ],
                    class_="toc",
                    aria_label="Sections",
                ),
                class_="inner",
            ),
            class_="top",
            id="header",
        )

    def _when(self) -> Markup:
        s = self.snapshot
        start = _day(s["period_start"])
        last = _day(s["period_end"], minus_one=True)
        which = "Not saved" if s.get("id") is None else f"Snapshot {s['id']}"
        if s.get("as_of"):
            moment = f"as of the end of {_day_text(as_of_day(s['as_of']))}"
        else:
            moment = f"taken {_time(s['taken_at'])}"
        scored = ""
        if s.get("created_at") and s.get("created_at") != s.get("taken_at"):
            scored = f" (scored {_time(s['created_at'])})"
        return concat(
            "Period ",
            element("strong", s["period"]),
            f": {start} to {last}, ",
            _fig("snapshot::expected", s["expected"], pct(s["expected"])),
            " of it gone · ",
            element("span", f"{which}, {moment}{scored}", id="snapshot-time"),
        )

    def _balance_note(self) -> Markup:
        scored = [p for p in self.perspectives if p.get("score") is not None]
        if len(scored) < 2:
            return concat("100 minus the spread between perspective scores")
        best = max(scored, key=lambda p: p["score"])
        worst = min(scored, key=lambda p: p["score"])
        return concat(
            "100 minus the spread between the best perspective (",
            f"{best['title']} {score_text(best['score'])}) and the worst (",
            f"{worst['title']} {score_text(worst['score'])})",
        )

    def sources(self) -> Markup:
        sources = self.data.get("sources") or []
        if not sources:
            return element("p", "No source has been synced yet.", class_="muted")
        rows = []
        for source in sources:
            finished = source.get("finished_at") or source.get("started_at")
            last_ok = source.get("last_ok_at")
            if last_ok and last_ok == source.get("finished_at"):
                fresh = element("td", "this run", class_="muted")
            else:
                fresh = element(
                    "td",
                    f"{_time(last_ok)}, {self._age(last_ok)}" if last_ok else "never",
                    class_="num",
                )
            rows.append(
                element(
                    "tr",
                    element("td", element("strong", source["source"])),
                    element("td", source.get("plugin") or ""),
                    element("td", _time(finished), class_="num"),
                    element("td", self._age(finished), class_="muted"),
                    element("td", _status(source.get("status") or "running")),
                    fresh,
                    element(
                        "td",
                        "-" if source.get("items") is None else f"{source['items']:,}",
                        class_="r num",
                    ),
                    element("td", source.get("error") or "", class_="note"),
                    data_source=source["source"],
                )
            )
        return element(
            "details",
            element(
                "summary",
                "Sources, the latest sync of each: ",
                _source_summary(sources),
            ),
            element(
                "table",
                element(
                    "thead",
                    _header_row(
                        "Source",
                        "Connector",
                        "Last run",
                        "Age",
                        "Status",
                        "Last ok",
                        "Items",
                        "Note",
                    ),
                ),
                element("tbody", rows),
                class_="compact sources",
            ),
            open=True,
            id="sources",
        )

    def _age(self, moment: str | None) -> str:
        scored = self.snapshot.get("created_at")
        if not moment or not scored:
            return ""
        delta = _parse(scored) - _parse(moment)
        words = _duration(abs(delta))
        return (
            f"{words} before this score"
            if delta >= timedelta(0)
            else (f"{words} after this score")
        )

    # ------------------------------------------------------------ scorecard

    def scorecard(self) -> Markup:
        panels = [self._panel(p) for p in self.perspectives]
        return element(
            "section",
            element("h2", "Scorecard"),
            element(
                "p",
                "Each perspective with its objectives. The bar is an objective's "
                "achievement; the black mark is the pace: how much of the target "
                "should be reached by now.",
                class_="lede",
            ),
            element("div", panels, class_="panels"),
            id="scorecard",
        )

    def _panel(self, perspective: Mapping[str, Any]) -> Markup:
        key = perspective["key"]
        objectives = perspective.get("objectives", [])
        body = [self._objective(o) for o in objectives] or [
            element("p", "No objectives in this perspective.", class_="muted")
        ]
        return element(
            "article",
            element(
                "header",
                element("h3", perspective["title"]),
                _status(perspective["status"]),
                element(
                    "span",
                    _fig(
                        f"perspective:{key}:score",
                        perspective["score"],
                        score_text(perspective["score"]),
                    ),
                    class_="score",
                ),
            ),
            element(
                "p",
                f"weight {num(perspective.get('weight'))} · pace ",
                pct(perspective.get("expected")),
                " · ",
                _fig(
                    f"perspective:{key}:share",
                    perspective.get("share"),
                    pct(perspective.get("share"), 1),
                ),
                f" of all effort ({_hours(perspective.get('effort'))})",
                class_="facts",
            ),
            body,
            class_="panel",
            data_perspective=key,
        )

    def _objective(self, objective: Mapping[str, Any]) -> Markup:
        key = objective["key"]
        achieved = objective.get("achievement")
        expected = objective.get("expected")
        facts = [
            "achievement ",
            _fig(f"objective:{key}:achievement", achieved, pct(achieved)),
            " · pace ",
            pct(expected),
            " · effort ",
            _fig(
                f"objective:{key}:share",
                objective.get("share"),
                pct(objective.get("share"), 1),
            ),
            f" of all ({_hours(objective.get('effort'))})",
        ]
        if objective.get("capacity") is not None:
            facts.append(f" · planned {pct(objective['capacity'], 1)}")
        if objective.get("owner"):
            facts += [" · owner ", element("span", objective["owner"], class_="owner")]
        if objective.get("drives"):
            facts.append(" · drives " + ", ".join(objective["drives"]))
        children = [*objective.get("measures", []), *objective.get("key_results", [])]
        return element(
            "div",
            element(
                "div",
                element("span", key, class_="id"),
                element("span", objective["title"], class_="title"),
                _status(objective["status"]),
                element(
                    "span",
                    _fig(
                        f"objective:{key}:score",
                        objective["score"],
                        score_text(objective["score"]),
                    ),
                    class_="score",
                ),
                class_="head",
            ),
            _progress(achieved, expected, objective["status"]),
            element("p", facts, class_="facts"),
            _measures(children)
            if children
            else element(
                "p",
                "No measures or key results: add one so this objective can be scored.",
                class_="note",
            ),
            class_="objective",
            data_objective=key,
        )

    # ------------------------------------------------------------ strategy map

    def strategy_map(self) -> Markup:
        ordered = sorted(
            enumerate(self.perspectives),
            key=lambda pair: (MAP_RANKS.get(pair[1]["key"], _ADDED_RANK), pair[0]),
        )
        rows, edges = [], []
        for _, perspective in ordered:
            nodes = []
            for objective in perspective.get("objectives", []):
                nodes.append(
                    MapNode(
                        id=objective["key"],
                        title=objective["title"],
                        status=objective["status"],
                        symbol=_symbol(objective["status"]),
                        score=score_text(objective["score"]),
                    )
                )
                edges += [(objective["key"], d) for d in objective.get("drives") or []]
            status = perspective["status"]
            rows.append(
                MapRow(
                    key=perspective["key"],
                    title=perspective["title"],
                    caption=(
                        f"{_symbol(status)} {status} · "
                        f"{score_text(perspective['score'])}"
                    ),
                    nodes=nodes,
                )
            )
        legend = [
            element(
                "span",
                element("span", class_=f"swatch {status_class(s)}", aria_hidden="true"),
                f" {_symbol(s)} {s}",
            )
            for s in ("achieved", "on track", "behind", "at risk", "no data")
        ]
        return element(
            "section",
            element("h2", "Strategy map"),
            element(
                "p",
                "Objectives by perspective, learning and growth at the bottom, "
                "financial at the top. An arrow runs from an objective to one it "
                "drives; each box shows its status in a word and its score.",
                class_="lede",
            ),
            element("div", strategy_map(rows, edges), class_="map-wrap"),
            element("div", legend, class_="legend"),
            id="map",
        )

    # ------------------------------------------------------------ alignment

    def alignment(self) -> Markup:
        teams = self.data.get("teams") or []
        split = self._strategic_split()
        rows = []
        for team in teams:
            ref = team["team"] if team["team"] is not None else ""
            parts = split.get(team["team"], [])
            rows.append(
                element(
                    "tr",
                    element("td", element("strong", team["title"])),
                    element(
                        "td",
                        _fig(
                            f"team:{ref}:effort", team["effort"], _hours(team["effort"])
                        ),
                        class_="r",
                    ),
                    element("td", _stack(_category_parts(team))),
                    element(
                        "td",
                        _fig(
                            f"team:{ref}:alignment",
                            team["alignment"],
                            pct(team["alignment"]),
                        ),
                        class_="r",
                    ),
                    element(
                        "td",
                        _fig(
                            f"team:{ref}:overhead",
                            team["overhead_share"],
                            pct(team["overhead_share"]),
                        ),
                        class_="r",
                    ),
                    element(
                        "td",
                        _fig(
                            f"team:{ref}:unaligned",
                            team["unaligned_share"],
                            pct(team["unaligned_share"]),
                        ),
                        class_="r",
                    ),
                    element("td", self._split_cell(team["team"], parts)),
                    data_team=ref,
                )
            )
        table = element(
            "table",
            _columns("11em", "6.5em", "13em", "6em", "6em", "6em", None),
            element(
                "thead",
                _header_row(
                    "Team",
                    "Effort",
                    "Where it went",
                    "Strategic",
                    "Overhead",
                    "Unaligned",
                    "Strategic effort by perspective",
                    right=("Effort", "Strategic", "Overhead", "Unaligned"),
                ),
            ),
            element("tbody", rows),
            class_="teams",
        )
        legend = element(
            "div",
            [
                element("span", element("span", class_=f"swatch c-{key}"), title)
                for key, title in _CATEGORIES
            ],
            " · ",
            [
                element(
                    "span",
                    element("span", class_=f"swatch {self.colour[p['key']]}"),
                    p["title"],
                )
                for p in self.perspectives
            ],
            class_="legend",
        )
        return element(
            "section",
            element("h2", "Team alignment"),
            element(
                "p",
                "Where each team's effort in the period went: to objectives "
                "(strategic), to necessary work that serves none (overhead), or "
                "nowhere a rule could place it (unaligned). Alignment is shown per "
                "team, never per person.",
                class_="lede",
            ),
            legend,
            table
            if teams
            else element("p", "No effort in this period.", class_="muted"),
            self._capacity(),
            id="alignment",
        )

    def _strategic_split(self) -> dict[str | None, list[tuple[str, float, float]]]:
        """Per team, each perspective's hours and share of its strategic effort."""
        hours: dict[str | None, dict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        for row in self.data.get("allocations") or []:
            if row["category"] == "strategic" and row.get("perspective"):
                hours[row["team"]][row["perspective"]] += row["effort"]
        order = [p["key"] for p in self.perspectives]
        split = {}
        for team, by_key in hours.items():
            total = sum(by_key.values())
            keys = [k for k in order if k in by_key] + sorted(
                k for k in by_key if k not in order
            )
            split[team] = [
                (k, by_key[k], by_key[k] / total if total > 0 else 0.0) for k in keys
            ]
        return split

    def _split_cell(
        self, team: str | None, parts: Sequence[tuple[str, float, float]]
    ) -> Markup:
        if not parts:
            return element("span", "no strategic effort", class_="muted")
        titles = {p["key"]: p["title"] for p in self.perspectives}
        bar = element(
            "div",
            [
                element(
                    "span",
                    class_=self.colour.get(key, "p0"),
                    style=f"width:{100 * share:.2f}%",
                    title=f"{titles.get(key, key)}: {pct(share)} ({_hours(hours)})",
                )
                for key, hours, share in parts
            ],
            class_="stack",
        )
        words = []
        for key, _, share in parts:
            if words:
                words.append(" · ")
            words += [
                f"{titles.get(key, key)} ",
                _fig(f"split:{team or ''}:{key}", share, pct(share)),
            ]
        return concat(bar, element("div", words, class_="split"))

    def _capacity(self) -> Markup:
        capacity = self.data.get("capacity") or []
        if not capacity:
            return element(
                "p",
                "No objective has a planned capacity (capacity = a share of effort).",
                class_="muted",
            )
        rows = []
        for entry in capacity:
            key = entry["objective"]
            planned, actual = entry["planned"], entry["actual"]
            verdict = _against_plan(planned, actual)
            scale = max(planned, actual or 0.0, 1e-9) * 1.15
            rows.append(
                element(
                    "tr",
                    element("td", element("strong", key)),
                    element("td", entry["title"]),
                    element(
                        "td",
                        _fig(f"capacity:{key}:planned", planned, pct(planned, 1)),
                        class_="r",
                    ),
                    element(
                        "td",
                        _fig(f"capacity:{key}:actual", actual, pct(actual, 1)),
                        class_="r",
                    ),
                    element("td", _status(verdict)),
                    element(
                        "td",
                        element(
                            "div",
                            element(
                                "span",
                                class_="actual",
                                style=f"width:{100 * (actual or 0) / scale:.2f}%",
                            ),
                            element(
                                "span",
                                class_="planned",
                                style=f"left:{100 * planned / scale:.2f}%",
                            ),
                            class_="plan",
                            role="img",
                            aria_label=f"actual {pct(actual, 1)} against planned "
                            f"{pct(planned, 1)}",
                        ),
                    ),
                    element("td", _hours(entry["effort"]), class_="r num"),
                    data_capacity=key,
                )
            )
        return concat(
            element("h3", "Capacity: planned against actual share of all effort"),
            element(
                "p",
                "The bar is the actual share; the black mark is the plan.",
                class_="facts",
            ),
            element(
                "table",
                _columns("6em", None, "6em", "6em", "8.5em", "12em", "6.5em"),
                element(
                    "thead",
                    _header_row(
                        "Objective",
                        "Title",
                        "Planned",
                        "Actual",
                        "Against plan",
                        "",
                        "Effort",
                        right=("Planned", "Actual", "Effort"),
                    ),
                ),
                element("tbody", rows),
                class_="capacity",
            ),
        )

    # ------------------------------------------------------------ trends

    def trends(self) -> Markup:
        trends = list(self.data.get("trends") or [])
        if not trends:
            return element(
                "section",
                element("h2", "Trends"),
                element("p", "No stored snapshots to draw.", class_="muted"),
                id="trends",
            )
        times = [_parse(t["taken_at"]).timestamp() for t in trends]
        first, last = min(times), max(times)
        if last > first:
            xs = [(t - first) / (last - first) for t in times]
        else:
            xs = [i / max(1, len(trends) - 1) for i in range(len(trends))]
        span = (_short_day(trends[0]["taken_at"]), _short_day(trends[-1]["taken_at"]))

        def series(values: Iterable[float | None]) -> list[tuple[float, float | None]]:
            return list(zip(xs, values, strict=True))

        charts = [
            _chart(
                "Overall score",
                "trend:overall:score",
                series(t["score"] for t in trends),
                span,
            ),
            _chart(
                "Balance",
                "trend:overall:balance",
                series(t["balance"] for t in trends),
                span,
            ),
            _chart(
                "Alignment",
                "trend:overall:alignment",
                series(t["alignment"] for t in trends),
                span,
                share=True,
            ),
        ]
        perspective_charts = [
            _chart(
                p["title"],
                f"trend:perspective:{p['key']}",
                series(t["perspectives"].get(p["key"]) for t in trends),
                span,
            )
            for p in self.perspectives
        ]
        team_keys: list[str | None] = []
        for entry in trends:
            for team in entry["teams"]:
                if team["team"] not in team_keys:
                    team_keys.append(team["team"])
        team_keys.sort(key=lambda k: (k is None, self.team_titles.get(k, k or "")))
        team_charts = []
        for key in team_keys:
            values = [
                next((t["alignment"] for t in e["teams"] if t["team"] == key), None)
                for e in trends
            ]
            title = self.team_titles.get(key, key) if key is not None else "(no team)"
            team_charts.append(
                _chart(
                    title, f"trend:team:{key or ''}", series(values), span, share=True
                )
            )
        intro = (
            f"{len(trends)} snapshots, {span[0]} to {span[1]}, oldest on the left."
            if len(trends) > 1
            else "One snapshot so far: lines appear after the next `headway score`."
        )
        return element(
            "section",
            element("h2", "Trends"),
            element("p", intro, class_="lede"),
            element("h3", "The scorecard"),
            element("div", charts, class_="charts"),
            element("h4", "Perspective scores"),
            element("div", perspective_charts, class_="charts"),
            element("h4", "Team alignment (strategic share of each team's effort)"),
            element("div", team_charts, class_="charts")
            if team_charts
            else element("p", "No team effort in these snapshots.", class_="muted"),
            self._trend_table(trends),
            id="trends",
        )

    def _trend_table(self, trends: Sequence[Mapping[str, Any]]) -> Markup:
        rows = []
        for entry in reversed(trends):
            rows.append(
                element(
                    "tr",
                    element("td", entry["id"], class_="num"),
                    element("td", _time(entry["taken_at"]), class_="num"),
                    element("td", entry["period"]),
                    [
                        element(
                            "td",
                            _fig(f"history:{entry['id']}:{name}", value, text),
                            class_="r num",
                        )
                        for name, value, text in (
                            ("score", entry["score"], score_text(entry["score"])),
                            ("balance", entry["balance"], score_text(entry["balance"])),
                            (
                                "alignment",
                                entry["alignment"],
                                pct(entry["alignment"], 1),
                            ),
                        )
                    ],
                    [
                        element(
                            "td",
                            _fig(
                                f"history:{entry['id']}:perspective:{p['key']}",
                                entry["perspectives"].get(p["key"]),
                                score_text(entry["perspectives"].get(p["key"])),
                            ),
                            class_="r num",
                        )
                        for p in self.perspectives
                    ],
                    data_snapshot=entry["id"],
                )
            )
        return element(
            "details",
            element("summary", "The figures behind these lines, newest first"),
            element(
                "table",
                _columns(
                    "6em", "11em", "6em", *([None] * (3 + len(self.perspectives)))
                ),
                element(
                    "thead",
                    _header_row(
                        "Snapshot",
                        "Taken",
                        "Period",
                        "Score",
                        "Balance",
                        "Alignment",
                        *(p["title"] for p in self.perspectives),
                        right=(
                            "Score",
                            "Balance",
                            "Alignment",
                            *(p["title"] for p in self.perspectives),
                        ),
                    ),
                ),
                element("tbody", rows),
                class_="compact trend-table",
            ),
        )

    # ------------------------------------------------------------ insights

    def insights(self) -> Markup:
        insights = self.data.get("insights") or []
        blocks = []
        kinds = list(INSIGHT_KINDS)
        kinds += sorted(
            {i["kind"] for i in insights if i["kind"] not in INSIGHT_KINDS}
            - {"busywork"}
        )
        for kind in kinds:
            found = [i for i in insights if i["kind"] == kind]
            title = INSIGHT_KINDS.get(kind, kind.replace("_", " ").capitalize())
            blocks.append(element("h3", f"{title} ({len(found)})"))
            if not found:
                blocks.append(element("p", "None in this snapshot.", class_="muted"))
                continue
            blocks.append(
                element(
                    "ul",
                    [
                        element(
                            "li",
                            element("span", f"{title}:", class_="kind"),
                            insight["message"],
                            class_=f"k-{kind}",
                            data_insight=insight.get("seq"),
                        )
                        for insight in found
                    ],
                    class_="insights",
                )
            )
        return element(
            "section",
            element("h2", "Insights"),
            element(
                "p",
                "What this snapshot shows against the one before it: effort that "
                "does not move its objective, one perspective gaining at another's "
                "cost, and areas with no effort or no data.",
                class_="lede",
            ),
            blocks,
            id="insights",
        )

    def busywork(self) -> Markup:
        found = [i for i in self.data.get("insights") or [] if i["kind"] == "busywork"]
        rows = []
        for rank, insight in enumerate(found, 1):
            figures = insight.get("figures") or {}
            rows.append(
                element(
                    "tr",
                    element("td", rank, class_="num"),
                    element("td", _group_label(figures, insight["subject"])),
                    element(
                        "td",
                        _fig(
                            f"busywork:{rank}:items",
                            figures.get("items"),
                            f"{figures.get('items') or 0:,}",
                        ),
                        class_="r",
                    ),
                    element(
                        "td",
                        _fig(
                            f"busywork:{rank}:effort",
                            figures.get("effort"),
                            _hours(figures.get("effort")),
                        ),
                        class_="r",
                    ),
                    element(
                        "td",
                        _fig(
                            f"busywork:{rank}:share",
                            figures.get("share"),
                            pct(figures.get("share"), 1),
                        ),
                        class_="r",
                    ),
                    element("td", _examples(figures.get("examples") or [])),
                    data_busywork=rank,
                )
            )
        body = (
            element(
                "table",
                element(
                    "thead",
                    _header_row(
                        "#",
                        "Unaligned work",
                        "Items",
                        "Effort",
                        "Share of all effort",
                        "Largest examples",
                        right=("Items", "Effort", "Share of all effort"),
                    ),
                ),
                element("tbody", rows),
                class_="busywork",
            )
            if rows
            else element("p", "No unaligned effort in this snapshot.", class_="muted")
        )
        return element(
            "section",
            element("h2", "Busywork candidates"),
            element(
                "p",
                "The largest groups of unaligned effort, by source, kind, project and "
                "title pattern (or parent): the first things to stop doing, or to "
                "map onto an objective with a rule.",
                class_="lede",
            ),
            body,
            id="busywork",
        )

    # ------------------------------------------------------------ footer

    def footer(self) -> Markup:
        s = self.snapshot
        return element(
            "footer",
            f"Written by headway {__version__} from snapshot "
            f"{s.get('id') or '(not saved)'} (scored by headway "
            f"{s.get('version', '?')}, rule set {s.get('rules_hash', '?')}). "
            "Every figure here is stored in the snapshot tables of the store "
            "(snapshots, scores, allocations, insights); see docs/report.md.",
        )


# ---------------------------------------------------------------- pieces


def _fig(ref: str, value: float | int | None, text: str) -> Markup:
    """A figure as shown, with the stored value beside it for checking."""
    return element(
        "span",
        text,
        class_="num",
        data_figure=ref,
        data_value="" if value is None else repr(float(value)),
    )


def _symbol(status: str) -> str:
    return STATUS_SYMBOLS.get(status, "•")


def _status(status: str) -> Markup:
    return element(
        "span", f"{_symbol(status)} {status}", class_=f"status {status_class(status)}"
    )


def _tile(label: str, big: Markup, small: Markup) -> Markup:
    return element(
        "div",
        element("div", label, class_="label"),
        element("div", big, class_="big"),
        element("div", small, class_="small"),
        class_="tile",
    )


def _header_row(*titles: str, right: Sequence[str] = ()) -> Markup:
    return element(
        "tr",
        [
            element("th", t, class_="r" if t in right else None, scope="col")
            for t in titles
        ],
    )


def _columns(*widths: str | None) -> Markup:
    """Column widths for a table laid out at a fixed width (cheap to lay out,
    and the columns of similar tables line up)."""
    return element(
        "colgroup", [element("col", style=w and f"width:{w}") for w in widths]
    )


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} h"


def _category_parts(group: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    total = group.get("effort") or 0.0
    if total <= 0:
        return []
    return [(key, title, (group.get(key) or 0.0) / total) for key, title in _CATEGORIES]


def _stack(parts: Sequence[tuple[str, str, float]]) -> Markup:
    """A stacked bar of shares; each part says its name and share on hover."""
    if not parts:
        return element("span", "no effort", class_="muted")
    return element(
        "div",
        [
            element(
                "span",
                class_=f"c-{key}",
                style=f"width:{100 * share:.2f}%",
                title=f"{title}: {pct(share)}",
            )
            for key, title, share in parts
        ],
        class_="stack",
        role="img",
        aria_label=", ".join(f"{title} {pct(share)}" for _, title, share in parts),
    )


def _progress(achieved: float | None, expected: float | None, status: str) -> Markup:
    width = 0.0 if achieved is None else 100 * clamp(achieved)
    marker = (
        None
        if expected is None
        else element("span", class_="pace", style=f"left:{100 * clamp(expected):.1f}%")
    )
    return element(
        "div",
        element(
            "span", class_=f"fill {status_class(status)}", style=f"width:{width:.1f}%"
        ),
        marker,
        class_="progress",
        role="img",
        aria_label=f"achievement {pct(achieved)} against a pace of {pct(expected)}",
    )


def _measures(children: Sequence[Mapping[str, Any]]) -> Markup:
    rows = []
    for node in children:
        level = node["level"]
        key = node["key"]
        about = [key, "key result" if level == "key_result" else node.get("kind")]
        if node.get("owner"):
            about.append(f"owner {node['owner']}")
        unit = f" {node['unit']}" if node.get("unit") else ""
        rows.append(
            element(
                "tr",
                element(
                    "td",
                    element("div", node["title"]),
                    element("div", " · ".join(filter(None, about)), class_="facts"),
                    element("div", node["note"], class_="note")
                    if node.get("note")
                    else None,
                ),
                element(
                    "td",
                    _fig(f"{level}:{key}:value", node["value"], num(node["value"])),
                    unit if node["value"] is not None else "",
                    class_="r num",
                ),
                element(
                    "td",
                    f"{num(node.get('start'))} → ",
                    _fig(
                        f"{level}:{key}:target",
                        node.get("target"),
                        num(node.get("target")),
                    ),
                    unit,
                    class_="r num",
                ),
                element(
                    "td",
                    _fig(
                        f"{level}:{key}:achievement",
                        node.get("achievement"),
                        pct(node.get("achievement")),
                    ),
                    class_="r",
                ),
                element("td", _status(node["status"])),
                data_node=f"{level}:{key}",
            )
        )
    return element(
        "table",
        _columns(None, "7.5em", "8.5em", "5.5em", "8.5em"),
        element(
            "thead",
            _header_row(
                "Measure or key result",
                "Value",
                "From → target",
                "Achieved",
                "Status",
                right=("Value", "From → target", "Achieved"),
            ),
        ),
        element("tbody", rows),
        class_="compact measures",
    )


def _against_plan(planned: float, actual: float | None) -> str:
    if actual is None:
        return "no data"
    if actual >= planned + SHARE_STEP:
        return "over plan"
    if actual <= planned - SHARE_STEP:
        return "under plan"
    return "on plan"


def _chart(
    title: str,
    ref: str,
    points: Sequence[tuple[float, float | None]],
    span: tuple[str, str],
    *,
    share: bool = False,
) -> Markup:
    """One small-multiple trend: its name, latest value, line and span."""
    shown = [y for _, y in points if y is not None]

    def text(value: float | None) -> str:
        return pct(value) if share else score_text(value)

    latest = shown[-1] if shown else None
    if shown:
        summary = (
            f"{title}: from {text(shown[0])} to {text(latest)} over {len(points)} "
            f"snapshots (lowest {text(min(shown))}, highest {text(max(shown))})"
        )
    else:
        summary = f"{title}: no data in these snapshots"
    scale = 1.0 if share else 100.0
    line = sparkline(
        [(x, None if y is None else y * (100.0 / scale)) for x, y in points],
        low=0.0,
        high=100.0,
        label=summary,
        ticks=("0 %", "50 %", "100 %") if share else ("0", "50", "100"),
    )
    return element(
        "div",
        element(
            "div",
            element("span", title),
            _fig(f"{ref}:latest", latest, text(latest)),
            class_="name",
        ),
        line,
        element(
            "div", element("span", span[0]), element("span", span[1]), class_="span"
        ),
        class_="chart",
        data_trend=ref,
    )


def _group_label(figures: Mapping[str, Any], subject: str) -> Markup:
    if not figures.get("source"):
        return element("span", subject)
    where = f"{figures['source']} {figures.get('kind') or ''}".strip()
    if figures.get("project"):
        where += f" in {figures['project']}"
    parent = figures.get("parent")
    if parent:
        what = concat(
            "under ",
            element("strong", parent.get("label") or ""),
            " ",
            f"“{parent.get('title') or ''}”",
        )
    elif figures.get("pattern"):
        what = concat("titled ", element("strong", f"“{figures['pattern']}”"))
    else:
        what = concat("with various titles")
    return concat(element("div", where), element("div", what, class_="facts"))


def _examples(examples: Sequence[Mapping[str, Any]]) -> Markup:
    if not examples:
        return element("span", "", class_="muted")
    return element(
        "ul",
        [
            element(
                "li",
                link(
                    example.get("url"), example.get("key") or example.get("id") or "?"
                ),
                " ",
                example.get("title") or "",
                element("span", f" ({_example_hours(example)})", class_="muted"),
            )
            for example in examples
        ],
        class_="examples",
    )


def _example_hours(example: Mapping[str, Any]) -> str:
    effort = example.get("effort")
    return "-" if effort is None else f"{effort:,.1f} h"


def _source_summary(sources: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for source in sources:
        counts[source.get("status") or "running"] += 1
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


# ---------------------------------------------------------------- time


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _time(text: str | None) -> str:
    if not text:
        return "-"
    return f"{_parse(text):%Y-%m-%d %H:%M} UTC"


def _day(text: str, *, minus_one: bool = False) -> str:
    moment = _parse(text)
    if minus_one:
        moment -= timedelta(days=1)
    return _day_text(moment.date().isoformat())


def _day_text(iso_day: str) -> str:
    day = datetime.fromisoformat(iso_day)
    return f"{day.day} {day:%b %Y}"


def _short_day(text: str) -> str:
    return f"{_parse(text):%Y-%m-%d}"


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
