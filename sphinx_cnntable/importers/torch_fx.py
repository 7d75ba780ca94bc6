"""``torch:package.module:callable``: build the model on the meta device (no weights, no
download), trace it with ``torch.fx`` with the layers the language knows as leaves,
propagate shapes on a meta input, and translate each node into the neutral
:class:`~.emit.Graph`.

Tensors are tracked with their layout: channels first (PyTorch's ``NC...``), channels
last (``N...C``: ConvNeXt's permuted blocks, Swin, token sequences) or a vector
(``N, F``). The engine's shapes are always channels last.
"""

from __future__ import annotations

import importlib
import inspect
import math
import sys
import types
from dataclasses import dataclass
from typing import Any

from . import FrameworkMissing, ModelError, ModelRef
from .emit import Emitted, Graph, Line, UnsupportedOp, axes_text, conv_head, emit, shape_text

try:  # the framework is optional: FrameworkMissing says so when a model is read
    import torch
    import torch.fx
    from torch import nn
    from torch.fx.passes.shape_prop import ShapeProp
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]


def _stub_torchvision_ops() -> None:
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


def _import(module: str) -> types.ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and module.startswith(error.name):
            raise ModelError(f"cannot import {module!r}: {error}") from None
        raise ModelError(f"cannot import {module!r}: {error}") from None
    except (OSError, RuntimeError, ImportError, AttributeError) as error:
        if module.split(".")[0] != "torchvision" or "torchvision._meta_registrations" in sys.modules:
            raise ModelError(f"cannot import {module!r}: {type(error).__name__}: {error}") from None
    # torchvision's compiled operators failed to load (a CUDA build beside a CPU torch):
    # the model builders need none of them.
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]
    _stub_torchvision_ops()
    try:
        return importlib.import_module(module)
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"cannot import {module!r}: {type(error).__name__}: {error}") from None


def load(ref: ModelRef) -> Any:
    """Build the model of ``ref`` on the meta device, in eval mode (``weights=None``)."""
    if torch is None:
        raise FrameworkMissing("torch")
    module_name, _, name = ref.target.partition(":")
    if module_name.split(".")[0] == "torchvision" and "torchvision" not in sys.modules:
        _stub_torchvision_ops()
    module = _import(module_name)
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        raise ModelError(f"{module_name} has no callable {name!r}")
    kwargs = dict(ref.kwargs)
    if kwargs.get("weights") is not None:
        raise ModelError("weights= is not allowed: no weights are downloaded or needed (the figures do not depend on them)")
    try:
        accepts = inspect.signature(factory).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepts.values())
    except (TypeError, ValueError):
        accepts, takes_any = {}, False
    if "weights" in accepts or (takes_any and module_name.startswith("torchvision")):
        kwargs["weights"] = None
    try:
        with torch.device("meta"):
            model = factory(**kwargs)
    except NotImplementedError:
        # an initialiser that reads values (RegNet's) needs real tensors: build on the CPU
        try:
            model = factory(**kwargs).to("meta")
        except Exception as error:  # noqa: BLE001
            raise ModelError(f"calling {ref}: {type(error).__name__}: {error}") from None
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"calling {ref}: {type(error).__name__}: {error}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"{ref} returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


# --- tracing ------------------------------------------------------------------


def _leaf_types() -> tuple[type, ...]:
    leaves: list[type] = [
        nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
        nn.modules.instancenorm._InstanceNorm, nn.MultiheadAttention, nn.LocalResponseNorm,
    ]
    try:
        from torchvision.ops import StochasticDepth
        from torchvision.ops.misc import Permute

        leaves += [StochasticDepth, Permute]
        from torchvision.models import swin_transformer

        leaves += [swin_transformer.ShiftedWindowAttention, swin_transformer.PatchMerging]
    except Exception:  # noqa: BLE001  (torchvision is optional)
        return tuple(leaves)
    return tuple(leaves)


def _autowrap() -> tuple[Any, ...]:
    try:
        from torchvision.models.shufflenetv2 import channel_shuffle

        return (channel_shuffle,)
    except Exception:  # noqa: BLE001
        return ()


def trace(model: Any) -> Any:
    leaves = _leaf_types()

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return isinstance(m, leaves) or super().is_leaf_module(m, qualname)

    tracer = Tracer(autowrap_functions=_autowrap())
    try:
        graph = tracer.trace(model)
    except Exception as error:  # noqa: BLE001
        stack = list(getattr(tracer, "module_stack", {}) or {})
        where = stack[-1] if stack else type(model).__name__
        raise UnsupportedOp(where, "control flow", f"torch.fx cannot trace it ({type(error).__name__}: {str(error).splitlines()[0]})") from None
    return torch.fx.GraphModule(tracer.root, graph)


# --- layouts ------------------------------------------------------------------

FIRST, LAST, VECTOR = "first", "last", "vector"


@dataclass
class Value:
    node: int  # neutral graph node
    layout: str
    shape: tuple[int, ...]  # torch shape, batch included

    @property
    def engine(self) -> tuple[int, ...]:
        dims = self.shape[1:]
        if self.layout == VECTOR or len(dims) == 1:
            return tuple(dims)
        if self.layout == FIRST:
            return (*dims[1:], dims[0])
        return tuple(dims)

    @property
    def channels(self) -> int:
        return self.engine[-1]


@dataclass
class Const:
    """A parameter or buffer read in ``forward`` (a class token, a position embedding)."""

    shape: tuple[int, ...]


def _axes(values: Any, rank: int) -> tuple[int, ...]:
    if isinstance(values, int):
        return (values,) * rank
    values = tuple(values)
    return values if len(values) == rank else values * rank if len(values) == 1 else values


def _conv_line(m: Any, path: str, channels_in: int) -> Line:
    rank = len(m.kernel_size)
    k, s, d = _axes(m.kernel_size, rank), _axes(m.stride, rank), _axes(m.dilation, rank)
    transposed = bool(getattr(m, "transposed", False))
    head, words, groups = conv_head(k, s, m.out_channels, channels_in, m.groups, transposed)
    padding = m.padding
    if isinstance(padding, str):
        if padding == "same":
            words.append("pad=same")
        elif any(d_ * (k_ - 1) // 2 for k_, d_ in zip(k, d)):
            words.append("pad=0")
    else:
        p = _axes(padding, rank)
        if p != tuple(d_ * (k_ - 1) // 2 for k_, d_ in zip(k, d)):
            words.append(f"pad={axes_text(p)}")
    if transposed and any(_axes(m.output_padding, rank)):
        words.append(f"outpad={axes_text(_axes(m.output_padding, rank))}")
    if any(x != 1 for x in d):
        words.append(f"dilation={axes_text(d)}")
    if groups > 1:
        words.append(f"groups={groups}")
    return Line(" ".join([head, *words]), family="conv", bias=m.bias is not None)


def _pool_line(kind: str, kernel: Any, stride: Any, padding: Any, ceil: bool, rank: int, path: str,
               dilation: Any = 1) -> Line:
    k = _axes(kernel, rank)
    s = _axes(stride if stride not in (None, ()) else kernel, rank)
    p = _axes(padding, rank)
    if any(x != 1 for x in _axes(dilation, rank)):
        raise UnsupportedOp(path, f"{kind} dilation={dilation}", "pooling has no dilation in the language")
    head = f"{kind}{axes_text(k)}"
    if s != k:
        head += f"/{axes_text(s)}"
    words = [head]
    if any(p):
        words.append(f"pad={axes_text(p)}")
    if ceil:
        words.append("ceil=yes")
    return Line(" ".join(words))


def _adaptive(kind: str, output_size: Any, value: Value, path: str) -> Line:
    sizes = value.engine[:-1]
    out = tuple(o if o is not None else i for o, i in zip(_axes(output_size, len(sizes)), sizes))
    if all(o == 1 for o in out):
        return Line("gap" if kind == "avgpool" else "gmp")
    if all(i % o == 0 for i, o in zip(sizes, out)):
        k = tuple(i // o for i, o in zip(sizes, out))
        return Line(f"{kind}{axes_text(k)}/{axes_text(k)}")
    raise UnsupportedOp(path, f"adaptive {kind} to {shape_text(out)} from {shape_text(sizes)}",
                        "the windows would differ in size")


_ACTIVATIONS = {
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leakyrelu", "ELU": "elu", "GELU": "gelu", "SiLU": "silu",
    "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid", "Sigmoid": "sigmoid", "Tanh": "tanh",
    "Softmax": "softmax", "Identity": "identity",
}


class Converter:
    def __init__(self, gm: Any, allow_partial: bool) -> None:
        self.gm = gm
        self.graph = Graph()
        self.values: dict[Any, Value | Const | tuple[str, Any]] = {}
        self.allow_partial = allow_partial
        self.concats: list[tuple[int, list[int]]] = []

    # helpers
    def value(self, arg: Any, path: str) -> Value:
        got = self.values.get(arg)
        if not isinstance(got, Value):
            raise UnsupportedOp(path, str(getattr(arg, "target", arg)), "its input is not a tensor the language follows")
        return got

    def layer(self, node: Any, src: Value, lines: list[Line], path: str, stack: tuple[str, ...], own: bool) -> None:
        out = self._out(node)
        new = self.graph.add("layer", [src.node], lines=lines, path=path, stack=stack, own=own)
        self.values[node] = Value(new.id, self._layout_after(src, out), out)
        new.shape = self.values[node].engine  # type: ignore[union-attr]

    def _layout_after(self, src: Value, out: tuple[int, ...]) -> str:
        if len(out) == 2:
            return VECTOR if src.layout == VECTOR or len(src.shape) != 2 or src.layout == FIRST else src.layout
        return src.layout

    def _out(self, node: Any) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise UnsupportedOp(self._path(node)[0], str(node.target), "its output is not one tensor")
        return tuple(meta.shape)

    def _path(self, node: Any) -> tuple[str, tuple[str, ...]]:
        stack = tuple(node.meta.get("nn_module_stack", {}) or {})
        if node.op == "call_module":
            if not stack or stack[-1] != node.target:
                stack = (*stack, node.target)
            return node.target, stack
        return (stack[-1] if stack else f"forward ({node.name})"), stack

    def unsupported(self, node: Any, error: UnsupportedOp) -> None:
        if not self.allow_partial:
            raise error
        src = next((self.values[a] for a in node.all_input_nodes if isinstance(self.values.get(a), Value)), None)
        if src is None:
            raise error
        path, stack = self._path(node)
        new = self.graph.add("unsupported", [src.node], lines=[Line(f"unsupported: {error}")], path=path, stack=stack)
        try:
            out = self._out(node)
        except UnsupportedOp:
            out = src.shape
        self.values[node] = Value(new.id, src.layout, out)
        new.shape = src.engine

    def run(self, input_shape: tuple[int, ...]) -> Graph:
        nodes = list(self.gm.graph.nodes)
        for node in nodes:
            if node.op == "placeholder":
                if self.graph.nodes:
                    raise UnsupportedOp("<model>", "a second input", "the spec language has one input")
                out = self._out(node)
                layout = VECTOR if len(out) == 2 else FIRST
                value = Value(0, layout, out)
                self.graph.add("input", [], shape=value.engine)
                self.values[node] = value
            elif node.op == "get_attr":
                attr = self.gm
                for part in node.target.split("."):
                    attr = getattr(attr, part)
                self.values[node] = Const(tuple(attr.shape)) if hasattr(attr, "shape") else ("other", attr)
            elif node.op == "output":
                result = node.args[0]
                if isinstance(result, (tuple, list)):
                    result = result[0]
                self.graph.output = self.value(result, "<output>").node
            else:
                for path, entry in (node.meta.get("nn_module_stack") or {}).items():
                    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], type):
                        self.graph.classes.setdefault(path, f"{entry[1].__module__}.{entry[1].__qualname__}")
                try:
                    self.convert(node)
                except UnsupportedOp as error:
                    self.unsupported(node, error)
        return self.graph

    def convert(self, node: Any) -> None:
        path, stack = self._path(node)
        if node.op == "call_module":
            self.module(node, self.gm.get_submodule(node.target), path, stack)
        else:
            self.function(node, path, stack)

    # --- modules ---
    def module(self, node: Any, m: Any, path: str, stack: tuple[str, ...]) -> None:
        name = type(m).__name__
        if isinstance(m, nn.MultiheadAttention):
            srcs = {a for a in node.args[:3] if a is not None}
            if len(srcs) != 1:
                raise UnsupportedOp(path, "cross-attention", "only self-attention (q = k = v) is a layer")
            src = self.value(node.args[0], path)
            if not m.batch_first or src.layout != LAST:
                raise UnsupportedOp(path, "MultiheadAttention", "only batch_first attention over tokens is followed")
            bias = m.in_proj_bias is not None
            self.values[node] = ("mha", None)
            new = self.graph.add("layer", [src.node], lines=[Line(f"attention heads={m.num_heads}", family="fc", bias=bias)],
                                 path=path, stack=stack, own=True, shape=src.engine)
            self.values[node] = ("tuple", [Value(new.id, src.layout, src.shape)])
            return
        src = self.value(node.args[0], path)
        rank = len(src.shape) - 2
        if isinstance(m, nn.modules.conv._ConvNd):
            if src.layout != FIRST:
                raise UnsupportedOp(path, name, "a convolution on a channels-last tensor")
            self.layer(node, src, [_conv_line(m, path, src.channels)], path, stack, True)
        elif isinstance(m, nn.Linear):
            if src.layout == FIRST and len(src.shape) > 2:
                raise UnsupportedOp(path, "Linear", "on the last axis of a channels-first map")
            per = " per=token" if len(src.shape) > 2 else ""
            self.layer(node, src, [Line(f"fc-{m.out_features}{per}", family="fc", bias=m.bias is not None)], path, stack, True)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            if not m.affine or not m.track_running_stats or src.layout != FIRST:
                raise UnsupportedOp(path, name, "batch norm without affine or running statistics")
            self.layer(node, src, [Line("bn")], path, stack, True)
        elif isinstance(m, nn.LayerNorm):
            channels_first = name == "LayerNorm2d"
            if tuple(m.normalized_shape) != (src.channels,) or (src.layout == FIRST and not channels_first and rank > 0):
                raise UnsupportedOp(path, name, f"normalised shape {tuple(m.normalized_shape)} is not the channels")
            if not m.elementwise_affine or (m.bias is None):
                raise UnsupportedOp(path, name, "layer norm without weight and bias")
            self.layer(node, src, [Line("layernorm")], path, stack, True)
        elif isinstance(m, nn.GroupNorm):
            affine = "" if m.affine else " affine=no"
            self.layer(node, src, [Line(f"groupnorm groups={m.num_groups}{affine}")], path, stack, True)
        elif isinstance(m, nn.modules.instancenorm._InstanceNorm):
            if m.track_running_stats:
                raise UnsupportedOp(path, name, "instance norm with running statistics")
            self.layer(node, src, [Line("instancenorm affine=yes" if m.affine else "instancenorm")], path, stack, True)
        elif name in _ACTIVATIONS:
            self.layer(node, src, [Line(_ACTIVATIONS[name])], path, stack, True)
        elif isinstance(m, nn.modules.dropout._DropoutNd):
            self.layer(node, src, [Line(f"dropout p={m.p:g}")], path, stack, True)
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            line = _pool_line("maxpool", m.kernel_size, m.stride, m.padding, m.ceil_mode, rank, path, m.dilation)
            self.layer(node, src, [line], path, stack, True)
        elif isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
            line = _pool_line("avgpool", m.kernel_size, m.stride, m.padding, m.ceil_mode, rank, path)
            self.layer(node, src, [line], path, stack, True)
        elif isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
            self.layer(node, src, [_adaptive("avgpool", m.output_size, src, path)], path, stack, True)
        elif isinstance(m, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
            self.layer(node, src, [_adaptive("maxpool", m.output_size, src, path)], path, stack, True)
        elif isinstance(m, nn.Flatten):
            self.flatten(node, src, path, stack, own=True)
        elif isinstance(m, nn.LocalResponseNorm):
            self.layer(node, src, [Line(f"lrn size={m.size}")], path, stack, True)
        elif name == "StochasticDepth":
            self.layer(node, src, [Line(f"droppath p={m.p:g}")], path, stack, True)
        elif name == "Permute":
            self.permute(node, src, list(m.dims), path)
        elif name == "ShiftedWindowAttention":
            window = axes_text(tuple(m.window_size))
            shift = tuple(m.shift_size)
            words = [f"attention heads={m.num_heads} window={window}"]
            if any(shift):
                words.append(f"shift={axes_text(shift)}")
            if src.layout != LAST:
                raise UnsupportedOp(path, name, "windowed attention on a channels-first map")
            bias = m.qkv.bias is not None
            self.layer(node, src, [Line(" ".join(words), family="fc", bias=bias)], path, stack, True)
        elif name == "PatchMerging":
            bias = m.reduction.bias is not None
            lines = [Line("patchmerge"), Line("layernorm"), Line(f"fc-{m.reduction.out_features} per=token", family="fc", bias=bias)]
            self.layer(node, src, lines, path, stack, True)
        else:
            raise UnsupportedOp(path, f"module {type(m).__module__}.{name}", "no layer of the language computes it")

    # --- functions and methods ---
    def function(self, node: Any, path: str, stack: tuple[str, ...]) -> None:
        target = node.target
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        if node.meta.get("tensor_meta") is None and name not in ("chunk", "split", "getitem") and (name in ("_assert", "size", "dim", "getattr") or not any(isinstance(self.values.get(a), Value) for a in node.all_input_nodes)):
            return  # sizes, asserts: no tensor
        args = list(node.args)
        kwargs = dict(node.kwargs)
        if name in ("add", "iadd", "__add__", "add_"):
            return self.binary(node, "add", args, path, stack)
        if name in ("mul", "imul", "__mul__", "mul_"):
            return self.binary(node, "mul", args, path, stack)
        if name == "cat":
            tensors = args[0] if args else kwargs["tensors"]
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            return self.cat(node, list(tensors), dim, path, stack)
        if name in ("flatten", "view", "reshape"):
            src = self.value(args[0], path)
            return self.reshape(node, src, path, stack)
        if name in ("permute", "transpose", "movedim"):
            src = self.value(args[0], path)
            ndim = len(src.shape)
            if name == "permute":
                dims = list(args[1:]) if len(args) > 2 or not isinstance(args[1], (list, tuple)) else list(args[1])
            else:
                a, b = args[1] % ndim, args[2] % ndim
                dims = list(range(ndim))
                if name == "transpose":
                    dims[a], dims[b] = dims[b], dims[a]
                else:
                    dims.pop(a)
                    dims.insert(b, a)
            return self.permute(node, src, dims, path)
        if name in ("contiguous", "clone", "detach", "float", "to"):
            self.values[node] = self.value(args[0], path)
            return None
        if name == "expand" and isinstance(self.values.get(args[0]), Const):
            self.values[node] = self.values[args[0]]
            return None
        if name in ("chunk", "split") and name == "chunk" or (name == "split" and isinstance(args[1] if len(args) > 1 else None, int)):
            return self.chunk(node, args, kwargs, path, stack)
        if name == "getitem":
            return self.getitem(node, args, path, stack)
        if name == "channel_shuffle":
            src = self.value(args[0], path)
            return self.layer(node, src, [Line(f"shuffle groups={args[1]}")], path, stack, False)
        activation = {"relu": "relu", "relu_": "relu", "relu6": "relu6", "gelu": "gelu", "silu": "silu", "sigmoid": "sigmoid",
                      "hardsigmoid": "hardsigmoid", "hardswish": "hardswish", "tanh": "tanh", "softmax": "softmax",
                      "leaky_relu": "leakyrelu", "elu": "elu"}.get(name)
        if activation:
            return self.layer(node, self.value(args[0], path), [Line(activation)], path, stack, False)
        if name == "dropout":
            p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
            return self.layer(node, self.value(args[0], path), [Line(f"dropout p={p:g}")], path, stack, False)
        if name in ("mean", "amax") and isinstance(self.values.get(args[0]), Value):
            src = self.value(args[0], path)
            dims = args[1] if len(args) > 1 else kwargs.get("dim")
            dims = [dims] if isinstance(dims, int) else list(dims or [])
            ndim = len(src.shape)
            keep = bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False))
            if src.layout == FIRST and ndim > 2 and sorted(d % ndim for d in dims) == list(range(2, ndim)):
                line = Line("gap" if name == "mean" else "gmp")
                if keep:
                    return self.layer(node, src, [line], path, stack, False)
                self.layer(node, src, [line, Line("flatten")], path, stack, False)
                return None
            raise UnsupportedOp(path, f"{name} over dims {dims}", "only a mean over every spatial axis (gap) is followed")
        if name in ("adaptive_avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool2d"):
            src = self.value(args[0], path)
            size = args[1] if len(args) > 1 else kwargs["output_size"]
            kind = "avgpool" if "avg" in name else "maxpool"
            return self.layer(node, src, [_adaptive(kind, size, src, path)], path, stack, False)
        if name in ("avg_pool2d", "max_pool2d", "avg_pool1d", "max_pool1d", "avg_pool3d", "max_pool3d"):
            src = self.value(args[0], path)
            names = ["input", "kernel_size", "stride", "padding"]
            values = {**dict(zip(names, args)), **kwargs}
            kind = "avgpool" if "avg" in name else "maxpool"
            line = _pool_line(kind, values["kernel_size"], values.get("stride"), values.get("padding", 0),
                              bool(values.get("ceil_mode", False)), len(src.shape) - 2, path, values.get("dilation", 1))
            return self.layer(node, src, [line], path, stack, False)
        raise UnsupportedOp(path, f"{node.op} {name}", "no layer of the language computes it")

    def binary(self, node: Any, op: str, args: list[Any], path: str, stack: tuple[str, ...]) -> None:
        values = [self.values.get(a) if hasattr(a, "op") else a for a in args[:2]]
        tensors = [v for v in values if isinstance(v, Value)]
        consts = [v for v in values if isinstance(v, Const)]
        if len(tensors) == 2:
            out = self._out(node)
            a, b = tensors
            if op == "add" and a.shape != b.shape:
                raise UnsupportedOp(path, "add", f"of shapes {a.shape} and {b.shape} (broadcast)")
            if op == "mul":
                gate = b if math.prod(b.shape) < math.prod(a.shape) else a
                full = a if gate is b else b
                if not (gate.layout in (FIRST, VECTOR) and full.layout == FIRST and gate.shape[:2] == full.shape[:2]
                        and all(x == 1 for x in gate.shape[2:])):
                    raise UnsupportedOp(path, "multiply", f"of {full.shape} by {gate.shape}: only a per-channel gate is a block")
            new = self.graph.add(op, [a.node, b.node], path=path, stack=stack)
            self.values[node] = Value(new.id, a.layout if a.shape == tuple(out) else b.layout, out)
            new.shape = self.values[node].engine  # type: ignore[union-attr]
            return
        if len(tensors) == 1 and len(consts) == 1:
            src, const = tensors[0], consts[0]
            if op == "add" and tuple(const.shape) == src.shape:
                return self.layer(node, src, [Line("posembed")], path, stack, False)
            if op == "mul" and math.prod(const.shape) == src.channels and src.layout == FIRST:
                return self.layer(node, src, [Line("layerscale")], path, stack, False)
            raise UnsupportedOp(path, f"{op} of a parameter of shape {const.shape}", f"to a tensor of shape {src.shape}")
        raise UnsupportedOp(path, f"{op} of a tensor and a number", "an arithmetic step the language does not write")

    def cat(self, node: Any, tensors: list[Any], dim: int, path: str, stack: tuple[str, ...]) -> None:
        values = [self.values.get(t) for t in tensors]
        if len(values) == 1 and isinstance(values[0], Value):
            self.values[node] = values[0]
            return
        if len(values) == 2 and isinstance(values[0], Const) and isinstance(values[1], Value):
            src = values[1]
            if src.layout == LAST and dim % len(src.shape) == 1 and len(src.shape) == 3:
                return self.layer(node, src, [Line("clstoken")], path, stack, False)
        if not all(isinstance(v, Value) for v in values):
            raise UnsupportedOp(path, "cat", "of a parameter and a tensor")
        srcs: list[Value] = values  # type: ignore[assignment]
        channel_dim = 1 if srcs[0].layout in (FIRST, VECTOR) else len(srcs[0].shape) - 1
        if dim % len(srcs[0].shape) != channel_dim:
            raise UnsupportedOp(path, f"cat along dim {dim}", "only a concatenation of channels is a block")
        flat = [v.node for v in srcs]
        ids = flat
        # cat(x0, f1, ..., fk) where cat(x0, ..., f(k-1)) exists already: reuse it (DenseNet)
        for earlier, parts in reversed(self.concats):
            if len(parts) < len(flat) and flat[:len(parts)] == parts:
                ids = [earlier, *flat[len(parts):]]
                break
        new = self.graph.add("concat", ids, path=path, stack=stack)
        self.concats.append((new.id, flat))
        self.values[node] = Value(new.id, srcs[0].layout, self._out(node))
        new.shape = self.values[node].engine  # type: ignore[union-attr]

    def reshape(self, node: Any, src: Value, path: str, stack: tuple[str, ...], own: bool = False) -> None:
        out = self._out(node)
        if out == src.shape:
            self.values[node] = src
            return
        if len(out) == 2 and out[0] == 1:
            if src.layout == VECTOR or len(src.shape) == 2:
                self.values[node] = Value(src.node, VECTOR, out)
                return
            return self.layer(node, src, [Line("flatten")], path, stack, own)
        if src.layout == FIRST and len(src.shape) > 3 and out == (src.shape[0], src.shape[1], math.prod(src.shape[2:])):
            return self.layer(node, src, [Line("tokens")], path, stack, own)
        raise UnsupportedOp(path, f"reshape {src.shape} to {out}", "only flatten and map-to-tokens are followed")

    def flatten(self, node: Any, src: Value, path: str, stack: tuple[str, ...], own: bool) -> None:
        self.reshape(node, src, path, stack, own)

    def permute(self, node: Any, src: Value, dims: list[int], path: str) -> None:
        ndim = len(src.shape)
        dims = [d % ndim for d in dims]
        cdim = 1 if src.layout == FIRST else ndim - 1
        new_cdim = dims.index(cdim)
        spatial = [d for d in dims if d not in (0, cdim)]
        if dims[0] != 0 or spatial != sorted(spatial) or new_cdim not in (1, ndim - 1):
            raise UnsupportedOp(path, f"permute {dims}", "only moving the channels first or last is followed")
        layout = FIRST if new_cdim == 1 else LAST
        if ndim == 2:
            layout = src.layout
        self.values[node] = Value(src.node, layout, self._out(node))

    def chunk(self, node: Any, args: list[Any], kwargs: dict[str, Any], path: str, stack: tuple[str, ...]) -> None:
        src = self.value(args[0], path)
        chunks = args[1] if len(args) > 1 else kwargs.get("chunks")
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
        if node.target != "chunk" or chunks != 2 or src.layout != FIRST or dim % len(src.shape) != 1:
            raise UnsupportedOp(path, f"{node.target}", "only x.chunk(2, dim=1) is followed (split:)")
        new = self.graph.add("chunk", [src.node], path=path, stack=stack, index=2, shape=src.engine)
        self.values[node] = ("chunk", (new.id, src))

    def getitem(self, node: Any, args: list[Any], path: str, stack: tuple[str, ...]) -> None:
        base = self.values.get(args[0])
        index = args[1]
        if base is None and node.meta.get("tensor_meta") is None:
            return  # a size (n, c, h, w = x.shape)
        if isinstance(base, tuple) and base[0] == "tuple":
            if index != 0 and not node.users:
                return  # x, _ = attention(x, x, x): the weights are not used
            if index != 0:
                raise UnsupportedOp(path, f"output {index} of attention", "only the attended tokens are followed")
            self.values[node] = base[1][0]
            return
        if isinstance(base, tuple) and base[0] == "chunk":
            chunk_id, _ = base[1]
            new = self.graph.add("getitem", [chunk_id], path=path, stack=stack, index=index)
            out = self._out(node)
            self.values[node] = Value(new.id, FIRST, out)
            new.shape = self.values[node].engine  # type: ignore[union-attr]
            return
        if isinstance(base, Value) and (base.layout == LAST and len(base.shape) == 3 and isinstance(index, tuple) and len(index) == 2 \
                    and index[0] == slice(None) and index[1] == 0):
            return self.layer(node, base, [Line("selectcls")], path, stack, False)
        raise UnsupportedOp(path, f"indexing [{index}]", "only x[:, 0] of tokens (selectcls) is followed")


def figures(model: Any) -> dict[str, int]:
    """The model's own counts: parameters, and batch-norm running mean and variance."""
    params = sum(p.numel() for p in model.parameters())
    stats = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            stats += m.running_mean.numel() + m.running_var.numel()
    return {"params": params, "buffers": stats}


def torch_input(input_shape: tuple[int, ...], device: str = "meta") -> Any:
    dims = input_shape if len(input_shape) == 1 else (input_shape[-1], *input_shape[:-1])
    return torch.zeros(1, *dims, device=device)


def import_torch(ref: ModelRef, input_shape: tuple[int, ...], allow_partial: bool = False) -> Emitted:
    model = load(ref)
    return import_module(model, input_shape, allow_partial, str(ref))


def import_module(model: Any, input_shape: tuple[int, ...], allow_partial: bool = False, name: str = "") -> Emitted:
    if torch is None:
        raise FrameworkMissing("torch")
    gm = trace(model)
    try:
        ShapeProp(gm).propagate(torch_input(input_shape))
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"the model does not run on a {shape_text(input_shape)} input: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
    graph = Converter(gm, allow_partial).run(input_shape)
    counts = figures(model)
    header = [f"Imported from {name or type(model).__name__} by cnntable import (torch.fx)."] if True else []
    header.append(f"{counts['params']:,} parameters and {counts['buffers']:,} batch-norm running statistics in PyTorch.")
    return emit(graph, header)
