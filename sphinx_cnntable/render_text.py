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

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_JSON_CONTROL = re.compile(r"[\x7f-\x9f]")
_RST_ACTIVE = re.compile(r"([\\`*|:@<>\[\]]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MD_ACTIVE = re.compile(r"([\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_RST_ADORNMENT = re.compile(r"(\s*)(\\\\|[!-/:-@\[\]^_`{-~])(\2+\s*)")
_ENUMERATOR = r"(?:\d+|[a-zA-Z]|[ivxlcdmIVXLCDM]+|#)"
_RST_BLOCK_START = re.compile(rf"^(?:[-+*#=~^\"'.]|{_ENUMERATOR}[.)](?:\s|$)|\({_ENUMERATOR}\)(?:\s|$))")


def safe(text: str) -> str:
    """``text`` with each control character (C0, DEL, C1: ESC, BEL, CSI...) written as a
    visible escape (``\\x1b``), so that text from a spec never drives a terminal."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def json_safe(text: str) -> str:
    """JSON text with DEL and the C1 controls escaped (``\\u009b``) as well: ``json``
    escapes only C0, and a terminal acts on C1 (U+009B is a CSI) too."""
    return _JSON_CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


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
    grid = [[[safe(cell.expression), safe(cell.result)] if narrow and cell.expression else [safe(cell.text)]
             for cell in row.cells]
            for row in table.rows]
    name = _name_column(table)
    if name is not None:
        for lines, row in zip(grid, table.rows):
            bold = narrow and row.kind == "group" and lines[name][-1]
            lines[name] = ["  " * row.depth + (f"**{text}**" if bold else text) for text in lines[name]]
    titles = [safe(header) for header in table.headers]
    right = [column.right for column in table.columns]
    widths = [0] * len(table.columns) if narrow else [len(header) for header in titles]
    for lines in grid:
        widths = [max(width, *map(len, texts)) for width, texts in zip(widths, lines)]
    headers = [_wrap(header, width) if narrow else [header] for header, width in zip(titles, widths)]
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
        totals = [(safe(total.label), safe(total.text)) for total in table.totals]
        label_width = max(len(label) for label, _ in totals) + 1
        value_width = max(len(text.split(" ")[0]) for _, text in totals)
        for label, text in totals:
            number, space, rest = text.partition(" ")
            value = number.rjust(value_width) + space + rest if narrow else text
            out.append(f"{_paint((label + ':').ljust(label_width), DIM, color)} {value}")
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
    return _MD_ACTIVE.sub(r"\\\1", safe(text.replace("\n", " ")))


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
    """Escape inline markup, roles, URIs and e-mail addresses (``:`` and ``@``, so nothing
    is auto-linked: no ``javascript:``), and a leading character that would open a list or
    section."""
    text = _RST_ACTIVE.sub(r"\\\1", safe(text.replace("\n", " ")).strip(" "))
    if _RST_BLOCK_START.match(text):
        text = "\\" + text
    adornment = _RST_ADORNMENT.fullmatch(text)
    if adornment:  # "!!!!" or "\\\\" alone would be read as a transition or a title's line
        head, unit, rest = adornment.group(1), adornment.group(2), adornment.group(3)
        text = f"{head}{unit}\\ {rest}"
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
    writer.writerow([*map(safe, table.headers), "Depth"])
    for row in table.rows:
        values = [cell.text.replace(",", "") if cell.numeric else safe(cell.text) for cell in row.cells]
        writer.writerow([*values, row.depth])
    return buffer.getvalue()
