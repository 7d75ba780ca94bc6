"""Sphinx configuration for the sphinx-cnntable documentation."""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sphinx_cnntable import __version__  # noqa: E402

project = "sphinx-cnntable"
author = "sphinx-cnntable maintainers"
copyright = "2026, sphinx-cnntable maintainers"
version = release = __version__

extensions = ["myst_parser", "sphinx_cnntable"]
myst_enable_extensions = ["colon_fence"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "screenshots.py"]
numfig = True
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = "sphinx-cnntable"
latex_documents = [("index", "sphinx-cnntable.tex", "sphinx-cnntable", author, "manual")]
latex_elements = {
    # Characters the prose and the nested-row markers use, for pdflatex.
    "preamble": r"""
\DeclareUnicodeCharacter{2248}{\ensuremath{\approx}}
\DeclareUnicodeCharacter{00D7}{\ensuremath{\times}}
\DeclareUnicodeCharacter{00B7}{\ensuremath{\cdot}}
\DeclareUnicodeCharacter{2192}{\ensuremath{\rightarrow}}
\DeclareUnicodeCharacter{2264}{\ensuremath{\leq}}
\DeclareUnicodeCharacter{2265}{\ensuremath{\geq}}
\DeclareUnicodeCharacter{2212}{\ensuremath{-}}
""",
}


def _svg_images_in_print(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """LaTeX cannot include SVG: the README's diagram files (SVG, which GitHub shows as
    images) become a line naming the file in the PDF, whose own pages draw their
    diagrams with TikZ."""
    if app.builder.format != "latex":
        return
    for image in list(doctree.findall(nodes.image)):
        if image["uri"].endswith(".svg"):
            name = image["uri"].rsplit("/", 1)[-1]
            image.replace_self(nodes.emphasis(text=f"[{image.get('alt') or name}: {name}, in the HTML docs]"))


def setup(app: Sphinx) -> None:
    app.connect("doctree-resolved", _svg_images_in_print)
