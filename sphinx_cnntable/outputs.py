"""Output requests shared by the command line and ``cnntable sync``: validate option
values given as text, and render a spec in one of the output formats."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from .engine import analyse, parse_shape
from .errors import SpecError
from .render_json import render_json
from .render_text import render_csv, render_markdown, render_rst, render_text
from .table import TableOptions, build_table, column_keys, macs_per, parse_numbers
from .training import optimizer_name
from .units import MAX_PRECISION, dtype_name

FORMATS = ("text", "markdown", "rst", "json", "csv")
FORMAT_ALIASES = {"md": "markdown", "rest": "rst", "restructuredtext": "rst", "txt": "text"}
FLAGS = ("formulas", "fold", "hide-empty", "totals")
"""Options that are yes/no; the rest take a value."""
VALUED = ("format", "input", "bias", "dtype", "columns", "numbers", "precision", "depth", "batch", "training",
          "macs-per")
_TRUE = ("yes", "true", "on", "1")
_FALSE = ("no", "false", "off", "0")
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """What to compute (``input``, ``bias``) and how to show it."""

    format: str = "text"
    input: str | None = None
    bias: bool | None = None
    table: TableOptions = field(default_factory=TableOptions)


def output_format(text: str) -> str:
    name = FORMAT_ALIASES.get(text.strip().lower(), text.strip().lower())
    if name not in FORMATS:
        raise ValueError(f"unknown format {text!r} (one of {', '.join(FORMATS)})")
    return name


def yes_no(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"expected yes or no, not {text!r}")


def input_shape(text: str) -> str:
    try:
        parse_shape(text)
    except SpecError as error:
        raise ValueError(error.message) from None
    return text


def positive(text: str, name: str, low: int = 1, high: int = 10_000) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return value


def request_from(values: Mapping[str, str | bool | None], default_format: str = "text") -> Request:
    """Build a request from option values keyed by option name (``hide-empty``...).
    Flags take a bool or ``yes``/``no`` text; ``None`` means not given.
    ``ValueError`` names the option and the problem; unknown names are refused."""
    unknown = sorted(set(values) - set(FLAGS) - set(VALUED))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (one of {', '.join(VALUED + FLAGS)})")
    given = {key: value for key, value in values.items() if value is not None}

    def flag(key: str, default: bool) -> bool:
        value = given.get(key, default)
        return value if isinstance(value, bool) else _checked(key, yes_no, value)

    def text(key: str) -> str | None:
        value = given.get(key)
        if isinstance(value, bool):
            raise ValueError(f"option {key!r} needs a value")
        return value

    options = TableOptions(formulas=flag("formulas", False), fold=flag("fold", False),
                           hide_empty=flag("hide-empty", False), totals=flag("totals", True))
    if (columns := text("columns")) is not None:
        options = replace(options, columns=tuple(_checked("columns", column_keys, columns)))
    if (numbers := text("numbers")) is not None:
        default, overrides = _checked("numbers", parse_numbers, numbers)
        options = replace(options, numbers=default, column_numbers=overrides)
    if (dtype := text("dtype")) is not None:
        options = replace(options, dtype=_checked("dtype", dtype_name, dtype))
    if (precision := text("precision")) is not None:
        options = replace(options, precision=positive(precision, "precision", 1, MAX_PRECISION))
    if (depth := text("depth")) is not None:
        options = replace(options, depth=positive(depth, "depth"))
    if (batch := text("batch")) is not None:
        options = replace(options, batch=positive(batch, "batch", 1, 1_000_000))
    if (training := text("training")) is not None:
        options = replace(options, training=_checked("training", optimizer_name, training))
    if (per := text("macs-per")) is not None:
        options = replace(options, macs_per=_checked("macs-per", macs_per, per))
    fmt = text("format")
    bias = text("bias")
    shape = text("input")
    return Request(
        format=_checked("format", output_format, fmt) if fmt is not None else default_format,
        input=_checked("input", input_shape, shape) if shape is not None else None,
        bias=_checked("bias", yes_no, bias) if bias is not None else None,
        table=options,
    )


def _checked(key: str, convert: Callable[[str], T], value: str) -> T:
    try:
        return convert(value)
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


def render(spec_text: str, request: Request, color: bool = False) -> str:
    """Compute ``spec_text`` and render it; ``SpecError`` for a spec problem."""
    breakdown = analyse(spec_text, request.input, request.bias, request.table.batch)
    if request.format == "json":
        return render_json(breakdown, request.table.dtype, request.table.training)
    if request.format == "csv":
        return render_csv(build_table(breakdown, replace(request.table, numbers="exact",
                                                         column_numbers=(), formulas=False)))
    table = build_table(breakdown, request.table)
    if request.format == "markdown":
        return render_markdown(table)
    if request.format == "rst":
        return render_rst(table)
    return render_text(table, color=color)
