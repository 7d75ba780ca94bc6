"""The ``:cnn:`` role and the ``cnn`` domain: figures cited in prose, in one build,
across documents, under ``-j 2``, and after incremental rebuilds.

Reference numbers (independent of the engine): VGG-16 has 138,357,544 parameters;
the first conv3-256 295,168; stage conv3 1,475,328; 15,237,608 activations, that is
60,950,432 bytes in float32 = 58.13 MiB; 15.47 GMACs; fc1 holds 102,764,544 / 138,357,544
= 74.3% of the parameters.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

ROOTS = Path(__file__).parent / "roots"
FIGURE = re.compile(r'<span class="cnn-figure">([^<]*)</span>')


def _copy(root: str, tmp_path: Path) -> Path:
    srcdir = tmp_path / root
    shutil.copytree(ROOTS / f"test-{root}", srcdir)
    return srcdir


def _figures(app: Any, docname: str) -> list[str]:
    return FIGURE.findall((Path(app.outdir) / f"{docname}.html").read_text(encoding="utf-8"))


def _touch_later(path: Path, text: str) -> None:
    """Write ``text`` and make sure the mtime moves forward (coarse file-system clocks)."""
    later = max(time.time(), path.stat().st_mtime) + 5
    path.write_text(text, encoding="utf-8")
    os.utime(path, (later, later))


def _warnings(app: Any) -> str:
    return app.warning.getvalue()


@pytest.fixture
def role_app(make_app: Any, tmp_path: Path) -> Any:
    srcdir = _copy("role", tmp_path)
    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()
    return app


def test_cross_document_figures(role_app: Any) -> None:
    assert "cnntable." not in _warnings(role_app), _warnings(role_app)
    figures = _figures(role_app, "cite")
    assert figures[:15] == [
        "138,357,544",
        "138357544",
        "140M",
        "295,168",
        "1,475,328",
        "15,237,608",
        "60,950,432",
        "58.13 MiB",
        "60.95 MB",
        "15.47",
        "15.470",
        "102,764,544",
        "74.3%",
        "7x7x512",
        "212",
    ]
    # tiny (float16): conv3-4 on 8x8x3 = 3*3*3*4 + 4 = 112, fc-10 on 8*8*4 = 256*10 + 10 = 2,570
    # activations 192 + 256 + 10 = 458 -> 916 bytes in float16
    assert figures[15:] == ["2,682", "916 B"]


def test_myst_root_and_same_document(role_app: Any) -> None:
    assert _figures(role_app, "cite_md") == ["138,357,544", "1,475,328", "58.13 MiB"]
    assert _figures(role_app, "index") == ["138,357,544"]  # read before net.rst defines it
    assert _figures(role_app, "net") == ["2,682"]


def test_figures_link_to_their_table(role_app: Any) -> None:
    html = (Path(role_app.outdir) / "cite.html").read_text(encoding="utf-8")
    assert '<a class="reference internal" href="net.html#vgg16" title="vgg16: conv3_1 params">' in html


def test_grouped_view_subtotals_sum_to_totals(role_app: Any, tables: Any) -> None:
    (table,) = tables((Path(role_app.outdir) / "grouped.html").read_text(encoding="utf-8"))
    names = [row.cells[0].text for row in table.layers]
    assert names == ["input", "conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "fc3"]
    for header, total in (("Params", "Total params"), ("MACs", "MACs (conv, fc and attention multiply-accumulates)"),
                          ("Activations", "Activations (elements, input included)")):
        column = table.headers.index(header)
        values = [int(row.cells[column].text.replace(",", "")) for row in table.layers]
        assert sum(values) == int(table.totals[total].replace(",", "")), header
    assert table.cell("conv3", "Params") == "1,475,328"
    assert table.totals["Total params"] == "138,357,544"


def test_parallel_build_matches_serial(make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sphinx_cnntable.domain import CnnDomain

    merged: list[set[str]] = []
    original = CnnDomain.merge_domaindata

    def merge(self: CnnDomain, docnames: Any, otherdata: Any) -> None:
        merged.append(set(docnames))
        original(self, docnames, otherdata)

    monkeypatch.setattr(CnnDomain, "merge_domaindata", merge)
    srcdir = _copy("role", tmp_path)
    serial = make_app("html", srcdir=srcdir, builddir=tmp_path / "serial", freshenv=True)
    serial.build()
    parallel = make_app("html", srcdir=srcdir, builddir=tmp_path / "parallel", freshenv=True, parallel=2)
    parallel.build()
    assert len(merged) >= 2 and set().union(*merged) >= {"cite", "net"}  # the reads really ran in parallel
    assert "cnntable." not in _warnings(parallel), _warnings(parallel)
    for docname in ("index", "cite", "cite_md", "net", "page0", "page1", "page2", "page3"):
        assert _figures(parallel, docname) == _figures(serial, docname), docname
        assert _figures(parallel, docname)
    assert _figures(parallel, "page2") == ["138,357,544", "295,168", "9,472"]  # tiny MACs: 8*8*108 + 2560


def test_incremental_spec_file_change(make_app: Any, tmp_path: Path) -> None:
    """Edit the :file: spec: net.rst is re-read (a dependency), and cite.rst, page0.rst
    (other documents, unchanged) are written again with the new numbers."""
    srcdir = _copy("role", tmp_path)
    first = make_app("html", srcdir=srcdir, freshenv=True)
    first.build()
    assert _figures(first, "cite")[0] == "138,357,544"
    spec = srcdir / "specs" / "vgg16.cnn"
    _touch_later(spec, spec.read_text(encoding="utf-8").replace("fc3: fc-1000", "fc3: fc-10"))
    second = make_app("html", srcdir=srcdir)
    second.build()
    # 138,357,544 - (4096*1000 + 1000) + (4096*10 + 10) = 134,301,514
    assert _figures(second, "cite")[0] == "134,301,514"
    assert _figures(second, "page0")[0] == "134,301,514"
    assert _figures(second, "cite_md")[0] == "134,301,514"
    assert _figures(second, "index") == ["134,301,514"]
    assert _figures(second, "cite")[3] == "295,168"  # unchanged rows still right


def test_incremental_defining_document_change(make_app: Any, tmp_path: Path) -> None:
    """Edit the document that defines a breakdown inline: the citing pages follow."""
    srcdir = _copy("role", tmp_path)
    make_app("html", srcdir=srcdir, freshenv=True).build()
    net = srcdir / "net.rst"
    _touch_later(net, net.read_text(encoding="utf-8").replace("head: fc-10", "head: fc-20"))
    second = make_app("html", srcdir=srcdir)
    second.build()
    # fc-20 on 256 inputs: 5,140; conv 112 -> 5,252 params
    assert _figures(second, "cite")[15] == "5,252"
    assert _figures(second, "net") == ["5,252"]
    assert _figures(second, "page1")[2] == f"{8 * 8 * 108 + 256 * 20:,}"


def test_incremental_nothing_changed_keeps_pages(make_app: Any, tmp_path: Path) -> None:
    srcdir = _copy("role", tmp_path)
    make_app("html", srcdir=srcdir, freshenv=True).build()
    second = make_app("html", srcdir=srcdir)
    second.build()
    assert "0 added, 0 changed, 0 removed" in second.status.getvalue()


def test_unknown_references_warn_at_their_line(make_app: Any, tmp_path: Path) -> None:
    srcdir = _copy("role-warnings", tmp_path)
    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()
    warnings = _warnings(app)
    index = str(srcdir / "index.rst")
    expected = {
        11: "no cnn-breakdown named 'nosuch'",
        13: "breakdown 'tiny' has no row 'nosuch'",
        15: "unknown figure 'bogus'",
        17: "unknown format 'zz'",
        19: "format 'MiB' is for byte figures",
        21: "write BREAKDOWN[/ROW]:FIGURE[:FORMAT]",
    }
    for line, message in expected.items():
        pattern = re.escape(f"{index}:{line}: WARNING: cnn: ") + r".*" + re.escape(message) + r".*\[cnntable\.ref\]"
        assert re.search(pattern, warnings), (line, message, warnings)
    assert re.search(re.escape(str(srcdir / "other.md")) + r":3: WARNING: cnn: breakdown 'tiny' has no row 'nope'", warnings)
    assert re.search(r"other\.md:\d+: WARNING: cnn-breakdown: duplicate name 'tiny'", warnings), warnings
    # the role shows its text, literally, instead of a number
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    for text in ("nosuch:params", "tiny/nosuch:params", "tiny:bogus", "tiny:params:zz", "tiny:params:MiB"):
        assert re.search(r'<code class="[^"]*cnn-unresolved[^"]*"><span class="pre">' + re.escape(text), html), text


def test_regression_scaled_formats_of_huge_figures_build(project: Any) -> None:
    # decimal.InvalidOperation in figures._scaled used to abort the whole build
    fc = "fc-1" + "0" * 28
    formats = ("params:K", "macs:K", "params:G", "params:T", "param_memory:GiB", "param_memory:MiB", "param_memory:kB")
    roles = "\n\n".join(f":cnn:`big:{reference}`" for reference in formats)
    app = project(f"""
        .. cnn-breakdown::
           :name: big

           input 1000000000x1000000000x1
           {fc}

        {roles}
        """)
    assert "cnntable." not in _warnings(app), _warnings(app)
    params = 10**18 * 10**28 + 10**28
    assert _figures(app, "index") == [
        f"{params // 10**3:,}",
        f"{10**46 // 10**3:,}",
        f"{params // 10**9:,}",
        f"{params // 10**12:,}",
        f"{4 * params // 2**30:,}.{(4 * params % 2**30 * 100 + 2**29) // 2**30:02d} GiB",
        f"{4 * params // 2**20:,}.{(4 * params % 2**20 * 100 + 2**19) // 2**20:02d} MiB",
        f"{4 * params // 10**3:,}.00 kB",
    ]
