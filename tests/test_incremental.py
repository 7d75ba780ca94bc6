"""Incremental builds give the pages a fresh build gives, whatever the edits.

Two regressions first (a name claimed by two pages; a table moved to a page read
earlier), then random edit sequences: a seeded generator writes five pages of named
tables and ``:cnn:`` citations, builds them, then edits them three times (add, remove,
move and rename tables, change their spec, add and remove citations), rebuilding
without ``-E`` after each round. After each round every page's HTML must equal a fresh
build's, and every warning of the incremental build must be one a fresh build gives too
(an incremental build only warns about what it reads or writes again).

``CNNTABLE_INCREMENTAL_SEQUENCES`` (default 30) sets the number of sequences.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sphinx.util.console import strip_escape_sequences

SEQUENCES = int(os.environ.get("CNNTABLE_INCREMENTAL_SEQUENCES", "30"))
PAGES = ("p0", "p1", "p2", "p3", "p4")
NAMES = ("net", "dup", "alpha", "Big Net")
CONF = 'extensions = ["sphinx_cnntable"]\nshow_warning_types = True\n'
FIGURE = re.compile(r'<span class="cnn-figure">([^<]*)</span>')


@dataclass
class Item:
    """A table (``name``, ``width``: its spec is ``input 4x4x1`` then ``fc-<width>``,
    16*width + width parameters) or a citation of ``name``'s ``figure``."""

    kind: str
    name: str
    width: int = 0
    figure: str = "params"


@dataclass
class Site:
    pages: dict[str, list[Item]] = field(default_factory=lambda: {page: [] for page in PAGES})

    def text(self, page: str) -> str:
        parts = [f"{page.upper()}\n{'=' * len(page)}\n"]
        for item in self.pages[page]:
            if item.kind == "table":
                parts.append(f".. cnn-breakdown::\n   :name: {item.name}\n\n   input 4x4x1\n   fc-{item.width}\n")
            else:
                parts.append(f"Cites :cnn:`{item.name}:{item.figure}`.\n")
        return "\n".join(parts)

    def items(self, kind: str) -> list[tuple[str, int]]:
        return [(page, index) for page in PAGES for index, item in enumerate(self.pages[page]) if item.kind == kind]


def _add_table(site: Site, rng: random.Random) -> None:
    page = rng.choice(PAGES)
    site.pages[page].insert(rng.randint(0, len(site.pages[page])), Item("table", rng.choice(NAMES), rng.randint(2, 9)))


def _add_citation(site: Site, rng: random.Random) -> None:
    page = rng.choice(PAGES)
    item = Item("cite", rng.choice(NAMES), figure=rng.choice(("params", "macs")))
    site.pages[page].insert(rng.randint(0, len(site.pages[page])), item)


def _remove(kind: str) -> Any:
    def edit(site: Site, rng: random.Random) -> None:
        if found := site.items(kind):
            page, index = rng.choice(found)
            del site.pages[page][index]

    return edit


def _move_table(site: Site, rng: random.Random) -> None:
    if found := site.items("table"):
        page, index = rng.choice(found)
        item = site.pages[page].pop(index)
        target = rng.choice(PAGES)
        site.pages[target].insert(rng.randint(0, len(site.pages[target])), item)


def _rename_table(site: Site, rng: random.Random) -> None:
    if found := site.items("table"):
        page, index = rng.choice(found)
        site.pages[page][index].name = rng.choice(NAMES)


def _change_spec(site: Site, rng: random.Random) -> None:
    if found := site.items("table"):
        page, index = rng.choice(found)
        site.pages[page][index].width = rng.randint(2, 9)


EDITS = (_add_table, _add_citation, _remove("table"), _remove("cite"), _move_table, _rename_table, _change_spec)


def _write(srcdir: Path, site: Site, old: dict[str, str]) -> dict[str, str]:
    """Write the pages whose text changed, with an mtime after the last read."""
    time.sleep(0.02)
    texts = {page: site.text(page) for page in PAGES}
    for page, text in texts.items():
        if old.get(page) != text:
            (srcdir / f"{page}.rst").write_text(text, encoding="utf-8")
            now = time.time()
            os.utime(srcdir / f"{page}.rst", (now, now))
    return texts


def _build(make_app: Any, srcdir: Path, outdir: Path, fresh: bool) -> tuple[dict[str, str], set[str]]:
    app = make_app("html", srcdir=srcdir, builddir=outdir, freshenv=fresh)
    app.build()
    app.cleanup()
    pages = {page: (Path(app.outdir) / f"{page}.html").read_text(encoding="utf-8") for page in PAGES}
    warnings = strip_escape_sequences(app.warning.getvalue())
    return pages, {line for line in warnings.splitlines() if "WARNING" in line}


def _project(tmp_path: Path, site: Site) -> tuple[Path, dict[str, str]]:
    srcdir = tmp_path / "src"
    if srcdir.exists():
        shutil.rmtree(srcdir)
    srcdir.mkdir()
    (srcdir / "conf.py").write_text(CONF, encoding="utf-8")
    toctree = "".join(f"   {page}\n" for page in PAGES)
    (srcdir / "index.rst").write_text(f"Index\n=====\n\n.. toctree::\n\n{toctree}", encoding="utf-8")
    return srcdir, _write(srcdir, site, {})


def _check(make_app: Any, srcdir: Path, outdir: Path, fresh_dir: Path, what: str) -> None:
    pages, warnings = _build(make_app, srcdir, outdir, fresh=False)
    if fresh_dir.exists():
        shutil.rmtree(fresh_dir)
    fresh_pages, fresh_warnings = _build(make_app, srcdir, fresh_dir, fresh=True)
    for page in PAGES:
        assert FIGURE.findall(pages[page]) == FIGURE.findall(fresh_pages[page]), (what, page)
        assert pages[page] == fresh_pages[page], (what, page)
    assert warnings <= fresh_warnings, (what, warnings - fresh_warnings)


def test_name_claimed_twice_survives_removing_one(make_app: Any, tmp_path: Path) -> None:
    """``dup`` in p0 and p1, cited from p2: remove p0's and the citation resolves to p1's."""
    site = Site()
    site.pages["p0"] = [Item("table", "dup", 2)]
    site.pages["p1"] = [Item("table", "dup", 3)]
    site.pages["p2"] = [Item("cite", "dup")]
    srcdir, texts = _project(tmp_path, site)
    first, warnings = _build(make_app, srcdir, tmp_path / "out", fresh=True)
    assert FIGURE.findall(first["p2"]) == [f"{16 * 2 + 2}"]
    assert any("p1.rst:4: WARNING: cnn-breakdown: duplicate name 'dup'" in line for line in warnings), warnings
    site.pages["p0"] = []
    _write(srcdir, site, texts)
    pages, warnings = _build(make_app, srcdir, tmp_path / "out", fresh=False)
    assert FIGURE.findall(pages["p2"]) == [f"{16 * 3 + 3}"]
    assert 'href="p1.html#dup"' in pages["p2"]
    assert not warnings, warnings


def test_moving_a_table_to_a_page_read_earlier_warns_nothing(make_app: Any, tmp_path: Path) -> None:
    site = Site()
    site.pages["p1"] = [Item("table", "net", 2)]
    site.pages["p2"] = [Item("cite", "net")]
    srcdir, texts = _project(tmp_path, site)
    _build(make_app, srcdir, tmp_path / "out", fresh=True)
    site.pages["p0"], site.pages["p1"] = site.pages["p1"], []
    _write(srcdir, site, texts)
    pages, warnings = _build(make_app, srcdir, tmp_path / "out", fresh=False)
    assert not warnings, warnings
    assert 'href="p0.html#net"' in pages["p2"] and FIGURE.findall(pages["p2"]) == ["34"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(SEQUENCES))
def test_random_edits_match_a_fresh_build(make_app: Any, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    site = Site()
    for _ in range(rng.randint(2, 6)):
        rng.choice((_add_table, _add_table, _add_citation))(site, rng)
    srcdir, texts = _project(tmp_path, site)
    outdir = tmp_path / "out"
    _build(make_app, srcdir, outdir, fresh=True)
    for round_ in range(3):
        for _ in range(rng.randint(1, 3)):
            rng.choice(EDITS)(site, rng)
        texts = _write(srcdir, site, texts)
        _check(make_app, srcdir, outdir, tmp_path / "fresh", f"seed {seed}, round {round_ + 1}")
