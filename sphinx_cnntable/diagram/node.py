"""The ``cnn-diagram`` directive and its node: inline SVG in HTML, TikZ in LaTeX, a
one-line summary in every other builder.

The spec comes as content, from ``:file:``, or, with neither, from the
``cnn-breakdown`` table named by ``:name:`` (anywhere in the project: the tables note
theirs with :func:`.sources.note_source`). A diagram of content or a file is laid out
when its page is read, so problems are located at their line; one of a named table
when the page is resolved, once every page is read. The node keeps the layout, and
each builder draws only its own form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from docutils.utils import escape2null, unescape
from sphinx.util import logging

from ..directive import CnnBreakdown, Problem, _text
from ..engine import Breakdown, analyse
from ..errors import SpecError
from ..options import OptionError, directive_options
from .layout import (
    DIRECTIONS,
    ENCODINGS,
    MAX_BOXES,
    STYLES,
    DiagramError,
    check_choice,
    layout,
    parse_show,
    summary,
)
from .sources import find, merge, note_reference, outdated, purge, updated
from .svg import render_svg
from .tikz import render_tikz

if TYPE_CHECKING:
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)
OPTIONS = ("input", "file", "name", "class", "bias", "dtype", "depth", "style", "direction", "show", "encode")


class cnn_diagram(nodes.General, nodes.Element):
    """Attributes: ``diagram`` (the layout, drawn as SVG or TikZ when resolved for a
    builder), ``ident`` and ``summary``; or ``table`` (a table's name) and ``settings``
    (the layout's keyword arguments), laid out when resolved."""


class CnnDiagram(CnnBreakdown):
    """``.. cnn-diagram:: [title]`` with a spec as content, in ``:file:``, or ``:name:``
    of a ``cnn-breakdown`` table."""

    option_spec: ClassVar[dict[str, Any]] = {name: _text for name in OPTIONS}

    def run(self) -> list[nodes.Node]:
        try:
            table_options, input_shape, bias, classes = directive_options(
                {key: value for key, value in self.options.items() if key in ("input", "bias", "dtype", "depth", "class")}
            )
            settings: dict[str, Any] = {
                "style": check_choice(self.options.get("style"), STYLES, "style", "flow"),
                "direction": check_choice(self.options.get("direction"), DIRECTIONS, "direction", "down"),
                "encode": check_choice(self.options.get("encode"), ENCODINGS, "encoding"),
                "show": parse_show(self.options.get("show")),
                "depth": table_options.depth,
                "dtype": table_options.dtype,
                "title": unescape(escape2null(self.arguments[0])) if self.arguments else "",
                "max_boxes": self.config.cnntable_diagram_max_boxes,
            }
        except (OptionError, DiagramError) as error:
            return self._fail(Problem(str(error), "option", self.get_location()))
        name = self.options.get("name", "")
        if name and not self.content and "file" not in self.options:
            if input_shape is not None or bias is not None:
                return self._fail(Problem(":input: and :bias: belong to the named table, not its diagram",
                                          "option", self.get_location()))
            note_reference(self.env, name)
            node = cnn_diagram("", table=name, settings=settings, classes=["cnntable-diagram", *classes])
            self.set_source_info(node)
            return [node]
        try:
            text, where = self._spec()
            breakdown = analyse(text, input_shape, bias)
        except Problem as problem:
            return self._fail(problem)
        except SpecError as error:
            return self._fail(Problem(error.message, "spec", where(error.line)))
        except Exception as error:  # noqa: BLE001 (a page must build whatever the engine does)
            message = f"cannot compute the diagram ({type(error).__name__}: {error}); please report this bug"
            return self._fail(Problem(message, "spec", self.get_location()))
        node = draw(breakdown, settings, self._ident(), classes)
        self.set_source_info(node)
        if name:
            self.add_name(node)
        return [node]

    def _ident(self) -> str:
        return "cnndiagram-{}-{}".format(self.env.docname.replace("/", "-"), self.env.new_serialno("cnndiagram"))

    def _fail(self, problem: Problem) -> list[nodes.Node]:
        logger.warning(
            "cnn-diagram: %s", problem.message, type="cnntable", subtype=problem.subtype, location=problem.location
        )
        if not self.config.keep_warnings:
            return []
        return [nodes.paragraph("", f"cnn-diagram: {problem.message}", classes=["cnntable-error"])]


def draw(breakdown: Breakdown, settings: dict[str, Any], ident: str, classes: list[str]) -> cnn_diagram:
    """The node of ``breakdown`` drawn with ``settings`` (:func:`.layout.layout`'s arguments)."""
    diagram = layout(breakdown, **settings)
    return cnn_diagram(
        "",
        diagram=diagram,
        ident=ident,
        summary=summary(diagram, breakdown),
        classes=["cnntable-diagram", *classes],
    )


def _resolve(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Draw the diagrams of named tables, then give each builder its form."""
    fmt = app.builder.format
    for number, node in enumerate(list(doctree.findall(cnn_diagram))):
        if "table" in node.attributes:
            breakdown = find(app.env, node["table"])
            if breakdown is None:
                logger.warning("cnn-diagram: no cnn-breakdown named %r", node["table"], type="cnntable",
                               subtype="ref", location=node)
                node.parent.remove(node)
                continue
            ident = "cnndiagram-{}-n{}".format(docname.replace("/", "-"), number)
            drawn = draw(breakdown, node["settings"], ident, [])
            drawn["classes"] = node["classes"]
            drawn.source, drawn.line = node.source, node.line
            node.replace_self(drawn)
            node = drawn
        classes = " ".join(dict.fromkeys(node["classes"]))
        if fmt == "html":
            ident = f' id="{node["ids"][0]}"' if node["ids"] else ""
            svg = render_svg(node["diagram"], node["ident"])
            node.replace_self(nodes.raw("", f'<div class="{classes}"{ident}>{svg}</div>\n', format="html"))
        elif fmt == "latex":
            node.replace_self(nodes.raw("", render_tikz(node["diagram"]), format="latex"))
        else:
            node.replace_self(nodes.paragraph("", node["summary"], classes=["cnntable-diagram-summary"]))


def _skip(translator: Any, node: cnn_diagram) -> None:
    raise nodes.SkipNode


def setup(app: Sphinx) -> None:
    """Register the directive, its node (visitors only as a fallback) and the handlers."""
    app.add_config_value("cnntable_diagram_max_boxes", MAX_BOXES, "env", types=(int,))
    app.add_directive("cnn-diagram", CnnDiagram)
    app.add_node(cnn_diagram, html=(_skip, None), latex=(_skip, None), text=(_skip, None),
                 man=(_skip, None), texinfo=(_skip, None))
    app.add_latex_package("tikz")
    app.connect("doctree-resolved", _resolve)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-get-outdated", outdated)
    app.connect("env-updated", updated)
