"""sphinx-cnntable: computed CNN layer tables for Sphinx and MyST.

The engine (:mod:`.spec`, :mod:`.layers`, :mod:`.engine`) is pure Python and imports
nothing from Sphinx; :func:`setup` wires the Sphinx side in only when Sphinx loads us.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .engine import Breakdown, Row, Totals, analyse, compute
from .errors import SpecError
from .spec import parse

if TYPE_CHECKING:
    from sphinx.application import Sphinx

__version__ = "0.1.0"

__all__ = ["Breakdown", "Row", "SpecError", "Totals", "__version__", "analyse", "compute", "parse", "setup"]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``cnn-breakdown`` directive (and its friends) with Sphinx."""
    from .sphinx_ext import setup_extension

    return setup_extension(app, __version__)
