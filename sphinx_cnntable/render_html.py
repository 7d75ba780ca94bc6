"""A :class:`~sphinx_cnntable.table.Table` as HTML, written in one pass.

HTML builders draw ``cnn-breakdown`` from this string instead of walking a docutils
table node by node (a VGG-16 table is about 800 nodes: Sphinx's transforms, pickling,
search indexing and writer then cost more than computing the table). The layout:

* the rows in ``<div class="cnntable-scroll">``, a scroll container that is never wider
  than the text column; its first column (the layer names, by default) stays in view while the
  rest scrolls, and a cue above the table (shown by ``cnntable.js`` only while the table
  is wider than its box) says that it scrolls;
* the totals after it in their own two-column ``<table class="cnntable-totals">``
  (label, value), which fits any width, so no total ever depends on the width of the
  layer table;
* numbers never break: a number and its unit are joined by a no-break space, and a
  shown formula may break only before its result, which stays right-aligned.
"""

from __future__ import annotations

import re
from html import escape

from .table import Cell, Table, TotalLine

INDENT = "\u00b7\u00a0"
"""Prefix per nesting level of a row's name: a middle dot and a no-break space."""

_UNIT = re.compile(r"(?<=\d) (?=(?:[kKMGTP]i?B|B)\b)")
"""A space between a number and its unit (``444.54 KiB``, ``52,428 B``)."""

SCROLL_CUE = "Scroll sideways for every column \u2194"
"""The cue above a table wider than its box."""


def nobreak(text: str) -> str:
    """``text`` with no-break spaces between numbers and their units."""
    return _UNIT.sub("\u00a0", text)


def table_html(table: Table, hover: bool = True, classes: tuple[str, ...] = (), label: str = "") -> str:
    """The scroll cue, the layer table in its scroll box, and the totals table.

    ``classes`` go on the layer table; ``label`` names the scroll region (the caption)."""
    right = [column.right for column in table.columns]
    names = [column.key == "name" for column in table.columns]
    first = [index == 0 for index in range(len(table.columns))]
    out = [
        f'<p class="cnntable-cue" aria-hidden="true">{SCROLL_CUE}</p>\n',
        '<div class="cnntable-scroll" tabindex="0" role="region"',
        f' aria-label="{escape(label)}">\n' if label else ">\n",
        f'<table class="{escape(" ".join(("cnntable", "docutils", *classes)))}">\n<thead>\n<tr>',
    ]
    for column, is_right, is_first in zip(table.columns, right, first):
        out.append(f'<th class="head{_classes(is_right, is_first)}">{escape(column.header)}</th>')
    out.append("</tr>\n</thead>\n<tbody>\n")
    for row in table.rows:
        out.append(f'<tr class="cnntable-{row.kind} cnntable-depth-{row.depth}">')
        for cell, is_right, is_name, is_first in zip(row.cells, right, names, first):
            out.append(f"<td{_class_attr(is_right, is_first, cell)}>")
            if is_name:
                if row.depth:
                    out.append(f'<span class="cnntable-indent">{INDENT * row.depth}</span>')
                text = _cell(cell, hover)
                out.append(f"<strong>{text}</strong>" if row.kind == "group" else text)
            else:
                out.append(_cell(cell, hover))
            out.append("</td>")
        out.append("</tr>\n")
    out.append("</tbody>\n</table>\n</div>\n")
    if table.totals:
        out.append(totals_html(table.totals))
    return "".join(out)


def totals_html(totals: list[TotalLine]) -> str:
    """The totals as rows of label and value, the first marked ``cnntable-total-first``."""
    out = ['<table class="cnntable-totals docutils">\n<tbody>\n']
    for index, total in enumerate(totals):
        first = " cnntable-total-first" if index == 0 else ""
        out.append(
            f'<tr class="cnntable-total cnntable-total-{total.key.replace("_", "-")}{first}">'
            f'<th scope="row">{escape(total.label)}</th>'
            f'<td class="cnntable-num">{escape(nobreak(total.text))}</td></tr>\n'
        )
    out.append("</tbody>\n</table>\n")
    return "".join(out)


def _classes(right: bool, first: bool) -> str:
    return (" cnntable-num" if right else "") + (" cnntable-sticky" if first else "")


def _class_attr(right: bool, first: bool, cell: Cell) -> str:
    classes = _classes(right, first) + (" cnntable-shown-formula" if cell.expression else "")
    return f' class="{classes[1:]}"' if classes else ""


def _cell(cell: Cell, hover: bool) -> str:
    """A cell's text; a shown formula as expression and result, which may wrap apart;
    otherwise a hover title with the formula."""
    if cell.expression:
        return (
            f'<span class="cnntable-expr">{escape(cell.expression)}</span> '
            f'<span class="cnntable-result">{escape(nobreak(cell.result))}</span>'
        )
    text = escape(nobreak(cell.text))
    if hover and cell.title:
        return f'<span class="cnntable-formula" title="{escape(cell.title)}">{text}</span>'
    return text
