"""The ``cnn-breakdown`` directive in real Sphinx builds (reST and MyST)."""

from __future__ import annotations

from importlib import metadata

import os
import re
import shutil
from pathlib import Path

import pytest
from sphinx.util.console import strip_escape_sequences

from html_tables import ROOTS, read_tables

# Published VGG-16 figures (Simonyan & Zisserman 2014, configuration D; torchvision vgg16).
VGG16_PARAMS = "138,357,544"
VGG16_CONV1_1 = "1,792"  # 3*3*3*64 = 1,728 weights + 64 biases
VGG16_CONV3_1 = "295,168"  # first conv3-256: 3*3*128*256 + 256
VGG16_FC1 = "102,764,544"  # 7*7*512*4096 + 4096
VGG16_ACTIVATIONS = "15,237,608"
VGG16_MACS = "15,470,264,320"

SMALL = """
input 32x32x3
stem:
  conv3-16
  bn
  relu
conv3-32 x2
maxpool
fc-10
"""


def _directive(options: str = "", spec: str = SMALL, title: str = "Small") -> str:
    body = "\n".join("   " + line if line else "" for line in spec.strip("\n").splitlines())
    option_lines = "".join(f"   {line}\n" for line in options.strip().splitlines())
    return f"Page\n====\n\n.. cnn-breakdown:: {title}\n{option_lines}\n{body}\n"


def _html(app, name: str = "index") -> str:
    return (Path(app.outdir) / f"{name}.html").read_text(encoding="utf-8")


def _warnings(app) -> list[str]:
    text = strip_escape_sequences(app.warning.getvalue())
    return [line for line in text.splitlines() if "WARNING" in line or "ERROR" in line]


def _only_table(app):
    (table,) = [t for t in read_tables(_html(app)) if "cnntable" in t.classes]
    return table


# ----------------------------------------------------------------------------- HTML


@pytest.mark.sphinx("html", testroot="basic", freshenv=True)
def test_vgg16_html_figures(app) -> None:
    app.build()
    assert _warnings(app) == []
    vgg, from_file, nested = read_tables(_html(app))
    assert vgg.caption == "VGG-16 (configuration D)"
    assert vgg.attrs["id"] == "vgg16"
    assert {"cnntable", "longtable"} <= set(vgg.classes)
    assert vgg.headers == ["Layer", "Output shape", "Activations", "Params", "MACs"]
    assert vgg.cell("conv1_1", "Params") == VGG16_CONV1_1
    assert vgg.cell("conv1_1", "Output shape") == "224x224x64"
    assert vgg.cell("conv3_1", "Params") == VGG16_CONV3_1
    assert vgg.cell("fc1", "Params") == VGG16_FC1
    assert vgg.totals["Total params"] == VGG16_PARAMS
    assert vgg.totals["Activations (elements, input included)"] == VGG16_ACTIVATIONS
    assert vgg.totals["MACs (conv, fc and attention multiply-accumulates)"] == VGG16_MACS
    assert [row.texts for row in from_file.body] == [row.texts for row in vgg.body]
    assert nested.headers == ["Layer", "Output shape", "Params"]


@pytest.mark.sphinx("html", testroot="basic", freshenv=True)
def test_html_structure_and_classes(app) -> None:
    app.build()
    html = _html(app)
    vgg, _, nested = read_tables(html)
    assert len(vgg.head) == 1 and vgg.layers and vgg.totals
    conv = next(row for row in vgg.layers if row.cells[0].text == "conv1_1")
    assert {"cnntable-layer", "cnntable-depth-0"} <= set(conv.classes)
    assert [("cnntable-num" in cell.classes) for cell in conv.cells] == [False, False, True, True, True]
    assert ["cnntable-num" in cell.classes for cell in vgg.head[0].cells] == [False, False, True, True, True]
    assert conv.cells[3].titles == ["1,728 + 64 = 1,792"]
    totals = [row for row in vgg.body if "cnntable-total" in row.classes]
    assert "cnntable-total-first" in totals[0].classes
    assert len(totals[0].cells) == 2 and "cnntable-num" in totals[0].cells[1].classes  # label, value
    assert vgg.body.index(totals[0]) == len(vgg.layers)  # totals come last
    # the totals sit in their own two-column table after the scroll box, so no width hides them
    figure = re.search(r'<div class="cnntable-figure" id="vgg16">(.*?class="cnntable-totals.*?)</table>\n</div>', html, re.S)
    assert figure is not None
    inside = figure.group(1)
    assert inside.index('class="cnntable-caption') < inside.index('class="cnntable-cue"') < inside.index(
        'class="cnntable-scroll"') < inside.index('class="cnntable-totals')
    stem = next(row for row in nested.layers if row.cells[0].text == "stem")
    assert "cnntable-group" in stem.classes
    inner = next(row for row in nested.layers if row.cells[0].text.endswith("conv3-16"))
    assert "cnntable-depth-1" in inner.classes and inner.cells[0].text.startswith("\u00b7")
    assert any("cnntable-merge" in row.classes for row in nested.layers)
    assert re.search(r'<a class="reference internal" href="#vgg16"><span class="std std-numref">Table \d+</span>', html)
    assert '<link rel="stylesheet" type="text/css" href="_static/cnntable.css' in html
    assert (Path(app.outdir) / "_static" / "cnntable.css").is_file()


@pytest.mark.sphinx("html", testroot="basic", freshenv=True)
def test_myst_gives_the_same_figures(app) -> None:
    app.build()
    rst_tables = read_tables(_html(app))[:2]
    md_tables = read_tables(_html(app, "vgg-md"))
    assert len(md_tables) == 2
    for rst, md in zip(rst_tables, md_tables):
        assert md.caption == rst.caption
        assert md.headers == rst.headers
        assert [row.texts for row in md.body] == [row.texts for row in rst.body]
    assert md_tables[0].attrs["id"] == "vgg16-md"
    assert md_tables[0].totals["Total params"] == VGG16_PARAMS


# ----------------------------------------------------------------------------- other builders


@pytest.mark.sphinx("latex", testroot="basic", freshenv=True)
def test_latex_longtable(app) -> None:
    app.build()
    assert _warnings(app) == []
    tex = next(Path(app.outdir).glob("*.tex")).read_text(encoding="utf-8")
    # paragraph columns sized from the text, in the table's font size; numbers flush right
    spec = re.search(r"\\begin\{longtable\}\{(.*)\}\n", tex).group(1)
    columns = spec.strip("|").split("|")
    column = r">\{\\small\\ragged(left|right)\\arraybackslash\}\\X\{\d+\}\{10000\}"
    assert len(columns) == 5 and all(re.fullmatch(column, text) for text in columns)
    assert ["raggedleft" in column for column in columns] == [False, False, True, True, True]
    assert r"\endhead" in tex  # header repeated on every page
    for figure in (VGG16_CONV1_1, VGG16_CONV3_1, VGG16_FC1, VGG16_PARAMS, VGG16_MACS):
        assert figure in tex
    assert r"\label{\detokenize{index:vgg16}}" in tex
    assert not list(Path(app.outdir).rglob("cnntable.css"))
    # no row alone after a page break: the first row, and the last three rows, keep together (\\*)
    body = tex[tex.index(r"\endlastfoot"):tex.index(r"\end{longtable}")]
    ends = re.findall(r"\\\\\*?\n", body)
    assert len(ends) == 22 and ends[0] == ends[-3] == ends[-2] == "\\\\*\n"
    assert ends[1] == ends[-4] == ends[-1] == "\\\\\n"
    # the totals: a compact table of their own after the rows, values flush right (Sphinx
    # before 9 makes a table with a column spec a tabulary, 9 a tabular)
    after = tex[tex.index(r"\end{longtable}"):]
    totals = re.search(r"\\begin\{tabular[y]?\}(\{\\linewidth\})?\[t\]\{\|>\{\\small\\raggedright\\arraybackslash\}\\X\{\d+\}\{\d+\}"
                       r"\|>\{\\small\\raggedleft\\arraybackslash\}\\X\{\d+\}\{\d+\}\|\}", after)
    assert totals is not None and after.index("Total params") > totals.start()
    assert "60,950,432\u00a0B (60.95\u00a0MB, 58.13\u00a0MiB)" in after  # numbers and units joined (no-break spaces)


@pytest.mark.sphinx("text", testroot="basic", freshenv=True)
def test_text_output(app) -> None:
    app.build()
    assert _warnings(app) == []
    text = (Path(app.outdir) / "index.txt").read_text(encoding="utf-8")
    for figure in (VGG16_CONV1_1, VGG16_CONV3_1, VGG16_FC1, VGG16_PARAMS, VGG16_MACS, VGG16_ACTIVATIONS):
        assert figure in text
    # columns aligned, numbers flush right, headers wrapped at their spaces, nothing else wrapped
    assert re.search(r"\n {9}Output\nLayer {4}shape {8}Activations {7}Params {11}MACs\n-{61}\n", text)
    assert "\nconv1_1  224x224x64     3,211,264        1,792     86,704,128\n" in text
    assert "\nmaxpool  7x7x512           25,088            0              0\n" in text
    assert "\nTotal params:                                            138,357,544\n" in text
    assert "\nMACs (conv, fc and attention multiply-accumulates):   15,470,264,320\n" in text
    assert "\nActivation memory (float32):                              60,950,432 B (60.95 MB, 58.13 MiB)\n" in text
    assert re.search(r"\n  conv3-16 ", text)  # nested rows indented
    assert "\n**stem**" in text  # a group's name in bold markers, on one line


@pytest.mark.parametrize("buildername", ["man", "texinfo", "singlehtml", "dirhtml", "xml", "epub"])
def test_every_builder_builds_without_warnings(make_app, tmp_path: Path, buildername: str) -> None:
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-basic", srcdir)
    if buildername == "epub":
        (srcdir / "conf.py").write_text((srcdir / "conf.py").read_text() + "version = '1'\ncopyright = 'x'\n")
    app = make_app(buildername, srcdir=srcdir, builddir=tmp_path / "out", freshenv=True)
    app.build()
    assert _warnings(app) == []
    written = "".join(p.read_text(encoding="utf-8", errors="replace") for p in Path(app.outdir).rglob("*") if p.is_file()
                      and p.suffix in {".1", ".texi", ".html", ".xhtml", ".xml"})
    assert VGG16_PARAMS in written


# ----------------------------------------------------------------------------- options


def test_option_input(project) -> None:
    table = _only_table(project(_directive(":input: 64x64x3")))
    assert table.cell("input", "Output shape") == "64x64x3"
    assert table.cell("fc-10", "Params") == f"{32 * 32 * 32 * 10 + 10:,}"


def test_option_name_and_numref(project) -> None:
    text = _directive(":name: small") + "\nSee :numref:`small` and :ref:`small`.\n"
    app = project(text)
    assert _warnings(app) == []
    html = _html(app)
    assert _only_table(app).attrs["id"] == "small"
    assert '<a class="reference internal" href="#small"><span class="std std-numref">Table 1</span>' in html
    assert '<span class="std std-ref">Small</span>' in html


def test_option_class(project) -> None:
    classes = _only_table(project(_directive(":class: wide striped"))).classes
    assert {"wide", "striped", "cnntable", "longtable"} <= set(classes)


def test_option_bias(project) -> None:
    table = _only_table(project(_directive(":bias: no")))
    conv = next(row for row in table.layers if row.cells[0].text.endswith("conv3-16"))
    assert conv.cells[3].text == "432"  # 3*3*3*16, no biases
    with_bias = _only_table(project(_directive(":bias: yes")))
    conv = next(row for row in with_bias.layers if row.cells[0].text.endswith("conv3-16"))
    assert conv.cells[3].text == "448"


def test_option_dtype(project) -> None:
    table = _only_table(project(_directive(":columns: name, activations, memory\n:dtype: float16")))
    assert table.headers == ["Layer", "Activations", "Memory (float16, B)"]
    assert table.cell("input", "Memory (float16, B)") == f"{32 * 32 * 3 * 2:,}"
    assert "Activation memory (float16)" in table.totals


def test_option_columns(project) -> None:
    table = _only_table(project(_directive(":columns: name, layer, weights, biases, rf")))
    assert table.headers == ["Layer", "Type", "Weights", "Biases", "Receptive field"]
    assert table.cell("input", "Receptive field") == "1"


def test_option_formulas(project) -> None:
    table = _only_table(project(_directive(":formulas:")))
    conv = next(row for row in table.layers if row.cells[0].text.endswith("conv3-16"))
    assert conv.cells[3].text == "432 + 16 = 448"
    assert all(not cell.titles for row in table.body for cell in row.cells)
    plain = _only_table(project(_directive("")))
    conv = next(row for row in plain.layers if row.cells[0].text.endswith("conv3-16"))
    assert conv.cells[3].text == "448" and conv.cells[3].titles == ["432 + 16 = 448"]


def test_option_numbers(project) -> None:
    table = _only_table(project(_directive(":numbers: compact")))
    assert table.cell("input", "Activations") == "3072"
    assert table.cell("fc-10", "Params") == "82K"  # 81,930
    mixed = _only_table(project(_directive(":numbers: exact, params=compact")))
    assert mixed.cell("fc-10", "Params") == "82K"
    assert mixed.cell("fc-10", "MACs") == "81,920"


def test_option_precision(project) -> None:
    table = _only_table(project(_directive(":numbers: compact\n:precision: 3")))
    assert table.cell("fc-10", "Params") == "81.9K"  # 81,930


def test_option_fold(project) -> None:
    names = [row.cells[0].text for row in _only_table(project(_directive(":fold:"))).layers]
    assert "conv3-32 x 2" in names and names.count("conv3-32") == 0
    unfolded = [row.cells[0].text for row in _only_table(project(_directive(""))).layers]
    assert unfolded.count("conv3-32") == 2


def test_option_hide_empty(project) -> None:
    names = [row.cells[0].text for row in _only_table(project(_directive(":hide-empty:"))).layers]
    assert "input" not in names and "maxpool" not in names
    assert not any(name.endswith("relu") for name in names)
    assert "fc-10" in names


def test_option_depth(project) -> None:
    names = [row.cells[0].text for row in _only_table(project(_directive(":depth: 1"))).layers]
    assert "stem" in names and not any("\u00b7" in name for name in names)


def test_option_no_totals(project) -> None:
    table = _only_table(project(_directive(":no-totals:")))
    assert table.totals == {} and table.layers


def test_option_chart_is_accepted(project) -> None:
    app = project(_directive(":chart: params, macs"))
    assert _warnings(app) == []
    assert _only_table(app).totals


def test_flags_accept_yes_and_no(project) -> None:
    table = _only_table(project(_directive(":no-totals: no\n:fold: yes")))
    assert table.totals and any(row.cells[0].text == "conv3-32 x 2" for row in table.layers)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (":input: banana", ":input:"),
        (":bias: maybe", ":bias: expected yes or no"),
        (":dtype: float7", ":dtype: unknown dtype"),
        (":columns: name, flop", ":columns: unknown column"),
        (":columns: " + ", ".join(["name"] * 1000), ":columns: column 'name' is given twice"),  # was accepted
        (":columns: name, shape, output", ":columns: column 'output' is given twice (as 'shape')"),
        (":numbers: roughly", ":numbers: unknown number format"),
        (":precision: 0", ":precision: expected a whole number from 1 to 20"),
        (":precision: two", ":precision: expected a whole number"),
        (":depth: -1", ":depth: expected a whole number 1 or more"),
        (":formulas: please", ":formulas: expected no value"),
        (":file:", ":file: needs a path"),
    ],
)
def test_bad_option_warns_at_the_directive_line(project, option: str, message: str) -> None:
    app = project(_directive(option, spec="" if option == ":file:" else SMALL))
    (warning,) = _warnings(app)
    assert warning.startswith(f"{Path(app.srcdir) / 'index.rst'}:4: WARNING: cnn-breakdown: ")
    assert message in warning and warning.endswith("[cnntable.option]")
    assert read_tables(_html(app)) == []


# ----------------------------------------------------------------------------- error locations

BAD_SPEC = """input 32x32x3
conv3-16

relu
conv3-16 frobnicate=1
fc-10"""  # the 5th line is wrong


def _spec_warning(app, source: str, line: int) -> str:
    (warning,) = _warnings(app)
    assert warning.startswith(f"{Path(app.srcdir) / source}:{line}: WARNING: cnn-breakdown: conv3-16: unknown keyword")
    assert warning.endswith("[cnntable.spec]")
    return warning


def test_error_location_rst(project) -> None:
    app = project(_directive(":columns: name, params\n:numbers: exact", spec=BAD_SPEC))
    # 1 Page, 2 ====, 3 blank, 4 directive, 5-6 options, 7 blank, 8 spec line 1
    _spec_warning(app, "index.rst", 12)
    assert read_tables(_html(app)) == []


def test_error_location_rst_nested_and_included(project) -> None:
    nested = "Page\n====\n\n.. note::\n\n   .. cnn-breakdown::\n      :numbers: exact\n\n" + "".join(
        f"      {line}\n" if line else "\n" for line in BAD_SPEC.splitlines()
    )
    _spec_warning(project(nested), "index.rst", 13)
    included = "Page\n====\n\nText.\n\n.. include:: part.txt\n"
    part = "Intro.\n\n" + _directive(":numbers: exact", spec=BAD_SPEC).split("\n", 3)[3]
    _spec_warning(project(included, files={"part.txt": part}), "part.txt", 10)


def test_error_location_included_is_absolute(project) -> None:
    """docutils names an included file relative to the working directory; every warning
    names it by its absolute path, wherever the project and the working directory are."""
    included = "Page\n====\n\n.. include:: sub/part.txt\n"
    part = "Intro.\n\n.. cnn-breakdown::\n   :depth: zero\n\n   input 8x8x3\n\nSee :cnn:`broken`.\n"
    app = project(included, files={"sub/part.txt": part})
    source = Path(app.srcdir) / "sub" / "part.txt"
    warnings = _warnings(app)
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(f"{source}:3: WARNING: cnn-breakdown: :depth: expected a whole number"), warnings
    assert warnings[1].startswith(f"{source}:8: WARNING: cnn: 'broken': write BREAKDOWN"), warnings


MYST_CASES = {
    "options as :key: lines": (
        "# Page\n\n```{cnn-breakdown} Bad\n:columns: name, params\n:numbers: exact\n\n" + BAD_SPEC + "\n```\n",
        11,
    ),
    "options as yaml block": (
        "# Page\n\n```{cnn-breakdown} Bad\n---\ncolumns: name, params\nnumbers: exact\n---\n" + BAD_SPEC + "\n```\n",
        12,
    ),
    "yaml block then blank line": (
        "# Page\n\n```{cnn-breakdown} Bad\n---\ncolumns: name, params\n---\n\n" + BAD_SPEC + "\n```\n",
        12,
    ),
    "no options": ("# Page\n\n```{cnn-breakdown}\n" + BAD_SPEC + "\n```\n", 8),
    "colon fence inside a note": (
        "# Page\n\n::::{note}\nText.\n\n:::{cnn-breakdown} Bad\n:numbers: exact\n\n" + BAD_SPEC + "\n:::\n::::\n",
        13,
    ),
}


@pytest.mark.parametrize("case", MYST_CASES)
def test_error_location_myst(project, case: str) -> None:
    text, line = MYST_CASES[case]
    app = project(text, md=True, conf='myst_enable_extensions = ["colon_fence"]\n')
    _spec_warning(app, "index.md", line)
    assert text.splitlines()[line - 1] == "conv3-16 frobnicate=1"


def test_error_location_file(project) -> None:
    app = project(_directive(":file: specs/bad.cnn", spec=""), files={"specs/bad.cnn": BAD_SPEC + "\n"})
    _spec_warning(app, "specs/bad.cnn", 5)


def test_suppress_warnings(project) -> None:
    app = project(_directive("", spec=BAD_SPEC) + "\nAfter the table.\n", conf='suppress_warnings = ["cnntable.spec"]\n')
    assert _warnings(app) == []
    html = _html(app)
    assert "After the table." in html and read_tables(html) == []


def test_keep_warnings_shows_an_error_paragraph(project) -> None:
    app = project(_directive("", spec=BAD_SPEC), conf="keep_warnings = True\n")
    assert len(_warnings(app)) == 1
    assert re.search(r'<p class="cnntable-error">cnn-breakdown: conv3-16: unknown keyword', _html(app))


def test_engine_limit_is_a_warning_not_a_traceback(project) -> None:
    app = project(_directive("", spec="input 8x8x3\nrepeat 99999999:\n  relu"))
    (warning,) = _warnings(app)
    assert f"{Path(app.srcdir) / 'index.rst'}:7: WARNING: cnn-breakdown:" in warning


# ----------------------------------------------------------------------------- :file:


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "spec file 'specs/net.cnn' not found"),
        ({"specs/net.cnn/x": "input 8x8x3"}, "spec file 'specs/net.cnn' is not a file"),
        ({"specs/net.cnn": b"input 8x8x3\nconv3-8 \xff\n"}, "spec file 'specs/net.cnn' is not UTF-8"),
    ],
)
def test_file_problems(project, files: dict, message: str) -> None:
    app = project(_directive(":file: specs/net.cnn", spec=""), files=files)
    (warning,) = _warnings(app)
    assert warning.startswith(f"{Path(app.srcdir) / 'index.rst'}:4: WARNING: cnn-breakdown: {message}")
    assert warning.endswith("[cnntable.file]")


def test_file_over_the_size_limit(project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sphinx_cnntable.directive.MAX_SPEC_BYTES", 16)
    app = project(_directive(":file: net.cnn", spec=""), files={"net.cnn": "input 8x8x3\nconv3-8\nrelu\n"})
    (warning,) = _warnings(app)
    assert "spec file 'net.cnn' is larger than the limit of 16 bytes" in warning


def test_file_and_content_together(project) -> None:
    app = project(_directive(":file: net.cnn"), files={"net.cnn": SMALL})
    (warning,) = _warnings(app)
    assert ":4: WARNING: cnn-breakdown: give the spec as content or in :file:, not both" in warning
    assert warning.endswith("[cnntable.option]")


def test_no_spec_at_all(project) -> None:
    (warning,) = _warnings(project(_directive("", spec="")))
    assert ":4: WARNING: cnn-breakdown: no spec" in warning


def test_file_relative_to_the_document(project) -> None:
    text = "Page\n====\n\n.. toctree::\n\n   sub/page\n"
    page = _directive(":file: net.cnn", spec="")
    app = project(text, files={"sub/page.rst": page, "sub/net.cnn": SMALL})
    assert _warnings(app) == []
    (table,) = read_tables(_html(app, "sub/page"))
    assert table.cell("fc-10", "Params") == "81,930"  # 16*16*32*10 + 10 (/ in :file: would be the source dir)


SECRET = "input 8x8x3\nTOPSECRET-4f2a\nroot: x: 0\n"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the test project's source folder and project (a sibling of it)."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.cnn").write_text(SECRET, encoding="utf-8")
    return folder


def _secret_kept(app) -> bool:
    text = app.warning.getvalue() + "".join(p.read_text(encoding="utf-8", errors="replace") for p in Path(app.outdir).rglob("*.html"))
    return "TOPSECRET" in text or "'root'" in text


def test_regression_file_outside_the_project_is_refused(project, outside: Path) -> None:
    # :file: used to read any file, and its content came back in the warning and the HTML
    src_to_secret = "../../" + outside.name + "/secret.cnn"  # tmp_path/src -> tmp_path's sibling
    app = project(_directive(f":file: {src_to_secret}", spec=""), conf="keep_warnings = True\n")
    (warning,) = _warnings(app)
    assert warning.startswith(f"{Path(app.srcdir) / 'index.rst'}:4: WARNING: cnn-breakdown: spec file '../../{outside.name}/secret.cnn'")
    assert "is outside the folders :file: may read" in warning and "cnntable_file_roots" in warning
    assert warning.endswith("[cnntable.file]")
    assert not _secret_kept(app)


def test_regression_file_under_etc_is_refused(project) -> None:
    app = project(_directive(":file: " + "../" * 40 + "etc/passwd", spec=""), conf="keep_warnings = True\n")
    (warning,) = _warnings(app)
    assert "etc/passwd' is outside the folders :file: may read" in warning
    assert not _secret_kept(app)


def test_file_symlink_out_of_the_project_is_refused(project, outside: Path, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "net.cnn").symlink_to(outside / "secret.cnn")
    app = project(_directive(":file: net.cnn", spec=""), conf="keep_warnings = True\n")
    (warning,) = _warnings(app)
    assert f"spec file 'net.cnn' ({outside / 'secret.cnn'}) is outside the folders :file: may read" in warning
    assert not _secret_kept(app)


def test_regression_file_symlink_loop_cannot_be_read(project, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.cnn").symlink_to(tmp_path / "src" / "b.cnn")
    (tmp_path / "src" / "b.cnn").symlink_to(tmp_path / "src" / "a.cnn")
    app = project(_directive(":file: a.cnn", spec=""))
    (warning,) = _warnings(app)
    assert ":4: WARNING: cnn-breakdown: cannot read spec file 'a.cnn': " in warning
    assert "report this bug" not in warning and warning.endswith("[cnntable.file]")


def test_file_roots_widen_the_allowed_folders(project, outside: Path, tmp_path: Path) -> None:
    (outside / "net.cnn").write_text(SMALL, encoding="utf-8")
    conf = f"cnntable_file_roots = [{os.path.relpath(outside, tmp_path / 'src')!r}]\n"
    app = project(_directive(f":file: ../../{outside.name}/net.cnn", spec=""), conf=conf)
    assert _warnings(app) == []
    assert _only_table(app).cell("fc-10", "Params") == "81,930"


def test_file_from_the_project_above_the_source_folder(make_app, tmp_path: Path, outside: Path) -> None:
    project_dir = tmp_path / "proj"
    (project_dir / "docs").mkdir(parents=True)
    (project_dir / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (project_dir / "specs").mkdir()
    (project_dir / "specs" / "net.cnn").write_text(SMALL, encoding="utf-8")
    (project_dir / "docs" / "conf.py").write_text('extensions = ["sphinx_cnntable"]\n', encoding="utf-8")
    page = _directive(":file: ../specs/net.cnn", spec="") + "\n" + _directive(f":file: ../../../{outside.name}/secret.cnn", spec="", title="Other")
    (project_dir / "docs" / "index.rst").write_text(page, encoding="utf-8")
    app = make_app("html", srcdir=project_dir / "docs", freshenv=True)
    app.build()
    (warning,) = _warnings(app)
    assert f"secret.cnn' is outside the folders :file: may read ({project_dir / 'docs'}, {project_dir})" in warning
    (table,) = [t for t in read_tables(_html(app)) if "cnntable" in t.classes]
    assert table.cell("fc-10", "Params") == "81,930"


def test_file_with_a_leading_slash_is_relative_to_the_source_folder(project) -> None:
    text = "Page\n====\n\n.. toctree::\n\n   sub/page\n"
    page = _directive(":file: /specs/net.cnn", spec="") + "\n" + _directive(":file: /../../../etc/passwd", spec="", title="Up")
    app = project(text, files={"sub/page.rst": page, "specs/net.cnn": SMALL})
    (warning,) = _warnings(app)
    assert "sub/page.rst:12: WARNING: cnn-breakdown: spec file '../../../etc/passwd' is outside the folders" in warning
    (table,) = [t for t in read_tables(_html(app, "sub/page")) if "cnntable" in t.classes]
    assert table.cell("fc-10", "Params") == "81,930"


def test_file_without_a_project_marker_reads_the_source_folder_only(project, tmp_path: Path) -> None:
    # no .git, pyproject.toml... above the source folder: its parent (a home folder, /tmp) is not the project
    (tmp_path / "next-door.cnn").write_text(SMALL, encoding="utf-8")
    app = project(_directive(":file: ../next-door.cnn", spec=""))
    (warning,) = _warnings(app)
    assert f"spec file '../next-door.cnn' is outside the folders :file: may read ({tmp_path / 'src'})" in warning


def test_editing_the_file_rebuilds_the_page(make_app, tmp_path: Path) -> None:
    srcdir, outdir = tmp_path / "src", tmp_path / "out"
    shutil.copytree(ROOTS / "test-basic", srcdir)
    first = make_app("html", srcdir=srcdir, builddir=outdir)
    first.build()
    first.cleanup()
    assert read_tables(_html(first))[1].totals["Total params"] == VGG16_PARAMS
    spec = srcdir / "specs" / "vgg16.cnn"
    spec.write_text(spec.read_text().replace("fc3: fc-1000", "fc3: fc-10"), encoding="utf-8")
    second = make_app("html", srcdir=srcdir, builddir=outdir)
    second.build()
    second.cleanup()
    assert "0 added, 2 changed, 0 removed" in second.status.getvalue()
    expected = f"{138_357_544 - 4_097_000 + 4096 * 10 + 10:,}"
    assert read_tables(_html(second))[1].totals["Total params"] == expected
    assert read_tables(_html(second, "vgg-md"))[1].totals["Total params"] == expected
    assert read_tables(_html(second))[0].totals["Total params"] == VGG16_PARAMS
    third = make_app("html", srcdir=srcdir, builddir=outdir)
    third.build()
    third.cleanup()
    assert "0 added, 0 changed, 0 removed" in third.status.getvalue()


# ----------------------------------------------------------------------------- parallel


def test_parallel_build_matches_serial(make_app, tmp_path: Path) -> None:
    pages: dict[str, dict[str, str]] = {}
    for parallel in (0, 2):
        srcdir = tmp_path / f"src{parallel}"
        shutil.copytree(ROOTS / "test-parallel", srcdir)
        app = make_app("html", srcdir=srcdir, builddir=tmp_path / f"out{parallel}", parallel=parallel, freshenv=True)
        app.build()
        app.cleanup()
        assert _warnings(app) == []
        if parallel:  # the reading really was split between workers
            assert re.search(r"reading sources\.\.\. \[ *\d+%\] \S+ \.\. \S+", strip_escape_sequences(app.status.getvalue()))
        pages[str(parallel)] = {p.name: p.read_text(encoding="utf-8") for p in Path(app.outdir).glob("*.html")}
    assert pages["0"].keys() == pages["2"].keys() and len(pages["0"]) >= 9
    for name, html in pages["0"].items():
        assert pages["2"][name] == html, name
    assert "Table 4" in pages["0"]["index.html"]


_MYST_MAJOR = int(metadata.version("myst-parser").split(".")[0])


def test_error_location_myst_eval_rst_and_include(project) -> None:
    text = "# Page\n\n```{eval-rst}\nSome reST.\n\n.. cnn-breakdown:: X\n\n" + "".join(
        f"   {line}\n" if line else "\n" for line in BAD_SPEC.splitlines()
    ) + "```\n\n```{include} part.inc.md\n```\n"
    part = "Para.\n\n```{cnn-breakdown} Y\n:numbers: exact\n\n" + BAD_SPEC + "\n```\n"
    app = project(text, md=True, files={"part.inc.md": part}, conf='exclude_patterns = ["*.inc.md"]\n')
    first, second = _warnings(app)
    assert first.startswith(f"{Path(app.srcdir) / 'index.md'}:12: WARNING: cnn-breakdown: conv3-16: unknown keyword")
    if _MYST_MAJOR < 5:
        pytest.xfail("myst-parser 4 reports directive lines in {include}d files one line late")
    assert second.startswith(f"{Path(app.srcdir) / 'part.inc.md'}:10: WARNING: cnn-breakdown: conv3-16: unknown keyword")
    assert text.splitlines()[11] == part.splitlines()[9].join(["   ", ""])
