"""Parse spec text into a tree of statements (no shapes, no numbers yet).

The parser only knows the layout of the language: lines, comments, indentation,
labels, ``xN`` suffixes and block headers. What a layer line means is decided by
:mod:`sphinx_cnntable.layers` when the engine walks the tree, because a line inside a
user block may hold ``{placeholders}`` that only a call fills in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SpecError
from .layers.merge import MERGES
from .limits import MAX_DEPTH, MAX_LINE_CHARS, MAX_SPEC_BYTES

MERGE_KINDS = tuple(name for name, kind in MERGES.items() if kind.branches)
"""Blocks whose body is ``branch:`` blocks (``add:``, ``concat:``)."""

BLOCK_KINDS = ("repeat", *MERGES, "branch", "side", "group")
"""Keywords that open a block; ``NAME:`` alone opens a named ``group``. A ``side:``
block is a side output: its rows count, the main path goes on with its input."""

_LABEL = re.compile(r"^([A-Za-z_][\w.]*)\s*:(.*)$")
_REPEAT_HEADER = re.compile(r"^repeat\s+([^:]+?)\s*:(.*)$", re.IGNORECASE)
_PLAIN_HEADER = re.compile(rf"^({'|'.join(BLOCK_KINDS[1:])})\s*:(.*)$", re.IGNORECASE)
_DEFINE_HEADER = re.compile(r"^define\s+([A-Za-z_]\w*)((?:\s+[^:]*)?):(.*)$", re.IGNORECASE)
_COUNT_SUFFIX = re.compile(r"^(.*?\S)(?:\s+x\s*|\s*×\s*)(\S+)$", re.IGNORECASE)
_PARAM = re.compile(r"^([A-Za-z_]\w*)(?:=(\S+))?$")


@dataclass
class Statement:
    """One statement; ``line`` is 1-based in the spec text."""

    line: int
    label: str | None = None


@dataclass
class InputStatement(Statement):
    dims: str = ""


@dataclass
class DefaultStatement(Statement):
    text: str = ""


@dataclass
class LayerStatement(Statement):
    """A layer or a call of a user block, repeated ``count`` times (text, maybe ``{n}``)."""

    text: str = ""
    count: str | None = None


@dataclass
class BlockStatement(Statement):
    """``repeat N:``, a merge (``residual:``, ``scale:``, ``add:``, ``concat:``), ``branch:``, ``side:`` or a group."""

    kind: str = "group"
    argument: str | None = None
    body: list[Statement] = field(default_factory=list)


@dataclass
class DefineStatement(Statement):
    """``define NAME p1 p2=default:`` and its body, expanded at each call."""

    name: str = ""
    params: list[tuple[str, str | None]] = field(default_factory=list)
    body: list[Statement] = field(default_factory=list)


@dataclass
class Spec:
    """A parsed spec: its top-level statements."""

    statements: list[Statement]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def lines(text: str) -> list[str]:
    """``text``'s lines, split where an editor counts a new line: ``\\n``, ``\\r\\n``, ``\\r``.
    Not ``str.splitlines``, which also splits at U+2028, U+0085, form feeds...: those
    are whitespace inside a line, so error line numbers match the editor's."""
    parts = _LINE_BREAK.split(text)
    return parts[:-1] if parts and parts[-1] == "" else parts


def parse(text: str) -> Spec:
    """Parse ``text``; raise :class:`SpecError` at the first line that cannot be read."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecError(1, f"the spec is larger than the limit of {MAX_SPEC_BYTES:,} bytes")
    root: list[Statement] = []
    # Stack of (indent, body list, header); the root has indent -1 until fixed.
    stack: list[tuple[int, list[Statement], Statement | None]] = [(-1, root, None)]
    open_header: tuple[BlockStatement | DefineStatement, int] | None = None
    for number, raw in enumerate(lines(text), start=1):
        code = _strip_comment(raw)
        if not code.strip():
            continue
        if len(code) > MAX_LINE_CHARS:
            raise SpecError(number, f"line is longer than {MAX_LINE_CHARS:,} characters")
        stripped = code.lstrip(" ")
        if stripped[:1].isspace():
            raise SpecError(number, "indent with spaces only (found a tab or other whitespace)")
        indent = len(code) - len(stripped)
        if open_header is not None:
            header, header_indent = open_header
            if indent <= header_indent:
                raise SpecError(header.line, f"{_describe(header)} has an empty body")
            if len(stack) > MAX_DEPTH:
                raise SpecError(number, f"blocks are nested deeper than the limit of {MAX_DEPTH}")
            stack.append((indent, header.body, header))
            open_header = None
        elif stack[-1][0] == -1:
            stack[-1] = (indent, root, None)
        elif indent > stack[-1][0]:
            raise SpecError(number, "unexpected indentation (only a block header ending in ':' opens a body)")
        while len(stack) > 1 and indent < stack[-1][0]:
            stack.pop()
        if indent != stack[-1][0]:
            raise SpecError(number, "indentation does not match any enclosing block")
        statement, wants_body = _parse_statement(stripped.strip(), number)
        if len(stack) > 1 or not isinstance(statement, LayerStatement):  # a top-level layer is always in place
            _check_placement(statement, stack[-1][2], number)
        stack[-1][1].append(statement)
        if wants_body:
            assert isinstance(statement, (BlockStatement, DefineStatement))
            open_header = (statement, indent)
    if open_header is not None:
        raise SpecError(open_header[0].line, f"{_describe(open_header[0])} has an empty body")
    _check_blocks(root)
    return Spec(root)


def _strip_comment(raw: str) -> str:
    return raw.split("#", 1)[0].rstrip()


def _describe(statement: Statement) -> str:
    if isinstance(statement, DefineStatement):
        return f"define {statement.name}"
    if isinstance(statement, BlockStatement):
        if statement.kind == "repeat":
            return f"'repeat {statement.argument}:'"
        if statement.kind == "group" and statement.label:
            return f"group '{statement.label}:'"
        return f"'{statement.kind}:'"
    return "statement"


def _parse_statement(text: str, line: int, nesting: int = 0) -> tuple[Statement, bool]:
    """Return the statement on one line and whether it opens an indented body;
    ``nesting`` counts the labels and block headers before ``text`` on its line."""
    if nesting > MAX_DEPTH:
        raise SpecError(line, f"more than {MAX_DEPTH} labels or block headers on one line")
    if ":" not in text:  # no header and no label: skip their patterns (most lines)
        return _parse_simple(text, line)
    match = _DEFINE_HEADER.match(text)
    if match:
        name, params_text, rest = match.groups()
        if rest.strip():
            raise SpecError(line, f"define {name}: the body goes on the following, indented lines")
        return DefineStatement(line, name=name.lower(), params=_parse_params(params_text, line)), True
    block = _parse_block_header(text, line, nesting)
    if block is not None:
        return block
    match = _LABEL.match(text)
    if match:
        label, rest = match.group(1), match.group(2).strip()
        if not rest:
            return BlockStatement(line, label=label, kind="group"), True
        statement, wants_body = _parse_statement(rest, line, nesting + 1)
        if statement.label is not None:
            raise SpecError(line, f"two labels on one line: {label!r} and {statement.label!r}")
        if isinstance(statement, (InputStatement, DefaultStatement, DefineStatement)):
            raise SpecError(line, f"a label cannot name {rest.split()[0]!r}")
        statement.label = label
        return statement, wants_body
    return _parse_simple(text, line)


def _parse_simple(text: str, line: int) -> tuple[Statement, bool]:
    """An ``input``, ``default`` or layer line (no label, no block header)."""
    head = text.split(None, 1)[0].lower()
    if head == "input":
        return InputStatement(line, dims=text[len(head):].strip()), False
    if head == "default":
        return DefaultStatement(line, text=text[len(head):].strip()), False
    match = _COUNT_SUFFIX.match(text) if "x" in text or "X" in text or "×" in text else None
    if match:
        return LayerStatement(line, text=match.group(1), count=match.group(2)), False
    return LayerStatement(line, text=text), False


def _parse_block_header(text: str, line: int, nesting: int) -> tuple[Statement, bool] | None:
    match = _REPEAT_HEADER.match(text)
    if match:
        block = BlockStatement(line, kind="repeat", argument=match.group(1).strip())
        rest = match.group(2).strip()
    else:
        match = _PLAIN_HEADER.match(text)
        if not match:
            return None
        block = BlockStatement(line, kind=match.group(1).lower())
        rest = match.group(2).strip()
    if not rest:
        return block, True
    inner, wants_body = _parse_statement(rest, line, nesting + 1)
    block.body.append(inner)
    if wants_body:
        raise SpecError(line, f"{_describe(block)} with an inline body cannot open another block on the same line")
    return block, False


def _parse_params(text: str, line: int) -> list[tuple[str, str | None]]:
    params: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for token in text.split():
        match = _PARAM.match(token)
        if not match:
            raise SpecError(line, f"bad parameter {token!r} (write name or name=default)")
        name = match.group(1).lower()
        if name in seen:
            raise SpecError(line, f"parameter {name!r} appears twice")
        if params and params[-1][1] is not None and match.group(2) is None:
            raise SpecError(line, f"parameter {name!r} without a default follows one with a default")
        seen.add(name)
        params.append((name, match.group(2)))
    return params


def _check_placement(statement: Statement, parent: Statement | None, line: int) -> None:
    is_branch = isinstance(statement, BlockStatement) and statement.kind == "branch"
    in_merge = isinstance(parent, BlockStatement) and parent.kind in MERGE_KINDS
    if in_merge and not is_branch:
        raise SpecError(line, f"only 'branch:' blocks may stand inside '{parent.kind}:'")  # type: ignore[union-attr]
    if is_branch and not in_merge:
        inside = " or ".join(f"'{kind}:'" for kind in MERGE_KINDS)
        raise SpecError(line, f"'branch:' belongs directly inside {inside}")
    if isinstance(statement, DefineStatement) and parent is not None:
        raise SpecError(line, "define blocks at the top level only")


def _check_blocks(statements: list[Statement]) -> None:
    for statement in statements:
        if isinstance(statement, BlockStatement):
            if statement.kind in MERGE_KINDS and len(statement.body) < 2:
                raise SpecError(statement.line, f"'{statement.kind}:' needs at least two 'branch:' blocks")
            _check_blocks(statement.body)
        elif isinstance(statement, DefineStatement):
            _check_blocks(statement.body)
