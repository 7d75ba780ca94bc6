"""Number formats and element types for byte figures.

* ``exact``: the integer with thousands separators, ``1,728``;
* ``compact``: CS231n's style, ``3.2M``, ``800K``: below 10,000 the integer itself,
  above it ``precision`` significant digits (2 by default) and a decimal suffix
  K = 10^3, M = 10^6, G = 10^9, T = 10^12, P = 10^15.

Byte figures are exact integers; MB = 10^6 bytes and MiB = 2^20 bytes.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

DTYPE_BITS: dict[str, int] = {
    "float64": 64,
    "float32": 32,
    "tf32": 32,
    "int32": 32,
    "float16": 16,
    "bfloat16": 16,
    "int16": 16,
    "float8": 8,
    "int8": 8,
    "uint8": 8,
    "int4": 4,
}
"""Bits per element. Aliases: fp32, fp16, bf16, fp8, half, single, double."""

DTYPE_ALIASES: dict[str, str] = {
    "fp64": "float64",
    "double": "float64",
    "fp32": "float32",
    "single": "float32",
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp8": "float8",
}

NUMBER_FORMATS = ("exact", "compact")
MAX_PRECISION = 20
"""The most significant digits ``compact`` numbers may ask for (directive, command line, markers)."""
_SUFFIXES = ((10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def dtype_name(text: str) -> str:
    """The canonical dtype name for ``text``; ``ValueError`` lists the choices."""
    name = text.strip().lower()
    name = DTYPE_ALIASES.get(name, name)
    if name not in DTYPE_BITS:
        raise ValueError(f"unknown dtype {text!r} (one of {', '.join(DTYPE_BITS)})")
    return name


def nbytes(elements: int, dtype: str) -> int:
    """Bytes that ``elements`` values take: ``ceil(elements * bits / 8)``."""
    return -(-elements * DTYPE_BITS[dtype] // 8)


def exact(value: int) -> str:
    return f"{value:,}"


def compact(value: int, precision: int = 2) -> str:
    """``3211264 -> '3.2M'``, ``802816 -> '800K'``, ``4096 -> '4096'``."""
    if abs(value) < 10_000:
        return str(value)
    index = next(i for i, (scale, _) in enumerate(_SUFFIXES) if abs(value) >= scale)
    scale, suffix = _SUFFIXES[index]
    with localcontext() as context:
        # enough digits that dividing by a power of ten and rounding are exact at any size
        context.prec = len(str(abs(value))) + precision + 20
        scaled = Decimal(value) / Decimal(scale)
        quantum = Decimal(1).scaleb(scaled.adjusted() - precision + 1)
        rounded = scaled.quantize(quantum, rounding=ROUND_HALF_EVEN)
        if abs(rounded) >= 1000 and index > 0:
            rounded = (Decimal(value) / Decimal(_SUFFIXES[index - 1][0])).quantize(quantum.scaleb(-3), rounding=ROUND_HALF_EVEN)
            suffix = _SUFFIXES[index - 1][1]
        return f"{rounded.normalize():f}{suffix}"


def number(value: int, style: str = "exact", precision: int = 2) -> str:
    return compact(value, precision) if style == "compact" else exact(value)


def human_bytes(value: int) -> str:
    """``60950432 -> '60.95 MB, 58.13 MiB'`` (two decimals; MB = 10^6, MiB = 2^20)."""
    for decimal_unit, binary_unit, power in (("GB", "GiB", 3), ("MB", "MiB", 2), ("kB", "KiB", 1)):
        if value >= 1000**power:
            return f"{value / 1000**power:.2f} {decimal_unit}, {value / 1024**power:.2f} {binary_unit}"
    return f"{value} B"
