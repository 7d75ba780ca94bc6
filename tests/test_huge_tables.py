"""Tables over ``cnntable_max_rows``: folded to the deepest depth that fits, then the
middle rows elided; figures and totals stay exact, and the build says so at the line.

The expected figures are worked out by hand: ``relu`` on 8x8x3 keeps 192 activations
and has no parameters; ``fc-10`` on 8x8x3 has 8*8*3*10 + 10 = 1,930 parameters and
1,920 MACs.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sphinx.util.console import strip_escape_sequences

from html_tables import read_tables


def _page(spec: str, options: str = "") -> str:
    body = "\n".join(f"   {line}" for line in spec.strip("\n").splitlines())
    return f"Page\n====\n\n.. cnn-breakdown:: Huge\n   :name: huge\n{options}\n{body}\n\nParams: :cnn:`huge:params`.\n"


NESTED = """
input 8x8x3
stage: repeat 3:
  repeat 10:
    relu
    relu
fc-10
"""
# rows: input, stage (group), 3 x (#i group, 10 x (#j group, relu, relu)), fc-10:
# depth < 1: 3 rows; < 2: 6; < 3: 36; all: 3 + 3 + 30 + 60 = 96.


def _warnings(app: Any) -> str:
    return strip_escape_sequences(app.warning.getvalue())


def _status(app: Any) -> str:
    return strip_escape_sequences(app.status.getvalue())


def _html(app: Any) -> str:
    return (Path(app.outdir) / "index.html").read_text(encoding="utf-8")


def test_folds_to_the_deepest_depth_that_fits(project: Any) -> None:
    app = project(_page(NESTED), conf="cnntable_max_rows = 40\n")
    (table,) = read_tables(_html(app))
    assert len(table.layers) == 36  # depth 3 has 36 rows, all of them 96
    assert {row.classes[1] for row in table.layers} == {"cnntable-depth-0", "cnntable-depth-1", "cnntable-depth-2"}
    assert table.totals["Total params"] == "1,930"
    assert table.totals["Activations (elements, input included)"] == f"{192 * 61 + 10:,}"
    assert table.cell("stage", "Activations") == f"{192 * 60:,}"
    assert "WARNING" not in _warnings(app), _warnings(app)
    location = re.escape(str(Path(app.srcdir) / "index.rst")) + r":4: "
    assert re.search(location + r"cnn-breakdown: 96 rows, over cnntable_max_rows = 40: drawn to depth 3", _status(app))
    assert "folded into their group rows (the full table has 96 rows)" in _html(app)
    assert re.search(r'<span class="cnn-figure">1,930</span>', _html(app))


def test_smaller_limit_folds_further_and_depth_option_counts(project: Any) -> None:
    app = project(_page(NESTED, "   :depth: 3\n"), conf="cnntable_max_rows = 5\n")
    (table,) = read_tables(_html(app))
    assert [row.cells[0].text.lstrip("\u00b7\u00a0") for row in table.layers] == ["input", "stage", "fc-10"]
    assert table.cell("stage", "Activations") == f"{192 * 60:,}"
    assert "drawn to depth 1" in _status(app)


def test_under_the_limit_nothing_changes(project: Any) -> None:
    app = project(_page(NESTED), conf="cnntable_max_rows = 96\n")
    (table,) = read_tables(_html(app))
    assert len(table.layers) == 96
    assert "cnntable_max_rows" not in _status(app) + _warnings(app)
    assert "cnntable-note" not in _html(app)


def test_no_limit(project: Any) -> None:
    app = project(_page(NESTED), conf="cnntable_max_rows = None\n")
    (table,) = read_tables(_html(app))
    assert len(table.layers) == 96


def test_flat_table_elides_its_middle_rows_with_a_located_warning(project: Any) -> None:
    spec = "input 8x8x3\n" + "relu\n" * 50 + "fc-10\n"  # 52 rows, all at depth 0
    app = project(_page(spec, "   :columns: name, activations, params, macs\n"), conf="cnntable_max_rows = 20\n")
    (table,) = read_tables(_html(app))
    assert len(table.layers) == 20  # 9 first rows, the elision row, 10 last rows
    names = [row.cells[0].text for row in table.layers]
    assert names[:2] == ["input", "relu"] and names[-1] == "fc-10"
    # rows 10..42 are left out: spec lines 10..42 (the 9th to the 41st relu)
    assert names[9] == "\u2026 33 rows not shown (lines 10-42)"
    assert table.layers[9].cells[1].text == f"{33 * 192:,}"
    assert "cnntable-elided" in table.layers[9].classes
    activations = sum(int(row.cells[1].text.replace(",", "")) for row in table.layers)
    assert activations == 192 * 51 + 10 == int(table.totals["Activations (elements, input included)"].replace(",", ""))
    assert table.totals["Total params"] == "1,930"
    assert table.totals["MACs (conv, fc and attention multiply-accumulates)"] == "1,920"
    pattern = (re.escape(str(Path(app.srcdir) / "index.rst")) + r":4: WARNING: cnn-breakdown: 52 rows, over "
               r"cnntable_max_rows = 20 even at depth 1: 33 rows in the middle drawn as one row of their sums "
               r"\[cnntable\.rows\]")
    assert re.search(pattern, _warnings(app)), _warnings(app)


def test_chart_of_a_folded_table_draws_the_folded_rows(project: Any) -> None:
    app = project(_page(NESTED, "   :chart: memory\n"), conf="cnntable_max_rows = 5\n")
    svg = re.search(r"<svg.*?</svg>", _html(app), re.S)
    assert svg is not None
    labels = re.findall(r'class="cnntable-chart-label"[^>]*><title>([^<]*)</title>', svg.group(0))
    assert labels == ["input", "stage", "fc-10"]


def test_chart_of_a_flat_table_elides_too(project: Any) -> None:
    spec = "input 8x8x3\n" + "relu\n" * 50 + "fc-10\n"
    app = project(_page(spec, "   :chart: memory\n"), conf="cnntable_max_rows = 20\n")
    svg = re.search(r"<svg.*?</svg>", _html(app), re.S)
    assert svg is not None
    labels = re.findall(r'class="cnntable-chart-label"[^>]*><title>([^<]*)</title>', svg.group(0))
    assert len(labels) == 20 and labels[9] == "\u2026 33 rows"
    # each bar's share stays exact: the elided bar holds 33 of 52 rows' memory, 33 * 768 B of 51 * 768 B + fc's 40 B
    assert re.search(r"\u2026 33 rows: 25,344 activation memory \(64\.6%\)", svg.group(0))


@pytest.mark.slow
@pytest.mark.parametrize("flat", [False, True], ids=["repeat", "flat"])
def test_hundred_thousand_rows_build_quickly(project: Any, flat: bool) -> None:
    """``repeat 100000: relu`` (and 100,000 relu lines) with the default limit: a table
    a reader can use, in seconds (it took 4 min 37 s and 3.5 GB before the limit; the
    time and memory are measured by benchmarks/huge_table.py, see docs/performance.rst)."""
    spec = "input 8x8x3\n" + ("relu\n" * 100_000 if flat else "repeat 100000:\n  relu\n")
    start = time.perf_counter()
    app = project(_page(spec))
    seconds = time.perf_counter() - start
    (table,) = read_tables(_html(app))
    assert len(table.layers) == (2_000 if flat else 2)
    assert table.totals["Activations (elements, input included)"] == f"{192 * 100_001:,}"
    assert seconds < 60, seconds  # generous: a shared machine; about 10 s when idle
