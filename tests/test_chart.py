"""The ``:chart:`` option and :mod:`sphinx_cnntable.svg`: valid, escaped, accessible SVG in
HTML; a text summary (never an image) in LaTeX and text."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET

from sphinx_cnntable.engine import Row, analyse
from sphinx_cnntable.svg import chart_rows, metric_keys, render_chart, summary

ROOTS = Path(__file__).parent / "roots"
VGG16 = (Path(__file__).parent / "roots" / "test-chart" / "specs" / "vgg16.cnn").read_text(encoding="utf-8")
SVG = "{http://www.w3.org/2000/svg}"


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


def test_svg_is_valid_accessible_xml() -> None:
    svg = render_chart(analyse(VGG16), title="VGG-16", ident="c1")
    root = SafeET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").get("id") == "c1-title"
    assert root.find(f"{SVG}title").text == "VGG-16"
    desc = root.find(f"{SVG}desc").text
    assert desc.startswith("Largest by params: fc1 (74.3%), fc2 (12.1%), fc3 (3.0%).")
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(text.endswith("fc1") for text in texts) and "74.3%" in texts


def test_svg_escapes_labels_and_title() -> None:
    rows = [
        Row(name="<script>alert(1)</script>", kind="layer", layer="x", depth=0, line=1, output_shape=(4,), weights=30),
        Row(name='a "quoted" & <b>', kind="layer", layer="y", depth=0, line=2, output_shape=(4,), weights=10),
    ]
    svg = render_chart(rows, metrics=("params",), title='</title><script>alert("t")</script>', ident='x" onload="evil')
    assert "<script" not in svg and "onload=\"evil" not in svg
    root = SafeET.fromstring(svg)
    assert root.find(f"{SVG}title").text == '</title><script>alert("t")</script>'
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any("<script>alert(1)</script>" in label for label in labels)
    assert "75.0%" in labels and "25.0%" in labels


def test_log_scale_and_depth_rows() -> None:
    breakdown = analyse(VGG16)
    bars = chart_rows(breakdown, depth=1)
    assert [bar.name for bar in bars] == ["input", "conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "fc3"]
    assert sum(bar.values["params"] for bar in bars) == breakdown.totals.params
    SafeET.fromstring(render_chart(breakdown, ("params",), scale="log", depth=1))
    with pytest.raises(ValueError, match="scale"):
        render_chart(breakdown, scale="cubic")
    with pytest.raises(ValueError, match="bogus"):
        metric_keys("params, bogus")
    assert metric_keys("") == ("params", "macs", "memory")
    assert summary(chart_rows(breakdown), ("params",)) == "Largest by params: fc1 (74.3%), fc2 (12.1%), fc3 (3.0%)."


@pytest.fixture
def chart_src(tmp_path: Path) -> Path:
    srcdir = tmp_path / "chart"
    shutil.copytree(ROOTS / "test-chart", srcdir)
    return srcdir


def test_html_has_inline_svg(make_app: Any, chart_src: Path) -> None:
    app = make_app("html", srcdir=chart_src, freshenv=True)
    app.build()
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    svgs = _svgs(html)
    assert len(svgs) == 2
    for svg in svgs:
        SafeET.fromstring(svg)
    assert '<div class="cnntable-chart">' in html
    # regression: every chart was wrapped in two nested div.cnntable-chart
    assert html.count('class="cnntable-chart"') == 2
    assert re.findall(r'<div class="cnntable-chart">\s*<svg ', html) and '<div class="cnntable-chart"><div' not in html
    assert "<script>alert" not in html
    first = SafeET.fromstring(svgs[0])
    assert first.find(f"{SVG}title").text == 'VGG-16 <script>alert("caption")</script> & friends'
    ids = re.findall(r'<(?:title|desc) id="([^"]+)"', html)
    assert len(ids) == len(set(ids)) == 4
    assert re.search(r"index\.rst:\d+: WARNING: cnn-breakdown: :chart: unknown chart metric 'bogus'", app.warning.getvalue())


@pytest.mark.parametrize("builder", ["text", "latex"])
def test_other_builders_get_a_summary(make_app: Any, chart_src: Path, builder: str) -> None:
    app = make_app(builder, srcdir=chart_src, freshenv=True)
    app.build()
    outputs = list(Path(app.outdir).glob("*.tex" if builder == "latex" else "*.txt"))
    text = "\n".join(path.read_text(encoding="utf-8") for path in outputs).replace("\\%", "%").replace("\\_", "_")
    assert "<svg" not in text and "svg" not in text.lower().replace("svg-", "")
    assert "Largest by params: fc1 (74.3%)" in " ".join(text.split())
    assert "Largest by params: fc1 (74.3%), fc2 (12.1%), conv5 (5.1%)." in " ".join(text.split())


def test_shares_round_as_the_role_does() -> None:
    # 15 of 10,000 is exactly 0.15%: the :cnn: role's percent rounds half to even, 0.2%;
    # the chart used binary floats and wrote 0.1% (0.15 is 0.1499... as a float)
    rows = [
        Row(name="small", kind="layer", layer="x", depth=0, line=1, output_shape=(4,), weights=15),
        Row(name="big", kind="layer", layer="y", depth=0, line=2, output_shape=(4,), weights=9_985),
    ]
    labels = ["".join(t.itertext()) for t in SafeET.fromstring(render_chart(rows, metrics=("params",))).iter(f"{SVG}text")]
    assert "0.2%" in labels and "99.8%" in labels  # 9,985 / 10,000 = 99.85% -> 99.8 (half to even)
    assert summary(chart_rows(rows), ("params",)) == "Largest by params: big (99.8%), small (0.2%)."
