"""Draw a :class:`~sphinx_cnntable.table.Table` as a docutils table.

The result is an ordinary ``nodes.table`` (title, tgroup, colspecs, thead, tbody), so
every Sphinx builder can write it. Extras: numeric cells carry ``cnntable-num``; rows
carry ``cnntable-<kind>`` and ``cnntable-depth-N``; nested names get a visible prefix
that survives text and LaTeX; totals are the last rows of the body
(``cnntable-total``: the label spans all columns but the last two, the value those two); a formula behind a number becomes a hover title in HTML
(:class:`formula_hint`).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from .table import Cell, Table, TableRow, TotalLine

INDENT = "\u00b7\u00a0"
"""Prefix per nesting level of a row's name: a middle dot and a no-break space."""


class formula_hint(nodes.inline):  # noqa: N801 (docutils node naming)
    """Inline text with a hover ``title`` (the formula) in HTML; plain text elsewhere."""


def visit_formula_hint_html(translator: Any, node: formula_hint) -> None:
    translator.body.append(translator.starttag(node, "span", "", title=node["title"]))


def depart_formula_hint_html(translator: Any, node: formula_hint) -> None:
    translator.body.append("</span>")


def passthrough(translator: Any, node: nodes.Node) -> None:
    """Visitor for builders that draw only the children."""


def render_table(
    table: Table, title: nodes.title | None = None, classes: list[str] | None = None, hover: bool = True
) -> nodes.table:
    """The docutils table for ``table``; ``title`` becomes its caption. ``hover``: give
    numbers their formula as a hover title (off when the cells show formulas already)."""
    ncols = len(table.columns)
    node = nodes.table(classes=["cnntable", "colwidths-auto", "longtable", *(classes or [])])
    if title is not None:
        node += title
    tgroup = nodes.tgroup(cols=ncols)
    node += tgroup
    for width in _widths(table):
        tgroup += nodes.colspec(colwidth=width)
    thead = nodes.thead()
    tgroup += thead
    header = nodes.row()
    thead += header
    for column in table.columns:
        header += _entry([nodes.Text(column.header)], numeric=column.numeric)
    tbody = nodes.tbody()
    tgroup += tbody
    for row in table.rows:
        tbody += _body_row(row, table, hover)
    for index, total in enumerate(table.totals):
        tbody += _total_row(total, ncols, first=index == 0)
    return node


def latex_colspec(table: Table) -> addnodes.tabular_col_spec:
    """A ``tabularcolumns`` node: numbers right-aligned in LaTeX (other builders skip it)."""
    spec = "|" + "|".join("r" if column.numeric else "l" for column in table.columns) + "|"
    return addnodes.tabular_col_spec(spec=spec)


def _widths(table: Table) -> list[int]:
    """Characters per column, as a grid table would give (the text writer wraps to them)."""
    widths = [len(header) for header in table.headers]
    for row in table.rows:
        for index, cell in enumerate(row.cells):
            extra = 0
            if table.columns[index].key == "name":
                extra = len(INDENT) * row.depth + (4 if row.kind == "group" else 0)  # **bold** in text
            widths[index] = max(widths[index], len(cell.text) + extra)
    if table.totals and len(widths) >= 3:
        longest = max(len(total.text) for total in table.totals)
        widths[-1] = max(widths[-1], longest - widths[-2])
    elif table.totals:
        widths[-1] = max([widths[-1], *(len(total.text) for total in table.totals)])
    return widths


def _entry(children: list[nodes.Node], numeric: bool = False, **attributes: Any) -> nodes.entry:
    entry = nodes.entry(classes=["cnntable-num"] if numeric else [], **attributes)
    entry += nodes.paragraph("", "", *children)
    return entry


def _body_row(row: TableRow, table: Table, hover: bool) -> nodes.row:
    node = nodes.row(classes=[f"cnntable-{row.kind}", f"cnntable-depth-{row.depth}"])
    for column, cell in zip(table.columns, row.cells):
        children = _cell_children(cell, hover)
        if column.key == "name":
            if row.kind == "group":
                children = [nodes.strong("", "", *children)]
            if row.depth:
                children.insert(0, nodes.inline("", INDENT * row.depth, classes=["cnntable-indent"]))
        node += _entry(children, numeric=cell.numeric)
    return node


def _cell_children(cell: Cell, hover: bool) -> list[nodes.Node]:
    if hover and cell.title:
        return [formula_hint("", cell.text, title=cell.title, classes=["cnntable-formula"])]
    return [nodes.Text(cell.text)]


def _total_row(total: TotalLine, ncols: int, first: bool) -> nodes.row:
    classes = ["cnntable-total", f"cnntable-total-{total.key.replace('_', '-')}"]
    node = nodes.row(classes=[*classes, "cnntable-total-first"] if first else classes)
    label = nodes.strong("", total.label)
    if ncols == 1:
        node += _entry([label, nodes.Text(": " + total.text)])
        return node
    value_span = 2 if ncols >= 3 else 1
    label_span = ncols - value_span
    node += _entry([label], **({"morecols": label_span - 1} if label_span > 1 else {}))
    node += _entry([nodes.Text(total.text)], numeric=True, **({"morecols": 1} if value_span == 2 else {}))
    return node


class UnspanCells(SphinxPostTransform):
    """For writers without cell spans (man): the totals' label spans no columns, and
    empty cells fill the row."""

    default_priority = 200
    builders = ("man",)

    def run(self, **kwargs: Any) -> None:
        for table in self.document.findall(nodes.table):
            if "cnntable" not in table["classes"]:
                continue
            for entry in list(table.findall(nodes.entry)):
                extra = entry.attributes.pop("morecols", 0)
                row = entry.parent
                for _ in range(extra):
                    row.insert(row.index(entry) + 1, nodes.entry("", nodes.paragraph()))
