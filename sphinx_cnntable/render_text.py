"""Plain-text renderers of a :class:`~sphinx_cnntable.table.Table`: terminal text,
GitHub-flavoured Markdown, reStructuredText (``list-table``) and CSV.

Each returns a string of ``\\n``-terminated lines; callers that write files choose the
line ending.
"""

from __future__ import annotations

import csv
import io
import re

from .table import Table

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
DIM = "\x1b[2m"
CYAN = "\x1b[36m"

_MD_ACTIVE = re.compile(r"([\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_RST_ACTIVE = re.compile(r"([\\`*|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_RST_BLOCK_START = re.compile(r"^(?:[-+*#=~^\"'.]|\d+[.)]\s|\(\d+\)\s|[a-zA-Z][.)]\s)")


def _name_column(table: Table) -> int | None:
    """The index of the ``name`` column, which carries a row's nesting and group mark
    (as in the docutils table); ``None`` when the table does not show names."""
    keys = [column.key for column in table.columns]
    return keys.index("name") if "name" in keys else None


def render_text(table: Table, color: bool = False, narrow: bool = False) -> str:
    """Aligned columns, numbers right-aligned, nested names indented two spaces per depth,
    and a totals footer. ``color`` adds ANSI escapes (bold header and groups, dim formulas).

    ``narrow`` (Sphinx's text builder): headers wrap at spaces and after hyphens to the
    width of their column, and a shown formula puts its result on a line of its own, the
    row's last line, which holds the row's other cells too; group names are ``**bold**``
    (on one line: nothing wraps), and the totals' numbers are right-aligned."""
    grid = [[[cell.expression, cell.result] if narrow and cell.expression else [cell.text] for cell in row.cells]
            for row in table.rows]
    name = _name_column(table)
    if name is not None:
        for lines, row in zip(grid, table.rows):
            bold = narrow and row.kind == "group" and lines[name][-1]
            lines[name] = ["  " * row.depth + (f"**{text}**" if bold else text) for text in lines[name]]
    right = [column.right for column in table.columns]
    widths = [0] * len(table.columns) if narrow else [len(header) for header in table.headers]
    for lines in grid:
        widths = [max(width, *map(len, texts)) for width, texts in zip(widths, lines)]
    headers = [_wrap(header, width) if narrow else [header] for header, width in zip(table.headers, widths)]
    widths = [max(width, *map(len, texts)) for width, texts in zip(widths, headers)]

    def line(texts: list[str]) -> str:
        parts = [text.rjust(w) if num else text.ljust(w) for text, w, num in zip(texts, widths, right)]
        return "  ".join(parts).rstrip()

    def block(cells: list[list[str]]) -> list[str]:
        """The lines of one row, its cells aligned at the bottom."""
        height = max(map(len, cells))
        padded = [[""] * (height - len(texts)) + texts for texts in cells]
        return [line([texts[index] for texts in padded]) for index in range(height)]

    rule = "-" * len(line(["-" * w for w in widths]))
    out = [_paint(text, BOLD, color) for text in block(headers)]
    out.append(rule)
    for lines, row in zip(grid, table.rows):
        for text in block(lines):
            out.append(_paint(text, BOLD + CYAN, color) if row.kind == "group" else text)
    if table.totals:
        out.append(rule)
        label_width = max(len(total.label) for total in table.totals) + 1
        value_width = max(len(total.text.split(" ")[0]) for total in table.totals)
        for total in table.totals:
            number, space, rest = total.text.partition(" ")
            value = number.rjust(value_width) + space + rest if narrow else total.text
            out.append(f"{_paint((total.label + ':').ljust(label_width), DIM, color)} {value}")
    return "\n".join(out) + "\n"


def _wrap(header: str, width: int) -> list[str]:
    """``header`` in lines of at most ``width`` characters (or its longest word), broken
    at spaces and after hyphens: ``Non-trainable`` -> ``Non-``, ``trainable``."""
    words = re.findall(r"[^ -]*-|[^ -]+", header)
    lines: list[str] = []
    for word in words:
        joined = lines[-1] + ("" if lines[-1].endswith("-") else " ") + word if lines else word
        if lines and len(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines or [header]


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{RESET}" if color and text else text


def md_escape(text: str) -> str:
    """Backslash-escape the characters Markdown (or a GFM table) would act on; an
    underscore inside a word cannot emphasise, so ``conv1_1`` stays readable."""
    return _MD_ACTIVE.sub(r"\\\1", text).replace("\n", " ")


def render_markdown(table: Table) -> str:
    """A GFM pipe table (numeric columns ``---:``), then the totals as a bullet list."""
    out = [
        "| " + " | ".join(md_escape(header) for header in table.headers) + " |",
        "|" + "|".join("---:" if column.right else ":---" for column in table.columns) + "|",
    ]
    name = _name_column(table)
    for row in table.rows:
        cells = [md_escape(cell.text) for cell in row.cells]
        if name is not None:
            text = cells[name]
            cells[name] = "&nbsp;&nbsp;" * row.depth + (f"**{text}**" if row.kind == "group" and text else text)
        out.append("| " + " | ".join(cells) + " |")
    if table.totals:
        out.append("")
        out.extend(f"- **{md_escape(total.label)}:** {md_escape(total.text)}" for total in table.totals)
    return "\n".join(out) + "\n"


def rst_escape(text: str) -> str:
    """Escape inline markup, and a leading character that would open a list or section."""
    text = _RST_ACTIVE.sub(r"\\\1", text.replace("\n", " "))
    if _RST_BLOCK_START.match(text):
        text = "\\" + text
    return text


def render_rst(table: Table) -> str:
    """A ``list-table`` with one header row, nested rows indented with em spaces
    (U+2003, which docutils keeps), then the totals as a bullet list."""
    out = [".. list-table::", "   :header-rows: 1", "   :class: cnntable", ""]
    header_cells = [rst_escape(header) for header in table.headers]
    out.extend(_rst_row(header_cells))
    name = _name_column(table)
    for row in table.rows:
        cells = [rst_escape(cell.text) for cell in row.cells]
        if name is not None:
            text = f"**{cells[name]}**" if row.kind == "group" and cells[name] else cells[name]
            cells[name] = "\u2003" * row.depth + text
        out.extend(_rst_row(cells))
    if table.totals:
        out.append("")
        out.extend(f"- **{rst_escape(total.label)}:** {rst_escape(total.text)}" for total in table.totals)
    return "\n".join(out) + "\n"


def _rst_row(cells: list[str]) -> list[str]:
    lines = []
    for index, cell in enumerate(cells):
        marker = "   * - " if index == 0 else "     - "
        lines.append((marker + cell).rstrip() if cell else marker.rstrip())
    return lines


def render_csv(table: Table) -> str:
    """One header line, then a line per row; numbers as raw integers (no separators) and
    a last ``Depth`` column (group rows hold subtotals of the deeper rows after them).

    Build the table with exact numbers and no formulas; totals are left out (they are
    sums of the columns, and the JSON format carries them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*table.headers, "Depth"])
    for row in table.rows:
        values = [cell.text.replace(",", "") if cell.numeric else cell.text for cell in row.cells]
        writer.writerow([*values, row.depth])
    return buffer.getvalue()
