"""An inline SVG chart of where a network's parameters, MACs and memory go.

Pure Python (no plotting library, no Sphinx): :func:`render_chart` draws one small
multiple per metric, side by side, with one horizontal bar per row (the leaf rows, or
the rows above a depth, groups standing for what they hold) and the row's share of the
total as a percentage (VGG-16's ``fc1`` holds 74.3% of the parameters).

The SVG is standalone XML: ``role="img"`` with ``aria-labelledby`` pointing at its
``<title>`` and ``<desc>``; every label is escaped. Colours come from CSS classes
(``cnntable-chart-*``) that read the ``--cnntable-chart-*`` variables of
``static/cnntable.css``; the presentation attributes are the fallback when the SVG is
shown without that stylesheet.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .engine import Breakdown, Row
from .figures import percent
from .units import compact, nbytes

METRICS = {
    "params": ("Params", "parameters", "#4c78a8"),
    "macs": ("MACs", "MACs", "#f58518"),
    "memory": ("Memory", "activation memory", "#54a24b"),
}
"""Metric key -> (panel heading, words for the description, fallback colour)."""

METRIC_ALIASES = {
    "parameters": "params",
    "param": "params",
    "mac": "macs",
    "mult-adds": "macs",
    "flops": "macs",
    "activations": "memory",
    "activation_memory": "memory",
    "mem": "memory",
}
SCALES = ("linear", "log")

_FONT = 12
_ROW = 18
_TOP = 40
_PANEL = 190
_BAR = 128
_GAP = 18
_PAD = 8
_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def metric_keys(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"params, macs"`` -> ``("params", "macs")``; empty -> all three; ``ValueError`` if unknown."""
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    keys: list[str] = []
    for word in words:
        key = METRIC_ALIASES.get(word.lower(), word.lower())
        if key not in METRICS:
            raise ValueError(f"unknown chart metric {word!r} (one of {', '.join(METRICS)})")
        if key not in keys:
            keys.append(key)
    return tuple(keys) or tuple(METRICS)


@dataclass(frozen=True)
class Bar:
    name: str
    depth: int
    values: dict[str, int]


def chart_rows(source: Breakdown | Iterable[Row], depth: int | None = None, dtype: str = "float32") -> list[Bar]:
    """The rows a chart shows: leaf rows, or with ``depth`` the rows nested less deep
    than ``depth`` (group rows then carry their subtotals); rows with nothing to show
    in any metric are left out."""
    rows = list(source.rows if isinstance(source, Breakdown) else source)
    if depth is not None:
        rows = [row for row in rows if row.depth < depth]
    else:
        rows = [row for row in rows if row.kind != "group"]
    bars = [
        Bar(row.name, row.depth if depth is not None else 0, {
            "params": row.params,
            "macs": row.macs,
            "memory": nbytes(row.activations, dtype),
        })
        for row in rows
    ]
    return [bar for bar in bars if any(bar.values.values())]


def elide_bars(bars: Sequence[Bar], limit: int) -> list[Bar]:
    """The first and last bars, ``limit`` in all, one of them standing for the middle
    ones with their summed values (so every share stays exact)."""
    head = max(limit - 1, 0) // 2
    tail = max(limit - 1 - head, 0)
    middle = bars[head : len(bars) - tail]
    values = {key: sum(bar.values[key] for bar in middle) for key in METRICS}
    return [*bars[:head], Bar(f"\u2026 {len(middle):,} rows", 0, values), *bars[len(bars) - tail :]]


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _esc(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _percent(part: int, total: int) -> str:
    """The share as the ``:cnn:`` role's ``percent`` writes it (exact decimal rounding),
    ``<0.1%`` when that rounds to zero, and nothing for no share at all."""
    if not total or not part:
        return ""
    text = percent(part, total)
    return "<0.1%" if text == "0.0%" else text


def _short(name: str, limit: int = 26) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def summary(bars: Sequence[Bar], metrics: Sequence[str] = tuple(METRICS), top: int = 3) -> str:
    """``Largest by params: fc1 (74.3%), fc2 (12.1%), fc3 (3.0%). Largest by MACs: ...``"""
    sentences = []
    for key in metrics:
        total = sum(bar.values[key] for bar in bars)
        if not total:
            continue
        ranked = sorted((bar for bar in bars if bar.values[key]), key=lambda bar: -bar.values[key])[:top]
        listing = ", ".join(f"{bar.name} ({_percent(bar.values[key], total)})" for bar in ranked)
        sentences.append(f"Largest by {METRICS[key][0] if key == 'macs' else key}: {listing}.")
    return " ".join(sentences)


def render_chart(
    source: Breakdown | Iterable[Row],
    metrics: Sequence[str] = ("params", "macs", "memory"),
    scale: str = "linear",
    title: str | None = None,
    dtype: str = "float32",
    depth: int | None = None,
    ident: str | None = None,
    max_bars: int | None = None,
) -> str:
    """The chart as an ``<svg>`` element (a string, valid XML).

    ``source``: a breakdown (its leaf rows, or its rows above ``depth``) or rows.
    ``scale``: ``linear`` (bar length proportional to the value, the largest row filling
    the panel) or ``log`` (``log10(1 + value)``, to see small layers next to ``fc1``).
    ``ident``: prefix of the ids of ``<title>``/``<desc>`` (unique on the page).
    ``max_bars``: above it, the middle bars are drawn as one bar of their sums.
    """
    metrics = metric_keys(metrics)
    if scale not in SCALES:
        raise ValueError(f"unknown chart scale {scale!r} (one of {', '.join(SCALES)})")
    bars = chart_rows(source, depth, dtype)
    if max_bars is not None and len(bars) > max_bars:
        bars = elide_bars(bars, max_bars)
    title_text = _clean(title or "Share per layer")
    description = summary(bars, metrics) or "No layer has parameters, MACs or activations."
    if ident is None:
        digest = hashlib.sha1(f"{title_text}|{description}|{len(bars)}".encode()).hexdigest()[:10]
        ident = f"cnnchart-{digest}"
    ident = re.sub(r"[^A-Za-z0-9_.-]", "-", ident) or "cnnchart"
    if not ident[0].isalpha():
        ident = "c" + ident

    longest = max((len(_short(bar.name)) + 2 * bar.depth for bar in bars), default=5)
    label_width = min(max(60, int(longest * _FONT * 0.6) + 12), 220)
    width = _PAD + label_width + len(metrics) * (_PANEL + _GAP) - _GAP + _PAD
    height = _TOP + len(bars) * _ROW + _PAD
    out: list[str] = []
    add = out.append
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cnntable-chart-svg" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{_FONT}">'
    )
    add(f'<title id="{ident}-title">{_esc(title_text)}</title>')
    add(f'<desc id="{ident}-desc">{_esc(description)}</desc>')
    add(f'<text class="cnntable-chart-heading" x="{_PAD}" y="14" font-weight="bold" fill="#24292f">{_esc(title_text)}</text>')

    for index, bar in enumerate(bars):
        y = _TOP + index * _ROW
        if index % 2:
            add(
                f'<rect class="cnntable-chart-stripe" x="0" y="{y}" width="{width}" height="{_ROW}" '
                f'fill="#f6f8fa"/>'
            )
        indent = "\u00b7 " * bar.depth
        add(
            f'<text class="cnntable-chart-label" x="{_PAD + label_width - 6}" y="{y + _ROW - 5}" '
            f'text-anchor="end" fill="#24292f"><title>{_esc(bar.name)}</title>{_esc(indent + _short(bar.name))}</text>'
        )

    for panel, key in enumerate(metrics):
        heading, words, colour = METRICS[key]
        x0 = _PAD + label_width + panel * (_PANEL + _GAP)
        values = [bar.values[key] for bar in bars]
        total = sum(values)
        peak = max(values, default=0)
        total_text = _bytes(total) if key == "memory" else compact(total, 3) if total >= 10_000 else f"{total:,}"
        add(
            f'<text class="cnntable-chart-heading" x="{x0}" y="{_TOP - 8}" font-weight="bold" '
            f'fill="#24292f">{_esc(heading)} <tspan class="cnntable-chart-muted" font-weight="normal" '
            f'fill="#6e7781">({_esc(total_text)}{" log" if scale == "log" else ""})</tspan></text>'
        )
        add(
            f'<line class="cnntable-chart-axis" x1="{x0}" y1="{_TOP}" x2="{x0}" '
            f'y2="{_TOP + len(bars) * _ROW}" stroke="#6e7781" stroke-width="1"/>'
        )
        for index, (bar, value) in enumerate(zip(bars, values)):
            y = _TOP + index * _ROW
            length = _length(value, peak, scale)
            share = _percent(value, total)
            if length > 0:
                add(
                    f'<rect class="cnntable-chart-bar cnntable-chart-{key}" x="{x0}" y="{y + 3}" '
                    f'width="{length:.1f}" height="{_ROW - 6}" fill="{colour}">'
                    f'<title>{_esc(f"{bar.name}: {value:,} {words} ({share})")}</title></rect>'
                )
            if share:
                add(
                    f'<text class="cnntable-chart-value" x="{x0 + length + 4:.1f}" y="{y + _ROW - 5}" '
                    f'fill="#24292f">{_esc(share)}</text>'
                )
    add("</svg>")
    return "".join(out)


def _bytes(value: int) -> str:
    for unit, power in (("GiB", 3), ("MiB", 2), ("KiB", 1)):
        if value >= 1024**power:
            return f"{value / 1024**power:.1f} {unit}"
    return f"{value} B"


def _length(value: int, peak: int, scale: str) -> float:
    if value <= 0 or peak <= 0:
        return 0.0
    if scale == "log":
        return max(1.0, _BAR * math.log10(1 + value) / math.log10(1 + peak))
    return max(1.0, _BAR * value / peak)
