"""A neutral layer graph, and the readable spec text made from it.

An importer (:mod:`.torch_fx`, :mod:`.onnx_graph`) turns a model into a :class:`Graph`:
nodes in topological order, each a layer (one or more spec lines), a merge (``add``,
``concat``, ``mul``), a channel ``chunk`` and its ``getitem`` parts, or the input. This
module needs neither framework. :func:`emit` recovers the language's blocks from the
data flow (the fork before each merge is its immediate dominator: ``residual:``,
``add:``, ``concat:``, ``scale:``, ``split:``), wraps runs of rows that one module owns
into named groups (``layer1:``, ``features:``) or labels, folds consecutive identical
rows and blocks into ``xN`` and ``repeat N:``, and writes a ``default conv bias=no``
line when most convolutions have no bias.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..spec import BLOCK_KINDS


class UnsupportedOp(Exception):
    """An operation the spec language cannot express, at ``path`` (a module path or node)."""

    def __init__(self, path: str, op: str, why: str = "") -> None:
        self.path, self.op, self.why = path or "<model>", op, why
        detail = f": {why}" if why else ""
        super().__init__(f"{self.path}: {op} cannot be written in the spec language{detail}")


@dataclass(frozen=True)
class Line:
    """One spec line. ``family`` and ``bias`` let :func:`emit` choose a ``default``."""

    text: str
    family: str | None = None
    bias: bool | None = None

    def render(self, conv_bias_default: bool) -> str:
        if self.bias is None:
            return self.text
        default = conv_bias_default if self.family == "conv" else True
        if self.bias == default:
            return self.text
        return f"{self.text} bias={'yes' if self.bias else 'no'}"


@dataclass
class Node:
    id: int
    op: str
    """``input``, ``layer``, ``add``, ``concat``, ``mul``, ``chunk``, ``getitem``, ``unsupported``"""
    inputs: list[int] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    path: str = ""
    stack: tuple[str, ...] = ()
    """Enclosing module paths, outermost first; a module's own path last."""
    index: int = 0
    shape: tuple[int, ...] = ()
    """Engine order: ``(*spatial, C)`` or ``(N,)``."""
    own: bool = False
    """Whether the node is the module ``path`` itself (a leaf module), not a function in it."""


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    output: int = 0

    def add(self, op: str, inputs: list[int], **kwargs: object) -> Node:
        node = Node(len(self.nodes), op, list(inputs), **kwargs)  # type: ignore[arg-type]
        self.nodes.append(node)
        return node


# --- the tree of blocks --------------------------------------------------------


@dataclass
class Leaf:
    node: Node
    label: str | None = None


@dataclass
class Block:
    kind: str  # residual, add, concat, scale, split, group, branch, repeat
    body: list[Item] = field(default_factory=list)
    branches: list[list[Item]] = field(default_factory=list)
    label: str | None = None
    count: int = 0
    node: Node | None = None


Item = Leaf | Block

_LABEL = re.compile(r"^[A-Za-z_][\w.]*$")
_RESERVED = {*BLOCK_KINDS, "input", "default", "define", "from", "repeat"}


def _dominators(graph: Graph) -> list[int]:
    idom = [0] * len(graph.nodes)
    for node in graph.nodes[1:]:
        preds = sorted(set(node.inputs))
        if not preds:
            continue
        current = preds[0]
        for other in preds[1:]:
            a, b = current, other
            while a != b:
                while a > b:
                    a = idom[a]
                while b > a:
                    b = idom[b]
            current = a
        idom[node.id] = current
    return idom


def structure(graph: Graph) -> list[Item]:
    """The data flow from the input to the output as nested blocks."""
    idom = _dominators(graph)
    nodes = graph.nodes

    def chain(start: int, end: int) -> list[Item]:
        items: list[Item] = []
        current = end
        while current != start:
            node = nodes[current]
            if node.op in ("layer", "unsupported"):
                items.append(Leaf(node))
                current = node.inputs[0]
                continue
            if node.op not in ("add", "concat", "mul"):
                raise UnsupportedOp(node.path, node.op, "its output is used where the language has no block for it")
            fork = idom[current]
            if fork < start:
                raise UnsupportedOp(node.path, node.op, "it reads a tensor from outside its block")
            fork_node = nodes[fork]
            if node.op == "concat" and fork_node.op == "chunk":
                items.append(_split(node, fork_node, chain, nodes))
                current = fork_node.inputs[0]
                continue
            others = [i for i in node.inputs if i != fork]
            if node.op == "mul":
                if len(node.inputs) != 2 or len(others) != 1:
                    raise UnsupportedOp(node.path, "multiply", "only x * f(x) (squeeze-and-excitation) is a block")
                items.append(Block("scale", body=chain(fork, others[0]), node=node))
            elif node.op == "add" and len(node.inputs) == 2 and len(others) == 1:
                items.append(Block("residual", body=chain(fork, others[0]), node=node))
            else:
                branches = [chain(fork, i) for i in node.inputs]
                items.append(Block(node.op, branches=branches, node=node))
            current = fork
        items.reverse()
        return items

    return chain(0, graph.output)


def _split(node: Node, chunk: Node, chain, nodes: list[Node]) -> Block:
    if chunk.index != 2 or len(node.inputs) != 2:
        raise UnsupportedOp(node.path, "chunk", "only x.chunk(2) then cat(x1, f(x2)) is a block (split:)")
    first, second = (nodes[i] for i in node.inputs)
    if not (first.op == "getitem" and first.inputs == [chunk.id] and first.index == 0):
        raise UnsupportedOp(node.path, "chunk", "only cat(x1, f(x2)) of x.chunk(2) is a block (split:)")
    parts = [n for n in nodes if n.op == "getitem" and n.inputs == [chunk.id] and n.index == 1]
    if not parts:
        raise UnsupportedOp(node.path, "chunk", "the second half is not used")
    return Block("split", body=chain(parts[0].id, second.id), node=node)


# --- module groups and labels --------------------------------------------------


def _item_nodes(item: Item) -> list[Node]:
    if isinstance(item, Leaf):
        return [item.node]
    found = [item.node] if item.node is not None else []
    for part in item.body:
        found += _item_nodes(part)
    for branch in item.branches:
        for part in branch:
            found += _item_nodes(part)
    return found


def _common(stacks: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not stacks:
        return ()
    first = stacks[0]
    size = len(first)
    for stack in stacks[1:]:
        size = min(size, len(stack))
        for i in range(size):
            if stack[i] != first[i]:
                size = i
                break
    return first[:size]


def _stack(item: Item) -> tuple[str, ...]:
    return _common([n.stack for n in _item_nodes(item)])


def _name(path: str, parent: str | None) -> str:
    return path[len(parent) + 1:] if parent and path.startswith(parent + ".") else path


def _label(path: str, parent: str | None) -> str | None:
    name = _name(path, parent)
    if "." in name:
        name = name.rsplit(".", 1)[1]
    if not _LABEL.match(name) or name.lower() in _RESERVED:
        return None
    return name


def group(items: list[Item], prefix: tuple[str, ...]) -> list[Item]:
    """Wrap consecutive items that one module (below ``prefix``) owns into its group."""
    out: list[Item] = []
    depth = len(prefix)
    parent = prefix[-1] if prefix else None
    i = 0
    while i < len(items):
        stack = _stack(items[i])
        key = stack[depth] if len(stack) > depth else None
        j = i + 1
        while key is not None and j < len(items):
            other = _stack(items[j])
            if len(other) <= depth or other[depth] != key:
                break
            j += 1
        run = items[i:j]
        if key is None:
            for item in run:
                _descend(item, prefix)
            out += run
        elif len(run) == 1 and isinstance(run[0], Leaf) and run[0].node.own and run[0].node.path == key:
            leaf = run[0]
            label = _label(key, parent)
            text = leaf.node.lines[0].text.split()[0] if leaf.node.lines else ""
            leaf.label = None if label is None or label.lower() == text.lower() or len(leaf.node.lines) > 1 else label
            out.append(leaf)
        else:
            inner = group(run, (*prefix, key))
            label = _label(key, parent)
            if label is None:
                out += inner
            elif len(inner) == 1 and isinstance(inner[0], Block) and inner[0].label is None and inner[0].kind != "group":
                inner[0].label = label
                out += inner
            else:
                out.append(Block("group", body=inner, label=label))
        i = j
    return out


def _descend(item: Item, prefix: tuple[str, ...]) -> None:
    if isinstance(item, Block):
        inner = _common([_stack(item)] + [prefix]) if False else _stack(item)
        base = inner if len(inner) >= len(prefix) else prefix
        item.body = group(item.body, base)
        item.branches = [group(branch, base) for branch in item.branches]


# --- repeats -------------------------------------------------------------------


def _render(item: Item, indent: int, bias: bool, label: bool = True) -> list[str]:
    pad = " " * indent
    if isinstance(item, Leaf):
        texts = [line.render(bias) for line in item.node.lines]
        if item.node.op == "unsupported":
            return [f"{pad}# {t}" for t in texts]
        if item.label and len(texts) == 1:
            return [f"{pad}{item.label}: {texts[0]}"]
        return [pad + t for t in texts]
    head = f"{item.label}: " if item.label and label else ""
    if item.kind == "repeat":
        body = [line for part in item.body for line in _render(part, indent + 2, bias)]
        if len(item.body) == 1 and isinstance(item.body[0], Leaf) and len(body) == 1 and not item.body[0].label:
            return [f"{pad}{head}{body[0].strip()} x{item.count}"]
        return [f"{pad}{head}repeat {item.count}:", *body]
    if item.kind in ("residual", "scale", "split", "group"):
        kind = "group" if item.kind == "group" and not item.label else item.kind
        header = f"{pad}{head[:-1]}" if item.kind == "group" and head else f"{pad}{head}{kind}:"
        return [header, *[line for part in item.body for line in _render(part, indent + 2, bias)]]
    lines = [f"{pad}{head}{item.kind}:"]
    inner = " " * (indent + 2)
    for branch in item.branches:
        if not branch:
            lines.append(f"{inner}branch: identity")
            continue
        if len(branch) == 1 and isinstance(branch[0], Block) and branch[0].kind == "group":
            label = f"{branch[0].label}: " if branch[0].label else ""
            lines.append(f"{inner}{label}branch:")
            lines += [line for part in branch[0].body for line in _render(part, indent + 4, bias)]
            continue
        body = [line for part in branch for line in _render(part, indent + 4, bias)]
        if len(body) == 1 and isinstance(branch[0], Leaf) and not body[0].lstrip().startswith("#"):
            lines.append(f"{inner}branch: {body[0].strip()}")
        else:
            lines.append(f"{inner}branch:")
            lines += body
    return lines


def fold(items: list[Item], bias: bool) -> list[Item]:
    """Consecutive identical items (or runs of up to 8 items) as ``repeat N:``."""
    for item in items:
        if isinstance(item, Block):
            item.body = fold(item.body, bias)
            item.branches = [fold(branch, bias) for branch in item.branches]
    keys = ["\n".join(_render(item, 0, bias)) for item in items]
    bodies = ["\n".join(_render(item, 0, bias, label=False)) if isinstance(item, Block) and item.kind == "group" else None
              for item in items]
    out: list[Item] = []
    i = 0
    while i < len(items):
        if bodies[i] is not None and i + 1 < len(items) and bodies[i + 1] == bodies[i] and keys[i + 1] != keys[i]:
            # numbered modules with the same body (denselayer1, denselayer2...): one repeat
            count = 1
            while i + count < len(items) and bodies[i + count] == bodies[i]:
                count += 1
            first = items[i]
            assert isinstance(first, Block)
            out.append(Block("repeat", body=first.body, count=count))
            i += count
            continue
        best = (0, 1, 1)  # (saved lines, period, count)
        for period in range(1, min(8, (len(items) - i) // 2) + 1):
            pattern = keys[i:i + period]
            count = 1
            while keys[i + count * period:i + (count + 1) * period] == pattern:
                count += 1
            if count > 1:
                saved = (count - 1) * sum(k.count("\n") + 1 for k in pattern) - 1
                if saved > best[0]:
                    best = (saved, period, count)
        _, period, count = best
        if count > 1:
            body = items[i:i + period]
            out.append(Block("repeat", body=fold(body, bias) if period > 1 else body, count=count))
            i += period * count
        else:
            out.append(items[i])
            i += 1
    return out


# --- the spec ------------------------------------------------------------------


@dataclass
class Emitted:
    text: str
    paths: list[str]
    """The module path of each layer row the engine makes of ``text``, in reading order."""
    unsupported: list[str]


def _paths(items: list[Item]) -> list[str]:
    found: list[str] = []
    for item in items:
        if isinstance(item, Leaf):
            if item.node.op == "layer":
                found += [item.node.path] * len(item.node.lines)
        elif item.kind == "repeat":
            found += _paths(item.body) * item.count
        else:
            found += _paths(item.body)
            for branch in item.branches:
                found += _paths(branch) if branch else ["<identity>"]
    return found


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def emit(graph: Graph, header: list[str] | None = None) -> Emitted:
    """The spec text of ``graph`` (``header``: comment lines on top)."""
    tree = structure(graph)
    paths = _paths(tree)
    biases = [line.bias for node in graph.nodes if node.op == "layer" for line in node.lines if line.family == "conv"]
    no_bias = sum(1 for b in biases if b is False)
    bias = not (biases and no_bias * 2 > len(biases))
    tree = fold(group(tree, ()), bias)
    lines = [f"# {h}" for h in header or []]
    lines.append(f"input {shape_text(graph.nodes[0].shape)}")
    if not bias:
        lines.append("default conv bias=no")
    for item in tree:
        lines += _render(item, 0, bias)
    unsupported = [n.lines[0].text for n in graph.nodes if n.op == "unsupported"]
    return Emitted("\n".join(lines) + "\n", paths, unsupported)
