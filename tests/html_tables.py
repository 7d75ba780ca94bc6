"""Reading ``cnn-breakdown`` tables back out of built HTML, for the Sphinx tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOTS = Path(__file__).parent / "roots"


@dataclass
class Cell:
    text: str = ""
    classes: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    colspan: int = 1


@dataclass
class Row:
    classes: list[str]
    cells: list[Cell] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [cell.text for cell in self.cells]


@dataclass
class HtmlTable:
    """One ``<table>`` as read back from HTML."""

    attrs: dict[str, str]
    caption: str = ""
    head: list[Row] = field(default_factory=list)
    body: list[Row] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def headers(self) -> list[str]:
        return self.head[0].texts

    @property
    def layers(self) -> list[Row]:
        return [row for row in self.body if "cnntable-total" not in row.classes]

    @property
    def totals(self) -> dict[str, str]:
        return {row.cells[0].text: row.cells[-1].text for row in self.body if "cnntable-total" in row.classes}

    def cell(self, name: str, header: str) -> str:
        """The text in the row whose first cell is ``name`` and column ``header``."""
        column = self.headers.index(header)
        (row,) = [row for row in self.layers if row.cells[0].text.lstrip("\u00b7\u00a0 ") == name]
        return row.cells[column].text


class _TableReader(HTMLParser):
    """Reads plain tables and ``cnn-breakdown`` figures: a ``div.cnntable-figure`` (the
    anchor) holding the caption (``p.cnntable-caption``), the layer table and the totals
    table, whose rows become the layer table's last rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[HtmlTable] = []
        self.section = ""
        self.in_caption = ""  # "table" in a <caption>, "figure" in a figure's caption
        self.caption_number = False
        self.cell: Cell | None = None
        self.figure_id = ""
        self.caption = ""
        self.totals = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        classes = attributes.get("class", "").split()
        if tag == "div" and "cnntable-figure" in classes:
            self.figure_id, self.caption = attributes.get("id", ""), ""
        elif tag == "p" and "cnntable-caption" in classes:
            self.in_caption = "figure"
        elif tag == "table" and "cnntable-totals" in classes:
            self.totals = True
        elif tag == "table":
            self.totals = False
            if "cnntable" in classes and self.figure_id:
                attributes["id"] = self.figure_id
            self.tables.append(HtmlTable(attributes, caption=self.caption))
            self.figure_id = self.caption = ""
        elif not self.tables and not self.in_caption:
            return
        elif tag == "caption":
            self.in_caption = "table"
        elif tag == "span" and self.in_caption and attributes.get("class") == "caption-number":
            self.caption_number = True
        elif tag in ("thead", "tbody"):
            self.section = tag
        elif tag == "tr":
            rows = self.tables[-1].head if self.section == "thead" else self.tables[-1].body
            rows.append(Row(attributes.get("class", "").split()))
        elif tag in ("td", "th"):
            rows = self.tables[-1].head if self.section == "thead" else self.tables[-1].body
            self.cell = Cell(classes=attributes.get("class", "").split(), colspan=int(attributes.get("colspan", 1)))
            rows[-1].cells.append(self.cell)
        elif tag == "span" and self.cell is not None and "title" in attributes:
            self.cell.titles.append(attributes["title"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" or (tag == "p" and self.in_caption == "figure"):
            self.in_caption = ""
        elif tag == "span":
            self.caption_number = False
        elif tag in ("td", "th") and self.cell is not None:
            self.cell.text = self.cell.text.strip()
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.in_caption and not self.caption_number and data != "\u00b6":
            if self.in_caption == "table":
                self.tables[-1].caption += data
            else:
                self.caption += data
        elif self.cell is not None:
            self.cell.text += data


def read_tables(html: str) -> list[HtmlTable]:
    """Every table in ``html``, with its caption text (number and link sign left out)."""
    reader = _TableReader()
    reader.feed(html)
    for table in reader.tables:
        table.caption = table.caption.strip()
    return reader.tables
