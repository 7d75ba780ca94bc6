"""Place a breakdown's rows as boxes and its data flow as joins (pure Python, no Sphinx).

**flow** (the default): every shown row has a rank of its own along the main axis
(top-down, or left-right with ``direction="right"``), in reading order. Layer, merge
and collapsed-group boxes stand in one column; the headers of the groups shown open
stand in a column of their own beside it, each with a bracket over its members. A join
from the box just before its target in that column is a straight arrow; every other
join (a residual's skip, a branch's input, a concat's operands, ``from NAME``, a side
output's input) leaves its source on the far side, runs in a track beyond every box and
enters its target from that side. Since a rank holds one box of the column and the
tracks lie beyond the column, no join crosses a box. Tracks are given greedily in
order of the joins' first rank (interval colouring), so the layout is deterministic.

**volumes**: the main path's feature maps (:func:`main_path`) as 3-D boxes, left to
right: height ``12 + 14*log2(H)``, thickness ``4 + 6*log2(C)``, depth ``6 + 7*log2(W)``
drawn at 45 degrees (all capped at 220), an fc output as a thin bar of height
``12 + 14*log2(N)``. A feature map is drawn where the shape changes and after each
layer with more weights than output channels (conv, fc; not a norm's scale).

``depth`` shows rows nested less than ``depth`` deep, as the table's ``:depth:`` does: a
group at the last shown depth is one box with its subtotals. More than ``max_boxes``
boxes fold to the deepest depth that fits, with a note saying so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..engine import Breakdown, Row
from ..layers import show_shape
from ..units import compact, human_bytes, nbytes

STYLES = ("flow", "volumes")
DIRECTIONS = ("down", "right")
ENCODINGS = ("params", "macs", "memory")
SHOW = ("params", "macs")
MAX_BOXES = 800
MAX_VOLUMES = 60

FONT = 12
SMALL = 10
CHAR = 0.6 * FONT
PAD = 12
BOX_H = 38
HEADER_H = 22
GAP = 22
INDENT = 10
TRACK = 10
OFFSET = 6


@dataclass(frozen=True)
class Box:
    """A rectangle ``x, y, w, h`` for row ``index``; ``kind`` is the row's kind
    (``input``, ``layer``, ``merge``), ``group`` (collapsed), ``header`` (an open group)
    or ``volume`` (with its ``faces``, polygons of the 3-D drawing)."""

    index: int
    kind: str
    label: str
    detail: str
    tooltip: str
    x: float
    y: float
    w: float
    h: float
    bar: float | None = None
    faces: tuple[tuple[tuple[float, float], ...], ...] = ()
    span: tuple[float, float, float, float] | None = None
    """A header's bracket: a line from ``(x1, y1)`` to ``(x2, y2)`` beside its members."""

    def overlaps(self, other: Box) -> bool:
        return (self.x < other.x + other.w and other.x < self.x + self.w
                and self.y < other.y + other.h and other.y < self.y + self.h)


@dataclass(frozen=True)
class Join:
    """Data flowing from row ``source`` to row ``target`` (indices in the breakdown),
    drawn through ``points``; ``routed`` joins run in a track beside the boxes."""

    source: int
    target: int
    points: tuple[tuple[float, float], ...]
    routed: bool


@dataclass
class Diagram:
    style: str
    direction: str
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    joins: list[Join] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title: str = ""


class DiagramError(ValueError):
    """A bad option (style, direction, encoding, figures to show)."""


def check_choice(value: str | None, choices: Sequence[str], what: str, default: str | None = None) -> str | None:
    """``value`` lower-cased if one of ``choices`` (``default`` if empty); else :class:`DiagramError`."""
    text = (value or "").strip().lower()
    if not text:
        return default
    if text not in choices:
        raise DiagramError(f"unknown {what} {value!r} (one of {', '.join(choices)})")
    return text


def parse_show(text: str | None) -> tuple[str, ...]:
    """``"params, macs"`` -> ``("params", "macs")``: the figures written in each box."""
    words = (text or "").replace(",", " ").lower().split()
    for word in words:
        if word not in SHOW:
            raise DiagramError(f"unknown figure {word!r} to show (one of {', '.join(SHOW)})")
    return tuple(dict.fromkeys(words))


def _metric(row: Row, key: str, dtype: str) -> int:
    return {"params": row.params, "macs": row.macs, "memory": nbytes(row.activations, dtype)}[key]


def _tooltip(row: Row, dtype: str) -> str:
    lines = [row.name]
    if row.layer != row.name:
        lines.append(f"layer: {row.layer}")
    lines.append(f"output: {show_shape(row.output_shape)}")
    lines.append(f"params: {row.params:,}")
    lines.append(f"MACs: {row.macs:,}")
    lines.append(f"activations: {row.activations:,} ({human_bytes(nbytes(row.activations, dtype))} {dtype})")
    return "\n".join(lines)


def _detail(row: Row, show: Sequence[str]) -> str:
    parts = [show_shape(row.output_shape)]
    if "params" in show and row.params:
        parts.append(f"{compact(row.params)} params")
    if "macs" in show and row.macs:
        parts.append(f"{compact(row.macs)} MACs")
    return " \u00b7 ".join(parts)


def _label(row: Row) -> str:
    """A box's first line: the row's name, a group's with its kind (``layer1 (repeat)``)."""
    if row.kind != "group" or row.block in (None, row.name, "iteration"):
        return row.name
    return f"{row.name} ({row.block})"


def _header_detail(row: Row) -> str:
    return f"{compact(row.params)} params" if row.params else ""


def _parents(rows: Sequence[Row]) -> list[int | None]:
    """Index of each row's enclosing group (rows nest by ``depth``, in reading order)."""
    parents: list[int | None] = []
    stack: list[int] = []
    for index, row in enumerate(rows):
        while stack and rows[stack[-1]].depth >= row.depth:
            stack.pop()
        parents.append(stack[-1] if stack else None)
        if row.kind == "group":
            stack.append(index)
    return parents


def _shown(rows: Sequence[Row], depth: int | None) -> int:
    return sum(1 for row in rows if (row.depth < depth if depth else row.kind != "group"))


def layout(
    breakdown: Breakdown,
    style: str = "flow",
    direction: str = "down",
    depth: int | None = None,
    show: Sequence[str] = (),
    encode: str | None = None,
    dtype: str = "float32",
    title: str = "",
    max_boxes: int = MAX_BOXES,
) -> Diagram:
    """The diagram of ``breakdown`` (see the module's docstring)."""
    if style not in STYLES:
        raise DiagramError(f"unknown style {style!r} (one of {', '.join(STYLES)})")
    if direction not in DIRECTIONS:
        raise DiagramError(f"unknown direction {direction!r} (one of {', '.join(DIRECTIONS)})")
    if encode is not None and encode not in ENCODINGS:
        raise DiagramError(f"unknown encoding {encode!r} (one of {', '.join(ENCODINGS)})")
    if style == "volumes":
        return _volumes(breakdown, dtype, title)
    return _flow(breakdown, direction, depth, tuple(show), encode, dtype, title, max_boxes)


def _fit_depth(rows: Sequence[Row], depth: int | None, max_boxes: int) -> tuple[int | None, str | None]:
    """The deepest depth (at most ``depth``) whose rows fit in ``max_boxes``, and a note."""
    wanted = _shown(rows, depth)
    if wanted <= max_boxes:
        return depth, None
    deepest = max(row.depth for row in rows) + 1
    for cut in range(min(depth or deepest, deepest), 0, -1):
        if _shown(rows, cut) <= max_boxes:
            return cut, (f"Shown to depth {cut}: {wanted:,} rows are more than the {max_boxes:,} "
                         "boxes a diagram draws; groups below are single boxes with their subtotals.")
    return 1, f"Only the first {max_boxes:,} of {_shown(rows, 1):,} top-level rows are drawn."


def _flow(
    breakdown: Breakdown, direction: str, depth: int | None, show: tuple[str, ...], encode: str | None,
    dtype: str, title: str, max_boxes: int,
) -> Diagram:
    rows = breakdown.rows
    notes: list[str] = []
    depth, note = _fit_depth(rows, depth, max_boxes)
    if note:
        notes.append(note)
    parents = _parents(rows)
    # the representative of each row: itself, or the collapsed group holding it
    rep: list[int] = []
    for index, row in enumerate(rows):
        parent = parents[index]
        if depth is not None and row.depth >= depth and parent is not None:
            rep.append(rep[parent])
        else:
            rep.append(index)
    items: list[tuple[int, str]] = []  # (row index, "box" | "header") in rank order
    for index, row in enumerate(rows):
        if rep[index] != index:
            continue
        collapsed = row.kind == "group" and depth is not None and row.depth == depth - 1
        items.append((index, "box" if row.kind != "group" or collapsed else "header"))
    main = [index for index, what in items if what == "box"]
    if len(main) > max_boxes:
        kept = set(main[:max_boxes])
        items = [(index, what) for index, what in items if what == "header" or index in kept]
        items = [(index, what) for index, what in items if what == "box" or index < main[max_boxes]]
        main = main[:max_boxes]
    shown = set(main)

    if direction != "down":  # headers stand in bands above the boxes they span: no rank of their own
        items = [(index, what) for index, what in items if what == "box"] + [
            (index, what) for index, what in items if what == "header"]
    down = direction == "down"
    ranked = [item for item in items if down or item[1] == "box"]
    labels = {index: _label(rows[index]) for index, _ in items}
    details = {index: _detail(rows[index], show or (("params",) if rows[index].kind == "group" else ()))
               for index in main}
    peak = max((_metric(rows[index], encode, dtype) for index in main), default=0) if encode else 0
    label_chars = max((len(labels[index]) for index in main), default=8)
    detail_chars = max((len(details[index]) for index in main), default=8)
    box_w = min(max(140.0, CHAR * max(label_chars, detail_chars * SMALL / FONT) + 16), 300.0)
    header_depths = [rows[index].depth for index, what in items if what == "header"]
    header_chars = max((len(labels[index]) + len(_header_detail(rows[index])) + 5 + INDENT / CHAR * rows[index].depth
                        for index, what in items if what == "header"), default=0)
    header_w = min(max(150.0, CHAR * header_chars * (SMALL + 1) / FONT), 320.0) if header_depths else 0.0
    main_len = BOX_H if down else box_w  # a box's extent along the main axis
    cross_len = box_w if down else BOX_H
    pitch = main_len + GAP
    head = PAD + (24 if notes or encode else 0) + (20 if title else 0)
    header_cross = header_w if down else HEADER_H * (max(header_depths, default=0) + 1)
    column = PAD + (header_cross + GAP if header_depths else 0)  # cross position of the box column
    band = head  # left-right: the headers' bands start below the title and notes
    if not down:
        column += head - PAD
        head = PAD

    starts: list[float] = []  # where each rank starts along the main axis
    position = head
    for index, what in ranked:
        starts.append(position)
        position += pitch if what == "box" else HEADER_H + 6

    def rect(start: float, cross: float, along: float, across: float) -> tuple[float, float, float, float]:
        return (cross, start, across, along) if down else (start, cross, along, across)

    def point(along: float, cross: float) -> tuple[float, float]:
        return (cross, along) if down else (along, cross)

    boxes: list[Box] = []
    rank_of = {index: rank for rank, (index, _) in enumerate(ranked)}
    first_rank: dict[int, int] = {}
    last_rank: dict[int, int] = {}
    for rank, (index, what) in enumerate(ranked):
        node: int | None = index
        while node is not None:
            first_rank.setdefault(node, rank)
            last_rank[node] = rank
            node = parents[node]
    for index, what in items:
        row = rows[index]
        if what == "header":
            level = row.depth
            first, last = first_rank.get(index), last_rank.get(index)
            if first is None or last is None:
                continue  # a group with nothing shown inside (left-right only)
            if down:
                x, y, w, h = rect(starts[first], PAD + INDENT * level, HEADER_H, header_w - INDENT * level)
                span = (x - 4, y, x - 4, starts[last] + main_len)
            else:
                x, y, w, h = rect(starts[first], band + HEADER_H * level, starts[last] + main_len - starts[first],
                                  HEADER_H - 2)
                span = (x, y + h + 1, x + w, y + h + 1)
            boxes.append(Box(index, "header", labels[index], _header_detail(row), _tooltip(row, dtype), x, y, w, h, span=span))
            continue
        x, y, w, h = rect(starts[rank_of[index]], column, main_len, cross_len)
        bar = None
        if encode:
            value = _metric(row, encode, dtype)
            bar = math.log10(1 + value) / math.log10(1 + peak) if peak and value else 0.0
        boxes.append(Box(index, row.kind, labels[index], details[index], _tooltip(row, dtype), x, y, w, h, bar=bar))

    # joins: every input of every row, between the boxes that stand for them
    found: dict[tuple[int, int], None] = {}  # in order, without repeats
    for index, row in enumerate(rows):
        for source in row.inputs:
            a, b = rep[source], rep[index]
            if a != b and a in shown and b in shown:
                found[(a, b)] = None
    edges = list(found)
    previous = {b: a for a, b in itertools.pairwise(main)}
    straight = [(a, b) for a, b in edges if previous.get(b) == a]
    routed = sorted(((a, b) for a, b in edges if previous.get(b) != a),
                    key=lambda e: (rank_of[min(e)], rank_of[max(e)], e))
    track_ends: list[int] = []
    tracks: dict[tuple[int, int], int] = {}
    for a, b in routed:
        first, last = sorted((rank_of[a], rank_of[b]))
        for number, end in enumerate(track_ends):
            if end < first:
                track_ends[number] = last
                tracks[(a, b)] = number
                break
        else:
            tracks[(a, b)] = len(track_ends)
            track_ends.append(last)
    far = column + cross_len  # the box column's far side
    joins: list[Join] = []
    centre = column + cross_len / 2
    for a, b in edges:
        start = starts[rank_of[a]]
        end = starts[rank_of[b]]
        if (a, b) in tracks:
            lane = far + GAP / 2 + TRACK * (tracks[(a, b)] + 1)
            out_at = start + main_len / 2 + OFFSET
            in_at = end + main_len / 2 - OFFSET
            points = (point(out_at, far), point(out_at, lane), point(in_at, lane), point(in_at, far))
            joins.append(Join(a, b, points, True))
        else:
            joins.append(Join(a, b, (point(start + main_len, centre), point(end, centre)), False))
    joins.sort(key=lambda join: (rank_of[join.target], rank_of[join.source]))
    assert all((a, b) in tracks or (a, b) in straight for a, b in edges)

    main_extent = position - GAP + PAD
    cross_extent = far + (GAP / 2 + TRACK * (len(track_ends) + 1) if track_ends else 0) + PAD
    width, height = (cross_extent, main_extent) if down else (main_extent, cross_extent)
    if encode:
        words = {"params": "parameters", "macs": "MACs", "memory": f"activation memory ({dtype})"}[encode]
        notes.append(f"Bar length: {words}, log scale (log10(1 + value)); the longest is {peak:,}.")
    width = max(width, PAD * 2 + CHAR * max((len(text) for text in [*notes, title]), default=0))
    return Diagram("flow", direction, round(width, 1), round(height, 1), boxes, joins, notes, title)


def main_path(breakdown: Breakdown) -> list[int]:
    """Indices of the main path's rows: from the output back through each row's first
    input of the row's own shape (a residual's body, an SE block's input), or its first."""
    rows = breakdown.rows
    index = breakdown.final_row if breakdown.final_row is not None else len(rows) - 1
    path = [index]
    while rows[index].inputs:
        inputs = rows[index].inputs
        same = [source for source in inputs if rows[source].output_shape == rows[index].output_shape]
        index = (same or list(inputs))[0]
        path.append(index)
    return path[::-1]


def _size(value: int, base: float, step: float) -> float:
    return min(base + step * math.log2(max(value, 1)), 220.0)


def _volumes(breakdown: Breakdown, dtype: str, title: str) -> Diagram:
    rows = breakdown.rows
    path = main_path(breakdown)
    kept = [index for position, index in enumerate(path)
            if position == 0 or position == len(path) - 1
            or rows[index].output_shape != rows[path[position - 1]].output_shape
            or rows[index].weights > rows[index].output_shape[-1]]
    notes = ["Log-scaled sizes: height 12 + 14*log2(H), thickness 4 + 6*log2(C),",
             "depth 6 + 7*log2(W); a vector is a bar of height 12 + 14*log2(N)."]
    if len(path) < len([row for row in rows if row.kind != "group"]):
        notes.append("The main path only.")
    if len(kept) > MAX_VOLUMES:
        notes.append(f"The first {MAX_VOLUMES} of {len(kept)} feature maps are drawn.")
        kept = kept[:MAX_VOLUMES]
    shapes = [rows[index].output_shape for index in kept]
    dims = []
    for shape in shapes:
        if len(shape) == 1:
            dims.append((_size(shape[0], 12, 14), 6.0, 0.0))
        else:
            height = _size(shape[-3] if len(shape) >= 3 else shape[0], 12, 14)
            depth = _size(shape[-2], 6, 7) if len(shape) >= 3 else 4.0
            dims.append((height, _size(shape[-1], 4, 6), depth * math.sqrt(0.5)))
    head = PAD + 20 * len(notes) + (20 if title else 0)
    top = max((h + d for h, _, d in dims), default=0)
    base = head + top
    x = float(PAD)
    boxes: list[Box] = []
    for index, (h, t, d) in zip(kept, dims):
        row = rows[index]
        label = row.name
        detail = show_shape(row.output_shape)
        text_w = CHAR * max(len(label), len(detail)) * SMALL / FONT
        front = ((x, base - h), (x + t, base - h), (x + t, base), (x, base))
        top_face = ((x, base - h), (x + d, base - h - d), (x + t + d, base - h - d), (x + t, base - h))
        side = ((x + t, base - h), (x + t + d, base - h - d), (x + t + d, base - d), (x + t, base))
        extent = max(t + d, text_w)
        boxes.append(Box(index, "volume", label, detail, _tooltip(row, dtype), x, base - h - d, extent, h + d + 30,
                         faces=(front, top_face, side)))
        x += extent + GAP
    width = max(x - GAP + PAD, PAD * 2 + CHAR * max((len(text) for text in [*notes, title]), default=0))
    return Diagram("volumes", "right", round(width, 1), round(base + 30 + PAD, 1), boxes, [], notes, title)


def summary(diagram: Diagram, breakdown: Breakdown) -> str:
    """One line for builders that draw no picture: boxes, joins, input and output."""
    joins = sum(1 for join in diagram.joins if join.routed)
    boxes = sum(1 for box in diagram.boxes if box.kind != "header")
    what = "feature maps" if diagram.style == "volumes" else "boxes"
    skips = f", {joins} skip or branch join{'s' * (joins != 1)}" if diagram.style == "flow" else ""
    return (f"Diagram: {boxes} {what}{skips}; input {show_shape(breakdown.input_shape)}, "
            f"output {show_shape(breakdown.output_shape)}.")
