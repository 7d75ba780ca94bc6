"""``cnn-diagram`` and ``cnntable diagram``: the layout (no overlap, joins between the
right rows and around every box), escaping, TikZ that compiles, and real builds."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET

from sphinx_cnntable.cli import main as cli_main
from sphinx_cnntable.diagram import Diagram, layout
from sphinx_cnntable.diagram.layout import Box, DiagramError, main_path
from sphinx_cnntable.diagram.svg import render_svg
from sphinx_cnntable.diagram.tikz import render_tikz, tex_escape
from sphinx_cnntable.engine import Breakdown, analyse

ROOTS = Path(__file__).parent / "roots"
GALLERY = Path(__file__).parent.parent / "docs" / "gallery" / "specs"
SVG = "{http://www.w3.org/2000/svg}"

DENSENET121 = """\
input 224x224x3
default conv bias=no
define dense:
  concat:
    branch: identity
    branch:
      bn
      relu
      conv1-128
      bn
      relu
      conv3-32 pad=1
define transition c:
  bn
  relu
  conv1-{c}
  avgpool2
conv7-64/2 pad=3
bn
relu
maxpool3/2 pad=1
block1: repeat 6: dense
transition 128
block2: repeat 12: dense
transition 256
block3: repeat 24: dense
transition 512
block4: repeat 16: dense
bn
relu
gap
fc-1000
"""

RESNET101 = """\
input 224x224x3
default conv bias=no
define bottleneck c stride=1:
  add:
    branch:
      conv1-{c}
      bn
      relu
      conv3-{c}/{stride} pad=1
      bn
      relu
      conv1-{4*c}
      bn
    branch:
      conv1-{4*c}/{stride}
      bn
define identity_block c:
  residual:
    conv1-{c}
    bn
    relu
    conv3-{c} pad=1
    bn
    relu
    conv1-{4*c}
    bn
conv7-64/2 pad=3
bn
relu
maxpool3/2 pad=1
bottleneck 64
relu
repeat 2:
  identity_block 64
  relu
bottleneck 128 stride=2
relu
repeat 3:
  identity_block 128
  relu
bottleneck 256 stride=2
relu
repeat 22:
  identity_block 256
  relu
bottleneck 512 stride=2
relu
repeat 2:
  identity_block 512
  relu
gap
fc-1000
"""

TINY = """\
input 32x32x3
conv3-16 pad=1
relu
residual:
  conv3-16 pad=1
  relu
  conv3-16 pad=1
gap
fc-10
"""

SKIPS = """\
input 32x32x8
enc1: conv3-8 pad=1
conv3-8 pad=1 stride=2
aux: side:
  gap
  fc-4
scale:
  gap
  fc-2
  relu
  fc-8
  sigmoid
upsample2
concat:
  branch:
    conv1x1-8
  branch:
    from enc1
"""


def _specs() -> dict[str, str]:
    specs = {path.stem: path.read_text(encoding="utf-8") for path in sorted(GALLERY.glob("*.cnn"))}
    specs.update(densenet121=DENSENET121, resnet101=RESNET101, tiny=TINY, skips=SKIPS)
    return specs


SPECS = _specs()


def _segments(points: tuple[tuple[float, float], ...]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return list(pairwise(points))


def _crosses(segment: tuple[tuple[float, float], tuple[float, float]], box: Box) -> bool:
    """Whether an axis-parallel segment enters the inside of ``box`` (touching its edge is not)."""
    (x1, y1), (x2, y2) = segment
    left, right, top, bottom = box.x, box.x + box.w, box.y, box.y + box.h
    if x1 == x2:
        low, high = sorted((y1, y2))
        return left < x1 < right and low < bottom and high > top
    assert y1 == y2, "joins are axis-parallel"
    low, high = sorted((x1, x2))
    return top < y1 < bottom and low < right and high > left


def _on_edge(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    inside_x = box.x - 0.01 <= x <= box.x + box.w + 0.01
    inside_y = box.y - 0.01 <= y <= box.y + box.h + 0.01
    on_x = min(abs(x - box.x), abs(x - box.x - box.w)) < 0.01
    on_y = min(abs(y - box.y), abs(y - box.y - box.h)) < 0.01
    return inside_x and inside_y and (on_x or on_y)


def check_geometry(diagram: Diagram) -> None:
    """No two boxes overlap; every join starts on its source's edge, ends on its target's
    and enters no box on the way; every box and join lies inside the picture."""
    boxes = diagram.boxes
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b), (a.label, b.label)
    by_row = {box.index: box for box in boxes if box.kind != "header"}
    for box in boxes:
        assert 0 <= box.x and box.x + box.w <= diagram.width + 0.01, box.label
        assert 0 <= box.y and box.y + box.h <= diagram.height + 0.01, box.label
    for join in diagram.joins:
        assert _on_edge(join.points[0], by_row[join.source])
        assert _on_edge(join.points[-1], by_row[join.target])
        for segment in _segments(join.points):
            for box in boxes:
                assert not _crosses(segment, box), (join, box.label)
        for x, y in join.points:
            assert 0 <= x <= diagram.width and 0 <= y <= diagram.height


def _names(breakdown: Breakdown, diagram: Diagram) -> set[tuple[str, str]]:
    rows = breakdown.rows
    return {(rows[join.source].name, rows[join.target].name) for join in diagram.joins}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("direction", ["down", "right"])
@pytest.mark.parametrize("depth", [None, 2])
def test_no_overlap_and_joins_go_around_boxes(name: str, direction: str, depth: int | None) -> None:
    diagram = layout(analyse(SPECS[name]), direction=direction, depth=depth, show=("params", "macs"), encode="macs")
    check_geometry(diagram)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_volumes_do_not_overlap(name: str) -> None:
    diagram = layout(analyse(SPECS[name]), style="volumes")
    check_geometry(diagram)
    xs = [box.x for box in diagram.boxes]
    assert xs == sorted(xs)


def test_large_networks_fit_without_folding() -> None:
    """DenseNet-121 (666 rows) and ResNet-101 (452 rows) draw every leaf row; the specs
    are the real networks (torchvision's published trainable parameter counts)."""
    for spec, trainable, rows in ((DENSENET121, 7_978_856, 666), (RESNET101, 44_549_160, 452)):
        breakdown = analyse(spec)
        assert breakdown.totals.trainable_params == trainable
        assert len(breakdown.rows) == rows
        leaves = [row for row in breakdown.rows if row.kind != "group"]
        diagram = layout(breakdown)
        assert not diagram.notes
        assert sum(box.kind != "header" for box in diagram.boxes) == len(leaves)


def test_too_many_boxes_fold_with_a_note() -> None:
    breakdown = analyse(DENSENET121)
    diagram = layout(breakdown, max_boxes=100)
    assert diagram.notes and diagram.notes[0].startswith("Shown to depth ")
    assert sum(box.kind != "header" for box in diagram.boxes) <= 100
    check_geometry(diagram)
    flat = analyse("input 8x8x3\nrepeat 300: relu\n".replace("repeat 300: relu", "\n".join(["relu"] * 300)))
    diagram = layout(flat, max_boxes=50)
    assert diagram.notes == ["Only the first 50 of 301 top-level rows are drawn."]
    assert len(diagram.boxes) == 50
    check_geometry(diagram)


def test_residual_joins() -> None:
    breakdown = analyse(TINY)
    diagram = layout(breakdown)
    rows = breakdown.rows
    joins = {(rows[j.source].line, rows[j.source].name, rows[j.target].name, j.routed) for j in diagram.joins}
    assert joins == {
        (1, "input", "conv3-16 pad=1", False),
        (2, "conv3-16 pad=1", "relu", False),
        (3, "relu", "conv3-16 pad=1", False),
        (5, "conv3-16 pad=1", "relu", False),
        (6, "relu", "conv3-16 pad=1", False),
        (7, "conv3-16 pad=1", "add", False),
        (3, "relu", "add", True),  # the skip
        (4, "add", "gap", False),
        (8, "gap", "fc-10", False),
    }


def test_named_skip_side_output_and_se_joins() -> None:
    breakdown = analyse(SKIPS)
    rows = breakdown.rows
    diagram = layout(breakdown)
    by_line = {(rows[j.source].line, rows[j.target].line) for j in diagram.joins}
    # the side block (lines 4-6) reads the stride-2 conv (line 3) and feeds nothing
    assert (3, 5) in by_line and not any(source in (5, 6) and target > 6 for source, target in by_line)
    # the SE block's gap reads the conv too, and its multiply reads the sigmoid and the conv
    multiply = next(index for index, row in enumerate(rows) if row.name == "multiply" and row.kind == "merge")
    assert sorted(rows[i].line for i in rows[multiply].inputs) == [3, 12]
    assert (3, 8) in by_line and (12, 7) in by_line and (3, 7) in by_line
    # from enc1: the concat's second operand is enc1 (line 2), drawn as a routed join
    concat = next(index for index, row in enumerate(rows) if row.name == "concat" and row.kind == "merge")
    assert [rows[i].name for i in rows[concat].inputs] == ["conv1x1-8", "enc1"]
    routed = {(rows[j.source].name, rows[j.target].name) for j in diagram.joins if j.routed}
    assert ("enc1", "concat") in routed
    assert [rows[i].name for i in main_path(breakdown)] == [
        "input", "enc1", "conv3-8 pad=1 stride=2", "multiply", "upsample2", "conv1x1-8", "concat"]


def test_collapsed_groups_carry_subtotals_and_joins() -> None:
    breakdown = analyse(TINY)
    diagram = layout(breakdown, depth=1)
    labels = [box.label for box in diagram.boxes]
    assert labels == ["input", "conv3-16 pad=1", "relu", "residual", "gap", "fc-10"]
    residual = diagram.boxes[3]
    assert residual.kind == "group" and "4640 params" in residual.detail  # 2 * (3*3*16*16 + 16)
    assert _names(breakdown, diagram) == {
        ("input", "conv3-16 pad=1"), ("conv3-16 pad=1", "relu"), ("relu", "residual"),
        ("residual", "gap"), ("gap", "fc-10")}


def test_same_spec_same_bytes() -> None:
    for name in ("googlenet", "unet", "skips"):
        first = render_svg(layout(analyse(SPECS[name]), encode="params"), "d")
        second = render_svg(layout(analyse(SPECS[name]), encode="params"), "d")
        assert first == second
        assert render_tikz(layout(analyse(SPECS[name]))) == render_tikz(layout(analyse(SPECS[name])))


def test_labels_are_escaped_in_svg() -> None:
    breakdown = analyse(TINY)
    breakdown.rows[1].name = "<script>alert(1)</script>"
    diagram = layout(breakdown, title='a "title" & <b>x</b>')
    svg = render_svg(diagram, "d")
    root = SafeET.fromstring(svg)
    assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
    texts = ["".join(text.itertext()) for text in root.iter(f"{SVG}text")]
    assert "<script>alert(1)</script>" in texts
    assert 'a "title" & <b>x</b>' in texts
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert any(t.startswith("<script>alert(1)</script>\nlayer: conv3-16 pad=1") for t in titles)


def test_tooltips_carry_the_rows_figures() -> None:
    diagram = layout(analyse(TINY))
    conv = diagram.boxes[1]
    # conv3-16 on 32x32x3: 3*3*3*16 + 16 = 448 params, 32*32*16*27 = 442,368 MACs,
    # 32*32*16 = 16,384 activations of 4 bytes = 65,536 bytes
    assert conv.tooltip == ("conv3-16 pad=1\noutput: 32x32x16\nparams: 448\nMACs: 442,368\n"
                            "activations: 16,384 (65.54 kB, 64.00 KiB float32)")


def test_bad_options() -> None:
    with pytest.raises(DiagramError, match="unknown style 'cubes'"):
        layout(analyse(TINY), style="cubes")
    with pytest.raises(DiagramError, match="unknown encoding"):
        layout(analyse(TINY), encode="flops")


def test_tex_escape() -> None:
    assert tex_escape("a_b & {c} $ # % ~ ^ \\") == (
        r"a\_b \& \{c\} \$ \# \% \textasciitilde{} \textasciicircum{} \textbackslash{}")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_tikz_with_latex_specials_compiles(tmp_path: Path) -> None:
    breakdown = analyse(TINY)
    breakdown.rows[1].name = "a_b & {c} $ # % ~ ^ \\ <script>"
    body = render_tikz(layout(breakdown, title="50% of $x_1$ & {y}", encode="params", show=("params",)))
    body += render_tikz(layout(analyse(SPECS["alexnet"]), style="volumes"))
    document = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                "\\usepackage{tikz}\n\\begin{document}\n" + body + "\\end{document}\n")
    (tmp_path / "d.tex").write_text(document, encoding="utf-8")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp_path,
                            check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "d.pdf").stat().st_size > 1000


def test_cli_writes_svg_and_tikz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "tiny.cnn"
    spec.write_text(TINY, encoding="utf-8")
    out = tmp_path / "tiny.svg"
    assert cli_main(["diagram", str(spec), "-o", str(out), "--show", "params"]) == 0
    root = SafeET.fromstring(out.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG}svg"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # a new file's mode, not mkstemp's 0o600
    assert out.read_text(encoding="utf-8") == render_svg(layout(analyse(TINY), show=("params",)), "cnndiagram") + "\n"
    tex = tmp_path / "tiny.tex"
    assert cli_main(["diagram", str(spec), "-o", str(tex)]) == 0
    assert tex.read_text(encoding="utf-8").startswith("\\begin{center}")
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 8x8x3\nconv3-x\n", encoding="utf-8")
    assert cli_main(["diagram", str(bad), "-o", str(out)]) == 1
    assert re.search(r"bad\.cnn:2: ", capsys.readouterr().err)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["diagram", str(spec), "--style", "cubes"])
    assert exit_info.value.code == 2
    assert not list(tmp_path.glob(".*.tmp"))


def test_readme_diagrams_are_current() -> None:
    """The SVGs the README shows are what ``cnntable diagram`` writes today."""
    folder = Path(__file__).parent.parent / "docs" / "_static" / "diagrams"
    cases = {
        "unet.svg": layout(analyse(SPECS["unet"]), depth=2, show=("params",), title="U-Net (milesial)"),
        "alexnet.svg": layout(analyse(SPECS["alexnet"]), style="volumes", title="AlexNet"),
    }
    for name, diagram in cases.items():
        assert (folder / name).read_text(encoding="utf-8") == render_svg(diagram, "cnndiagram") + "\n", name


# -- builds -------------------------------------------------------------------------


@pytest.fixture
def diagram_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-diagram", src)
    return src


def _svgs(text: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", text, flags=re.DOTALL)


@pytest.mark.parametrize("builder", ["html", "dirhtml", "singlehtml"])
def test_html_builders_inline_svg(make_app: Any, diagram_src: Path, builder: str) -> None:
    app = make_app(builder, srcdir=diagram_src, freshenv=True)
    app.build()
    assert app.warning.getvalue() == ""
    out = Path(app.outdir)
    pages = {
        "html": {"index": "index.html", "other": "other.html", "myst": "myst.html"},
        "dirhtml": {"index": "index.html", "other": "other/index.html", "myst": "myst/index.html"},
        "singlehtml": {"index": "index.html"},
    }[builder]
    texts = {name: (out / path).read_text(encoding="utf-8") for name, path in pages.items()}
    svgs = [svg for text in texts.values() for svg in _svgs(text) if "cnntable-diagram-svg" in svg]
    assert len(svgs) == 7
    for svg in svgs:
        SafeET.fromstring(svg)
        assert "<script" not in svg
    joined = "".join(texts.values())
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; $_%#{}~^\\" in joined
    assert 'class="cnntable-diagram"' in joined
    assert (out / "_static" / "cnntable.css").read_text(encoding="utf-8").count("--cnntable-diagram-box:") == 3


def test_text_builder_gets_a_summary(make_app: Any, diagram_src: Path) -> None:
    app = make_app("text", srcdir=diagram_src, freshenv=True)
    app.build()
    assert app.warning.getvalue() == ""
    text = (Path(app.outdir) / "index.txt").read_text(encoding="utf-8")
    assert "Diagram: 9 boxes, 1 skip or branch join; input 32x32x3, output 10." in text
    assert "Diagram: 8 feature maps; input 32x32x1, output 10." in text
    assert "<svg" not in text


def test_latex_builder_gets_tikz(make_app: Any, diagram_src: Path) -> None:
    app = make_app("latex", srcdir=diagram_src, freshenv=True)
    app.build()
    assert app.warning.getvalue() == ""
    tex = (Path(app.outdir) / "diagram.tex").read_text(encoding="utf-8")
    assert tex.count("\\begin{tikzpicture}") == 7
    assert "\\usepackage{tikz}" in tex
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        pytest.skip("latexmk/pdflatex are not installed")
    result = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "diagram.tex"],
                            cwd=app.outdir, check=False, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]


def test_warnings_are_located(make_app: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["sphinx_cnntable"]\n', encoding="utf-8")
    (src / "index.rst").write_text(
        "T\n=\n\n.. cnn-diagram::\n   :style: cubes\n\n   input 8x8x3\n\n"
        ".. cnn-diagram::\n\n   input 8x8x3\n   conv3-x\n\n"
        ".. cnn-diagram::\n   :name: nowhere\n",
        encoding="utf-8",
    )
    app = make_app("html", srcdir=src, freshenv=True)
    app.build()
    warnings = app.warning.getvalue()
    assert re.search(r"index\.rst:4: WARNING: cnn-diagram: unknown style 'cubes' \(one of flow, volumes\)", warnings)
    assert re.search(r"index\.rst:12: WARNING: cnn-diagram: ", warnings)
    assert re.search(r"index\.rst:\d+: WARNING: cnn-diagram: no cnn-breakdown named 'nowhere'", warnings)


def test_parallel_equals_serial(make_app: Any, tmp_path: Path) -> None:
    outputs = []
    for jobs in (1, 2):
        src = tmp_path / f"src{jobs}"
        shutil.copytree(ROOTS / "test-diagram", src)
        app = make_app("html", srcdir=src, freshenv=True, parallel=jobs)
        app.build()
        assert app.warning.getvalue() == ""
        outputs.append(Path(app.outdir))
        app.cleanup()
    for page in ("index.html", "other.html", "myst.html"):
        assert filecmp.cmp(outputs[0] / page, outputs[1] / page, shallow=False), page


def test_incremental_rebuild_redraws_a_named_tables_diagram(make_app: Any, tmp_path: Path) -> None:
    """Edit the table on index.rst: other.rst (unchanged, drawing it by name) is written
    again with the new shapes, as a fresh build writes it."""
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-diagram", src)
    first = make_app("html", srcdir=src, freshenv=True)
    first.build()
    other = Path(first.outdir) / "other.html"
    assert "32x32x16" in other.read_text(encoding="utf-8")
    index = src / "index.rst"
    text = index.read_text(encoding="utf-8").replace("conv3-16 pad=1", "conv3-24 pad=1", 1)
    text = text.replace("   residual:\n     conv3-16 pad=1\n     relu\n     conv3-16 pad=1",
                        "   residual:\n     conv3-24 pad=1\n     relu\n     conv3-24 pad=1")
    index.write_text(text, encoding="utf-8")
    later = index.stat().st_mtime + 5
    os.utime(index, (later, later))
    second = make_app("html", srcdir=src)
    second.build()
    incremental = other.read_text(encoding="utf-8")
    assert "32x32x24" in incremental
    fresh = make_app("html", srcdir=src, builddir=tmp_path / "fresh", freshenv=True)
    fresh.build()
    def unversioned(page: str) -> str:  # Sphinx 7 and 8 version a static file's link only once it is copied
        return re.sub(r"\?v=[0-9a-f]+", "", page)

    assert unversioned((Path(fresh.outdir) / "other.html").read_text(encoding="utf-8")) == unversioned(incremental)
