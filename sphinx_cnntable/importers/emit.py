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
    classes: dict[str, str] = field(default_factory=dict)
    """Module path to its class (``layer1.0``: ``torchvision.models.resnet.BasicBlock``), where known."""

    def add(self, op: str, inputs: list[int], **kwargs: object) -> Node:
        node = Node(len(self.nodes), op, list(inputs), **kwargs)  # type: ignore[arg-type]
        self.nodes.append(node)
        return node


# --- the tree of blocks --------------------------------------------------------


@dataclass
class Leaf:
    node: Node
    label: str | None = None
    comment: str | None = None


@dataclass
class Block:
    kind: str  # residual, add, concat, scale, split, group, branch, repeat
    body: list[Item] = field(default_factory=list)
    branches: list[list[Item]] = field(default_factory=list)
    label: str | None = None
    count: int = 0
    node: Node | None = None
    module: str | None = None
    """The module path this block is (its whole subtree), if it is one."""
    comment: str | None = None
    define: str | None = None
    """The name for a ``define`` made of this block where no module class names one (``stage``)."""


@dataclass
class Call:
    """A call of a generated ``define`` block, standing for ``original``."""

    define: Define
    args: str
    original: Block
    label: str | None = None
    comment: str | None = None


@dataclass
class Define:
    name: str
    params: list[tuple[str, int | None]]
    body: list[str]
    cls: str = ""


Item = Leaf | Block | Call

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
            elif node.op == "concat":
                items.append(Block("concat", branches=concat_branches(fork, node.inputs, node), node=node))
            else:
                branches = [chain(fork, i) for i in node.inputs]
                items.append(Block(node.op, branches=branches, node=node))
            current = fork
        items.reverse()
        return items

    def meet(a: int, b: int) -> int:
        """The nearest node that dominates both ``a`` and ``b``."""
        while a != b:
            while a > b:
                a = idom[a]
            while b > a:
                b = idom[b]
        return a

    def concat_branches(fork: int, inputs: list[int], merge: Node) -> list[list[Item]]:
        """The branches of a concat from ``fork``. Consecutive inputs that share a tensor after
        the fork are a nested concat on that tensor: an exporter flattens
        ``cat([x, cat([f(y), g(y)])])`` into one Concat of four inputs (Inception-E), and a
        branch per input would repeat ``y``'s layers in each."""
        branches: list[list[Item]] = []
        i = 0
        while i < len(inputs):
            j, shared = i + 1, inputs[i]
            while j < len(inputs) and inputs[i] != fork and inputs[j] != fork and meet(shared, inputs[j]) != fork:
                shared = meet(shared, inputs[j])
                j += 1
            if j - i == 1:
                branches.append(chain(fork, inputs[i]))
            else:
                part = Node(-1, "concat", path=merge.path, stack=merge.stack)  # in the graph, part of ``merge``
                inner = Block("concat", branches=concat_branches(shared, inputs[i:j], part), node=part)
                branches.append([*chain(fork, shared), inner])
            i = j
        return branches

    tree = chain(0, graph.output)
    seen: set[int] = set()
    for item_node in (n for item in tree for n in _item_nodes(item)):
        if item_node.op in ("layer", "unsupported") and item_node.id in seen:
            raise UnsupportedOp(item_node.path, item_node.op, "its output feeds branches of a merge that are not one "
                                                              "block (its layers would be counted twice)")
        seen.add(item_node.id)
    return tree


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
    if isinstance(item, Call):
        return _item_nodes(item.original)
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


def _numeric(path: str) -> bool:
    """Whether the module's own name cannot be a label (``features.3``): it goes in a comment."""
    return not _LABEL.match(path.rsplit(".", 1)[-1])


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
            if label is None and _numeric(key):
                leaf.comment = key
            out.append(leaf)
        else:
            inner = group(run, (*prefix, key))
            label = _label(key, parent)
            comment = key if label is None and _numeric(key) else None
            if comment:
                for part in inner:  # the group's comment names the module; its parts need none
                    if isinstance(part, Leaf):
                        part.comment = None
            if len(inner) == 1 and isinstance(inner[0], Block) and inner[0].label is None and inner[0].kind != "group":
                inner[0].label = label
                inner[0].module = key
                inner[0].comment = comment or inner[0].comment
                out += inner
            else:
                # an unlabelled group renders as its body (the module is in a comment)
                out.append(Block("group", body=inner, label=label, module=key, comment=comment))
        i = j
    return out


def _descend(item: Item, prefix: tuple[str, ...]) -> None:
    if isinstance(item, Block):
        inner = _stack(item)
        base = inner if len(inner) >= len(prefix) else prefix
        item.body = group(item.body, base)
        item.branches = [group(branch, base) for branch in item.branches]


# --- rendering -----------------------------------------------------------------


def _commented(lines: list[str], comment: str | None, comments: bool) -> list[str]:
    if comment and comments and lines and "#" not in lines[0]:
        lines[0] = f"{lines[0]}  # {comment}"
    return lines


def _render(item: Item, indent: int, bias: bool, label: bool = True, comments: bool = True) -> list[str]:
    pad = " " * indent

    def sub(parts: list[Item], at: int) -> list[str]:
        return [line for part in parts for line in _render(part, at, bias, comments=comments)]

    if isinstance(item, Leaf):
        texts = [line.render(bias) for line in item.node.lines]
        if item.node.op == "unsupported":
            return [f"{pad}# {t}" for t in texts]
        if item.label and len(texts) == 1:
            return _commented([f"{pad}{item.label}: {texts[0]}"], item.comment, comments)
        return _commented([pad + t for t in texts], item.comment, comments)
    head = f"{item.label}: " if item.label and label else ""
    if isinstance(item, Call):
        call = f"{item.define.name} {item.args}".rstrip()
        return _commented([f"{pad}{head}{call}"], item.comment, comments)
    if item.kind == "repeat":
        body = sub(item.body, indent + 2)
        one = len(item.body) == 1 and isinstance(item.body[0], (Leaf, Call)) and len(body) == 1 and not item.body[0].label
        if one and "#" not in body[0]:
            return _commented([f"{pad}{head}{body[0].strip()} x{item.count}"], item.comment, comments)
        return _commented([f"{pad}{head}repeat {item.count}:", *body], item.comment, comments)
    if item.kind == "group" and not (item.label and label):
        return _commented(sub(item.body, indent), item.comment, comments)
    if item.kind in ("residual", "scale", "split", "group"):
        header = f"{pad}{head[:-1]}" if item.kind == "group" else f"{pad}{head}{item.kind}:"
        return _commented([header, *sub(item.body, indent + 2)], item.comment, comments)
    lines = [f"{pad}{head}{item.kind}:"]
    inner = " " * (indent + 2)
    for branch in item.branches:
        if not branch:
            lines.append(f"{inner}branch: identity")
            continue
        if len(branch) == 1 and isinstance(branch[0], Block) and branch[0].kind == "group":
            name = f"{branch[0].label}: " if branch[0].label else ""
            lines += _commented([f"{inner}{name}branch:"], branch[0].comment, comments)
            lines += sub(branch[0].body, indent + 4)
            continue
        body = sub(branch, indent + 4)
        if len(body) == 1 and isinstance(branch[0], (Leaf, Call)) and not body[0].lstrip().startswith("#"):
            lines.append(f"{inner}branch: {body[0].strip()}")
        else:
            lines.append(f"{inner}branch:")
            lines += body
    return _commented(lines, item.comment, comments)


# --- repeats -------------------------------------------------------------------


def _comments(item: Item) -> list[str]:
    found = [item.comment] if item.comment else []
    if isinstance(item, Block):
        for part in [*item.body, *[p for branch in item.branches for p in branch]]:
            found += _comments(part)
    return found


def _uncomment(item: Item) -> None:
    item.comment = None
    if isinstance(item, Block):
        for part in [*item.body, *[p for branch in item.branches for p in branch]]:
            _uncomment(part)


def _span(items: list[Item]) -> str | None:
    """``features.0-3`` for the modules of a folded run (its comments, first to last)."""
    found = [item.comment for item in items if item.comment]
    if len(found) != len(items):
        found = [c for item in items for c in _comments(item)]
    found = [re.sub(r"@\d+$", "", c) for c in found]
    if not found:
        return None
    first, last = found[0], found[-1]
    if first == last:
        return first
    a, _, x = first.rpartition(".")
    b, _, y = last.rpartition(".")
    x, y = x.split("-")[0], y.split("-")[-1]  # the ends of spans (features.17-23 ... features.24-30)
    if a == b and x.isdigit() and y.isdigit():
        return f"{a}.{x}-{y}"
    return f"{first} to {last}"


def _repeat(body: list[Item], count: int, span: list[Item]) -> Block:
    comment = _span(span)
    for item in body:
        _uncomment(item)
    return Block("repeat", body=body, count=count, comment=comment)


def fold(items: list[Item], bias: bool) -> list[Item]:
    """Consecutive identical items (or runs of up to 8 items) as ``repeat N:``."""
    for item in items:
        if isinstance(item, Block):
            item.body = fold(item.body, bias)
            item.branches = [fold(branch, bias) for branch in item.branches]
    keys = ["\n".join(_render(item, 0, bias, comments=False)) for item in items]
    bodies = ["\n".join(_render(item, 0, bias, label=False, comments=False))
              if isinstance(item, Block) and item.kind == "group" and item.label else None for item in items]
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
            out.append(_repeat(first.body, count, items[i:i + count]))
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
            out.append(_repeat(fold(body, bias) if period > 1 else body, count, items[i:i + period * count]))
            i += period * count
        else:
            out.append(items[i])
            i += 1
    return out


# --- stages --------------------------------------------------------------------

_STAGE_ITEMS = 16
"""The most rows of one stage in a flat run (VGG's widest is 7: three conv + ReLU and a pool)."""
_STAGE_RUN = 400
"""Longer flat runs are left to :func:`fold` (the search is quadratic in the run)."""


def _fresh(items: list[Item]) -> list[Item]:
    return [Leaf(item.node, item.label, item.comment) for item in items if isinstance(item, Leaf)]


def _lines(items: list[Item], bias: bool) -> list[str]:
    """The rendered lines of ``items`` once folded (on copies: folding drops comments)."""
    return [line for item in fold(_fresh(items), bias) for line in _render(item, 0, bias, comments=False)]


def _skeleton(items: list[Item], bias: bool) -> str:
    return "\n".join(_tokens(_STRIDE.sub(r"\1/1", line))[0] for line in _lines(items, bias))


def stages(items: list[Item], bias: bool) -> list[Item]:
    """In each flat run of rows (a plain ``nn.Sequential`` such as VGG's ``features``), runs
    that differ only in numbers (``conv3-64, relu, conv3-64, relu, maxpool2`` then the same
    with 128) become unnamed groups, which :func:`make_defines` turns into calls of one
    ``define stage``."""
    for item in items:
        if isinstance(item, Block):
            item.body = stages(item.body, bias)
            item.branches = [stages(branch, bias) for branch in item.branches]
    out: list[Item] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and isinstance(items[j], Leaf) and items[j].node.op == "layer" and not items[j].label:
            j += 1
        if j == i:
            out.append(items[i])
            i += 1
        else:
            out += _stages(items[i:j], bias) if 4 <= j - i <= _STAGE_RUN else items[i:j]
            i = j
    return out


def _stages(run: list[Item], bias: bool) -> list[Item]:
    shapes = [_tokens(line.render(bias))[0] for item in run for line in item.node.lines[:1]] if all(
        isinstance(item, Leaf) and item.node.lines for item in run) else None
    if shapes is None:
        return run
    cache: dict[tuple[int, int], str] = {}

    def skeleton(a: int, b: int) -> str:
        if (a, b) not in cache:
            cache[(a, b)] = _skeleton(run[a:b], bias)
        return cache[(a, b)]

    out: list[Item] = []
    i = 0
    while i < len(run):
        best: tuple[int, list[tuple[int, int]]] = (1, [])
        for j in range(i + 2, min(i + _STAGE_ITEMS, len(run)) + 1):
            key = skeleton(i, j)
            if key.count("\n") < 2:
                continue
            segments, pos = [(i, j)], j
            while True:
                end = next((e for e in range(pos + 2, min(pos + _STAGE_ITEMS, len(run)) + 1)
                            if shapes[pos] == shapes[i] and shapes[e - 1] == shapes[j - 1] and skeleton(pos, e) == key), None)
                if end is None:
                    break
                segments.append((pos, end))
                pos = end
            if len(segments) < 2:
                continue
            contents = ["\n".join(_lines(run[a:b], bias)) for a, b in segments]
            if len(set(contents)) == 1:
                continue  # identical: fold writes them as a repeat
            calls = 1 + sum(1 for k in range(1, len(contents)) if contents[k] != contents[k - 1])
            saved = len(_lines(run[i:pos], bias)) - (1 + key.count("\n") + 1) - calls
            if saved > best[0]:
                best = (saved, segments)
        if best[1]:
            for a, b in best[1]:
                out.append(Block("group", body=run[a:b], module=f"<stage {a}>", comment=_span(run[a:b]), define="stage"))
            i = best[1][-1][1]
        else:
            out.append(run[i])
            i += 1
    return out


# --- user blocks ---------------------------------------------------------------

_PREFIX = re.compile(r"^(\s*)((?:[A-Za-z_][\w.]*: )*)(.*)$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _tokens(line: str) -> tuple[str, list[tuple[int, int, str]]]:
    """The line's skeleton (integers in layer text as ``#``) and those integers with their
    spans. Labels and words such as ``relu6`` keep their digits."""
    match = _PREFIX.match(line)
    assert match is not None
    start = match.start(3)
    text = match.group(3)
    found: list[tuple[int, int, str]] = []
    for number in _NUMBER.finditer(text):
        if "." in number.group() or text[:number.start()].endswith("relu"):
            continue
        found.append((start + number.start(), start + number.end(), number.group()))
    skeleton = line
    for a, b, _ in reversed(found):
        skeleton = skeleton[:a] + "#" + skeleton[b:]
    return skeleton, found


def _param_name(before: str) -> str:
    if re.search(r"(^|\s)repeat $", before) or before.endswith(" x"):
        return "n"
    match = re.search(r"(\w+)=(\d+x)*$", before)
    if match:
        return match.group(1)
    if re.search(r"/(\d+x)*$", before):
        return "stride"
    if re.search(r"-(\d+x)*$", before):
        return "width"
    if re.search(r"[a-z](\d+x)*$", before):
        return "k"
    return "p"


def _block_input(graph: Graph, item: Item) -> int | None:
    """The channels entering ``item`` (None when the importer did not record shapes)."""
    nodes = _item_nodes(item)
    ids = {n.id for n in nodes}
    outside = sorted({i for n in nodes for i in n.inputs} - ids)
    if not outside:
        return None
    node = graph.nodes[outside[0]]
    while node.op in ("getitem", "chunk") and node.inputs:
        node = graph.nodes[node.inputs[0]]
    return node.shape[-1] if node.shape else None


_STRIDE = re.compile(r"^(\s*(?:[A-Za-z_][\w.]*: )*(?:repeat \d+: )?(?:dw)?conv[\dx]+(?:-\d+)?)(?=\s|$)")
_NO_STRIDE = re.compile(r"^(\s*(?:[A-Za-z_][\w.]*: )*(?:dw)?conv[\dx]+(?:-[^\s/]+)?)/1(?=\s|$)")


def _content(block: Block, bias: bool) -> list[str]:
    """The lines of a define's body for ``block``; a convolution without a stride reads ``/1``
    here, so that blocks differing in a stride share one body (``dwconv3/{stride}``)."""
    if block.kind == "group":
        lines = [line for part in block.body for line in _render(part, 2, bias, comments=False)]
    else:
        lines = _render(block, 2, bias, label=False, comments=False)
    return [_STRIDE.sub(r"\1/1", line) for line in lines]


def _container(cls: str) -> bool:
    return cls.rsplit(".", 1)[-1] in ("Sequential", "ModuleList", "ModuleDict", "Module")


def _define_name(cls: str, taken: set[str], hint: str | None = None) -> str:
    from ..layers import REGISTRY

    base = re.sub(r"\W", "", cls.rsplit(".", 1)[-1].lower()).lstrip("_") if cls else ""
    if not base or _container(cls) or not _LABEL.match(base):
        base = hint or "block"
    name, n = base, 1
    while name in taken or name in _RESERVED or any(c.pattern.match(name) for c in REGISTRY):
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return name


def _build_define(instances: list[Block], contents: list[list[str]], inputs: list[int | None], name: str,
                  cls: str, first_free: bool = False) -> tuple[Define, list[str]]:
    """One ``define`` for blocks whose contents differ only in integers, and each call's arguments
    (``first_free``: the first varying number is a parameter even where it follows ``{in}``)."""
    lines = contents[0]
    per_line = [[_tokens(line)[1] for line in content] for content in contents]
    columns: list[tuple[int, ...]] = []
    where: list[tuple[int, int]] = []
    for li in range(len(lines)):
        for ti in range(len(per_line[0][li])):
            columns.append(tuple(int(p[li][ti][2]) for p in per_line))
            where.append((li, ti))
    n = len(instances)
    known_in = all(x is not None for x in inputs)
    ins = tuple(x or 0 for x in inputs)
    params: dict[str, tuple[int, ...]] = {}
    exprs: list[str | None] = []
    for (li, ti), col in zip(where, columns):
        if len(set(col)) == 1:
            exprs.append(None)
            continue
        expr = next((p for p, v in params.items() if v == col), None)
        if expr is None and min(col) >= 8:
            refs = [("in", ins)] if known_in and (params or not first_free) else []
            refs += [(p, v) for p, v in params.items() if min(v) >= 8]
            for ref, values in refs:
                if all(c % r == 0 for c, r in zip(col, values)) and len({c // r for c, r in zip(col, values)}) == 1:
                    k = col[0] // values[0]
                    if k > 1:
                        expr = f"{ref}*{k}"
                        break
                if all(r % c == 0 for c, r in zip(col, values)) and len({r // c for c, r in zip(col, values)}) == 1:
                    k = values[0] // col[0]
                    if k > 1:
                        expr = f"{ref}/{k}"
                        break
        if expr is None:
            start = per_line[0][li][ti][0]
            base = _param_name(lines[li][:start])
            expr, k = base, 1
            while expr in params or expr == "in":
                k += 1
                expr = f"{base}{k}"
            params[expr] = col
        exprs.append(expr)
    order_required = list(params)
    defaults: dict[str, int] = {}
    for p, values in params.items():
        if p.startswith("width"):
            continue
        mode = max(set(values), key=lambda v: (values.count(v), -v))
        if values.count(mode) >= 2 and values.count(mode) * 2 > n:
            defaults[p] = mode
    ordered = [p for p in order_required if p not in defaults] + [p for p in order_required if p in defaults]
    body = list(lines)
    spans = {pos: e for pos, e in zip(where, exprs) if e is not None}
    for li in range(len(body)):
        tokens = per_line[0][li]
        text = body[li]
        for ti in reversed(range(len(tokens))):
            expr = spans.get((li, ti))
            if expr is not None:
                a, b, _ = tokens[ti]
                text = f"{text[:a]}{{{expr}}}{text[b:]}"
        body[li] = _NO_STRIDE.sub(r"\1", text)
    args = []
    for index in range(n):
        words = [str(params[p][index]) for p in ordered if p not in defaults]
        words += [f"{p}={params[p][index]}" for p in ordered if p in defaults and params[p][index] != defaults[p]]
        args.append(" ".join(words))
    if not params and not first_free and any("{in" in line for line in body):
        return _build_define(instances, contents, inputs, name, cls, first_free=True)
    return Define(name, [(p, defaults.get(p)) for p in ordered], body, cls), args


def make_defines(tree: list[Item], graph: Graph, bias: bool) -> tuple[list[Item], list[Define]]:
    """Module blocks with the same structure that differ only in numbers become calls of one ``define``."""
    candidates: list[Block] = []

    def collect(items: list[Item]) -> None:
        for item in items:
            if isinstance(item, Block):
                if item.module is not None and item.kind != "repeat" and not (
                        graph.classes and _container(graph.classes.get(item.module, ""))):
                    candidates.append(item)
                for part in [item.body, *item.branches]:
                    collect(part)

    collect(tree)
    by_skeleton: dict[str, list[tuple[Block, list[str]]]] = {}
    for block in candidates:
        content = _content(block, bias)
        if len(content) < 3 or any(line.lstrip().startswith("#") for line in content):
            continue
        skeleton = "\n".join(_tokens(line)[0] for line in content)
        by_skeleton.setdefault(skeleton, []).append((block, content))
    chosen = {id(b): key for key, found in by_skeleton.items() if len(found) >= 2 for b, _ in found}
    defines: dict[str, tuple[Define, dict[int, str]]] = {}
    taken: set[str] = set()
    calls: dict[str, int] = {}

    def replace(items: list[Item]) -> list[Item]:
        out: list[Item] = []
        for item in items:
            if isinstance(item, Block) and id(item) in chosen:
                key = chosen[id(item)]
                if key not in defines:
                    found = by_skeleton[key]
                    blocks = [b for b, _ in found]
                    cls = graph.classes.get(blocks[0].module or "", "")
                    name = _define_name(cls, taken, blocks[0].define)
                    define, args = _build_define(blocks, [c for _, c in found], [_block_input(graph, b) for b in blocks],
                                                 name, cls)
                    defines[key] = (define, {id(b): a for b, a in zip(blocks, args)})
                define, args = defines[key]
                calls[key] = calls.get(key, 0) + 1
                out.append(Call(define, args[id(item)], item, label=item.label, comment=item.comment))
                continue
            if isinstance(item, Block):
                item.body = replace(item.body)
                item.branches = [replace(branch) for branch in item.branches]
            out.append(item)
        return out

    tree = replace(tree)
    unused = {key for key, count in calls.items() if count < 2}
    if unused:
        def restore(items: list[Item]) -> list[Item]:
            out: list[Item] = []
            for item in items:
                if isinstance(item, Call) and chosen.get(id(item.original)) in unused:
                    item = item.original
                if isinstance(item, Block):
                    item.body = restore(item.body)
                    item.branches = [restore(branch) for branch in item.branches]
                out.append(item)
            return out

        tree = restore(tree)
    return tree, [defines[key][0] for key in defines if key not in unused]


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
        elif isinstance(item, Call):
            found += _paths([item.original])
        elif item.kind == "repeat":
            found += _paths(item.body) * item.count
        else:
            found += _paths(item.body)
            for branch in item.branches:
                found += _paths(branch) if branch else ["<identity>"]
    return found


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def axes_text(values: tuple[int, ...]) -> str:
    """A per-axis size as the language writes it: ``3`` when every axis agrees, else ``1x7``."""
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def conv_head(kernel: tuple[int, ...], stride: tuple[int, ...], out: int, channels_in: int, groups: int,
              transposed: bool = False) -> tuple[str, list[str], int]:
    """A convolution's layer word (``conv3-64/2``, ``dwconv3``, ``deconv2-64/2``), the
    words it needs (``mult=`` for a depthwise convolution with more outputs than inputs),
    and the groups left to write as ``groups=`` (1 once ``dwconv`` says them)."""
    words: list[str] = []
    if transposed:
        head = f"deconv{axes_text(kernel)}-{out}"
    elif groups > 1 and groups == channels_in and out % channels_in == 0:
        head = f"dwconv{axes_text(kernel)}"
        if out != channels_in:
            words.append(f"mult={out // channels_in}")
        groups = 1
    else:
        head = f"conv{axes_text(kernel)}-{out}"
    if any(x != 1 for x in stride):
        head += f"/{axes_text(stride)}"
    return head, words, groups


def emit(graph: Graph, header: list[str] | None = None) -> Emitted:
    """The spec text of ``graph`` (``header``: comment lines on top)."""
    tree = structure(graph)
    paths = _paths(tree)  # before folding: each pass of a repeat has its own modules
    biases = [line.bias for node in graph.nodes if node.op == "layer" for line in node.lines if line.family == "conv"]
    no_bias = sum(1 for b in biases if b is False)
    bias = not (biases and no_bias * 2 > len(biases))
    tree = fold(stages(group(tree, ()), bias), bias)
    tree, defines = make_defines(tree, graph, bias)
    lines = [f"# {h}" for h in header or []]
    lines.append(f"input {shape_text(graph.nodes[0].shape)}")
    if not bias:
        lines.append("default conv bias=no")
    for define in defines:
        params = " ".join(p if d is None else f"{p}={d}" for p, d in define.params)
        head = f"define {define.name} {params}".rstrip() + ":"
        lines.append(f"{head}  # {define.cls}" if define.cls else head)
        lines += define.body
    for item in tree:
        lines += _render(item, 0, bias)
    unsupported = [n.lines[0].text for n in graph.nodes if n.op == "unsupported"]
    return Emitted("\n".join(lines) + "\n", paths, unsupported)
