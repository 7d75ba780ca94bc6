"""Translate a spec into ``torch.nn`` modules, independently of the engine's arithmetic.

Only the layout parser (:func:`sphinx_cnntable.spec.parse`: lines, indentation, labels,
``xN``) is shared with the engine. What a layer line means, placeholders, ``default``,
user blocks, repeats and merges are read here again, with PyTorch's semantics, and every
shape comes from running the modules: nothing is computed with the engine's formulas.

``translate(text)`` builds the network on a zeros input and returns a :class:`Net`. Each
module that stands for one engine row (a layer row or a merge row) is tagged with
``row_kind`` ("layer" or "merge") and ``row_text``; :func:`measure` runs the network once
and returns one :class:`Record` per tagged module in execution order, which is the
engine's reading order of its layer and merge rows.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

import torch
from torch import nn

from sphinx_cnntable.spec import (
    BlockStatement,
    DefaultStatement,
    DefineStatement,
    InputStatement,
    LayerStatement,
    Statement,
    parse,
)

_ELEMENTWISE = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leakyrelu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "hswish": nn.Hardswish,
    "hardswish": nn.Hardswish,
    "hsigmoid": nn.Hardsigmoid,
    "hardsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}
_FAMILY = {"conv": "conv", "dwconv": "conv", "deconv": "conv", "convt": "conv", "upconv": "conv", "fc": "fc",
           "linear": "fc", "dense": "fc", "maxpool": "pool", "avgpool": "pool", "pool": "pool", "bn": "norm",
           "batchnorm": "norm"}


class Seq(nn.Module):
    def __init__(self, items: list[nn.Module]) -> None:
        super().__init__()
        self.items = nn.ModuleList(items)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for item in self.items:
            x = item(x)
        return x


class Merge(nn.Module):
    """``add:`` / ``concat:`` (channels are dim 1) / ``residual:`` (body(x) + x)."""

    def __init__(self, mode: str, branches: list[nn.Module]) -> None:
        super().__init__()
        self.mode = mode
        self.branches = nn.ModuleList(branches)
        self.row_kind, self.row_text = "merge", "add" if mode != "concat" else "concat"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        if self.mode == "residual":
            outs.append(x)
        if self.mode != "concat" and any(out.shape != outs[0].shape for out in outs):
            # PyTorch would broadcast (a 1-channel map onto a 2-channel one) and run;
            # an element-wise sum of different shapes is a spec error, as in the engine.
            raise ValueError(f"{self.mode}: shapes differ: {[tuple(out.shape) for out in outs]}")
        if self.mode == "concat":
            return torch.cat(outs, dim=1)
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total


class Leaf(nn.Module):
    """One layer row: a module, maybe preceded by padding (TF "same") or a flatten (fc)."""

    def __init__(self, text: str, *parts: nn.Module) -> None:
        super().__init__()
        self.parts = nn.Sequential(*parts)
        self.row_kind, self.row_text = "layer", text

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)


@dataclass
class Net:
    module: nn.Module
    input_shape: tuple[int, ...]  # HxWxC or (N,)

    def zeros(self) -> torch.Tensor:
        return torch.zeros(1, *to_torch(self.input_shape))


@dataclass
class Record:
    kind: str
    text: str
    shape: tuple[int, ...]  # engine order: (H, W, C) or (N,)
    trainable: int
    non_trainable: int
    macs: int


def to_torch(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape if len(shape) == 1 else (shape[2], shape[0], shape[1])


def to_engine(shape: torch.Size) -> tuple[int, ...]:
    dims = tuple(shape)[1:]
    return dims if len(dims) == 1 else (dims[1], dims[2], dims[0])


# --- placeholders ----------------------------------------------------------------


def _eval(expr: str, env: dict[str, int]) -> int:
    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id.lower()]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.FloorDiv):
                return a // b
            if isinstance(node.op, ast.Mod):
                return a % b
            if isinstance(node.op, ast.Div):
                assert a % b == 0, f"inexact {expr}"
                return a // b
        raise ValueError(f"cannot evaluate {expr!r}")

    return walk(ast.parse(expr, mode="eval"))


def substitute(text: str, env: dict[str, int]) -> str:
    # ``in`` is a Python keyword: rename it for ast.
    return re.sub(r"\{([^{}]*)\}", lambda m: str(_eval(re.sub(r"\bin\b", "in_", m.group(1)), env)), text)


# --- layers --------------------------------------------------------------------


def _pair(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.lower().split("x")]
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def _same_pad(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int]) -> nn.ZeroPad2d:
    """TensorFlow's "same": out = ceil(in/stride), the odd pixel of padding at the bottom/right."""
    pads = []
    for axis in (0, 1):
        out = -(-size[axis] // stride[axis])
        total = max((out - 1) * stride[axis] + kernel[axis] - size[axis], 0)
        pads.append((total // 2, total - total // 2))
    return nn.ZeroPad2d((pads[1][0], pads[1][1], pads[0][0], pads[0][1]))


def layer_module(text: str, x: torch.Tensor, defaults: dict[str, dict[str, str]]) -> Leaf:
    """The module for one layer line applied to ``x`` (NCHW or NC)."""
    words = text.split()
    head = words[0].lower()
    options = {}
    for word in words[1:]:
        if "=" in word:
            key, value = word.split("=", 1)
            options[key.lower()] = value
    positional = [w for w in words[1:] if "=" not in w]
    stem = re.match(r"^[a-z]+", head).group(0)
    family = _FAMILY.get(stem, "activation" if head in _ELEMENTWISE or head in ("softmax", "dropout", "lrn") else "other")
    for scope in ("all", family):
        for key, value in defaults.get(scope, {}).items():
            options.setdefault(key, value)
    bias = options.get("bias", "yes").lower() in ("yes", "true", "on", "1")
    channels = x.shape[1]
    size = tuple(x.shape[2:]) if x.dim() == 4 else None
    spatial_only = ("conv", "dwconv", "deconv", "convt", "upconv", "maxpool", "avgpool", "pool", "gap", "gmp",
                    "globalavgpool", "globalmaxpool", "lrn")
    if size is None and stem in spatial_only:
        # PyTorch would read an (N, C) tensor as an unbatched image; the spec language does not.
        raise ValueError(f"translate: {head} needs an image, not a vector")

    m = re.match(r"^(dwconv|deconv|convt|upconv|conv)(\w+?)(?:-(\w+?))?(?:/(\w+))?$", head)
    if m and (m.group(1) == "dwconv") == (m.group(3) is None):
        kind, kernel, stride = m.group(1), _pair(m.group(2)), _pair(m.group(4) or "1")
        stride = _pair(options.get("stride", f"{stride[0]}x{stride[1]}"))
        dilation = _pair(options.get("dilation", "1"))
        span = tuple(dilation[a] * (kernel[a] - 1) + 1 for a in (0, 1))
        pad_text = options.get("pad")
        pre: list[nn.Module] = []
        if pad_text is None:
            padding = tuple(dilation[a] * (kernel[a] - 1) // 2 for a in (0, 1))
        elif pad_text == "same":
            pre.append(_same_pad(size, span, stride))
            padding = (0, 0)
        elif pad_text == "valid":
            padding = (0, 0)
        else:
            padding = _pair(pad_text)
        if kind == "dwconv":
            mult = int(options.get("mult", "1"))
            conv = nn.Conv2d(channels, channels * mult, kernel, stride, padding, dilation, groups=channels, bias=bias)
        elif kind == "conv":
            conv = nn.Conv2d(channels, int(m.group(3)), kernel, stride, padding, dilation,
                             groups=int(options.get("groups", "1")), bias=bias)
        else:
            conv = nn.ConvTranspose2d(channels, int(m.group(3)), kernel, stride, padding,
                                      output_padding=_pair(options.get("outpad", "0")),
                                      groups=int(options.get("groups", "1")), bias=bias, dilation=dilation)
        return Leaf(text, *pre, conv)
    m = re.match(r"^(maxpool|avgpool|pool)(\w*?)(?:/(\w+))?$", head)
    if m:
        kernel = _pair(m.group(2) or "2")
        stride = _pair(m.group(3)) if m.group(3) else kernel
        stride = _pair(options.get("stride", f"{stride[0]}x{stride[1]}"))
        ceil = options.get("ceil", "no").lower() in ("yes", "true", "on", "1")
        pad_text = options.get("pad", "0")
        pre = []
        if pad_text == "same":
            pre.append(_same_pad(size, kernel, stride))
            padding = (0, 0)
        else:
            padding = (0, 0) if pad_text == "valid" else _pair(pad_text)
        cls = nn.AvgPool2d if m.group(1) == "avgpool" else nn.MaxPool2d
        return Leaf(text, *pre, cls(kernel, stride, padding, ceil_mode=ceil))
    if head in ("gap", "globalavgpool"):
        return Leaf(text, nn.AdaptiveAvgPool2d(1))
    if head in ("gmp", "globalmaxpool"):
        return Leaf(text, nn.AdaptiveMaxPool2d(1))
    m = re.match(r"^(?:fc|linear|dense)(?:-(\w+))?$", head)
    if m:
        units = int(m.group(1) or positional[0])
        return Leaf(text, nn.Flatten(), nn.Linear(math.prod(x.shape[1:]), units, bias=bias))
    if head in ("bn", "batchnorm"):
        return Leaf(text, nn.BatchNorm2d(channels) if x.dim() == 4 else nn.BatchNorm1d(channels))
    if head == "flatten":
        return Leaf(text, nn.Flatten())
    if head == "softmax":
        return Leaf(text, nn.Softmax(dim=1))
    if head == "dropout":
        return Leaf(text, nn.Dropout(float(options.get("p", "0.5"))))
    if head == "lrn":
        return Leaf(text, nn.LocalResponseNorm(int(options.get("size", "5"))))
    if head in _ELEMENTWISE:
        return Leaf(text, _ELEMENTWISE[head]())
    raise ValueError(f"translate: unknown layer {text!r}")


# --- statements ----------------------------------------------------------------


class TooBig(Exception):
    """A tensor over ``translate``'s ``max_elements``: the spec is not built."""


class _Builder:
    def __init__(self, defines: dict[str, DefineStatement], max_elements: int | None = None) -> None:
        self.defines = defines
        self.defaults: dict[str, dict[str, str]] = {}
        self.max_elements = max_elements

    def walk(self, statements: list[Statement], x: torch.Tensor, env: dict[str, int]) -> tuple[list[nn.Module], torch.Tensor]:
        items: list[nn.Module] = []
        for statement in statements:
            if isinstance(statement, LayerStatement):
                text = substitute(statement.text, env)
                count = 1 if statement.count is None else int(substitute(statement.count, env))
                for _ in range(count):
                    if self.max_elements is not None and x.numel() > self.max_elements:
                        raise TooBig(f"{x.numel():,} elements before {text!r}")
                    head = text.split()[0].lower()
                    if head in self.defines:
                        module, x = self.call(text, x)
                    else:
                        module = layer_module(text, x, self.defaults)
                        with torch.no_grad():
                            x = module.eval()(x)
                    items.append(module)
            elif isinstance(statement, DefaultStatement):
                words = substitute(statement.text, env).split()
                family = "all" if "=" in words[0] else words.pop(0).lower()
                for word in words:
                    key, value = word.split("=", 1)
                    self.defaults.setdefault(family, {})[key.lower()] = value
            elif isinstance(statement, BlockStatement):
                module, x = self.block(statement, x, env)
                items.append(module)
            else:
                raise AssertionError(statement)
        return items, x

    def block(self, statement: BlockStatement, x: torch.Tensor, env: dict[str, int]) -> tuple[nn.Module, torch.Tensor]:
        if statement.kind == "repeat":
            items: list[nn.Module] = []
            for _ in range(int(substitute(statement.argument or "", env))):
                more, x = self.walk(statement.body, x, env)
                items += more
            return Seq(items), x
        if statement.kind in ("group", "branch"):
            items, x = self.walk(statement.body, x, env)
            return Seq(items), x
        if statement.kind == "residual":
            items, _ = self.walk(statement.body, x, env)
            module = Merge("residual", [Seq(items)])
        else:
            branches = []
            for branch in statement.body:
                assert isinstance(branch, BlockStatement) and branch.kind == "branch"
                items, _ = self.walk(branch.body, x, env)
                branches.append(Seq(items))
            module = Merge(statement.kind, branches)
        with torch.no_grad():
            return module, module.eval()(x)

    def call(self, text: str, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
        words = text.split()
        define = self.defines[words[0].lower()]
        names = [name for name, _ in define.params]
        env: dict[str, int] = {}
        for position, word in enumerate(words[1:]):
            if "=" in word:
                key, value = word.split("=", 1)
                env[key.lower()] = int(value)
            else:
                env[names[position]] = int(word)
        for name, default in define.params:
            if name not in env:
                env[name] = int(default)  # type: ignore[arg-type]
        env["in_"] = x.shape[1]
        items, x = self.walk(define.body, x, env)
        return Seq(items), x


def translate(text: str, max_elements: int | None = None) -> Net:
    """The PyTorch network for ``text``; with ``max_elements``, :class:`TooBig` before a
    layer whose input holds more (for specs the engine cannot price: it refuses them)."""
    spec = parse(text)
    defines = {s.name: s for s in spec.statements if isinstance(s, DefineStatement)}
    body = [s for s in spec.statements if not isinstance(s, DefineStatement)]
    assert isinstance(body[0], InputStatement)
    shape = tuple(int(p) for p in body[0].dims.lower().split("x"))
    x = torch.zeros(1, *to_torch(shape))
    items, _ = _Builder(defines, max_elements).walk(body[1:], x, {})
    return Net(Seq(items).eval(), shape)


# --- measuring -----------------------------------------------------------------


def _macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    if isinstance(module, nn.ConvTranspose2d):
        return module.weight.numel() * inputs[0].shape[2] * inputs[0].shape[3]
    if isinstance(module, nn.Conv2d):
        return module.weight.numel() * output.shape[2] * output.shape[3]
    if isinstance(module, nn.Linear):
        return module.weight.numel()
    return 0


def bn_buffers(module: nn.Module) -> int:
    return sum(m.running_mean.numel() + m.running_var.numel()
               for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


def measure(net: Net) -> list[Record]:
    """Run ``net`` once; one record per tagged module, in execution order."""
    records: list[Record] = []
    counter = [0]
    handles = []

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        counter[0] += _macs(module, inputs, output)

    def before(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        module._macs_before = counter[0]  # type: ignore[assignment]

    def after(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        own = module.row_kind == "layer"
        records.append(Record(
            kind=module.row_kind,
            text=module.row_text,
            shape=to_engine(output.shape),
            trainable=sum(p.numel() for p in module.parameters()) if own else 0,
            non_trainable=bn_buffers(module) if own else 0,
            macs=counter[0] - module._macs_before if own else 0,
        ))

    for module in net.module.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            handles.append(module.register_forward_hook(count))
        if getattr(module, "row_kind", None):
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
    try:
        with torch.no_grad():
            net.module.eval()(net.zeros())
    finally:
        for handle in handles:
            handle.remove()
    return records


# --- receptive field -------------------------------------------------------------


def rf_network(net: Net) -> Net:
    """A copy for receptive-field probing: conv/linear weights 1 and biases 0, max pooling
    replaced by average pooling, element-wise layers by the identity, float64; so every
    input pixel inside a unit's receptive field gets a positive gradient."""
    import copy

    module = copy.deepcopy(net.module).double().eval()
    for leaf in [m for m in module.modules() if isinstance(m, Leaf)]:
        parts = []
        for part in leaf.parts:
            if isinstance(part, nn.MaxPool2d):
                part = nn.AvgPool2d(part.kernel_size, part.stride, part.padding, ceil_mode=part.ceil_mode)
            elif isinstance(part, nn.AdaptiveMaxPool2d):
                part = nn.AdaptiveAvgPool2d(1)
            elif isinstance(part, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                with torch.no_grad():
                    part.weight.fill_(1.0)
                    if part.bias is not None:
                        part.bias.zero_()
            elif not isinstance(part, (nn.AvgPool2d, nn.ZeroPad2d, nn.Flatten, nn.modules.batchnorm._BatchNorm,
                                       nn.AdaptiveAvgPool2d)):
                part = nn.Identity()
            parts.append(part)
        leaf.parts = nn.Sequential(*parts).double()
    return Net(module, net.input_shape)


def gradient_extent(net: Net) -> tuple[tuple[int, int], tuple[int, int]]:
    """(first, last) input row and column with a nonzero gradient of the central output unit."""
    probe = rf_network(net)
    x = torch.ones(1, *to_torch(net.input_shape), dtype=torch.float64, requires_grad=True)
    y = probe.module(x)
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    grad = x.grad.abs().sum(dim=(0, 1))
    rows = torch.nonzero(grad.sum(dim=1)).flatten()
    cols = torch.nonzero(grad.sum(dim=0)).flatten()
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))
