"""User text (titles, names, labels, layer lines, citations, error messages) is escaped
in every output: HTML (no raw ``<script>`` from user text), the inline SVG chart (valid
XML), and LaTeX (``_ % & # $ { } ~ ^ \\`` in titles, labels and layer names give a
``.tex`` that compiles, with a 120-row longtable that breaks across pages and repeats
its header: tests/roots/test-latex-special).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from html_tables import ROOTS, read_tables

SVG_NS = "{http://www.w3.org/2000/svg}"
TITLE = """<script>alert("t1")</script> & 'single' "double" </table>"""
BAD_LAYER = '<script>alert("t2")</script>'
BAD_CITATION = '<script>alert("t3")</script>:params'
SPEC = """\
input 8x8x3
define my_blk c:
  x_1: conv3-{c}
  relu
b_1: my_blk 8
stage_2:
  conv3-8 x2
fc_out: fc-10
"""


def _indent(text: str) -> str:
    return "".join(f"   {line}\n" if line else "\n" for line in text.splitlines())


RST = f"""\
Escaping
========

.. cnn-breakdown:: {TITLE}
   :name: esc-net
   :chart: params, macs, memory
   :columns: name, layer, shape, params

{_indent(SPEC)}
.. cnn-breakdown::
   :name: chart & "name" <b>
   :chart: params

{_indent(SPEC)}
.. cnn-breakdown:: Broken

   input 8x8x3
   {BAD_LAYER}

Cited: :cnn:`esc-net:params`; not found: :cnn:`{BAD_CITATION}`.
"""

MD = """\
# MyST escaping

```{cnn-breakdown} Quotes 'single' "double" & ampersand
:name: md-esc
:chart: params

input 8x8x3
conv3-4
fc-10
```
"""


class _Collect(HTMLParser):
    """Script elements' bodies, and the page's text as a reader sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.text: list[str] = []
        self.in_script = False
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self.in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def _parse(html: str) -> _Collect:
    collect = _Collect()
    collect.feed(html)
    collect.close()
    return collect


def _svgs(html: str) -> list[Any]:
    """Every inline ``<svg>...</svg>``, parsed as standalone XML (raises if not well formed)."""
    return [ElementTree.fromstring(match) for match in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


@pytest.fixture
def escaped(project: Any) -> Any:
    return project(RST, files={"md.md": MD}, conf="smartquotes = False\nkeep_warnings = True\n"
                   "exclude_patterns = []\n")


def test_html_has_no_raw_script_from_user_text(escaped: Any) -> None:
    html = (Path(escaped.outdir) / "index.html").read_text(encoding="utf-8")
    page = _parse(html)
    assert not any("alert(" in script for script in page.scripts), page.scripts
    assert page.tags.count("table") == 4  # each table and its totals: the caption's "</table>" closed nothing
    text = "".join(page.text)
    assert TITLE in text  # shown as text, exactly
    assert f"unknown layer '{BAD_LAYER}'" in text  # the keep_warnings paragraph
    assert BAD_CITATION in text  # the unresolved citation, literally
    caption = read_tables(html)[0].caption
    assert caption == TITLE
    assert "&lt;script&gt;alert(&quot;t1&quot;)" in html or "&lt;script&gt;alert(\"t1\")" in html
    for raw in ('<script>alert("t1")', '<script>alert("t2")', '<script>alert("t3")', "</table>\n&"):
        assert raw not in html


def test_svg_chart_escapes_and_parses_as_xml(escaped: Any) -> None:
    html = (Path(escaped.outdir) / "index.html").read_text(encoding="utf-8")
    first, second = _svgs(html)
    assert first.tag == f"{SVG_NS}svg" and first.get("role") == "img"
    titles = [element.text for element in first.iter(f"{SVG_NS}title")]
    assert titles[0] == TITLE
    assert any(title and title.startswith("fc_out: ") for title in titles)  # a bar's label with an underscore
    assert not any(element.tag.endswith("script") for svg in (first, second) for element in svg.iter())
    # no title argument: the chart is titled by :name:, escaped too
    assert [element.text for element in second.iter(f"{SVG_NS}title")][0] == 'chart & "name" <b>'
    md = (Path(escaped.outdir) / "md.html").read_text(encoding="utf-8")
    (svg,) = _svgs(md)
    assert next(svg.iter(f"{SVG_NS}title")).text == """Quotes 'single' "double" & ampersand"""
    assert read_tables(md)[0].caption == """Quotes 'single' "double" & ampersand"""


# ----------------------------------------------------------------------------- LaTeX

SPECIALS = {  # how the LaTeX writer must spell each title
    "index:net-1": r"Net\_1: 100\% \& \#2 costs \$5 \{braces\} \textasciitilde{}tilde\textasciicircum{}caret "
    r"\textbackslash{}backslash",
    "index:formulas-net": r"Formulas\_\% \& \# with user blocks \{c\}",
    "md_page:md-net": r"MyST net\_2 50\% \& \#3 \$ \{x\}",
}


def _latex(make_app: Any, tmp_path: Path) -> Path:
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-latex-special", srcdir)
    app = make_app("latex", srcdir=srcdir, builddir=tmp_path / "out", freshenv=True)
    app.build()
    app.cleanup()
    assert "WARNING" not in app.warning.getvalue(), app.warning.getvalue()
    return Path(app.outdir)


def test_latex_source_escapes_special_characters(make_app: Any, tmp_path: Path) -> None:
    tex = (_latex(make_app, tmp_path) / "special.tex").read_text(encoding="utf-8")
    for label, caption in SPECIALS.items():
        assert f"\\caption{{{caption}\\strut}}\\label{{\\detokenize{{{label}}}}}" in tex, label
    assert r"body\_x\_120" in tex and r"stem\_1" in tex and r"fc\_out" in tex  # labels
    assert r"conv3\sphinxhyphen{}8" in tex or "conv3-8" in tex
    assert tex.count(r"\begin{longtable}") == 3 and tex.count(r"\endhead") == 3
    assert "70,426" in tex  # the :cnn: citation, resolved


def _latex_tools() -> str | None:
    missing = [tool for tool in ("pdflatex", "latexmk", "make") if shutil.which(tool) is None]
    if missing:
        return "needs " + ", ".join(missing) + " (Debian: texlive-latex-recommended texlive-fonts-recommended " \
            "texlive-latex-extra tex-gyre latexmk make)"
    kpsewhich = shutil.which("kpsewhich")
    for package in ("tgtermes.sty", "fncychap.sty", "tabulary.sty", "capt-of.sty", "needspace.sty"):
        found = kpsewhich and subprocess.run([kpsewhich, package], capture_output=True, text=True).stdout.strip()
        if not found:
            return f"LaTeX package {package} missing (Debian: tex-gyre, texlive-latex-extra)"
    return None


@pytest.mark.slow
def test_latex_compiles_to_pdf(make_app: Any, tmp_path: Path) -> None:
    """``make -C OUTDIR all-pdf`` (Sphinx's Makefile: latexmk -pdf) on the special-character
    root: it compiles, the 120-row longtable spans pages, and every page it is on repeats
    the header row."""
    reason = _latex_tools()
    if reason:
        pytest.skip(reason)
    outdir = _latex(make_app, tmp_path)
    result = subprocess.run(["make", "-C", str(outdir), "all-pdf", "LATEXMKOPTS=-interaction=nonstopmode -halt-on-error"],
                            capture_output=True, text=True, timeout=600)
    log = (outdir / "special.log").read_text(encoding="utf-8", errors="replace")
    assert result.returncode == 0, result.stdout[-3000:] + log[-3000:]
    assert not re.search(r"^! ", log, flags=re.M)
    pages = int(re.search(r"Output written on special\.pdf \((\d+) pages", log)[1])
    assert pages >= 4
    if shutil.which("pdftotext") is None:
        return  # the page-level checks need poppler-utils
    text = subprocess.run(["pdftotext", "-layout", str(outdir / "special.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = text.replace("\u2019", "'")
    long_pages = [page for page in text.split("\f") if re.search(r"body_x_\d+", page)]
    assert len(long_pages) >= 2  # the long table breaks across pages
    for page in long_pages:
        assert re.search(r"Layer\s+Type\s+Output\b", page), page[:500]  # the header, repeated
    assert "body_x_120" in text and "Total params" in text and "70,426" in text
    assert "Net_1: 100% & #2 costs $5 {braces} ~tilde^caret \\backslash" in text
    assert "Formulas_% & # with user blocks {c}" in text and "MyST net_2 50% & #3 $ {x}" in text
    # the TikZ diagrams' titles; the reST escape "\\\\" in the source is one backslash
    assert "Diagram_% & # of {c} $5 ~x^y \\z" in text and "Volumes_% & #" in text


TEXT_CELLS = st.lists(
    st.sampled_from([*"ab1_:@<>`*|[]\\/.-=()#!?'\" \u2003\x1b\x07\x9b", "javascript:", "http://", "www.", ".. ", "- "]), max_size=20
).map("".join)


@settings(max_examples=150, deadline=None)
@given(TEXT_CELLS)
def test_rst_escape_is_plain_text_to_docutils(text: str) -> None:
    """Any cell text, in the ``-f rst`` form, parses back to itself (control characters
    shown as escapes) with no link, target, reference or message."""
    from docutils import nodes
    from docutils.core import publish_doctree

    from sphinx_cnntable.render_text import rst_escape, safe

    cell = rst_escape(text)
    tree = publish_doctree(f"* - {cell}", settings_overrides={"report_level": 5})
    markup = (nodes.reference, nodes.target, nodes.problematic, nodes.emphasis, nodes.strong, nodes.literal, nodes.transition)
    assert not [node for node in tree.findall() if isinstance(node, markup)]
    assert not [node for node in tree.findall(nodes.system_message) if node["level"] > 1]  # INFO: "so short"
    for node in tree.findall(nodes.system_message):
        node.parent.remove(node)
    assert tree.astext().strip() == safe(text).strip()
