"""The directive's node and how each builder draws it.

The directive leaves a :class:`cnntable_node` (the table's HTML and the spec it came
from): HTML builders write the HTML, the text builder aligned columns, and
:class:`ExpandTables` gives every other builder :func:`render_table`'s ordinary
``nodes.table`` (title, tgroup, colspecs, thead, tbody) with its LaTeX column spec
(:func:`latex_colspec`). Extras: numeric cells carry ``cnntable-num``; rows carry
``cnntable-<kind>`` and ``cnntable-depth-N``; nested names get a visible prefix that
survives text and LaTeX; totals are the last rows of the body (``cnntable-total``: the
label spans all columns but the last two, the value those two), or for LaTeX a table of
their own (:func:`totals_table`); a formula behind a number becomes a hover title in
HTML (:class:`formula_hint`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.locale import _
from sphinx.transforms.post_transforms import SphinxPostTransform

from .engine import analyse
from .render_html import INDENT, nobreak, table_html
from .render_text import render_text
from .table import Cell, Table, TableOptions, TableRow, TotalLine, build_table


class cnntable_node(nodes.General, nodes.Element):  # noqa: N801 (docutils node naming)
    """A ``cnn-breakdown`` table as the directive leaves it: the caption as a ``title``
    child, one text child with the headers and row names for the search index, and

    * ``spec``: what the table is computed from, ``(text, input shape, bias, options)``;
    * ``html``: the table as HTML (:func:`~sphinx_cnntable.render_html.table_html`) when
      an HTML builder read the page, else ``None``;
    * ``hover`` and the user's ``table_classes``.

    A handful of nodes instead of a node per cell, and a string instead of the table
    model in the pickled doctree: HTML builders write ``html`` as it is, the text builder
    draws aligned columns (:func:`visit_cnntable_text`), and :class:`ExpandTables`
    turns the node into an ordinary ``nodes.table`` (:func:`render_table`) for every
    other builder; those, or an HTML builder meeting a doctree another builder read,
    compute the table again from ``spec`` (:func:`table_of`). Sphinx numbers the node
    as a table (``numfig``, ``:numref:``).
    """


Spec = tuple[str, "tuple[int, ...] | None", "bool | None", TableOptions]


def cnntable_node_for(
    table: Table, spec: Spec, title: nodes.title | None = None, classes: list[str] | None = None,
    hover: bool = True, html: bool = False,
) -> cnntable_node:
    """The directive's node for ``table``, computed from ``spec``; ``html``: render it now."""
    words = " ".join([*table.headers, *(row.name for row in table.rows)])
    children = [title] if title is not None else []
    rendered = table_html(table, hover, ("longtable", *(classes or [])), title.astext() if title else "") if html else None
    return cnntable_node("", *children, nodes.Text(words), spec=spec, html=rendered, hover=hover,
                         table_classes=classes or [])


def table_of(node: cnntable_node) -> Table:
    """The node's table, computed again from its ``spec``."""
    text, input_shape, bias, options = node["spec"]
    return build_table(analyse(text, input_shape, bias, options.batch), options)


def builder_of(env: Any) -> Any:
    """The current builder's class (Sphinx 9) or the builder (Sphinx 7, 8): its ``name`` and ``format``."""
    return getattr(env, "_builder_cls", None) or env.app.builder


def table_title(node: cnntable_node) -> str | None:
    """The caption's text (Sphinx's title getter for ``numfig`` and ``:ref:``)."""
    title = _title(node)
    return title.astext() if title is not None else None


def _title(node: nodes.Element) -> nodes.title | None:
    return next((child for child in node.children if isinstance(child, nodes.title)), None)


def visit_cnntable_html(translator: Any, node: cnntable_node) -> None:
    """``<div class="cnntable-figure">``: the caption (number, text, link), then
    :func:`~sphinx_cnntable.render_html.table_html`."""
    body = translator.body
    body.append(translator.starttag(node, "div", "", CLASS="cnntable-figure"))
    title = _title(node)
    if title is not None:
        body.append('<p class="cnntable-caption caption">')
        translator.add_fignumber(node)
        body.append('<span class="caption-text">')
        for child in title.children:
            child.walkabout(translator)
        body.append("</span>")
        translator.add_permalink_ref(node, _("Link to this table"))
        body.append("</p>\n")
    rendered = node["html"]
    if rendered is None:
        label = title.astext() if title is not None else ""
        rendered = table_html(table_of(node), node["hover"], ("longtable", *node["table_classes"]), label)
    body.append(rendered)
    body.append("</div>\n")
    raise nodes.SkipNode


def visit_cnntable_text(translator: Any, node: cnntable_node) -> None:
    """The caption, then the columns aligned (numbers right), headers wrapped at their
    spaces and hyphens, and the totals as ``label: value`` lines."""
    translator.new_state(0)
    title = _title(node)
    if title is not None:
        translator.add_text(title.astext() + "\n\n")
    translator.add_text(render_text(table_of(node), narrow=True).rstrip("\n"))
    translator.end_state(wrap=False)
    raise nodes.SkipNode


class ExpandTables(SphinxPostTransform):
    """For builders other than HTML and text: each :class:`cnntable_node` becomes a
    ``tabularcolumns`` spec (LaTeX) and an ordinary table (:func:`render_table`)."""

    default_priority = 5

    def run(self, **kwargs: Any) -> None:
        builder = builder_of(self.env)
        if builder.format == "html" or builder.name == "text":
            return
        for node in list(self.document.findall(cnntable_node)):
            title = _title(node)
            table = table_of(node)
            latex = builder.format == "latex"
            rows = replace(table, totals=[]) if latex else table  # LaTeX: the totals in a table of their own
            table_node = render_table(rows, title.deepcopy() if title else None, node["table_classes"], node["hover"],
                                      keep=latex)
            for key in ("ids", "names"):
                table_node[key] = node[key]
            table_node.source, table_node.line = node.source, node.line
            extra = totals_table(table.totals) if latex and table.totals else []
            node.replace_self([latex_colspec(rows), table_node, *extra])


class formula_hint(nodes.inline):  # noqa: N801 (docutils node naming)
    """Inline text with a hover ``title`` (the formula) in HTML; plain text elsewhere."""


def visit_formula_hint_html(translator: Any, node: formula_hint) -> None:
    translator.body.append(translator.starttag(node, "span", "", title=node["title"]))


def depart_formula_hint_html(translator: Any, node: formula_hint) -> None:
    translator.body.append("</span>")


def passthrough(translator: Any, node: nodes.Node) -> None:
    """Visitor for builders that draw only the children."""


class cnntable_row(nodes.row):  # noqa: N801 (docutils node naming)
    """A row after which LaTeX must not break the page (``\\*``): the first row, and the
    rows before the last, so no row sits alone under a header repeated on a new page.
    Other builders draw it as a row (Sphinx dispatches along the class hierarchy)."""


def visit_cnntable_row_latex(translator: Any, node: cnntable_row) -> None:
    translator.visit_row(node)


def depart_cnntable_row_latex(translator: Any, node: cnntable_row) -> None:
    """Sphinx's row end, with ``\\*`` for ``\\``."""
    translator.depart_row(node)
    for index in range(len(translator.body) - 1, -1, -1):
        if translator.body[index] == "\\\\\n":
            translator.body[index] = "\\\\*\n"
            break


KEEP_LAST = 3
"""Rows at the end of a table kept on one page (fewer when the table has fewer)."""


def render_table(
    table: Table, title: nodes.title | None = None, classes: list[str] | None = None, hover: bool = True,
    keep: bool = False,
) -> nodes.table:
    """The docutils table for ``table``; ``title`` becomes its caption. ``hover``: give
    numbers their formula as a hover title (off when the cells show formulas already).
    ``keep``: :class:`cnntable_row` for the first row and for those before the last
    :data:`KEEP_LAST` rows (LaTeX then never leaves a row alone on a page)."""
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
        header += _entry([nodes.Text(column.header)], numeric=column.right)
    tbody = nodes.tbody()
    tgroup += tbody
    count = len(table.rows)
    for index, row in enumerate(table.rows):
        kept = keep and index < count - 1 and (index == 0 or index >= count - KEEP_LAST)
        tbody += _body_row(row, table, hover, cnntable_row if kept else nodes.row)
    for index, total in enumerate(table.totals):
        tbody += _total_row(total, ncols, first=index == 0)
    return node


LATEX_SIZES = ((r"\small", 9.0), (r"\footnotesize", 8.0), (r"\scriptsize", 7.0))
"""Font sizes tried for a table in LaTeX, largest first, with their size in points in a
10pt document (``\\scriptsize`` is for a dozen columns)."""

LATEX_LINE_PT = 450.0
"""The line width assumed, in points: Sphinx's manual and howto classes give 453pt on A4
paper, 469pt on letter paper. A wider line only widens the columns."""

LATEX_PADDING_PT = 12.4
"""Horizontal room a column takes besides its text: ``2\tabcolsep`` and a rule."""


def latex_colspec(table: Table) -> addnodes.tabular_col_spec:
    r"""A ``tabularcolumns`` node for LaTeX (other builders skip it), such as
    ``|>{\small\raggedright\arraybackslash}\X{1520}{10000}|>{\small\raggedleft...``.

    Every column is a paragraph column ``\X{a}{b}`` (``a/b`` of the line width) in the
    table's font size: ``\small``, else ``\footnotesize``, else ``\scriptsize``, the
    largest in which the table fits (:data:`LATEX_SIZES`). Numbers are ``\raggedleft``,
    text ``\raggedright``; a merged cell of the totals takes the alignment of the last
    column it spans. The widths come from the text (:func:`_latex_widths`): each column
    is at least as wide as its longest word (``15,470,264,320``, ``(3*3*128)*256``), so
    no text runs into the next cell, and the room left goes to the columns whose cells
    would wrap. A table that needs less than the line keeps its natural width, centred.
    The caption and the repeated header (``longtable``) are Sphinx's own.

    Why not ``l``/``r`` columns: Sphinx puts each of their cells in a ``varwidth`` box
    of ``1/ncols`` of the line, so a long number or formula ran into the next column,
    and the merged cells of the totals widened every column to that width, pushing
    wide tables off the page.
    """
    size, widths, line = _latex_widths(table)
    columns = []
    for column, width in zip(table.columns, widths):
        align = r"\raggedleft" if column.right else r"\raggedright"
        columns.append(f">{{{size}{align}\\arraybackslash}}\\X{{{width}}}{{{line}}}")
    return addnodes.tabular_col_spec(spec="|" + "|".join(columns) + "|")


def _latex_widths(table: Table) -> tuple[str, list[int], int]:
    r"""The font size, and each column's share ``a`` of the line ``b`` for ``\X{a}{b}``,
    from estimated text widths in ens (half an em, a digit's width).

    Three widths per column: the longest word of its cells (words break at spaces only),
    the longest word of its header too (headers also break after a hyphen), and its
    longest text. The size is the largest in which the first two fit; a table too wide
    for that (a dozen columns) takes the smallest size and gives its headers what room
    is left; room to spare goes towards the longest texts.
    """
    ncols = len(table.columns)
    cells = [0.0] * ncols
    wanted = [_ens(header, sans=True) for header in table.headers]
    for row in table.rows:
        for index, cell in enumerate(row.cells):
            text = cell.text
            bold = False
            if table.columns[index].key == "name":
                text = INDENT * row.depth + text
                bold = row.kind == "group"
            cells[index] = max(cells[index], *(_ens(word, bold=bold) for word in text.split(" ")))
            wanted[index] = max(wanted[index], _ens(text, bold=bold))
    for total in table.totals:  # the label spans all columns but the last two, the value those two
        value = max(_ens(word) for word in total.text.split(" "))
        label = max(_ens(word, bold=True) for word in total.label.split(" "))
        if ncols >= 3:
            cells[-1] = max(cells[-1], value - cells[-2])
            cells[0] = max(cells[0], label - sum(cells[1:-2]))
        else:
            cells[-1] = max(cells[-1], value)
    headers = [
        max(cells[index], *(_ens(word, sans=True) for word in header.replace("-", "- ").split(" ")))
        for index, header in enumerate(table.headers)
    ]
    wanted = [max(pair) for pair in zip(wanted, headers)]
    for size, points in LATEX_SIZES:
        line, padding = LATEX_LINE_PT * 2 / points, LATEX_PADDING_PT * 2 / points
        if sum(headers) + ncols * padding <= line:
            break
    tiers = [[width + padding for width in tier] for tier in (cells, headers, wanted)]
    if sum(tiers[0]) > line:  # too wide even in the smallest size: shrink every column alike
        return size, [int(share * 100) for share in tiers[0]], int(sum(tiers[0]) * 100 + 0.999)
    low, high = (tiers[1], tiers[2]) if sum(tiers[1]) <= line else (tiers[0], tiers[1])
    spare = min(1.0, (line - sum(low)) / max(sum(high) - sum(low), 1e-9))
    shares = [lo + (hi - lo) * spare for lo, hi in zip(low, high)]  # each gets a like part of what it lacks
    return size, [int(share * 100) for share in shares], int(line * 100 + 0.999)  # never above the line


_ENS = {
    **dict.fromkeys(" ,.:;'!|ijl\u00a0", 0.6),
    **dict.fromkeys("()[]-frt", 0.7),
    **dict.fromkeys("=+<>", 1.15),
    **dict.fromkeys("mw", 1.6),
    **dict.fromkeys("MW@%&", 1.9),
}
"""Characters not one en wide (in ens); capitals not listed are 1.5."""


def _ens(text: str, sans: bool = False, bold: bool = False) -> float:
    """Estimated width of ``text`` in ens (half an em: a digit's width) in the fonts of
    Sphinx's LaTeX (Times roman for cells, Helvetica for headers): 0 to 15% wide of the
    true width of the words of the docs' tables, never narrow."""
    width = 0.0
    for char in text:
        ens = _ENS.get(char, 1.5 if char.isupper() else 1.0)
        width += ens * 1.12 if sans and ens == 1.0 else ens
    return width * 1.1 if bold else width


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


def _body_row(row: TableRow, table: Table, hover: bool, kind: type[nodes.row] = nodes.row) -> nodes.row:
    node = kind(classes=[f"cnntable-{row.kind}", f"cnntable-depth-{row.depth}"])
    for column, cell in zip(table.columns, row.cells):
        if cell.expression:  # the result on a line of its own, aligned with the other results
            entry = nodes.entry(classes=["cnntable-num"])
            entry += nodes.paragraph("", cell.expression)
            entry += nodes.paragraph("", nobreak(cell.result))
            node += entry
            continue
        children = _cell_children(cell, hover)
        if column.key == "name":
            if row.kind == "group":
                children = [nodes.strong("", "", *children)]
            if row.depth:
                children.insert(0, nodes.inline("", INDENT * row.depth, classes=["cnntable-indent"]))
        node += _entry(children, numeric=column.right)
    return node


def _cell_children(cell: Cell, hover: bool) -> list[nodes.Node]:
    if hover and cell.title:
        return [formula_hint("", cell.text, title=cell.title, classes=["cnntable-formula"])]
    return [nodes.Text(nobreak(cell.text))]


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
    node += _entry([nodes.Text(nobreak(total.text))], numeric=True, **({"morecols": 1} if value_span == 2 else {}))
    return node


def totals_table(totals: list[TotalLine]) -> list[nodes.Node]:
    r"""For LaTeX: the totals as a table of their own after the rows (as in HTML), label
    and value, in ``\small``, with its ``tabularcolumns`` spec: the value column as wide
    as the longest value (right-aligned), the label column the rest or less."""
    points = LATEX_SIZES[0][1]
    line, padding = LATEX_LINE_PT * 2 / points, LATEX_PADDING_PT * 2 / points
    value = max(_ens(nobreak(total.text)) for total in totals) + padding
    label = min(max(_ens(total.label, bold=True) for total in totals) + padding, line - value)
    size = LATEX_SIZES[0][0]
    spec = (f"|>{{{size}\\raggedright\\arraybackslash}}\\X{{{int(label * 100)}}}{{{int(line * 100 + 0.999)}}}"
            f"|>{{{size}\\raggedleft\\arraybackslash}}\\X{{{int(value * 100)}}}{{{int(line * 100 + 0.999)}}}|")
    node = nodes.table(classes=["cnntable-totals"])
    tgroup = nodes.tgroup(cols=2)
    node += tgroup
    tgroup += nodes.colspec(colwidth=max(len(total.label) for total in totals))
    tgroup += nodes.colspec(colwidth=max(len(total.text) for total in totals))
    tbody = nodes.tbody()
    tgroup += tbody
    for index, total in enumerate(totals):
        classes = ["cnntable-total", f"cnntable-total-{total.key.replace('_', '-')}"]
        row = nodes.row(classes=[*classes, "cnntable-total-first"] if index == 0 else classes)
        row += _entry([nodes.strong("", total.label)])
        row += _entry([nodes.Text(nobreak(total.text))], numeric=True)
        tbody += row
    return [addnodes.tabular_col_spec(spec=spec), node]


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
                for _filler in range(extra):
                    row.insert(row.index(entry) + 1, nodes.entry("", nodes.paragraph()))
