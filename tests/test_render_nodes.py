"""The docutils tree drawn from a table model, without a Sphinx build."""

from __future__ import annotations

import re

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.utils import new_document
from docutils.writers.html5_polyglot import HTMLTranslator, Writer

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.render_nodes import (
    INDENT,
    LATEX_LINE_PT,
    LATEX_PADDING_PT,
    depart_formula_hint_html,
    formula_hint,
    latex_colspec,
    render_table,
    visit_formula_hint_html,
)
from sphinx_cnntable.table import TableOptions, build_table

SPEC = """input 32x32x3
stem:
  conv3-16
  relu
residual:
  conv3-16
fc-10
"""

VGG_SPEC = """input 224x224x3
conv1:
  conv3-64 x2
  maxpool
conv2:
  conv3-128 x2
  maxpool
conv3:
  conv3-256 x3
  maxpool
conv4:
  conv3-512 x3
  maxpool
conv5:
  conv3-512 x3
  maxpool
fc1: fc-4096
fc2: fc-4096
fc3: fc-1000
"""
VGG_COLUMNS = ("name", "shape", "weights", "biases", "params", "macs", "rf")


def _table(**options):
    return build_table(analyse(SPEC), TableOptions(**options))


def _rows(node: nodes.table) -> list[nodes.row]:
    return list(node.findall(nodes.row))


def test_structure() -> None:
    table = _table()
    title = nodes.title("Net", "Net")
    node = render_table(table, title, ["extra"])
    assert node["classes"][:3] == ["cnntable", "colwidths-auto", "longtable"] and "extra" in node["classes"]
    assert node[0] is title
    tgroup = node[1]
    assert isinstance(tgroup, nodes.tgroup) and tgroup["cols"] == 5
    colspecs = [child for child in tgroup.children if isinstance(child, nodes.colspec)]
    assert len(colspecs) == 5
    thead, tbody = tgroup.children[5:]
    assert isinstance(thead, nodes.thead) and isinstance(tbody, nodes.tbody)
    assert [entry.astext() for entry in thead.findall(nodes.entry)] == table.headers
    assert len(tbody.children) == len(table.rows) + len(table.totals)


def test_numeric_cells_and_row_classes() -> None:
    node = render_table(_table())
    header, *body = _rows(node)
    assert [("cnntable-num" in e["classes"]) for e in header.children] == [False, False, True, True, True]
    kinds = [row["classes"][0] for row in body]
    assert kinds[:3] == ["cnntable-input", "cnntable-group", "cnntable-layer"]
    assert "cnntable-merge" in kinds
    conv = body[2]
    assert conv["classes"] == ["cnntable-layer", "cnntable-depth-1"]
    assert conv[0].astext() == INDENT + "conv3-16"
    assert [("cnntable-num" in e["classes"]) for e in conv.children] == [False, False, True, True, True]


def test_group_name_is_strong() -> None:
    group = _rows(render_table(_table()))[2]
    assert isinstance(group[0][0][0], nodes.strong) and group[0].astext() == "stem"


def test_totals_rows() -> None:
    table = _table()
    rows = [row for row in _rows(render_table(table)) if "cnntable-total" in row["classes"]]
    assert len(rows) == len(table.totals)
    assert "cnntable-total-first" in rows[0]["classes"] and "cnntable-total-first" not in rows[1]["classes"]
    label, value = rows[0].children
    assert label["morecols"] == 2 and label.astext() == "Total params"
    assert value["morecols"] == 1
    assert value.astext() == table.totals[0].text and "cnntable-num" in value["classes"]
    assert "cnntable-total-params" in rows[0]["classes"]


def test_totals_in_narrow_tables() -> None:
    one = [r for r in _rows(render_table(_table(columns=("params",)))) if "cnntable-total" in r["classes"]]
    assert len(one[0].children) == 1 and one[0].astext().startswith("Total params: ")
    two = [r for r in _rows(render_table(_table(columns=("name", "params")))) if "cnntable-total" in r["classes"]]
    assert len(two[0].children) == 2 and "morecols" not in two[0][0]


def test_no_totals() -> None:
    node = render_table(_table(totals=False))
    assert not [row for row in _rows(node) if "cnntable-total" in row["classes"]]


def test_hover_titles() -> None:
    node = render_table(_table())
    hints = list(node.findall(formula_hint))
    assert hints and all(hint["title"] for hint in hints)
    assert any(hint["title"] == "432 + 16 = 448" and hint.astext() == "448" for hint in hints)
    assert not list(render_table(_table(formulas=True), hover=False).findall(formula_hint))


def test_widths_fit_the_text() -> None:
    table = _table()
    colspecs = list(render_table(table).findall(nodes.colspec))
    for index, colspec in enumerate(colspecs):
        texts = [row.cells[index].text for row in table.rows] + [table.headers[index]]
        assert colspec["colwidth"] >= max(len(text) for text in texts)
    value_width = colspecs[-1]["colwidth"] + colspecs[-2]["colwidth"]
    assert value_width >= max(len(total.text) for total in table.totals)


def _latex_columns(table) -> list[tuple[str, str, int, int]]:
    """(size, alignment, a, b) of each ``>{size align\\arraybackslash}\\X{a}{b}`` column."""
    spec = latex_colspec(table)["spec"]
    assert spec.startswith("|") and spec.endswith("|")
    column = r">\{\\(small|footnotesize|scriptsize)\\(raggedleft|raggedright)\\arraybackslash\}\\X\{(\d+)\}\{(\d+)\}"
    matches = [re.fullmatch(column, text) for text in spec[1:-1].split("|")]
    assert all(matches), spec
    return [(m[1], m[2], int(m[3]), int(m[4])) for m in matches]


def test_latex_colspec() -> None:
    """Paragraph columns in one font size, numbers flush right, the widths within the line."""
    columns = _latex_columns(_table())
    assert [size for size, *_ in columns] == ["small"] * 5
    assert [align for _, align, *_ in columns] == ["raggedright"] * 2 + ["raggedleft"] * 3
    assert sum(a for *_, a, _ in columns) <= columns[0][3]
    assert [align for _, align, *_ in _latex_columns(_table(columns=("name", "rf", "macs")))] == [
        "raggedright", "raggedleft", "raggedleft"]  # the receptive field is a number too


def test_latex_columns_hold_their_longest_word() -> None:
    """The VGG-16 formulas table of the docs: no column narrower than its longest word
    (``(3*3*128)*256``, ``(3*3*512)*512*14*14``), the table within the line."""
    table = build_table(analyse(VGG_SPEC), TableOptions(columns=VGG_COLUMNS, formulas=True))
    columns = _latex_columns(table)
    size = {"small": 9.0, "footnotesize": 8.0, "scriptsize": 7.0}[columns[0][0]]
    line = columns[0][3]
    assert sum(a for *_, a, _ in columns) <= line
    for index, (_, _, a, b) in enumerate(columns):
        room = (LATEX_LINE_PT * a / b - LATEX_PADDING_PT) / (size / 2)  # ens of text
        longest = max(_times_ens(word) for row in table.rows for word in row.cells[index].text.split(" "))
        assert room >= longest, (index, room, longest)


def _times_ens(word: str) -> float:
    """Width in ens in Times roman (AFM widths / 500) of the characters of these cells;
    lower-case letters of the layer names are at most one en."""
    narrow = {"(": 0.666, ")": 0.666, ",": 0.5, ".": 0.5, "=": 1.128, "+": 1.128}
    return sum(narrow.get(char, 1.0) for char in word)


def test_latex_font_size_follows_the_width() -> None:
    every = ("name", "layer", "shape", "activations", "memory", "weights", "biases", "params", "trainable",
             "non_trainable", "macs", "rf")
    assert _latex_columns(_table(columns=("name", "params")))[0][0] == "small"
    assert _latex_columns(_table(columns=every))[0][0] == "scriptsize"


def test_html_hover_title_is_escaped() -> None:
    document = new_document("test", get_default_settings(Writer))
    translator = HTMLTranslator(document)
    node = formula_hint("", "1", title='a<b & "c"', classes=["cnntable-formula"])
    visit_formula_hint_html(translator, node)
    depart_formula_hint_html(translator, node)
    html = "".join(translator.body)
    assert html == '<span class="cnntable-formula" title="a&lt;b &amp; &quot;c&quot;"></span>'
