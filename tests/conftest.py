"""Sphinx test fixtures: ``rootdir`` (tests/roots), a throw-away project builder, and
the HTML table reader (:mod:`html_tables`) as a fixture."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from html_tables import ROOTS, HtmlTable, read_tables

pytest_plugins = ("sphinx.testing.fixtures",)


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return ROOTS


@pytest.fixture
def tables() -> Callable[[str], list[HtmlTable]]:
    return read_tables


CONF = 'extensions = ["myst_parser", "sphinx_cnntable"]\nnumfig = True\nshow_warning_types = True\n'


@pytest.fixture
def project(make_app: Callable[..., Any], tmp_path: Path) -> Callable[..., Any]:
    """``project(index_text, md=False, files=None, buildername="html", conf="", **app_kwargs)``:
    write a one-page project (``index.rst`` or ``index.md``) and build it (fresh env)."""

    def build(text: str, md: bool = False, files: dict[str, str | bytes] | None = None,
              buildername: str = "html", conf: str = "", **kwargs: Any) -> Any:
        srcdir = tmp_path / "src"
        srcdir.mkdir(exist_ok=True)
        (srcdir / "conf.py").write_text(CONF + conf, encoding="utf-8")
        (srcdir / ("index.md" if md else "index.rst")).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        for name, content in (files or {}).items():
            path = srcdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        app = make_app(buildername, srcdir=srcdir, freshenv=True, **kwargs)
        app.build()
        app.cleanup()  # docutils' global registry, so a second app in one test starts clean
        return app

    return build
