"""Architecture diagrams computed from a breakdown: :mod:`.layout` places boxes and
joins (pure Python), :mod:`.svg` and :mod:`.tikz` draw them, :mod:`.node` is the
``cnn-diagram`` directive's Sphinx side."""

from .layout import Box, Diagram, Join, layout, summary

__all__ = ["Box", "Diagram", "Join", "layout", "summary"]
