"""The ``cnn-breakdown`` directive: options -> engine -> table model -> docutils nodes.

Problems never stop the build: each one is a single warning (type ``cnntable``,
subtype ``spec``, ``file`` or ``option``) at the exact source line, and the directive
then draws nothing (or, with ``keep_warnings = True``, a short ``cnntable-error``
paragraph in its place).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from .chart import chart_node, parse_chart_options
from .diagram.sources import note_source
from .domain import note_breakdown
from .engine import Breakdown, analyse
from .errors import SpecError
from .limits import MAX_SPEC_BYTES
from .options import OptionError, directive_options
from .render_nodes import builder_of, cnntable_node_for
from .table import Table, TableOptions, build_table

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

logger = logging.getLogger(__name__)

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
            "numbers", "precision", "fold", "hide-empty", "depth", "no-totals", "chart", "chart-scale", "verify",
            "batch", "training", "macs-per",
        )
    }

    def run(self) -> list[nodes.Node]:
        try:
            table_options, input_shape, bias, classes = self._options()
        except OptionError as error:
            return self._fail(Problem(str(error), "option", self.get_location()))
        try:
            text, where = self._spec()
            breakdown = analyse(text, input_shape, bias, table_options.batch)
            table_options = replace(table_options, max_rows=self._max_rows())
            table = build_table(breakdown, table_options)
        except Problem as problem:
            return self._fail(problem)
        except SpecError as error:
            return self._fail(Problem(error.message, "spec", where(error.line)))
        except Exception as error:  # noqa: BLE001 (a page must build whatever the engine does)
            message = f"cannot compute the table ({type(error).__name__}: {error}); please report this bug"
            return self._fail(Problem(message, "spec", self.get_location()))
        if "verify" in self.options:
            self._verify(breakdown, where)
        title, messages = self._title()
        table_node = cnntable_node_for(
            table, (text, input_shape, bias, table_options), title, classes, hover=not table_options.formulas,
            html=builder_of(self.env).format == "html",
        )
        self.set_source_info(table_node)
        name = self.options.get("name", "")
        self.add_name(table_node)  # pops :name:, gives the table its id
        target = table_node["ids"][0] if name and table_node["ids"] else ""
        note_breakdown(self.env, name, breakdown, table_options.dtype, self.lineno, target, table_options.training)
        note_source(self.env, name, breakdown)
        notes = self._size_notes(table)
        if table.folded_depth is not None:
            table_options = replace(table_options, depth=table.folded_depth)
        chart = self._chart(breakdown, table_options, name)
        return [*messages, table_node, *notes, *chart]

    def _verify(self, breakdown: Breakdown, where: Callable[[int], str]) -> None:
        """``:verify: MODEL``: compare with the model (:mod:`.verify`; no framework imported here)."""
        from .verify import verify

        model = self.options["verify"]
        if not model:
            logger.warning("cnn-breakdown: :verify: needs a model (torch:package.module:callable or onnx:path.onnx)",
                           type="cnntable", subtype="verify", location=self.get_location())
            return
        cache = Path(self.env.doctreedir) / "cnntable-verify"
        verify(breakdown, model, where, self.get_location(), cache, str(Path(self.env.doc2path(self.env.docname)).parent))

    def _max_rows(self) -> int | None:
        """``cnntable_max_rows``; ``None`` (no limit) for ``None``, 0 or less."""
        limit = self.config.cnntable_max_rows
        return limit if isinstance(limit, int) and limit > 0 else None

    def _size_notes(self, table: Table) -> list[nodes.Node]:
        """Say where a table over ``cnntable_max_rows`` was cut: a located info when it
        was folded to a depth (and a note under it for the reader), a located warning
        (subtype ``rows``) when even depth 1 had too many rows and the middle ones were
        elided. Figures and totals stay exact either way."""
        notes: list[nodes.Node] = []
        if table.folded_depth is None and not table.elided:
            return notes
        over = f"{table.full_rows:,} rows, over cnntable_max_rows = {self._max_rows() or 0:,}"
        if table.folded_depth is not None:
            logger.info(
                "cnn-breakdown: %s: drawn to depth %d (deeper rows folded into their group rows)",
                over, table.folded_depth, location=self.get_location(),
            )
            text = (f"Rows nested {table.folded_depth} or more levels deep are folded into their group rows "
                    f"(the full table has {table.full_rows:,} rows).")
            notes.append(nodes.paragraph("", text, classes=["cnntable-note"]))
        if table.elided:
            logger.warning(
                "cnn-breakdown: %s even at depth 1: %s rows in the middle drawn as one row of their sums",
                over, f"{table.elided:,}", type="cnntable", subtype="rows", location=self.get_location(),
            )
        return notes

    def get_location(self) -> str:
        """``source:line`` of the directive, the source absolute (see :func:`_absolute`)."""
        source, line = self.get_source_info()
        return f"{_absolute(source) or '<unknown>'}:{line or ''}"

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
        node = chart_node(
            breakdown, metrics, scale, title, table_options.dtype, table_options.depth, ident, table_options.max_rows
        )
        self.set_source_info(node)
        return [node]

    def _options(self) -> tuple[TableOptions, tuple[int, ...] | None, bool | None, list[str]]:
        return directive_options(self.options)

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
        docutils names an included file relative to the working directory, so the source
        is made absolute, as Sphinx does for the locations of nodes.
        """
        if not 1 <= line <= len(self.content):
            return self.get_location()
        if _is_myst(self.state_machine):
            source = self.get_source_info()[0]
            return f"{_absolute(source)}:{self.lineno + self.content_offset + line}"
        source, offset = self.content.info(line - 1)
        return f"{_absolute(source)}:{offset + 1}"

    def _read_file(self, name: str) -> tuple[str, Callable[[int], str]]:
        if not name:
            raise Problem(":file: needs a path", "option", self.get_location())
        path = self._file_path(name)
        relative = os.path.relpath(path, self.env.srcdir).replace(os.sep, "/")
        self.env.note_dependency(relative)
        text = ""
        problem = self._path_problem(path, relative)
        if problem is None:
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as error:
                problem = f"spec file {relative!r} is not UTF-8 (byte {error.start})"
            except OSError as error:
                problem = f"cannot read spec file {relative!r}: {error.strerror or error}"
        if problem is not None:
            raise Problem(problem, "file", self.get_location())
        return text, lambda line: f"{path}:{line}"

    def _file_path(self, name: str) -> Path:
        """``name`` as a path: relative to the document, or with a leading ``/`` to the source
        folder; ``..`` folded, symbolic links not followed (:meth:`_path_problem` does)."""
        srcdir = Path(self.env.srcdir)
        if name.startswith(("/", "\\")):
            return Path(os.path.normpath(srcdir / name.lstrip("/\\")))
        document_dir = Path(self.env.doc2path(self.env.docname)).parent
        return Path(os.path.normpath(document_dir / name))

    def _path_problem(self, path: Path, relative: str) -> str | None:
        """Why ``path`` cannot be read, if it cannot: outside the allowed folders (checked
        through symbolic links), missing, not a file, too large; ``None`` if it can."""
        try:
            resolved = path.resolve(strict=False)
        except (OSError, RuntimeError):  # a symbolic link loop (RuntimeError before Python 3.13)
            return f"cannot read spec file {relative!r}: a loop of symbolic links"
        roots = file_roots(self.env.srcdir, self.config.cnntable_file_roots)
        if not any(resolved.is_relative_to(root) for root in roots):
            shown = f" ({resolved})" if resolved != path else ""
            return (
                f"spec file {relative!r}{shown} is outside the folders :file: may read ({', '.join(map(str, roots))}); "
                "add its folder to cnntable_file_roots in conf.py to allow it"
            )
        try:
            info = path.stat()
        except FileNotFoundError:
            return f"spec file {relative!r} not found"
        except OSError as error:  # a symbolic link loop (ELOOP) from Python 3.13 on, permissions
            return f"cannot read spec file {relative!r}: {error.strerror or error}"
        if not stat.S_ISREG(info.st_mode):
            return f"spec file {relative!r} is not a file"
        if info.st_size > MAX_SPEC_BYTES:
            return f"spec file {relative!r} is larger than the limit of {MAX_SPEC_BYTES:,} bytes"
        return None

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


PROJECT_MARKERS = (".git", ".hg", "pyproject.toml", "setup.py", "setup.cfg")
"""Files or folders whose presence marks a project's root folder."""


def project_root(srcdir: Path) -> Path:
    """The project that holds ``srcdir``: the nearest folder at or above it with one of
    :data:`PROJECT_MARKERS`, else ``srcdir`` itself (never a home or temporary folder
    that merely happens to hold it)."""
    for folder in (srcdir, *srcdir.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return srcdir


def file_roots(srcdir: str | Path, extra: list[str] | tuple[str, ...]) -> list[Path]:
    """The folders ``:file:`` may read from, resolved through symbolic links: the source
    folder, its project (:func:`project_root`) and each of ``extra`` (``cnntable_file_roots``,
    made absolute from the folder of ``conf.py`` by :func:`absolute_file_roots`)."""
    source = Path(srcdir).resolve()
    roots = [source, project_root(source), *(Path(folder).resolve() for folder in extra)]
    return list(dict.fromkeys(roots))


def absolute_file_roots(app: Sphinx, config: Config) -> None:
    """``config-inited``: make each of ``cnntable_file_roots`` absolute, from ``conf.py``'s folder."""
    roots = config.cnntable_file_roots
    if not isinstance(roots, (list, tuple)) or not all(isinstance(root, (str, os.PathLike)) for root in roots):
        logger.warning("cnntable_file_roots must be a list of folders; ignored", type="cnntable", subtype="option")
        config.cnntable_file_roots = []
        return
    config.cnntable_file_roots = [os.path.join(app.confdir, root) for root in roots]


def _absolute(source: str | None) -> str | None:
    """``source`` as an absolute path, unless it is not a path (``<string>``).

    docutils names an included file relative to the working directory
    (``../../tmp/src/part.txt`` when both share a top-level directory); Sphinx makes a
    node's source absolute in its warnings, and so does this.
    """
    if not source or source.startswith("<"):
        return source
    return os.path.abspath(source)


def _is_myst(state_machine: object) -> bool:
    """Whether the directive runs under myst-parser (whose content offsets are relative)."""
    return any(cls.__module__.startswith("myst_parser.") for cls in type(state_machine).__mro__)
