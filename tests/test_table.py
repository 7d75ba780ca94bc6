"""The render-neutral table model on VGG-16: the folded CS231n view, formulas, depth."""

from __future__ import annotations

from pathlib import Path

import pytest

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.table import TableOptions, build_table, column_keys, parse_numbers

DATA = Path(__file__).resolve().parent / "data"


def vgg(name: str = "vgg16_stages"):
    return analyse((DATA / f"{name}.cnn").read_text(encoding="utf-8"))


def test_folded_view_reproduces_the_cs231n_answer() -> None:
    table = build_table(vgg(), TableOptions(columns=("name", "params"), fold=True, hide_empty=True))
    layers = [(row.name, row.cells[1].text) for row in table.rows if row.kind != "group"]
    assert layers == [
        ("conv3-64 x 2", "38,720"),
        ("conv3-128 x 2", "221,440"),
        ("conv3-256 x 3", "1,475,328"),
        ("conv3-512 x 3", "5,899,776"),
        ("conv3-512 x 3", "7,079,424"),
        ("fc1", "102,764,544"),
        ("fc2", "16,781,312"),
        ("fc3", "4,097,000"),
    ]
    groups = [(row.name, row.cells[1].text) for row in table.rows if row.kind == "group"]
    assert groups == [("conv1", "38,720"), ("conv2", "221,440"), ("conv3", "1,475,328"),
                      ("conv4", "5,899,776"), ("conv5", "7,079,424")]
    totals = {line.key: line for line in table.totals}
    assert totals["params"].text == "138,357,544"
    assert totals["activation_bytes"].text == "60,950,432 B (60.95 MB, 58.13 MiB)"


def test_folded_cell_formula_lists_members() -> None:
    options = TableOptions(columns=("name", "params"), fold=True, hide_empty=True, formulas=True)
    row = next(r for r in build_table(vgg(), options).rows if r.name == "conv3-256 x 3")
    assert row.cells[1].text == "295,168 + 590,080 + 590,080 = 1,475,328"


def test_cs231n_memory_formulas() -> None:
    options = TableOptions(columns=("name", "activations", "weights"), numbers="compact", formulas=True)
    rows = build_table(vgg("vgg16_cs231n"), options).rows
    assert rows[0].cells[1].text == "224*224*3=150K"
    assert rows[1].cells[1].text == "224*224*64=3.2M"
    assert rows[1].cells[2].text == "(3*3*3)*64 = 1728"
    assert rows[-3].cells[2].text == "7*7*512*4096 = 100M"


def test_depth_and_number_options() -> None:
    options = TableOptions(columns=("name", "shape", "params"), depth=1, column_numbers=(("params", "compact"),))
    table = build_table(vgg(), options)
    assert [row.name for row in table.rows][:4] == ["input", "conv1", "pool1", "conv2"]
    assert table.rows[1].cells[2].text == "39K"  # 38,720 to two significant digits
    assert table.rows[1].cells[1].text == "224x224x64"
    assert parse_numbers("exact, activations=compact") == ("exact", (("activations", "compact"),))
    assert column_keys("name, output, mult-adds") == ["name", "shape", "macs"]
    with pytest.raises(ValueError, match="unknown column 'colour'"):
        column_keys("name, colour")


def test_flops_is_a_column_alias_as_in_charts() -> None:
    assert column_keys("name, flops, param") == ["name", "macs", "params"]
    assert column_keys("mac") == ["macs"]


def test_narrow_text_wraps_headers_and_puts_results_on_the_last_line() -> None:
    """Sphinx's text builder: ``Output shape`` wraps at its space, a shown formula keeps its
    result on the row's last line with the other cells, the receptive field is flush right."""
    from sphinx_cnntable.render_text import render_text

    spec = "input 32x32x3\nconv3-8\n"
    options = TableOptions(columns=("name", "shape", "params", "rf"), formulas=True, totals=False)
    lines = render_text(build_table(analyse(spec), options), narrow=True).splitlines()
    assert lines == [
        "         Output              Receptive",
        "Layer    shape       Params      field",
        "-" * 38,
        "input    32x32x3          0          1",
        "                  216 + 8 =",
        "conv3-8  32x32x8        224          3",
    ]
