"""The ``:chart:`` option's node: an inline SVG in HTML, a one-line summary elsewhere.

The directive computes both at read time (:func:`chart_node`); when the doctree is
resolved for a builder, HTML builders get the SVG as raw HTML and every other builder
(LaTeX, text, man, texinfo, ...) a short paragraph ("Largest by params: fc1 (74.3%),
..."), so no builder ever meets an image it cannot draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from docutils import nodes

from .engine import Breakdown
from .svg import chart_rows, metric_keys, render_chart, summary

if TYPE_CHECKING:
    from sphinx.application import Sphinx

SCALES = ("linear", "log")


class cnn_chart(nodes.General, nodes.Element):  # noqa: N801 (docutils node naming)
    """Attributes: ``svg`` (the HTML form) and ``summary`` (the text form)."""


def parse_chart_options(chart: str, scale: str | None) -> tuple[tuple[str, ...], str]:
    """``:chart:`` and ``:chart-scale:`` values -> (metrics, scale); ``ValueError`` if bad."""
    metrics = metric_keys(chart or "")
    scale = (scale or "linear").strip().lower() or "linear"
    if scale not in SCALES:
        raise ValueError(f"unknown chart scale {scale!r} (one of {', '.join(SCALES)})")
    return metrics, scale


def chart_node(
    breakdown: Breakdown,
    metrics: Sequence[str],
    scale: str = "linear",
    title: str | None = None,
    dtype: str = "float32",
    depth: int | None = None,
    ident: str | None = None,
    max_bars: int | None = None,
) -> cnn_chart:
    svg = render_chart(breakdown, metrics, scale, title, dtype, depth, ident, max_bars)
    text = summary(chart_rows(breakdown, depth, dtype), metrics)
    return cnn_chart("", svg=svg, summary=text, classes=["cnntable-chart"])


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    html = app.builder.format == "html"
    for node in list(doctree.findall(cnn_chart)):
        if html:
            # the raw node takes the chart node's classes (replace_self), and docutils
            # wraps a raw node that has classes in one <div class="cnntable-chart">
            raw = nodes.raw("", node["svg"], format="html", classes=list(node["classes"]))
            node.replace_self(raw)
        elif node["summary"]:
            node.replace_self(nodes.paragraph("", node["summary"], classes=["cnntable-chart-summary"]))
        else:
            node.parent.remove(node)


def _visit_html(translator: Any, node: cnn_chart) -> None:
    translator.body.append(f'<div class="cnntable-chart">{node["svg"]}</div>\n')
    raise nodes.SkipNode


def _visit_other(translator: Any, node: cnn_chart) -> None:
    raise nodes.SkipNode


def setup(app: Sphinx) -> None:
    """Register the node (visitors only as a fallback) and the resolver."""
    app.add_node(
        cnn_chart,
        html=(_visit_html, None),
        latex=(_visit_other, None),
        text=(_visit_other, None),
        man=(_visit_other, None),
        texinfo=(_visit_other, None),
    )
    app.connect("doctree-resolved", _resolve)
