"""Sphinx wiring: the directive, the hover node's visitors, the :cnn: role and its
domain, the chart node, the README marker hook, and the stylesheet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import chart, domain
from .directive import CnnBreakdown
from .readme import register_readme_hook
from .render_nodes import (
    UnspanCells,
    depart_formula_hint_html,
    formula_hint,
    passthrough,
    visit_formula_hint_html,
)

if TYPE_CHECKING:
    from sphinx.application import Sphinx

STATIC = Path(__file__).parent / "static"
CSS_FILE = "cnntable.css"
ENV_VERSION = 2  # 2: the cnn domain (breakdown summaries and citations for :cnn:)


def setup_extension(app: Sphinx, version: str) -> dict[str, Any]:
    """Register everything; nothing is kept in the environment, so -j is safe."""
    app.add_directive("cnn-breakdown", CnnBreakdown)
    plain = (passthrough, passthrough)
    app.add_node(
        formula_hint,
        html=(visit_formula_hint_html, depart_formula_hint_html),
        latex=plain,
        text=plain,
        man=plain,
        texinfo=plain,
    )
    app.add_post_transform(UnspanCells)
    app.connect("builder-inited", _add_stylesheet)
    domain.setup(app)
    chart.setup(app)
    register_readme_hook(app)
    return {
        "version": version,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def _add_stylesheet(app: Sphinx) -> None:
    """HTML builders only: copy ``cnntable.css`` to ``_static`` and link it."""
    if app.builder.format != "html":
        return
    static = str(STATIC)
    if static not in app.config.html_static_path:
        app.config.html_static_path = [*app.config.html_static_path, static]
    app.add_css_file(CSS_FILE)
