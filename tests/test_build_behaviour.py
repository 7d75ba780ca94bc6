"""How builds behave with cnn-breakdown tables and :cnn: citations (tests/roots/test-build:
12 pages, 11 tables, 2 charts, citations across pages, reST and MyST).

* ``-j 2`` and a serial build write byte-identical HTML;
* an incremental build after touching nothing reads and writes nothing;
* editing a spec file reads again exactly the pages using it (``:file:``) and writes
  exactly those and the pages citing it (``:cnn:``); editing a page likewise;
* a pickled environment from another ``env_version`` or another sphinx-cnntable version
  is not an error: every page is read again, with the same result as a clean build.

Which pages are read is recorded from ``env-before-read-docs``, which are written from
``html-page-context`` (pages with a doctree). Sphinx itself writes ``index`` whenever
a page is read again (its toctree holds every page), as editing ``plain.rst``, a page
with neither tables nor citations, shows.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sphinx.util.console import strip_escape_sequences

from html_tables import ROOTS, read_tables

FIGURE = re.compile(r'<span class="cnn-figure">([^<]*)</span>')
ALL = {"index", "nets", "other", "uses_b", "cite_a", "cite_b", "cite_both", "plain",
       "inline0", "inline1", "inline2", "inline3"}


class Build:
    """One build of the copied root into a shared output directory, recording what it read
    and what it wrote."""

    def __init__(self, make_app: Any, srcdir: Path, outdir: Path, **kwargs: Any) -> None:
        self.read: set[str] = set()
        self.written: set[str] = set()
        self.app = make_app("html", srcdir=srcdir, builddir=outdir, **kwargs)
        self.app.connect("env-before-read-docs", lambda app, env, docnames: self.read.update(docnames))
        self.app.connect("html-page-context", self._page)
        self.app.build()
        self.app.cleanup()
        self.status = strip_escape_sequences(self.app.status.getvalue())
        self.warnings = strip_escape_sequences(self.app.warning.getvalue())

    def _page(self, app: Any, pagename: str, templatename: str, context: Any, doctree: Any) -> None:
        if doctree is not None:
            self.written.add(pagename)

    def html(self, docname: str) -> str:
        return (Path(self.app.outdir) / f"{docname}.html").read_text(encoding="utf-8")

    def figures(self, docname: str) -> list[str]:
        return FIGURE.findall(self.html(docname))


@pytest.fixture
def site(make_app: Any, tmp_path: Path) -> Any:
    """``site()`` builds (first call: fresh) into one output directory; ``site.edit`` changes a source."""
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-build", srcdir)

    class Site:
        src = srcdir

        def __call__(self, **kwargs: Any) -> Build:
            build = Build(make_app, srcdir, tmp_path / "out", **kwargs)
            assert "WARNING" not in build.warnings, build.warnings
            return build

        def edit(self, name: str, old: str, new: str) -> None:
            path = srcdir / name
            text = path.read_text(encoding="utf-8")
            assert old in text
            time.sleep(0.02)  # after the last read, and not in the future (no re-read next time)
            path.write_text(text.replace(old, new), encoding="utf-8")
            now = time.time()
            os.utime(path, (now, now))

    return Site()


def test_parallel_and_serial_write_identical_html(make_app: Any, tmp_path: Path) -> None:
    pages = {}
    for parallel in (0, 2):
        srcdir = tmp_path / f"src{parallel}"  # the same directory name length: paths never show in pages
        shutil.copytree(ROOTS / "test-build", srcdir)
        build = Build(make_app, srcdir, tmp_path / f"out{parallel}", parallel=parallel, freshenv=True)
        assert "WARNING" not in build.warnings, build.warnings
        if parallel:  # the reading really was split between processes
            assert re.search(r"reading sources\.\.\. \[ *\d+%\] \S+ \.\. \S+", build.status), build.status
        outdir = Path(build.app.outdir)
        pages[parallel] = {p.relative_to(outdir).as_posix(): p.read_bytes() for p in outdir.rglob("*.html")}
    assert set(pages[0]) == set(pages[2]) and {f"{name}.html" for name in ALL} <= set(pages[0])
    for name, html in pages[0].items():
        assert pages[2][name] == html, name
    text = pages[0]["cite_both.html"].decode()
    assert FIGURE.findall(text) == ["96,266", "11,642", "9,472"]  # a.cnn, b.cnn params; tiny MACs
    assert pages[0]["nets.html"].count(b"<svg") == 1 and pages[0]["other.html"].count(b"<svg") == 1


def test_nothing_touched_nothing_rebuilt(site: Any) -> None:
    first = site(freshenv=True)
    assert first.read == ALL and first.written == ALL
    second = site()
    assert second.read == set() and second.written == set()
    assert "0 added, 0 changed, 0 removed" in second.status
    assert "no targets are out of date" in second.status


def test_editing_a_spec_file_touches_its_users_and_citers_only(site: Any) -> None:
    site(freshenv=True)
    # b.cnn: used by other.rst (two tables) and uses_b.md, cited by cite_b.md and cite_both.rst
    site.edit("specs/b.cnn", "head: fc-10", "head: fc-20")
    build = site()
    assert build.read == {"other", "uses_b"}
    assert build.written == {"other", "uses_b", "cite_b", "cite_both", "index"}
    assert "0 added, 2 changed, 0 removed" in build.status
    # b.cnn: 224 + 1,168 + 10,250 = 11,642; fc-20 on 8x8x16: 1,024*20 + 20 = 20,500 -> 21,892
    assert build.figures("cite_b")[0] == "21,892"
    assert build.figures("cite_both") == ["96,266", "21,892", "9,472"]
    assert read_tables(build.html("other"))[0].totals["Total params"] == "21,892"
    assert read_tables(build.html("uses_b"))[0].totals["Total params"] == "22K"
    # a.cnn: used by nets.rst, cited by cite_a.rst and cite_both.rst; the inline pages cite
    # tiny, which nets.rst also defines, but tiny did not change: they are left alone
    site.edit("specs/a.cnn", "head: fc-10", "head: fc-20")
    build = site()
    assert build.read == {"nets"}
    assert build.written == {"nets", "cite_a", "cite_both", "index"}
    assert build.figures("cite_a")[0] == "178,196"  # 96,266 - 81,930 + 16*16*32*20 + 20


def test_editing_a_page_touches_its_citers_only(site: Any) -> None:
    site(freshenv=True)
    site.edit("nets.rst", "head: fc-10", "head: fc-20")  # tiny changes, net-a does not
    build = site()
    assert build.read == {"nets"}
    assert build.written == {"nets", "cite_both", "inline0", "inline1", "inline2", "inline3", "index"}
    assert build.figures("inline0")[1] == "5,252"  # tiny: 112 + 8*8*4*20 + 20
    site.edit("plain.rst", "neither", "Neither")  # Sphinx's own baseline: the page and index
    build = site()
    assert build.read == {"plain"} and build.written == {"plain", "index"}


def test_changed_env_version_reads_everything_again(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = site(freshenv=True)
    monkeypatch.setattr("sphinx_cnntable.sphinx_ext.ENV_VERSION", 999)
    second = site()
    assert "build environment version not current" in second.status  # Sphinx starts afresh
    assert second.read == ALL and second.written == ALL
    for docname in ALL:
        assert second.html(docname) == first.html(docname) or docname == "index", docname
    third = site()
    assert third.read == set()


def test_changed_extension_version_reads_everything_again(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new sphinx-cnntable may compute other figures: pages are read again even though
    neither their sources nor the pickled data format changed."""
    first = site(freshenv=True)
    monkeypatch.setattr("sphinx_cnntable.__version__", "99.0")
    second = site()
    assert "sphinx-cnntable 99.0 (was " in second.status
    assert second.read == ALL and second.written == ALL
    assert second.figures("cite_both") == first.figures("cite_both")
    third = site()
    assert third.read == set() and third.written == set()
