"""One README for GitHub and Sphinx: the marked (synced) block becomes the live directive
in a Sphinx build, so the table appears once and holds computed figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from myst_parser import mocking

from sphinx_cnntable.markers import find_blocks, split_lines
from sphinx_cnntable.readme import live_text

MYST_EMITS_INCLUDE_READ = "include-read" in Path(mocking.__file__).read_text(encoding="utf-8")


@pytest.mark.sphinx("html", testroot="readme", freshenv=True)
def test_readme_tables_are_live_and_shown_once(app: Any, tables: Any) -> None:
    app.build()
    warnings = app.warning.getvalue()
    assert "WARNING" not in warnings and "ERROR" not in warnings, warnings
    out = Path(app.outdir)

    readme = (out / "README.html").read_text(encoding="utf-8")
    (table,) = tables(readme)
    assert "999,999" not in readme and "stale" not in readme
    assert table.headers == ["Layer", "Output shape", "Params"]
    assert table.cell("conv3-64 x 2", "Params") == "38,720"
    assert "138,357,544" in readme
    assert "&lt;!-- cnn-breakdown: specs/vgg16.cnn --&gt;" in readme  # the fenced example stays code
    assert readme.index("Text before.") < readme.index("<table") < readme.index("Text after.")

    if not MYST_EMITS_INCLUDE_READ:
        pytest.skip("this myst-parser does not emit include-read for {include}")
    for page in ("included.html", "guide/page.html"):
        html = (out / page).read_text(encoding="utf-8")
        (tiny,) = tables(html)
        assert tiny.headers == ["Layer", "Params"], page
        assert tiny.cell("conv3-4", "Params") == "112", page
        assert tiny.cell("fc-2", "Params") == "514", page
        assert not tiny.totals and "Total params" not in html, page
        assert "End of project readme." in html, page


def test_live_text_keeps_line_numbers_and_rewrites_paths(tmp_path: Path) -> None:
    synced = "\n| a | b |\n|---|--:|\n" + "| x | 1 |\n" * 8 + "\n"
    text = f"a\n<!-- cnn-breakdown: specs/n.cnn fold depth=2 totals=no -->\n{synced}<!-- end cnn-breakdown -->\nb\n"
    result = live_text(text, "proj/README.md", tmp_path / "proj", tmp_path / "docs", "docs/index")
    assert result.count("\n") == text.count("\n")
    assert result.splitlines()[-1] == "b"
    assert "```{cnn-breakdown}\n:file: ../proj/specs/n.cnn\n:depth: 2\n:fold:\n:no-totals:\n```" in result
    rst = ".. cnn-breakdown-sync: specs/n.cnn numbers=compact\n\n.. end cnn-breakdown-sync\n"
    converted = live_text(rst, "README.rst", tmp_path, tmp_path, "README")
    assert ".. cnn-breakdown::\n   :file: specs/n.cnn\n   :numbers: compact\n" in converted
    assert find_blocks(split_lines(converted), "rst") == []


def test_marker_flag_values_reach_the_directive(project: Any, tables: Any) -> None:
    # `fold=no` leaves the rows unfolded, and a bad flag value is a warning from the
    # directive, as `cnntable sync` refuses it (it used to be dropped without a word)
    spec = "input 8x8x3\nconv3-4 x2\n"  # conv3-4: 3*3*3*4 + 4 = 112; then 3*3*4*4 + 4 = 148
    text = "# Page\n\n<!-- cnn-breakdown: n.cnn columns=name,params fold=no hide-empty=yes -->\n<!-- end cnn-breakdown -->\n"
    app = project(text, md=True, files={"n.cnn": spec})
    assert "WARNING" not in app.warning.getvalue(), app.warning.getvalue()
    (table,) = tables((Path(app.outdir) / "index.html").read_text(encoding="utf-8"))
    assert [row.texts for row in table.layers] == [["conv3-4", "112"], ["conv3-4", "148"]]
    bad = project(text.replace("fold=no", "fold=maybe"), md=True, files={"n.cnn": spec})
    assert ":fold: expected no value (or yes/no), got 'maybe'" in bad.warning.getvalue()
