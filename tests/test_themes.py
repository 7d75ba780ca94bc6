"""The tables, charts and citations build warning-free (``-W``) under the common themes.

Each theme is skipped when it is not installed (``pip install sphinx-cnntable[themes]``).
Slow: one whole ``python -m sphinx`` process per theme.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from html_tables import ROOTS, read_tables

THEMES = {  # html_theme -> module to look for
    "alabaster": "alabaster",
    "furo": "furo",
    "sphinx_rtd_theme": "sphinx_rtd_theme",
    "pydata_sphinx_theme": "pydata_sphinx_theme",
}


@pytest.mark.slow
@pytest.mark.parametrize("theme", THEMES)
def test_theme_builds_with_warnings_as_errors(theme: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(THEMES[theme]) is None:
        pytest.skip(f"theme {theme} is not installed (extra: themes)")
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-build", srcdir)
    outdir = tmp_path / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
               "-D", f"html_theme={theme}", str(srcdir), str(outdir)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.strip() == ""
    html = (outdir / "nets.html").read_text(encoding="utf-8")
    (net_a, tiny) = [table for table in read_tables(html) if "cnntable" in table.classes]
    assert net_a.totals["Total params"] == "96,266" and tiny.totals["Total params"] == "2,682"
    assert "<svg" in html and "_static/cnntable.css" in html
    assert (outdir / "_static" / "cnntable.css").is_file()
    assert '<span class="cnn-figure">96,266</span>' in (outdir / "cite_a.html").read_text(encoding="utf-8")
