"""Sphinx wiring: the directive, the hover node's visitors, the :cnn: role and its
domain, the chart node, the ``cnn-diagram`` directive, the README marker hook, and the
stylesheet."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.util import logging
from sphinx.util.fileutil import copy_asset_file

from . import chart, domain, verify
from .diagram import node as diagram
from .directive import CnnBreakdown, absolute_file_roots
from .readme import register_readme_hook
from .render_nodes import (
    ExpandTables,
    UnspanCells,
    cnntable_node,
    cnntable_row,
    depart_cnntable_row_latex,
    depart_formula_hint_html,
    formula_hint,
    passthrough,
    table_title,
    visit_cnntable_html,
    visit_cnntable_row_latex,
    visit_cnntable_text,
    visit_formula_hint_html,
)

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CSS_FILE = "cnntable.css"
JS_FILE = "cnntable.js"
ENV_VERSION = 8  # 2: cnn domain; 3: every row keyed; 4: every claimant of a name; 5: cnntable_node; 6: diagram sources; 7: batch, training, saved bytes; 8: saved bytes follow memory formats, rows from breakdown.py
MAX_ROWS = 2_000
"""Default of ``cnntable_max_rows``: the most rows a table draws (see the directive's docs)."""


def setup_extension(app: Sphinx, version: str) -> dict[str, Any]:
    """Register everything; nothing is kept in the environment, so -j is safe."""
    app.add_directive("cnn-breakdown", CnnBreakdown)
    app.add_config_value("cnntable_file_roots", [], "env", types=frozenset({list, tuple}))
    app.connect("config-inited", absolute_file_roots)
    app.add_config_value("cnntable_max_rows", MAX_ROWS, "env", types=(int, type(None)))
    plain = (passthrough, passthrough)
    app.add_node(
        formula_hint,
        html=(visit_formula_hint_html, depart_formula_hint_html),
        latex=plain,
        text=plain,
        man=plain,
        texinfo=plain,
    )
    app.add_enumerable_node(
        cnntable_node, "table", table_title, html=(visit_cnntable_html, None), text=(visit_cnntable_text, None)
    )
    app.add_node(cnntable_row, latex=(visit_cnntable_row_latex, depart_cnntable_row_latex))
    app.add_post_transform(ExpandTables)
    app.add_post_transform(UnspanCells)
    app.connect("builder-inited", _add_stylesheet)
    app.connect("builder-inited", verify.reset)
    app.connect("env-get-outdated", _version_changed)
    app.connect("build-finished", _copy_stylesheet)
    domain.setup(app)
    chart.setup(app)
    diagram.setup(app)
    register_readme_hook(app)
    return {
        "version": version,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def _version_changed(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str],
                     removed: set[str]) -> list[str]:
    """Every document is read again when the environment was built by another version of
    sphinx-cnntable: tables are computed when a page is read, so the figures of a new
    version must not wait for an edit of each page (``env_version`` only marks a change
    of the pickled data, after which Sphinx starts afresh anyway)."""
    version = app.extensions["sphinx_cnntable"].version
    data = env.domaindata.setdefault("cnn", {})
    previous = data.get("extension_version")
    data["extension_version"] = version
    if previous == version or not env.all_docs:
        return []
    logger.info("sphinx-cnntable %s (was %s): reading every document again", version, previous or "older")
    return sorted(env.found_docs)


def _add_stylesheet(app: Sphinx) -> None:
    """HTML builders only: link ``cnntable.css`` and ``cnntable.js`` (copied by :func:`_copy_stylesheet`)."""
    if app.builder.format == "html":
        app.add_css_file(CSS_FILE)
        app.add_js_file(JS_FILE, defer="defer")


def _copy_stylesheet(app: Sphinx, exception: Exception | None) -> None:
    """Copy ``cnntable.css`` and ``cnntable.js`` into ``_static`` after a successful HTML build.

    Copying here, rather than adding to ``html_static_path``, leaves the configuration
    untouched, so an unchanged project rebuilds nothing. The copy overwrites the one an
    older version left (Sphinx 7.4+ would otherwise warn and keep the old file).
    """
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static"
        force = "force" in inspect.signature(copy_asset_file).parameters  # Sphinx 7.4+
        for name in (CSS_FILE, JS_FILE):
            if force:
                copy_asset_file(STATIC / name, target, force=True)
            else:
                copy_asset_file(STATIC / name, target)
