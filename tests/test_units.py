"""Number formats and dtypes, against the CS231n table's printed figures."""

from __future__ import annotations

import pytest

from sphinx_cnntable.units import compact, dtype_name, exact, human_bytes, nbytes, number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (224 * 224 * 3, "150K"),
        (224 * 224 * 64, "3.2M"),
        (112 * 112 * 64, "800K"),
        (112 * 112 * 128, "1.6M"),
        (56 * 56 * 128, "400K"),
        (56 * 56 * 256, "800K"),
        (14 * 14 * 512, "100K"),
        (7 * 7 * 512, "25K"),
        (4096, "4096"),
        (1000, "1000"),
        (0, "0"),
        (138_357_544, "140M"),
        (15_470_264_320, "15G"),
        (999_999, "1M"),
        (10**18, "1000P"),
    ],
)
def test_compact_cs231n_style(value: int, text: str) -> None:
    assert compact(value) == text


def test_compact_precision_and_exact() -> None:
    assert compact(138_357_544, precision=4) == "138.4M"
    assert compact(15_237_608, precision=3) == "15.2M"
    assert exact(138_357_544) == "138,357,544"
    assert number(1728, "exact") == "1,728"
    assert number(3_211_264, "compact") == "3.2M"


def test_bytes_and_dtypes() -> None:
    assert nbytes(15_237_608, "float32") == 60_950_432
    assert human_bytes(60_950_432) == "60.95 MB, 58.13 MiB"
    assert nbytes(3, "int4") == 2
    assert nbytes(10, "bfloat16") == 20
    assert human_bytes(999) == "999 B"
    assert [dtype_name(name) for name in ("FP16", "half", "bf16", "double", "int8")] == [
        "float16", "float16", "bfloat16", "float64", "int8",
    ]
    with pytest.raises(ValueError, match="unknown dtype 'float7'"):
        dtype_name("float7")
