"""The report's charts, drawn as inline SVG: trend lines and the strategy map.

Drawing only: the caller decides what to show, this module where it goes.
Colours come from CSS classes (``s-on-track``, ``series``), so the page's
stylesheet holds the palette and the print rules.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import attrs

from ._html import Markup, element

# ---------------------------------------------------------------- trends

_SPARK_WIDTH = 260
_SPARK_HEIGHT = 72
_SPARK_LEFT = 36
_SPARK_PAD = 6


def sparkline(
    points: Sequence[tuple[float, float | None]],
    *,
    low: float,
    high: float,
    label: str,
    ticks: tuple[str, str, str] = ("0", "50", "100"),
) -> Markup:
    """A small line chart of ``points`` (``x`` in 0..1, ``y`` or ``None`` for
    a gap) between ``low`` and ``high``.

    :param label: what the chart says to a screen reader (and as a tooltip).
    :param ticks: the labels of ``low``, the middle and ``high``.
    """
    width = _SPARK_WIDTH - _SPARK_LEFT - _SPARK_PAD
    height = _SPARK_HEIGHT - 2 * _SPARK_PAD
    span = (high - low) or 1.0

    def x_of(x: float) -> float:
        return _SPARK_LEFT + x * width

    def y_of(y: float) -> float:
        clamped = min(high, max(low, y))
        return _SPARK_PAD + height - (clamped - low) / span * height

    grid = []
    for fraction, tick in zip((0.0, 0.5, 1.0), ticks, strict=True):
        y = _SPARK_PAD + height - fraction * height
        grid.append(
            element(
                "line",
                x1=_SPARK_LEFT,
                x2=_SPARK_LEFT + width,
                y1=f"{y:.1f}",
                y2=f"{y:.1f}",
                class_="grid",
            )
        )
        grid.append(
            element(
                "text",
                tick,
                x=_SPARK_LEFT - 4,
                y=f"{y + 3:.1f}",
                class_="tick",
                text_anchor="end",
            )
        )

    lines, run = [], []
    for x, y in [*points, (1.0, None)]:
        if y is None:
            if len(run) > 1:
                lines.append(element("polyline", points=" ".join(run), class_="series"))
            elif run:
                cx, cy = run[0].split(",")
                lines.append(element("circle", cx=cx, cy=cy, r=2, class_="dot"))
            run = []
            continue
        run.append(f"{x_of(x):.1f},{y_of(y):.1f}")
    last = next(((x, y) for x, y in reversed(points) if y is not None), None)
    if last is not None:
        lines.append(
            element(
                "circle",
                cx=f"{x_of(last[0]):.1f}",
                cy=f"{y_of(last[1]):.1f}",
                r=3,
                class_="last",
            )
        )
    return element(
        "svg",
        element("title", label),
        grid,
        lines,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {_SPARK_WIDTH} {_SPARK_HEIGHT}",
        width=_SPARK_WIDTH,
        height=_SPARK_HEIGHT,
        class_="spark",
        role="img",
        aria_label=label,
    )


# ---------------------------------------------------------------- strategy map


@attrs.frozen
class MapNode:
    """One objective on the strategy map."""

    id: str
    title: str
    status: str
    symbol: str
    score: str


@attrs.frozen
class MapRow:
    """One perspective's band of the map, top to bottom."""

    key: str
    title: str
    caption: str
    nodes: Sequence[MapNode]


_LABEL_WIDTH = 170
_NODE_WIDTH = 170
_NODE_HEIGHT = 74
_GAP_X = 22
_GAP_Y = 30
_ROW_PAD = 22
_PER_LINE = 6
_TITLE_CHARS = 25


def status_class(status: str) -> str:
    """The CSS class of a status: ``on track`` is ``s-on-track``."""
    return "s-" + status.replace(" ", "-")


def strategy_map(rows: Sequence[MapRow], edges: Sequence[tuple[str, str]]) -> Markup:
    """Objectives in bands by perspective, with an arrow for each ``drives``.

    :param rows: the bands, top first.
    :param edges: ``(driver, driven)`` objective ids; unknown ids are skipped.
    """
    per_line = max(1, min(_PER_LINE, max((len(r.nodes) for r in rows), default=1)))
    inner = per_line * _NODE_WIDTH + (per_line - 1) * _GAP_X
    width = _LABEL_WIDTH + inner + 2 * _GAP_X
    boxes: dict[str, tuple[float, float]] = {}
    bands, nodes = [], []
    top = 0.0
    for index, row in enumerate(rows):
        lines = max(1, -(-len(row.nodes) // per_line))
        height = lines * _NODE_HEIGHT + (lines - 1) * _GAP_Y + 2 * _ROW_PAD
        bands.append(_band(row, index, top, width, height))
        for position, node in enumerate(row.nodes):
            line, column = divmod(position, per_line)
            in_line = min(per_line, len(row.nodes) - line * per_line)
            offset = (inner - (in_line * _NODE_WIDTH + (in_line - 1) * _GAP_X)) / 2
            x = _LABEL_WIDTH + _GAP_X + offset + column * (_NODE_WIDTH + _GAP_X)
            y = top + _ROW_PAD + line * (_NODE_HEIGHT + _GAP_Y)
            boxes[node.id] = (x, y)
            nodes.append(_node(node, x, y))
        top += height
    arrows = _arrows(
        boxes, [(a, b) for a, b in edges if a in boxes and b in boxes and a != b]
    )
    marker = element(
        "marker",
        element("path", d="M0,0 L10,5 L0,10 z", class_="arrowhead"),
        id="arrow",
        viewBox="0 0 10 10",
        refX=10,
        refY=5,
        markerWidth=7,
        markerHeight=7,
        orient="auto-start-reverse",
    )
    return element(
        "svg",
        element("title", "Strategy map: objectives by perspective, arrows for drives"),
        element("defs", marker),
        bands,
        element("g", arrows, class_="edges"),
        nodes,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width:.0f} {top:.0f}",
        width=f"{width:.0f}",
        class_="map",
        role="img",
        aria_label="Strategy map",
    )


def _band(row: MapRow, index: int, top: float, width: float, height: float) -> Markup:
    middle = top + height / 2
    return element(
        "g",
        element(
            "rect",
            x=0,
            y=f"{top:.1f}",
            width=f"{width:.0f}",
            height=f"{height:.1f}",
            class_="band band-odd" if index % 2 else "band",
        ),
        element(
            "text",
            row.title,
            x=12,
            y=f"{middle - 4:.1f}",
            class_="band-title",
        ),
        element(
            "text", row.caption, x=12, y=f"{middle + 14:.1f}", class_="band-caption"
        ),
        data_perspective=row.key,
    )


def _node(node: MapNode, x: float, y: float) -> Markup:
    lines = textwrap.wrap(node.title, _TITLE_CHARS) or [""]
    if len(lines) > 2:
        lines = [
            lines[0],
            textwrap.shorten(" ".join(lines[1:]), _TITLE_CHARS, placeholder="…"),
        ]
    texts = [
        element(
            "text", node.id, x=f"{x + 10:.1f}", y=f"{y + 18:.1f}", class_="node-id"
        ),
        element(
            "text",
            node.score,
            x=f"{x + _NODE_WIDTH - 10:.1f}",
            y=f"{y + 18:.1f}",
            class_="node-score",
            text_anchor="end",
        ),
        *(
            element("text", text, x=f"{x + 10:.1f}", y=f"{y + 36 + 14 * i:.1f}")
            for i, text in enumerate(lines)
        ),
        element(
            "text",
            f"{node.symbol} {node.status}",
            x=f"{x + 10:.1f}",
            y=f"{y + _NODE_HEIGHT - 8:.1f}",
            class_="node-status",
        ),
    ]
    return element(
        "g",
        element("title", f"{node.id} {node.title}: {node.status}, score {node.score}"),
        element(
            "rect",
            x=f"{x:.1f}",
            y=f"{y:.1f}",
            width=_NODE_WIDTH,
            height=_NODE_HEIGHT,
            rx=8,
        ),
        texts,
        class_=f"node {status_class(node.status)}",
        data_objective=node.id,
    )


def _arrows(
    boxes: dict[str, tuple[float, float]], edges: Sequence[tuple[str, str]]
) -> list[Markup]:
    """One curve per edge. An edge leaves its driver's top (its bottom when
    the driven node sits lower) and enters the driven node's bottom (its top
    when on the same line or lower). Where several edges meet a side, they
    spread along it in the order of the nodes at their other ends, so that
    arrows do not pile onto one point."""
    ends: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for index, (a, b) in enumerate(edges):
        (ax, ay), (bx, by) = boxes[a], boxes[b]
        leaves = "bottom" if by > ay else "top"
        enters = "bottom" if by < ay else "top"
        ends.setdefault((a, leaves), []).append((bx, index, 0))
        ends.setdefault((b, enters), []).append((ax, index, 1))
    points: dict[tuple[int, int], tuple[float, float]] = {}
    for (node, side), found in ends.items():
        x, y = boxes[node]
        level = y + _NODE_HEIGHT if side == "bottom" else y
        for rank, (_, index, end) in enumerate(sorted(found)):
            offset = (rank + 1) / (len(found) + 1)
            margin = _NODE_WIDTH * 0.15
            points[(index, end)] = (
                x + margin + offset * (_NODE_WIDTH - 2 * margin),
                level,
            )
    curves = []
    for index, (a, b) in enumerate(edges):
        (sx, sy), (ex, ey) = points[(index, 0)], points[(index, 1)]
        if sy == ey:
            bend_start = bend_end = sy - _ROW_PAD + 4
        else:
            bend_start = bend_end = (sy + ey) / 2
        d = (
            f"M{sx:.1f},{sy:.1f} C{sx:.1f},{bend_start:.1f} "
            f"{ex:.1f},{bend_end:.1f} {ex:.1f},{ey:.1f}"
        )
        curves.append(
            element(
                "path",
                element("title", f"{a} drives {b}"),
                d=d,
                marker_end="url(#arrow)",
            )
        )
    return curves
