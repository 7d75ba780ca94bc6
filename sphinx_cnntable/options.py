"""The ``cnn-breakdown`` directive's options, read from their text (no Sphinx), shared
by the Sphinx directive and the mystmd plugin so both accept and refuse the same values
with the same messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docutils.parsers.rst import directives

from .engine import parse_shape
from .errors import SpecError
from .table import TableOptions, column_keys, macs_per, parse_numbers
from .training import optimizer_name
from .units import MAX_PRECISION, dtype_name

MAX_BATCH = 1_000_000
"""The largest ``:batch:`` / ``--batch``."""

OPTION_NAMES = (
    "input", "file", "name", "class", "bias", "dtype", "columns", "formulas",
    "numbers", "precision", "fold", "hide-empty", "depth", "no-totals", "chart", "chart-scale",
    "batch", "training", "macs-per",
)
"""Every option of ``cnn-breakdown``; each takes text (flags: empty, yes or no)."""

_TRUE = ("", "yes", "true", "on", "1")
_FALSE = ("no", "false", "off", "0")


class OptionError(ValueError):
    """A bad option value; the message names the option."""


def directive_options(
    options: Mapping[str, str],
) -> tuple[TableOptions, tuple[int, ...] | None, bool | None, list[str]]:
    """(table options, input shape, default bias, classes) from option texts;
    :class:`OptionError` names the first bad one."""
    kwargs: dict[str, Any] = {}
    for name, key in (("formulas", "formulas"), ("fold", "fold"), ("hide-empty", "hide_empty")):
        if name in options:
            kwargs[key] = _flag(name, options[name])
    if "no-totals" in options:
        kwargs["totals"] = not _flag("no-totals", options["no-totals"])
    with _option("columns"):
        if "columns" in options:
            kwargs["columns"] = tuple(column_keys(options["columns"]))
    with _option("numbers"):
        if "numbers" in options:
            kwargs["numbers"], kwargs["column_numbers"] = parse_numbers(options["numbers"])
    with _option("dtype"):
        if "dtype" in options:
            kwargs["dtype"] = dtype_name(options["dtype"])
    if "precision" in options:
        kwargs["precision"] = _integer("precision", options["precision"], 1, MAX_PRECISION)
    if "depth" in options:
        kwargs["depth"] = _integer("depth", options["depth"], 1, None)
    if "batch" in options:
        kwargs["batch"] = _integer("batch", options["batch"], 1, MAX_BATCH)
    with _option("training"):
        if "training" in options:
            kwargs["training"] = optimizer_name(options["training"])
    with _option("macs-per"):
        if "macs-per" in options:
            kwargs["macs_per"] = macs_per(options["macs-per"])
    input_shape = None
    if "input" in options:
        try:
            input_shape = parse_shape(options["input"])
        except SpecError as error:
            raise OptionError(f":input: {error.message}") from None
    bias = _flag("bias", options["bias"], empty=False) if "bias" in options else None
    classes: list[str] = []
    with _option("class"):
        if "class" in options:
            classes = directives.class_option(options["class"])
    return TableOptions(**kwargs), input_shape, bias, classes


class _option:  # noqa: N801 (used as a context manager)
    """Turn a ``ValueError`` from a converter into an :class:`OptionError` for ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> bool:
        if isinstance(error, ValueError) and not isinstance(error, OptionError):
            raise OptionError(f":{self.name}: {error}") from None
        return False


def _flag(name: str, value: str, empty: bool = True) -> bool:
    word = value.lower()
    if word in _TRUE and (word or empty):
        return True
    if word in _FALSE:
        return False
    expected = "no value (or yes/no)" if empty else "yes or no"
    raise OptionError(f":{name}: expected {expected}, got {value!r}")


def _integer(name: str, value: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise OptionError(f":{name}: expected a whole number {bound}, got {value!r}")
    return number
