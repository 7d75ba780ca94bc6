"""Single figures of a breakdown, for citing in prose (the ``:cnn:`` role).

Pure Python (no Sphinx): :func:`summarize` turns a :class:`~.engine.Breakdown` into a
small picklable mapping (the totals, and each row's figures under every key it answers
to: label path, name in its group, place among rows of that name, spec line);
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
    "saved_memory",
    "gradient_memory",
    "optimizer_memory",
    "training_memory",
    "batch",
)
"""Figures of a whole breakdown (``vgg16:params``); the training figures are for the
directive's ``:batch:`` and ``:training:`` (``none`` counts as ``sgd``: no optimizer state)."""

ROW_FIGURES = (
    "params",
    "trainable",
    "non_trainable",
    "weights",
    "biases",
    "macs",
    "activations",
    "memory",
    "saved",
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
    "saved": "saved_memory",
    "saved_bytes": "saved_memory",
    "saved_for_backward": "saved_memory",
    "gradient_bytes": "gradient_memory",
    "optimizer_bytes": "optimizer_memory",
    "training_bytes": "training_memory",
    "training": "training_memory",
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
    "saved_bytes": "saved",
    "saved_memory": "saved",
    "saved_for_backward": "saved",
}
BYTE_FIGURES = frozenset({"activation_memory", "param_memory", "memory", "saved", "saved_memory", "gradient_memory",
                          "optimizer_memory", "training_memory"})
TEXT_FIGURES = frozenset({"output_shape", "input_shape", "rf"})
ADDITIVE_ROW_FIGURES = ("params", "trainable", "non_trainable", "weights", "biases", "macs", "activations", "memory",
                        "saved")

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
    "saved": "saved_memory",
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
    row_text: str | None = None  # the row as written (``conv5-64/2``), for messages

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
    reference = Reference(name, row, figure, fmt, row_text=head.partition("/")[2].strip() if slash else None)
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
        "saved": row.saved_bytes(dtype),
        "output_shape": show_shape(row.output_shape),
        "rf": rf_text(row),
    }


def row_keys(breakdown: Breakdown) -> tuple[list[tuple[Row, list[str]]], dict[str, list[str]]]:
    """Every row with the keys it answers to, best first (dotted paths), and the keys
    several rows share, each with the keys that tell those rows apart.

    In order of precedence (a key two rows share in one tier belongs to neither):

    1. its label path (``stage1.conv1``; a group's or a repeat iteration's path);
    2. its name inside the enclosing labelled group (``block2.bn``; ``conv5-64`` at the
       top level); 3. its name alone (``bn``);
    4. a shared key of tiers 1-3 and its place among the rows sharing it (``conv5-64.2``);
    5. its spec line (``12``); 6. a shared line and the row's place on it (``12.2``).
    """
    slots: list[list[list[str]]] = []
    for row in breakdown.rows:
        own = _own_path(row)
        scoped = f"{row.path}.{row.name}" if row.path is not None and own is None else row.name
        slots.append([[_key(own)] if own else [], [_key(scoped)], [_key(row.name)], [], [str(row.line)], []])
    taken: dict[str, int] = {}
    shared: dict[str, list[str]] = {}
    for tier, spill in ((0, 3), (1, 3), (2, 3), (4, 5)):
        owners: dict[str, list[int]] = {}
        for index, row_slots in enumerate(slots):
            for key in row_slots[tier]:
                if key not in taken:
                    owners.setdefault(key, []).append(index)
        for key, indices in owners.items():
            groups = [index for index in indices if breakdown.rows[index].kind == "group"]
            if len(indices) == 1 or (tier == 0 and len(groups) == 1):
                taken[key] = indices[0] if len(indices) == 1 else groups[0]
                continue
            taken[key] = -1
            shared[key] = []
            for number, index in enumerate(indices, start=1):
                slots[index][spill].append(f"{key}.{number}")
                shared[key].append(f"{key}.{number}")
    rows = []
    for index, (row, row_slots) in enumerate(zip(breakdown.rows, slots)):
        keys = [key for slot in row_slots for key in slot if taken.get(key, index) == index]
        rows.append((row, list(dict.fromkeys(keys))))
    return rows, shared


def _key(text: str) -> str:
    """``text`` as references are looked up: ``/`` read as ``.``, each level stripped
    (a layer written ``maxpool3/2`` is cited as ``maxpool3/2`` or ``maxpool3.2``)."""
    return ".".join(part.strip() for part in text.replace("/", ".").split("."))


def _own_path(row: Row) -> str | None:
    """The label path that is this row's own (a labelled row, or a repeat iteration),
    not the path of the group around it, which unlabelled rows carry."""
    if row.path is None:
        return None
    if row.path.rsplit(".", 1)[-1] == row.name or (row.kind == "group" and row.name.startswith("#")):
        return row.path
    return None


def summarize(breakdown: Breakdown, dtype: str = "float32", training: str = "none") -> dict[str, Any]:
    """Everything a reference can cite, as plain picklable data.

    ``rows`` maps every key of every row (:func:`row_keys`) to the row's figures (one
    shared mapping per row); ``keys`` lists each row's first key, for suggestions;
    ``ambiguous`` maps a key several rows share to the keys that tell them apart. A
    labelled repeat (``conv3: conv3-256 x3``, rows ``conv3_1``..``conv3_3``) also
    answers to its label (``conv3``) with the sum of its instances when no row is
    called that.
    """
    from .training import training_memory

    totals = breakdown.totals
    memory = training_memory(breakdown, "sgd" if training == "none" else training, dtype)
    rows: dict[str, dict[str, Any]] = {}
    keys: list[str] = []
    keyed, ambiguous = row_keys(breakdown)
    for row, names in keyed:
        figures = _row_figures(row, dtype)
        for key in names:
            rows[key] = figures
        keys.append(names[0])
    instances: dict[str, list[tuple[int, str]]] = {}
    for key in rows:
        match = re.match(r"^(.+)_(\d+)$", key)
        if match and match.group(1) not in rows and match.group(1) not in ambiguous:
            instances.setdefault(match.group(1), []).append((int(match.group(2)), key))
    for base, numbered in instances.items():
        numbered.sort()
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)) or len(numbered) < 2:
            continue
        members = [rows[key] for _, key in numbered]
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
            "saved_memory": memory.saved_activation_bytes,
            "gradient_memory": memory.gradient_bytes,
            "optimizer_memory": memory.optimizer_bytes,
            "training_memory": memory.total_bytes,
            "batch": breakdown.batch,
        },
        "rows": rows,
        "keys": keys,
        "ambiguous": ambiguous,
    }


def lookup(summary: dict[str, Any], reference: Reference) -> int | str:
    """The value ``reference`` names in ``summary``; ``FigureError`` if no such row."""
    if reference.row is None:
        return summary["totals"][reference.figure]
    row = _key(reference.row)
    figures = summary["rows"].get(row)
    if figures is None:
        shown = reference.row_text or reference.row
        choices = summary["ambiguous"].get(row)
        if choices:
            listed = ", ".join(_shown(key) for key in choices[:6]) + (", ..." if len(choices) > 6 else "")
            what = f"come from spec line {shown}:" if shown.isdigit() else f"are called {shown!r}:"
            raise FigureError(
                f"{len(choices)} rows of {reference.breakdown!r} {what} cite one of them "
                f"({listed}), or give the row a label in the spec (conv1: conv3-64) and cite the label"
            )
        if shown.isdigit():
            raise FigureError(f"no row of {reference.breakdown!r} comes from spec line {shown}")
        raise FigureError(f"breakdown {reference.breakdown!r} has no row {shown!r}{_suggest(summary, row)}")
    return figures[reference.figure]


def _shown(key: str) -> str:
    """A key as a reference writes it: ``/`` between the levels of a label path."""
    return key.replace(".", "/")


def _suggest(summary: dict[str, Any], row: str) -> str:
    """Up to three keys close to ``row``, each one that resolves, never ``row`` itself;
    keys under a group that ``row`` names come first."""
    candidates = [key for key in summary["keys"] if key != row]
    scope = row.rpartition(".")[0]
    inside = [key for key in candidates if scope and key.startswith(scope + ".")]
    close = difflib.get_close_matches(row, inside, n=3, cutoff=0.5) if inside else []
    for key in difflib.get_close_matches(row, candidates, n=3):
        if key not in close and len(close) < 3:
            close.append(key)
    return f" (did you mean {', '.join(_shown(key) for key in close)}?)" if close else ""


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
