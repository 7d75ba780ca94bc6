"""The extension under ``sphinx-testing`` (``TestApp``, ``with_app``), as projects still
on that package test their docs, next to the ``sphinx.testing`` fixtures of the rest of
the suite. Each build copies its root (or writes a new one) into a temporary folder.

Reference numbers: VGG-16 (configuration D) has 138,357,544 parameters and 15,470,264,320
MACs (torchvision's ``vgg16``: 15.47 GFLOPs as MACs); LeNet-style ``conv5-6`` on 32x32x1
holds 5*5*1*6 + 6 = 156 parameters.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

sphinx_testing = pytest.importorskip("sphinx_testing", reason="needs sphinx-testing (pip install sphinx-testing)")

from html_tables import read_tables  # noqa: E402

ROOTS = Path(__file__).parent / "roots"


def _warnings(warning: Any) -> list[str]:
    return [line for line in warning.getvalue().splitlines() if "WARNING" in line or "ERROR" in line]


def test_with_app_on_a_copied_root() -> None:
    @sphinx_testing.with_app(srcdir=str(ROOTS / "test-basic"), copy_srcdir_to_tmpdir=True, freshenv=True)
    def check(app: Any, status: Any, warning: Any) -> None:
        app.build()
        assert _warnings(warning) == []
        html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
        vgg = [table for table in read_tables(html) if "cnntable" in table.classes and "VGG" in table.caption]
        assert len(vgg) == 2
        for table in vgg:
            assert table.totals["Total params"] == "138,357,544"
            assert table.totals["MACs (conv, fc and attention multiply-accumulates)"] == "15,470,264,320"

    check()


def test_with_app_writes_the_docstring_as_the_page() -> None:
    @sphinx_testing.with_app(create_new_srcdir=True, write_docstring=True, freshenv=True,
                             confoverrides={"extensions": ["sphinx_cnntable"]})
    def check(app: Any, status: Any, warning: Any) -> None:
        """
        Page
        ====

        .. cnn-breakdown:: LeNet's first layer
           :name: c1
           :columns: name, shape, params

           input 32x32x1
           conv1: conv5-6 pad=0

        It holds :cnn:`c1/conv1:params` parameters (spec line 2: :cnn:`c1/2:params`); :cnn:`c1/conv2:params` is not a row.
        """
        app.build()
        (warning_line,) = _warnings(warning)
        assert "cnn: breakdown 'c1' has no row 'conv2' (did you mean conv1?)" in warning_line
        html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
        assert "It holds 156 parameters (spec line 2: 156)" in re.sub(r"<[^>]+>", "", html)
        (table,) = [table for table in read_tables(html) if "cnntable" in table.classes]
        assert table.cell("conv1", "Output shape") == "28x28x6"

    check()


def test_testapp_text_builder(tmp_path: Path) -> None:
    app = sphinx_testing.TestApp(srcdir=str(ROOTS / "test-basic"), copy_srcdir_to_tmpdir=True, buildername="text",
                                 freshenv=True)
    try:
        app.build()
        text = (Path(app.outdir) / "index.txt").read_text(encoding="utf-8")
        assert "138,357,544" in text and "15,470,264,320" in text
    finally:
        app.cleanup()
