"""Single figures of a breakdown, for citing in prose (the ``:cnn:`` role).

Pure Python (no Sphinx): :func:`summarize` turns a :class:`~.engine.Breakdown` into a
small picklable mapping (the totals and each row's figures by label path and by name);
:func:`parse_reference` reads ``BREAKDOWN[/ROW]:FIGURE[:FORMAT]``; :func:`lookup` and
:func:`format_figure` give the text to show.

Formats (``FORMAT``, case-insensitive):

==============  ===============================================  =====================
``exact``       the integer with thousands separators (default)  ``138,357,544``
``raw``         the integer as is                                ``138357544``
``compact``     CS231n style, 2 significant digits               ``140M``
``compactN``    ... with N significant digits                    ``138M`` (N=3)
``K M G T``     value / 10^3, 10^6, 10^9, 10^12, up to 3         ``15.47``
                decimals, trailing zeros dropped
``KN`` ...      ... with exactly N decimals (0-6)                ``15.470`` (G3)
``percent``     share of the breakdown's total, 1 decimal        ``74.3%``
``percentN``    ... with N decimals                              ``74.27%`` (N=2)
``B``           byte figures: the exact bytes                    ``60,950,432 B``
``kB MB GB``    byte figures: 10^3/10^6/10^9 bytes, 2 decimals   ``60.95 MB``
``KiB MiB GiB`` byte figures: 2^10/2^20/2^30 bytes, 2 decimals   ``58.13 MiB``
                (``MiB3``: 3 decimals)
==============  ===============================================  =====================

``K M G T`` give the number alone, so the prose writes the unit it means
(``:cnn:`vgg16:macs:G` GMACs`` -> "15.47 GMACs"); byte formats include their unit.
Shapes and receptive fields are text: only ``exact`` and ``raw`` apply to them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from typing import Any

from .engine import Breakdown, Row
from .layers import show_shape
from .table import rf_text
from .units import compact, nbytes

TOTAL_FIGURES = (
    "params",
    "trainable_params",
    "non_trainable_params",
    "weights",
    "biases",
    "macs",
    "activations",
    "activation_memory",
    "param_memory",
    "output_shape",
    "input_shape",
)
"""Figures of a whole breakdown (``vgg16:params``)."""

ROW_FIGURES = (
    "params",
    "trainable",
    "non_trainable",
    "weights",
    "biases",
    "macs",
    "activations",
    "memory",
    "output_shape",
    "rf",
)
"""Figures of one row (``vgg16/conv3_1:params``); a group row gives its subtotals."""

TOTAL_ALIASES = {
    "parameters": "params",
    "trainable": "trainable_params",
    "non_trainable": "non_trainable_params",
    "memory": "activation_memory",
    "activation_bytes": "activation_memory",
    "param_bytes": "param_memory",
    "parameter_memory": "param_memory",
    "shape": "output_shape",
    "output": "output_shape",
    "input": "input_shape",
    "mult_adds": "macs",
}
ROW_ALIASES = {
    "parameters": "params",
    "trainable_params": "trainable",
    "non_trainable_params": "non_trainable",
    "activation_memory": "memory",
    "shape": "output_shape",
    "output": "output_shape",
    "receptive_field": "rf",
    "mult_adds": "macs",
}
BYTE_FIGURES = frozenset({"activation_memory", "param_memory", "memory"})
TEXT_FIGURES = frozenset({"output_shape", "input_shape", "rf"})
ADDITIVE_ROW_FIGURES = ("params", "trainable", "non_trainable", "weights", "biases", "macs", "activations", "memory")

_SCALES = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BYTE_UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
_FORMAT = re.compile(r"^(exact|raw|compact|percent|k|m|g|t|b|kb|mb|gb|kib|mib|gib)(\d?)$", re.IGNORECASE)
_CANONICAL = {name.lower(): name for name in ("exact", "raw", "compact", "percent", *_SCALES, *_BYTE_UNITS)}
FORMATS = ("exact", "raw", "compact", "percent", *_SCALES, *_BYTE_UNITS)
ROW_TOTALS = {
    "params": "params",
    "trainable": "trainable_params",
    "non_trainable": "non_trainable_params",
    "weights": "weights",
    "biases": "biases",
    "macs": "macs",
    "activations": "activations",
    "memory": "activation_memory",
}
"""The total a row figure is a share of (``percent``)."""
_NAME = re.compile(r"^[^\s/:]+$")


class FigureError(ValueError):
    """A reference that cannot be read or resolved; ``str()`` says why."""


@dataclass(frozen=True)
class Reference:
    """``BREAKDOWN[/ROW]:FIGURE[:FORMAT]``, read; ``row`` uses dots between labels."""

    breakdown: str
    row: str | None
    figure: str
    format: str  # canonical: exact, raw, compact, compact3, K, G3, MiB, ...

    @property
    def figure_kind(self) -> str:
        return "bytes" if self.figure in BYTE_FIGURES else "text" if self.figure in TEXT_FIGURES else "count"


def parse_reference(text: str) -> Reference:
    """Read and check a reference (the breakdown and row are checked later, by lookup)."""
    parts = [part.strip() for part in text.strip().split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise FigureError(f"{text.strip()!r}: write BREAKDOWN[/ROW]:FIGURE[:FORMAT], as in vgg16/conv3_1:params:compact")
    head, figure = parts[0], parts[1]
    name, slash, row = head.partition("/")
    name, row = name.strip(), ".".join(part.strip() for part in row.split("/")) if slash else None
    if not name or not _NAME.match(name) or (slash and (not row or any(not p for p in row.split(".")))):
        raise FigureError(f"{head!r}: write BREAKDOWN or BREAKDOWN/ROW (a label path such as conv3_1 or stage1/conv1)")
    figure = _figure_name(figure, row is not None)
    fmt = _format_name(parts[2] if len(parts) == 3 else "exact")
    reference = Reference(name, row, figure, fmt)
    _check_format(reference)
    return reference


def _figure_name(text: str, is_row: bool) -> str:
    key = text.lower().replace("-", "_")
    if is_row:
        key = ROW_ALIASES.get(key, key)
        if key not in ROW_FIGURES:
            raise FigureError(f"unknown row figure {text!r} (one of {', '.join(ROW_FIGURES)})")
    else:
        key = TOTAL_ALIASES.get(key, key)
        if key not in TOTAL_FIGURES:
            raise FigureError(f"unknown figure {text!r} (one of {', '.join(TOTAL_FIGURES)}; a row figure needs BREAKDOWN/ROW)")
    return key


def _format_name(text: str) -> str:
    match = _FORMAT.match(text.strip())
    if not match:
        raise FigureError(f"unknown format {text!r} (one of {', '.join(FORMATS)}; K/M/G/T/compact/byte units take a digit, as in G3)")
    base, digits = _CANONICAL[match.group(1).lower()], match.group(2)
    if digits and base in ("exact", "raw", "B"):
        raise FigureError(f"format {text!r}: {base} takes no digit")
    if digits and base == "compact" and digits == "0":
        raise FigureError(f"format {text!r}: compact needs at least 1 significant digit")
    return base + digits


def _check_format(reference: Reference) -> None:
    base = reference.format.rstrip("0123456789")
    kind = reference.figure_kind
    if kind == "text" and base not in ("exact", "raw"):
        raise FigureError(f"format {reference.format!r} does not apply to {reference.figure} (text): use exact")
    if base in _BYTE_UNITS and kind != "bytes":
        raise FigureError(
            f"format {reference.format!r} is for byte figures ({', '.join(sorted(BYTE_FIGURES))}), not {reference.figure}"
        )


def _row_figures(row: Row, dtype: str) -> dict[str, Any]:
    return {
        "params": row.params,
        "trainable": row.trainable,
        "non_trainable": row.non_trainable,
        "weights": row.weights,
        "biases": row.biases,
        "macs": row.macs,
        "activations": row.activations,
        "memory": nbytes(row.activations, dtype),
        "output_shape": show_shape(row.output_shape),
        "rf": rf_text(row),
    }


def summarize(breakdown: Breakdown, dtype: str = "float32") -> dict[str, Any]:
    """Everything a reference can cite, as plain picklable data.

    ``rows`` maps a label path (``stage1.conv1``), failing that a display name, to a
    row's figures. When rows share a path the group row (the subtotal) wins; a name
    several rows share is listed in ``ambiguous`` with its count. A labelled repeat
    (``conv3: conv3-256 x3``, rows ``conv3_1``..``conv3_3``) also answers to its label
    (``conv3``) with the sum of its instances when no row is called that.
    """
    totals = breakdown.totals
    rows: dict[str, dict[str, Any]] = {}
    ambiguous: dict[str, int] = {}
    by_path: dict[str, list[Row]] = {}
    by_name: dict[str, list[Row]] = {}
    for row in breakdown.rows:
        if row.path is not None:
            by_path.setdefault(row.path, []).append(row)
        by_name.setdefault(row.name, []).append(row)
    for path, matches in by_path.items():
        groups = [row for row in matches if row.kind == "group"]
        if groups:
            rows[path] = _row_figures(groups[0], dtype)
        elif len(matches) == 1:
            rows[path] = _row_figures(matches[0], dtype)
        else:
            ambiguous[path] = len(matches)
    for name, matches in by_name.items():
        if name in rows or name in ambiguous:
            continue
        if len(matches) == 1:
            rows[name] = _row_figures(matches[0], dtype)
        else:
            ambiguous[name] = len(matches)
    instances: dict[str, list[tuple[int, str]]] = {}
    for path in by_path:
        match = re.match(r"^(.+)_(\d+)$", path)
        if match and match.group(1) not in rows and match.group(1) not in ambiguous:
            instances.setdefault(match.group(1), []).append((int(match.group(2)), path))
    for base, numbered in instances.items():
        numbered.sort()
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)) or len(numbered) < 2:
            continue
        members = [rows[path] for _, path in numbered if path in rows]
        if len(members) != len(numbered):
            continue
        summed: dict[str, Any] = {key: sum(member[key] for member in members) for key in ADDITIVE_ROW_FIGURES}
        summed["output_shape"] = members[-1]["output_shape"]
        summed["rf"] = members[-1]["rf"]
        rows[base] = summed
    return {
        "dtype": dtype,
        "totals": {
            **asdict(totals),
            "activation_memory": nbytes(totals.activations, dtype),
            "param_memory": nbytes(totals.params, dtype),
            "output_shape": show_shape(breakdown.output_shape),
            "input_shape": show_shape(breakdown.input_shape),
        },
        "rows": rows,
        "ambiguous": ambiguous,
    }


def lookup(summary: dict[str, Any], reference: Reference) -> int | str:
    """The value ``reference`` names in ``summary``; ``FigureError`` if no such row."""
    if reference.row is None:
        return summary["totals"][reference.figure]
    figures = summary["rows"].get(reference.row)
    if figures is None:
        count = summary["ambiguous"].get(reference.row)
        if count:
            raise FigureError(
                f"{count} rows of {reference.breakdown!r} are called {reference.row!r}: "
                "give the row a label in the spec (conv1: conv3-64) and cite the label"
            )
        raise FigureError(f"breakdown {reference.breakdown!r} has no row {reference.row!r}{_suggest(summary, reference.row)}")
    return figures[reference.figure]


def _suggest(summary: dict[str, Any], row: str) -> str:
    close = difflib.get_close_matches(row, list(summary["rows"]), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _fixed(numerator: int, denominator: int, places: int) -> str:
    """``numerator / denominator`` rounded half-even to ``places`` decimals, with thousands
    separators, in exact integer arithmetic (no precision limit, so no figure is too large)."""
    quotient, remainder = divmod(abs(numerator) * 10**places, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    whole, fraction = divmod(quotient, 10**places)
    sign = "-" if numerator < 0 and quotient else ""
    return f"{sign}{whole:,}" + (f".{fraction:0{places}d}" if places else "")


def _scaled(value: int, scale: int, digits: str, default_places: int, strip: bool) -> str:
    places = min(int(digits), 6) if digits else default_places
    text = _fixed(value, scale, places)
    if strip and not digits and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_figure(value: int | str, fmt: str = "exact") -> str:
    """``value`` in ``fmt`` (a canonical format name from :func:`parse_reference`)."""
    if isinstance(value, str):
        return value
    base = fmt.rstrip("0123456789")
    digits = fmt[len(base) :]
    if base == "exact":
        return f"{value:,}"
    if base == "raw":
        return str(value)
    if base == "compact":
        return compact(value, int(digits) if digits else 2)
    if base in _SCALES:
        return _scaled(value, _SCALES[base], digits, 3, strip=True)
    if base == "B":
        return f"{value:,} B"
    if base in _BYTE_UNITS:
        return f"{_scaled(value, _BYTE_UNITS[base], digits, 2, strip=False)} {base}"
    raise FigureError(f"unknown format {fmt!r}")


def percent(value: int, total: int, digits: str = "") -> str:
    """``value`` as a share of ``total``: ``74.3%`` (``digits`` decimals, 1 by default)."""
    places = min(int(digits), 6) if digits else 1
    if not total:
        return "n/a"
    return f"{_fixed(value * 100, total, places).replace(',', '')}%"


def resolve(summary: dict[str, Any], reference: Reference) -> str:
    """The text for ``reference`` (``lookup`` then ``format_figure``; ``percent`` divides
    by the matching total)."""
    value = lookup(summary, reference)
    base = reference.format.rstrip("0123456789")
    if base == "percent" and isinstance(value, int):
        key = reference.figure if reference.row is None else ROW_TOTALS[reference.figure]
        return percent(value, summary["totals"][key], reference.format[len(base) :])
    return format_figure(value, reference.format)
