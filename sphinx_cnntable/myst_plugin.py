"""``cnntable myst-plugin``: an executable plugin for mystmd (Jupyter Book 2).

mystmd runs the plugin file with no arguments to read its specification (JSON on
stdout), then once per ``cnn-breakdown`` directive (``--directive cnn-breakdown``) and
``{cnn}`` role (``--role cnn``) with the parsed node as JSON on stdin, and once per page
for the ``project``-stage transform (``--transform cnn-figures``) with the page's whole
tree; each answer is MyST AST on stdout. No Sphinx is imported.

* The directive answers with a ``container`` (kind ``table``, the ``:name:`` as its
  label) holding a ``caption`` and a ``table``: a header row, one row per layer, and the
  totals as the last rows (label, value). A problem becomes an ``admonition`` of kind
  ``error`` that reads as the Sphinx warning does (``cnn-breakdown: MESSAGE``, ``at line
  N``), and the same line goes to stderr (``myst build --debug`` shows it).
* A named table's figures are kept for the ``{cnn}`` role in a store of this build
  (``_build/temp/cnntable/<mystmd's process id>/``), since each call is a new process.
* The role answers with a placeholder that the transform replaces with the figure's
  text once every page has been read (so citations of tables on later pages work), or
  with the reference as code and the message (``[cnn: MESSAGE]``) when it cannot.

``:file:`` is read relative to the project root (the folder of ``myst.yml``, where
mystmd runs the plugin): mystmd does not tell a plugin which page it is on.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .engine import analyse
from .errors import SpecError
from .figures import FigureError, parse_reference, resolve, summarize
from .limits import MAX_SPEC_BYTES
from .options import OPTION_NAMES, OptionError, directive_options
from .svg import chart_rows, summary
from .table import Table, build_table

Node = dict[str, Any]

TRANSFORM = "cnn-figures"
STORE_ENV = "CNNTABLE_MYST_STORE"
"""Environment variable: a folder for the figures of named tables (default under ``_build``)."""

SPEC: dict[str, Any] = {
    "name": "sphinx-cnntable",
    "directives": [
        {
            "name": "cnn-breakdown",
            "doc": "A per-layer CNN table computed from a layer spec (sphinx-cnntable).",
            "arg": {"type": "myst", "doc": "The table's caption."},
            "options": {name: {"type": "string"} for name in OPTION_NAMES},
            "body": {"type": "string", "doc": "The layer spec (or give it in :file:)."},
        }
    ],
    "roles": [
        {
            "name": "cnn",
            "doc": "A figure of a named cnn-breakdown: BREAKDOWN[/ROW]:FIGURE[:FORMAT].",
            "body": {"type": "string"},
        }
    ],
    "transforms": [{"name": TRANSFORM, "doc": "Resolve {cnn} citations.", "stage": "project"}],
}

SHIM = '''#!{python}
"""mystmd executable plugin: sphinx-cnntable's cnn-breakdown directive and {{cnn}} role."""
import sys

from sphinx_cnntable.myst_plugin import main

sys.exit(main(sys.argv[1:]))
'''


def main(argv: Sequence[str]) -> int:
    """No argument: print the specification; ``--directive``/``--role``/``--transform
    NAME``: read a node on stdin, print the answer; ``--init PATH [--python EXE]``:
    write an executable plugin file for ``myst.yml``."""
    args = list(argv)
    if not args:
        _write(SPEC)
        return 0
    if args[0] == "--init":
        return _init(args[1:])
    if len(args) != 2 or args[0] not in ("--directive", "--role", "--transform"):
        print("usage: cnntable myst-plugin [--directive NAME | --role NAME | --transform NAME | --init PATH]",
              file=sys.stderr)
        return 2
    data = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    kind = args[0][2:]
    if kind == "directive":
        _write(directive(data))
    elif kind == "role":
        _write(role(data))
    else:
        _write(transform(data))
    return 0


def _init(args: list[str]) -> int:
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--python"):
        print("usage: cnntable myst-plugin --init PATH [--python EXECUTABLE]", file=sys.stderr)
        return 2
    python = args[2] if len(args) == 3 else "/usr/bin/env python3"
    path = Path(args[0])
    path.write_text(SHIM.format(python=python), encoding="utf-8")
    path.chmod(0o755)
    print(f"wrote {path}; add it to myst.yml under project: plugins: (type: executable)")
    return 0


def _write(value: Any) -> None:
    sys.stdout.buffer.write(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    sys.stdout.buffer.flush()


# -- the directive ------------------------------------------------------------------


def directive(data: dict[str, Any]) -> list[Node]:
    """The nodes for one ``cnn-breakdown``: the table (and chart summary), or an error."""
    node = data.get("node") or {}
    line = _line(node)
    given = (data.get("options") or {}).items()
    options = {key: "" if value is None or value is True else str(value) for key, value in given}
    try:
        table_options, input_shape, bias, classes = directive_options(options)
    except OptionError as error:
        return _error(str(error), f"line {line}")
    spec, where = _spec(options, data.get("body"), node, line)
    if isinstance(spec, _Problem):
        return _error(spec.message, spec.where)
    try:
        breakdown = analyse(spec, input_shape, bias, table_options.batch)
        table = build_table(breakdown, table_options)
    except SpecError as error:
        return _error(error.message, where(error.line))
    except Exception as error:  # noqa: BLE001 (a page must build whatever the engine does)
        message = f"cannot compute the table ({type(error).__name__}: {error}); please report this bug"
        return _error(message, f"line {line}")
    name = options.get("name", "").strip()
    out: list[Node] = []
    if name:
        duplicate = _store_put(name, line, spec, summarize(breakdown, table_options.dtype, table_options.training))
        if duplicate is not None:
            message = f"duplicate name {name!r} (also at line {duplicate}); citations use the first"
            out += _error(message, f"line {line}")
    caption = data.get("arg")
    out.append(table_node(table, caption if isinstance(caption, list) else None, name or None, classes))
    if "chart" in options:
        from .chart import parse_chart_options

        try:
            metrics, _scale = parse_chart_options(options["chart"], options.get("chart-scale"))
        except ValueError as error:
            return [*out, *_error(f":chart: {error}", f"line {line}")]
        text = summary(chart_rows(breakdown, table_options.depth, table_options.dtype), metrics)
        if text:
            out.append({"type": "paragraph", "class": "cnntable-chart-summary", "children": [_text(text)]})
    return out


class _Problem:
    def __init__(self, message: str, where: str) -> None:
        self.message = message
        self.where = where


def _spec(options: dict[str, str], body: Any, node: Node, line: int) -> tuple[str | _Problem, Any]:
    """The spec text and a map from its lines to ``line N`` (``FILE:N`` for ``:file:``)."""
    if "file" in options:
        if body:
            return _Problem("give the spec as content or in :file:, not both", f"line {line}"), None
        return _read_file(options["file"].strip(), line)
    if not body:
        return _Problem("no spec: give it as the directive's content or in :file:", f"line {line}"), None
    first = _body_line(node)
    return str(body), lambda number: f"line {first + number - 1}" if first else f"line {line}"


def _read_file(name: str, line: int) -> tuple[str | _Problem, Any]:
    here = f"line {line}"
    if not name:
        return _Problem(":file: needs a path", here), None
    path = Path(name.lstrip("/"))
    problem = None
    text = ""
    if not path.exists():
        problem = f"spec file {name!r} not found"
    elif not path.is_file():
        problem = f"spec file {name!r} is not a file"
    elif path.stat().st_size > MAX_SPEC_BYTES:
        problem = f"spec file {name!r} is larger than the limit of {MAX_SPEC_BYTES:,} bytes"
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            problem = f"spec file {name!r} is not UTF-8 (byte {error.start})"
        except OSError as error:
            problem = f"cannot read spec file {name!r}: {error.strerror or error}"
    if problem is not None:
        return _Problem(problem, here), None
    return text, lambda number: f"{path}:{number}"


def _line(node: Node) -> int:
    return int(((node.get("position") or {}).get("start") or {}).get("line") or 0)


def _body_line(node: Node) -> int:
    """The page line of the spec's first line (0 when mystmd does not say)."""
    for child in node.get("children") or []:
        if child.get("type") == "mystDirectiveBody":
            return _line(child)
    return 0


def _text(value: str) -> Node:
    return {"type": "text", "value": value}


def _error(message: str, where: str) -> list[Node]:
    """The problem as an error admonition, worded as the Sphinx warning."""
    print(f"{where}: cnn-breakdown: {message}", file=sys.stderr)
    return [
        {
            "type": "admonition",
            "kind": "error",
            "class": "cnntable-error",
            "children": [
                {"type": "admonitionTitle", "children": [_text("cnn-breakdown")]},
                {"type": "paragraph", "children": [_text(f"cnn-breakdown: {message} (at {where})")]},
            ],
        }
    ]


def table_node(table: Table, caption: list[Node] | None, name: str | None, classes: Sequence[str] = ()) -> Node:
    """A ``container`` (kind ``table``) with the caption and the table: a header row,
    the rows (group names in bold, nested names indented), then one row per total whose
    label spans every column but the last."""
    ncols = len(table.columns)
    rows: list[Node] = [
        {
            "type": "tableRow",
            "children": [_cell([_text(column.header)], column.numeric, header=True) for column in table.columns],
        }
    ]
    for row in table.rows:
        cells = []
        for column, cell in zip(table.columns, row.cells):
            indent = "\u2003" * row.depth if column.key == "name" else ""
            children: list[Node] = [_text(cell.text if row.kind == "group" else indent + cell.text)]
            if column.key == "name" and row.kind == "group":
                children = [{"type": "strong", "children": children}]
                if indent:
                    children.insert(0, _text(indent))
            cells.append(_cell(children, cell.numeric))
        rows.append({"type": "tableRow", "class": f"cnntable-{row.kind}", "children": cells})
    for total in table.totals:
        label = {"type": "strong", "children": [_text(total.label)]}
        if ncols == 1:
            rows.append({"type": "tableRow", "class": "cnntable-total",
                         "children": [_cell([label, _text(": " + total.text)], False)]})
            continue
        label_cell = _cell([label], False)
        if ncols > 2:
            label_cell["colspan"] = ncols - 1
        rows.append({"type": "tableRow", "class": "cnntable-total",
                     "children": [label_cell, _cell([_text(total.text)], True)]})
    children: list[Node] = []
    if caption:
        children.append({"type": "caption", "children": [{"type": "paragraph", "children": caption}]})
    children.append({"type": "table", "class": "cnntable", "children": rows})
    container: Node = {"type": "container", "kind": "table", "class": " ".join(["cnntable", *classes]),
                       "children": children}
    if name:
        container["label"] = name
        container["identifier"] = _identifier(name)
    return container


def _cell(children: list[Node], numeric: bool, header: bool = False) -> Node:
    cell: Node = {"type": "tableCell", "children": children}
    if header:
        cell["header"] = True
    if numeric:
        cell["align"] = "right"
    return cell


def _identifier(name: str) -> str:
    """As MyST normalizes labels: case and spacing folded."""
    return " ".join(name.split()).lower()


# -- figures of named tables, between processes ----------------------------------


def store_dir() -> Path:
    """This build's store: ``$CNNTABLE_MYST_STORE``, or one folder per mystmd process
    under ``_build/temp/cnntable`` (folders of processes that have ended are removed)."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    base = Path("_build") / "temp" / "cnntable"
    here = base / str(os.getppid())
    if not here.is_dir():
        for old in base.glob("*") if base.is_dir() else ():
            if old.name.isdigit() and not _alive(int(old.name)):
                for file in old.glob("*.json"):
                    file.unlink(missing_ok=True)
                old.rmdir()
    return here


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (POSIX signal 0; elsewhere assumed, never signalled)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _store_file(name: str) -> Path:
    return store_dir() / (hashlib.sha256(_identifier(name).encode("utf-8")).hexdigest()[:32] + ".json")


def _store_put(name: str, line: int, spec: str, figures: dict[str, Any]) -> int | None:
    """Keep ``figures`` under ``name``; the line of an earlier, different table of that
    name if there is one (it is kept). mystmd reads a page once per export, so the same
    table met again is not a duplicate."""
    path = _store_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "line": line, "spec": hashlib.sha256(spec.encode("utf-8")).hexdigest(), "summary": figures}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            existing = None
        if existing is not None and (existing["line"], existing["spec"]) != (line, record["spec"]):
            return int(existing["line"])
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record), encoding="utf-8")
    temporary.replace(path)
    return None


def _store_get(name: str) -> dict[str, Any] | None:
    path = _store_file(name)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["summary"]


def _store_names() -> list[str]:
    folder = store_dir()
    names = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            names.append(json.loads(path.read_text(encoding="utf-8"))["name"])
        except (ValueError, KeyError):
            continue
    return names


# -- the role and the transform ----------------------------------------------------


def role(data: dict[str, Any]) -> list[Node]:
    """A placeholder for the transform, or the reference as code and the message."""
    text = str(data.get("body") or "").strip()
    try:
        parse_reference(text)
    except FigureError as error:
        return _unresolved(text, str(error), _line(data.get("node") or {}))
    return [{"type": "span", "class": "cnn-figure", "data": {"cnntable": text, "line": _line(data.get("node") or {})},
             "children": [{"type": "inlineCode", "value": text}]}]


def _unresolved(text: str, message: str, line: int) -> list[Node]:
    print(f"line {line}: cnn: {message}", file=sys.stderr)
    return [{"type": "inlineCode", "class": "cnn-unresolved", "value": text}, _text(f" [cnn: {message}]")]


def transform(tree: Node) -> Node:
    """Replace every ``{cnn}`` placeholder of a page with its figure."""
    _resolve_in(tree)
    return tree


def _resolve_in(node: Node) -> None:
    children = node.get("children")
    if not isinstance(children, list):
        return
    replaced: list[Node] = []
    for child in children:
        reference = (child.get("data") or {}).get("cnntable") if isinstance(child, dict) else None
        if reference is None:
            if isinstance(child, dict):
                _resolve_in(child)
            replaced.append(child)
            continue
        replaced.extend(_figure(str(reference), int(child["data"].get("line") or 0)))
    node["children"] = replaced


def _figure(text: str, line: int) -> list[Node]:
    try:
        reference = parse_reference(text)
        figures = _store_get(reference.breakdown)
        if figures is None:
            import difflib

            close = difflib.get_close_matches(_identifier(reference.breakdown),
                                              [_identifier(name) for name in _store_names()], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise FigureError(f"no cnn-breakdown named {reference.breakdown!r}{hint}")
        value = resolve(figures, reference)
    except FigureError as error:
        return _unresolved(text, str(error), line)
    return [_text(value)]
