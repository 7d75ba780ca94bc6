"""Turn a computed breakdown into a render-neutral table: headers, rows of cells, totals.

Every renderer (docutils nodes, terminal text, Markdown, reST, CSV) draws this model,
so the choices a user makes (columns, number format, formulas, folding, depth, dtype)
mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .engine import Breakdown, Row
from .layers import show_shape
from .units import NUMBER_FORMATS, exact, human_bytes, nbytes, number


@dataclass(frozen=True)
class Column:
    """A column: its header, whether it holds numbers, and how to read a row."""

    key: str
    header: str
    numeric: bool
    value: Callable[[Row], int | str]
    formula: str | None = None
    tight: bool = False  # formula written as the CS231n table writes shapes: 224*224*64=3.2M

    @property
    def right(self) -> bool:
        """Right-aligned: the numbers, and the receptive field (``212``, ``3x5``)."""
        return self.numeric or self.key == "rf"

    def __reduce__(self) -> tuple[Callable[[str, str], Column], tuple[str, str]]:
        """Pickled as its key and header (``value`` is a lambda), for Sphinx's doctrees."""
        return _column, (self.key, self.header)


def _shape(row: Row) -> str:
    return show_shape(row.output_shape)


def rf_text(row: Row) -> str:
    """The receptive field as shown: ``212``, or one size per axis (``HxW``,
    ``DxHxW``) when the axes differ."""
    axes = row.receptive_field
    return str(axes[0]) if len(set(axes)) == 1 else "x".join(map(str, axes))


COLUMNS: dict[str, Column] = {
    column.key: column
    for column in (
        Column("name", "Layer", False, lambda row: row.name),
        Column("layer", "Type", False, lambda row: row.layer),
        Column("shape", "Output shape", False, _shape),
        Column("activations", "Activations", True, lambda row: row.activations, "activations", tight=True),
        Column("memory", "Memory", True, lambda row: row.activations, "activations", tight=True),
        Column("weights", "Weights", True, lambda row: row.weights, "weights"),
        Column("biases", "Biases", True, lambda row: row.biases, "biases"),
        Column("params", "Params", True, lambda row: row.params, "params"),
        Column("trainable", "Trainable", True, lambda row: row.trainable, "trainable"),
        Column("non_trainable", "Non-trainable", True, lambda row: row.non_trainable, "non_trainable"),
        Column("macs", "MACs", True, lambda row: row.macs, "macs"),
        Column("rf", "Receptive field", False, rf_text),
        Column("saved", "Saved for backward (B)", True, lambda row: row.saved_bytes()),
    )
}
"""Column keys; aliases in :data:`COLUMN_ALIASES`."""



def _column(key: str, header: str) -> Column:
    """The column ``key`` under ``header`` (how a pickled :class:`Column` comes back)."""
    column = COLUMNS[key]
    return column if column.header == header else replace(column, header=header)


COLUMN_ALIASES = {
    "output": "shape",
    "output_shape": "shape",
    "mem": "memory",
    "parameters": "params",
    "non-trainable": "non_trainable",
    "mult-adds": "macs",
    "mac": "macs",
    "flops": "macs",
    "param": "params",
    "receptive_field": "rf",
    "receptive-field": "rf",
    "type": "layer",
    "saved_for_backward": "saved",
    "saved-for-backward": "saved",
    "backward": "saved",
}

DEFAULT_COLUMNS = ("name", "shape", "activations", "params", "macs")


def column_keys(text: str | Sequence[str]) -> list[str]:
    """``"name, shape, params"`` -> keys; ``ValueError`` names an unknown column or one
    given twice (under its name or an alias)."""
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    keys: list[str] = []
    given: dict[str, str] = {}
    for word in words:
        key = COLUMN_ALIASES.get(word.lower(), word.lower())
        if key not in COLUMNS:
            raise ValueError(f"unknown column {word!r} (one of {', '.join(COLUMNS)})")
        if key in given:
            same = "" if given[key].lower() == word.lower() else f" (as {given[key]!r})"
            raise ValueError(f"column {word!r} is given twice{same}")
        given[key] = word
        keys.append(key)
    if not keys:
        raise ValueError("give at least one column")
    return keys


@dataclass(frozen=True)
class TableOptions:
    """What a table shows. ``numbers`` is the format of every number, and
    ``column_numbers`` overrides it per column (``(("activations", "compact"),)``).
    ``depth``: rows nested deeper are left out, their group row standing for them
    (``1`` shows top-level rows only, like torchinfo's ``depth=1``)."""

    columns: tuple[str, ...] = DEFAULT_COLUMNS
    numbers: str = "exact"
    column_numbers: tuple[tuple[str, str], ...] = ()
    precision: int = 2
    formulas: bool = False
    dtype: str = "float32"
    fold: bool = False
    hide_empty: bool = False
    depth: int | None = None
    totals: bool = True
    batch: int = 1
    """Samples per batch: activations and saved tensors are for the whole batch (MACs
    stay per sample unless ``macs_per`` is ``batch``)."""
    macs_per: str = "sample"
    """``sample`` (the default, as torchvision's ``_ops``) or ``batch``: MACs times ``batch``."""
    training: str = "none"
    """The optimizer for the training-memory summary (:mod:`.training`); ``none``: no summary."""
    max_rows: int | None = None
    """Most rows to draw (totals not counted): above it :func:`build_table` folds to the
    deepest depth that fits, and at depth 1 elides the middle rows. ``None``: no limit."""


@dataclass(frozen=True)
class Cell:
    """``text`` to show; ``title`` is the formula behind it, for a hover; ``expression``
    the part of ``text`` before the result when the cell shows its formula
    (``text`` is then ``expression + " " + result``, or ``expression + result``)."""

    text: str
    numeric: bool = False
    title: str | None = None
    expression: str | None = None

    @property
    def result(self) -> str:
        """The value at the end of ``text``: all of it, or what follows ``expression``."""
        return self.text[len(self.expression):].lstrip() if self.expression else self.text


@dataclass(frozen=True)
class TableRow:
    cells: tuple[Cell, ...]
    kind: str  # input | layer | merge | group | folded | elided
    depth: int
    name: str
    line: int


@dataclass(frozen=True)
class TotalLine:
    label: str
    text: str
    value: int
    key: str


@dataclass
class Table:
    """``full_rows``: the rows the options asked for. When there were more than
    ``max_rows``, ``folded_depth`` is the depth the table was folded to, and ``elided``
    the number of rows (at depth 1) one ``elided`` row stands for."""

    columns: list[Column]
    rows: list[TableRow]
    totals: list[TotalLine] = field(default_factory=list)
    full_rows: int = 0
    folded_depth: int | None = None
    elided: int = 0

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]


def build_table(breakdown: Breakdown, options: TableOptions | None = None) -> Table:
    """Lay ``breakdown`` out as ``options`` ask."""
    options = options or TableOptions()
    columns = [COLUMNS[key] for key in options.columns]
    columns = [_header(column, options) for column in columns]
    entries = _layout(breakdown.rows, options, options.depth)
    full_rows = len(entries)
    limit = options.max_rows
    folded_depth = None
    head = 0
    elided: list[tuple[Row, int, list[Row]]] = []
    if limit is not None and len(entries) > limit:
        deepest = max(row.depth for row in breakdown.rows) + 1
        depth = min(options.depth or deepest, deepest)
        while len(entries) > limit and depth > 1:
            depth -= 1
            entries = _layout(breakdown.rows, options, depth)
        folded_depth = depth if depth < (options.depth or deepest) else None
        if len(entries) > limit:
            head = max(limit - 1, 0) // 2
            tail = max(limit - 1 - head, 0)
            elided = entries[head : len(entries) - tail]
            entries = [*entries[:head], *entries[len(entries) - tail :]]
    table_rows = [_table_row(row, count, members, columns, options) for row, count, members in entries]
    if elided:
        table_rows.insert(head, _elided_row(elided, columns, options))
    totals = _totals(breakdown, options) if options.totals else []
    return Table(
        columns=columns,
        rows=table_rows,
        totals=totals,
        full_rows=full_rows,
        folded_depth=folded_depth,
        elided=len(elided),
    )


def _header(column: Column, options: TableOptions) -> Column:
    """The header as the options make it: the dtype, the batch, MACs per sample."""
    batch = f", batch {options.batch}" if options.batch > 1 else ""
    if column.key == "memory":
        return replace(column, header=f"Memory ({options.dtype}{batch}, B)")
    if column.key == "saved":
        return replace(column, header=f"Saved for backward ({options.dtype}{batch}, B)")
    if column.key == "activations" and options.batch > 1:
        return replace(column, header=f"Activations (batch {options.batch})")
    if column.key == "macs" and options.batch > 1:
        return replace(column, header=f"MACs (batch {options.batch})" if _macs_per_batch(options) else "MACs (per sample)")
    return column


def _layout(rows: Sequence[Row], options: TableOptions, depth: int | None) -> list[tuple[Row, int, list[Row]]]:
    """The rows above ``depth``, folded and filtered as ``options`` ask: (first row, count, members)."""
    kept = [row for row in rows if row.depth < depth] if depth is not None else list(rows)
    folded = _fold(kept) if options.fold else [(row, 1, [row]) for row in kept]
    if options.hide_empty:
        folded = [entry for entry in folded if entry[0].params]
    return folded


def _elided_row(entries: list[tuple[Row, int, list[Row]]], columns: list[Column], options: TableOptions) -> TableRow:
    """One row for the rows left out of a table over ``max_rows``: their count and
    source lines, and in each numeric column the exact sum of their values."""
    members = [member for _row, _count, group in entries for member in group]
    first, last = entries[0][0].line, entries[-1][0].line
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    name = f"\u2026 {len(entries):,} rows not shown ({lines})"
    cells = []
    for column in columns:
        if column.key == "name":
            cells.append(Cell(name))
        elif column.numeric:
            values = (_value(column, member, options) for member in members)
            total = sum(nbytes(v, options.dtype) for v in values) if column.key == "memory" else sum(values)
            title = f"sum of the rows not shown = {exact(total)}"
            cells.append(Cell(_number(total, options, column.key), numeric=True, title=title))
        else:
            cells.append(Cell("\u2026"))
    return TableRow(cells=tuple(cells), kind="elided", depth=0, name=name, line=first)


def parse_numbers(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``"exact"``, ``"compact"`` or ``"exact, activations=compact"`` -> (default, overrides)."""
    default = "exact"
    overrides: list[tuple[str, str]] = []
    for word in text.replace(",", " ").split():
        key, sep, style = word.rpartition("=")
        if style.lower() not in NUMBER_FORMATS:
            raise ValueError(f"unknown number format {style!r} (one of {', '.join(NUMBER_FORMATS)})")
        if sep:
            overrides.append((column_keys(key)[0], style.lower()))
        else:
            default = style.lower()
    return default, tuple(overrides)


def _fold(rows: list[Row]) -> list[tuple[Row, int, list[Row]]]:
    """Merge runs of identical layers: rows of one ``xN`` line, or unlabelled
    consecutive rows with the same layer text, depth and output shape."""
    result: list[tuple[Row, int, list[Row]]] = []
    for row in rows:
        if result and row.kind == "layer":
            first, count, members = result[-1]
            same_line = first.line == row.line
            unlabelled = first.path is None and row.path is None
            if (
                first.kind == "layer"
                and (same_line or unlabelled)
                and first.layer.lower() == row.layer.lower()
                and first.depth == row.depth
                and first.output_shape == row.output_shape
            ):
                members.append(row)
                result[-1] = (first, count + 1, members)
                continue
        result.append((row, 1, [row]))
    return result


def _number(value: int, options: TableOptions, column: str | None = None) -> str:
    style = _styles(options.column_numbers).get(column or "", options.numbers) if options.column_numbers else options.numbers
    return exact(value) if style == "exact" else number(value, style, options.precision)


@lru_cache(maxsize=64)
def _styles(column_numbers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Column key -> number format, from ``TableOptions.column_numbers``."""
    return dict(column_numbers)


def _table_row(row: Row, count: int, members: list[Row], columns: list[Column], options: TableOptions) -> TableRow:
    cells = []
    for column in columns:
        if column.key == "name" and count > 1:
            cells.append(Cell(f"{row.layer} x {count}"))
            continue
        if not column.numeric:
            cells.append(Cell(str(column.value(members[-1] if column.key in ("rf",) else row))))
            continue
        values = [_value(column, member, options) for member in members]
        total = sum(values)
        if column.key == "memory":
            values = [nbytes(v, options.dtype) for v in values]
            total = sum(values)
        text = _number(total, options, column.key)
        formula = _formula(members, column, values, options)
        expression = f"{formula}{'=' if column.tight else ' ='}" if formula and options.formulas else None
        shown = f"{expression}{'' if column.tight else ' '}{text}" if expression else text
        title = f"{formula} = {exact(total)}" if formula else None
        cells.append(Cell(shown, numeric=True, title=title, expression=expression))
    return TableRow(
        cells=tuple(cells),
        kind="folded" if count > 1 else row.kind,
        depth=row.depth,
        name=f"{row.layer} x {count}" if count > 1 else row.name,
        line=row.line,
    )


def _value(column: Column, row: Row, options: TableOptions) -> int:
    """A numeric cell's value; saved bytes at the table's dtype; MACs per batch when asked."""
    if column.key == "saved":
        return row.saved_bytes(options.dtype)
    if column.key == "macs" and _macs_per_batch(options):
        return int(row.macs) * options.batch
    return int(column.value(row))


def macs_per(text: str) -> str:
    """``sample`` or ``batch`` (``:macs-per:``, ``--macs-per``); ``ValueError`` otherwise."""
    word = text.strip().lower()
    if word not in ("sample", "batch"):
        raise ValueError(f"expected sample or batch, got {text!r}")
    return word


def _macs_per_batch(options: TableOptions) -> bool:
    return options.macs_per == "batch" and options.batch > 1


def _formula(members: list[Row], column: Column, values: list[int], options: TableOptions) -> str | None:
    """The expression behind a cell, or None when it would only repeat the value."""
    if len(members) > 1:
        return " + ".join(_number(v, options, column.key) for v in values)
    row = members[0]
    if row.kind == "group":
        return None
    key = column.formula
    if key == "params":
        parts = [v for v in (row.weights, row.biases, row.non_trainable) if v]
        return " + ".join(_number(v, options, key) for v in parts) if len(parts) > 1 else None
    if key == "trainable":
        parts = [v for v in (row.weights, row.biases) if v]
        return " + ".join(_number(v, options, key) for v in parts) if len(parts) > 1 else None
    expression = row.formulas.get(key or "")
    if expression is None:
        return None
    if column.key == "memory":
        expression = f"{expression}*{_bytes_per(options.dtype)}"
    if column.key == "macs" and _macs_per_batch(options):
        expression = f"{expression}*{options.batch}"
    if expression.isdigit():
        return None
    return expression


def _bytes_per(dtype: str) -> str:
    bytes_ = nbytes(8, dtype) / 8
    return str(int(bytes_)) if bytes_ == int(bytes_) else str(bytes_)


def _totals(breakdown: Breakdown, options: TableOptions) -> list[TotalLine]:
    totals = breakdown.totals
    act_bytes = nbytes(totals.activations, options.dtype)
    param_bytes = nbytes(totals.params, options.dtype)
    fmt = lambda value: _number(value, options)  # noqa: E731
    per = (f", batch {options.batch}" if _macs_per_batch(options) else " per sample") if options.batch > 1 else ""
    macs = totals.macs * options.batch if _macs_per_batch(options) else totals.macs
    batch = f", batch {options.batch}" if options.batch > 1 else ""
    lines = [
        TotalLine("Total params", fmt(totals.params), totals.params, "params"),
        TotalLine("Trainable params", fmt(totals.trainable_params), totals.trainable_params, "trainable_params"),
        TotalLine(
            "Non-trainable params (batch-norm running statistics)",
            fmt(totals.non_trainable_params),
            totals.non_trainable_params,
            "non_trainable_params",
        ),
        TotalLine("Weights", fmt(totals.weights), totals.weights, "weights"),
        TotalLine("Biases", fmt(totals.biases), totals.biases, "biases"),
        TotalLine(f"MACs (conv, fc and attention multiply-accumulates{per})", fmt(macs), macs, "macs"),
        TotalLine(f"Activations (elements, input included{batch})", fmt(totals.activations), totals.activations,
                  "activations"),
        TotalLine(
            f"Activation memory ({options.dtype}{batch})",
            f"{exact(act_bytes)} B ({human_bytes(act_bytes)})",
            act_bytes,
            "activation_bytes",
        ),
        TotalLine(
            f"Parameter memory ({options.dtype})",
            f"{exact(param_bytes)} B ({human_bytes(param_bytes)})",
            param_bytes,
            "param_bytes",
        ),
    ]
    if options.training != "none":
        from .training import training_memory

        memory = training_memory(breakdown, options.training, options.dtype)
        where = f"{options.training}, batch {options.batch}, {options.dtype}"
        for label, value, key in (
            ("parameters", memory.parameter_bytes, "parameter_bytes"),
            ("gradients", memory.gradient_bytes, "gradient_bytes"),
            ("optimizer state", memory.optimizer_bytes, "optimizer_bytes"),
            ("saved for backward", memory.saved_activation_bytes, "saved_activation_bytes"),
            ("total", memory.total_bytes, "total_bytes"),
        ):
            lines.append(TotalLine(f"Training memory ({where}): {label}", _bytes(value), value, key))
    return lines


def _bytes(value: int) -> str:
    """``60,950,432 B (60.95 MB, 58.13 MiB)``: exact bytes, MB and MiB."""
    return f"{exact(value)} B ({human_bytes(value)})" if value >= 1000 else f"{exact(value)} B"
