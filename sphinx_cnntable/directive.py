"""The ``cnn-breakdown`` directive: options -> engine -> table model -> docutils nodes.

Problems never stop the build: each one is a single warning (type ``cnntable``,
subtype ``spec``, ``file`` or ``option``) at the exact source line, and the directive
then draws nothing (or, with ``keep_warnings = True``, a short ``cnntable-error``
paragraph in its place).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from .chart import chart_node, parse_chart_options
from .domain import note_breakdown
from .engine import Breakdown, analyse, parse_shape
from .errors import SpecError
from .limits import MAX_SPEC_BYTES
from .render_nodes import builder_of, cnntable_node_for
from .table import TableOptions, build_table, column_keys, parse_numbers
from .units import MAX_PRECISION, dtype_name

logger = logging.getLogger(__name__)

_TRUE = ("", "yes", "true", "on", "1")
_FALSE = ("no", "false", "off", "0")


class OptionError(ValueError):
    """A bad option value; the message names the option."""


class Problem(Exception):
    """A problem to report as one warning: ``message``, warning subtype, ``source:line``."""

    def __init__(self, message: str, subtype: str, location: str) -> None:
        super().__init__(message)
        self.message = message
        self.subtype = subtype
        self.location = location


def _text(value: str | None) -> str:
    return (value or "").strip()


class CnnBreakdown(SphinxDirective):
    """``.. cnn-breakdown:: [caption]`` with a spec as content or in ``:file:``."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        name: _text
        for name in (
            "input", "file", "name", "class", "bias", "dtype", "columns", "formulas",
            "numbers", "precision", "fold", "hide-empty", "depth", "no-totals", "chart", "chart-scale",
        )
    }

    def run(self) -> list[nodes.Node]:
        try:
            table_options, input_shape, bias, classes = self._options()
        except OptionError as error:
            return self._fail(Problem(str(error), "option", self.get_location()))
        try:
            text, where = self._spec()
            breakdown = analyse(text, input_shape, bias)
            table = build_table(breakdown, table_options)
        except Problem as problem:
            return self._fail(problem)
        except SpecError as error:
            return self._fail(Problem(error.message, "spec", where(error.line)))
        except Exception as error:  # noqa: BLE001 (a page must build whatever the engine does)
            message = f"cannot compute the table ({type(error).__name__}: {error}); please report this bug"
            return self._fail(Problem(message, "spec", self.get_location()))
        title, messages = self._title()
        table_node = cnntable_node_for(
            table, (text, input_shape, bias, table_options), title, classes, hover=not table_options.formulas,
            html=builder_of(self.env).format == "html",
        )
        self.set_source_info(table_node)
        name = self.options.get("name", "")
        note_breakdown(self.env, name, breakdown, table_options.dtype, self.lineno)
        self.add_name(table_node)  # pops :name:
        return [*messages, table_node, *self._chart(breakdown, table_options, name)]

    def _chart(self, breakdown: Breakdown, table_options: TableOptions, name: str) -> list[nodes.Node]:
        """``:chart: params, macs, memory`` (+ ``:chart-scale: log``): SVG in HTML, a summary elsewhere."""
        if "chart" not in self.options:
            return []
        try:
            metrics, scale = parse_chart_options(self.options["chart"], self.options.get("chart-scale"))
        except ValueError as error:
            logger.warning("cnn-breakdown: :chart: %s", error, type="cnntable", subtype="option", location=self.get_location())
            return []
        title = self.arguments[0] if self.arguments else name or None
        ident = "cnnchart-{}-{}".format(self.env.docname.replace("/", "-"), self.env.new_serialno("cnnchart"))
        node = chart_node(breakdown, metrics, scale, title, table_options.dtype, table_options.depth, ident)
        self.set_source_info(node)
        return [node]

    def _options(self) -> tuple[TableOptions, tuple[int, ...] | None, bool | None, list[str]]:
        options = self.options
        kwargs: dict[str, Any] = {}
        for name, key in (("formulas", "formulas"), ("fold", "fold"), ("hide-empty", "hide_empty")):
            if name in options:
                kwargs[key] = _flag(name, options[name])
        if "no-totals" in options:
            kwargs["totals"] = not _flag("no-totals", options["no-totals"])
        with _option("columns"):
            if "columns" in options:
                kwargs["columns"] = tuple(column_keys(options["columns"]))
        with _option("numbers"):
            if "numbers" in options:
                kwargs["numbers"], kwargs["column_numbers"] = parse_numbers(options["numbers"])
        with _option("dtype"):
            if "dtype" in options:
                kwargs["dtype"] = dtype_name(options["dtype"])
        if "precision" in options:
            kwargs["precision"] = _integer("precision", options["precision"], 1, MAX_PRECISION)
        if "depth" in options:
            kwargs["depth"] = _integer("depth", options["depth"], 1, None)
        input_shape = None
        if "input" in options:
            try:
                input_shape = parse_shape(options["input"])
            except SpecError as error:
                raise OptionError(f":input: {error.message}") from None
        bias = _flag("bias", options["bias"], empty=False) if "bias" in options else None
        classes: list[str] = []
        with _option("class"):
            if "class" in options:
                classes = directives.class_option(options["class"])
        return TableOptions(**kwargs), input_shape, bias, classes

    def _spec(self) -> tuple[str, Callable[[int], str]]:
        """The spec text and a map from its lines to ``source:line``."""
        if "file" in self.options:
            if self.content:
                raise Problem("give the spec as content or in :file:, not both", "option", self.get_location())
            return self._read_file(self.options["file"])
        if not self.content:
            raise Problem("no spec: give it as the directive's content or in :file:", "spec", self.get_location())
        return "\n".join(self.content), self._content_location

    def _content_location(self, line: int) -> str:
        """``source:line`` of spec line ``line`` (1-based) of the directive's content.

        docutils records each content line's source and 0-based offset (exact also for
        included files); myst-parser's offsets are relative, so there the line is counted
        from the directive's opening line, ``content_offset`` lines before the content.
        """
        if not 1 <= line <= len(self.content):
            return self.get_location()
        if _is_myst(self.state_machine):
            source = self.get_source_info()[0]
            return f"{source}:{self.lineno + self.content_offset + line}"
        source, offset = self.content.info(line - 1)
        return f"{source}:{offset + 1}"

    def _read_file(self, name: str) -> tuple[str, Callable[[int], str]]:
        if not name:
            raise Problem(":file: needs a path", "option", self.get_location())
        relative, absolute = self.env.relfn2path(name, self.env.docname)
        self.env.note_dependency(relative)
        path = Path(absolute)
        text = ""
        if not path.exists():
            problem = f"spec file {relative!r} not found"
        elif not path.is_file():
            problem = f"spec file {relative!r} is not a file"
        elif path.stat().st_size > MAX_SPEC_BYTES:
            problem = f"spec file {relative!r} is larger than the limit of {MAX_SPEC_BYTES:,} bytes"
        else:
            problem = None
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as error:
                problem = f"spec file {relative!r} is not UTF-8 (byte {error.start})"
            except OSError as error:
                problem = f"cannot read spec file {relative!r}: {error.strerror or error}"
        if problem is not None:
            raise Problem(problem, "file", self.get_location())
        return text, lambda line: f"{path}:{line}"

    def _title(self) -> tuple[nodes.title | None, list[nodes.system_message]]:
        """The caption, parsed as inline markup, and any messages from parsing it."""
        if not self.arguments:
            return None, []
        text = self.arguments[0]
        children, messages = self.state.inline_text(text, self.lineno)
        title = nodes.title(text, "", *children)
        self.set_source_info(title)
        return title, list(messages)

    def _fail(self, problem: Problem) -> list[nodes.Node]:
        logger.warning(
            "cnn-breakdown: %s", problem.message, type="cnntable", subtype=problem.subtype, location=problem.location
        )
        return self._error_nodes(problem.message)

    def _error_nodes(self, message: str) -> list[nodes.Node]:
        if not self.config.keep_warnings:
            return []
        return [nodes.paragraph("", f"cnn-breakdown: {message}", classes=["cnntable-error"])]


class _option:  # noqa: N801 (used as a context manager)
    """Turn a ``ValueError`` from a converter into an :class:`OptionError` for ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> bool:
        if isinstance(error, ValueError) and not isinstance(error, OptionError):
            raise OptionError(f":{self.name}: {error}") from None
        return False


def _flag(name: str, value: str, empty: bool = True) -> bool:
    word = value.lower()
    if word in _TRUE and (word or empty):
        return True
    if word in _FALSE:
        return False
    expected = "no value (or yes/no)" if empty else "yes or no"
    raise OptionError(f":{name}: expected {expected}, got {value!r}")


def _integer(name: str, value: str, low: int, high: int | None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < low or (high is not None and number > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise OptionError(f":{name}: expected a whole number {bound}, got {value!r}")
    return number


def _is_myst(state_machine: object) -> bool:
    """Whether the directive runs under myst-parser (whose content offsets are relative)."""
    return any(cls.__module__.startswith("myst_parser.") for cls in type(state_machine).__mro__)
