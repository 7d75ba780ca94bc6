"""``onnx:path/to/model.onnx``: read the graph with the ``onnx`` package and its shape
inference only (no runtime), and translate each node into the neutral
:class:`~.emit.Graph`.

The figures are those of the graph as it is: an eval-mode export folds BatchNorm into the
convolutions' biases, so an exported ResNet-18 has conv biases and no batch-norm rows.
Module paths come from the exporter's node names (``/layer1/layer1.0/conv1/Conv``).
Tensors are taken as channels first (``NCHW``), the layout of an exported PyTorch model.
"""

from __future__ import annotations

import math
from typing import Any

from . import FrameworkMissing, ModelError
from .emit import Emitted, Graph, Line, UnsupportedOp, axes_text, conv_head, emit, shape_text


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _scope(name: str) -> tuple[str, tuple[str, ...]]:
    parts = [p for p in name.split("/") if p][:-1]
    stack: list[str] = []
    path = ""
    for part in parts:
        path = part if (not path or part.startswith(path + ".")) else f"{path}.{part}"
        stack.append(path)
    return (stack[-1] if stack else name), tuple(stack)


_SIMPLE = {"Relu": "relu", "Sigmoid": "sigmoid", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish", "Tanh": "tanh",
           "Softmax": "softmax", "Gelu": "gelu", "Elu": "elu", "LeakyRelu": "leakyrelu"}


_CHANNELS_FIRST = {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                   "ReduceMean", "Split", "Flatten"}
"""Ops read here as channels first (NCHW)."""
_ELEMENTWISE = {"Add", "Sum", "Sub", "Mul", "Div", "Dropout", "Identity", *_SIMPLE}
"""Ops whose output keeps the layout of their input."""


def _layerscale(shape: tuple[int, ...], channels_last: bool, factors: list[tuple[int, ...]]) -> bool:
    """Whether a product with the one constant in ``factors`` is a per-channel scale
    (``layerscale``): a factor of C values laid along the channel axis."""
    if len(factors) != 1 or len(shape) < 3:
        return False
    dims = tuple(factors[0])
    if channels_last:
        return tuple(d for d in dims if d != 1 or False) == (shape[-1],) and dims[-1] == shape[-1]
    return dims[-(len(shape) - 1):] == (shape[1], *(1,) * (len(shape) - 2)) and math.prod(dims) == shape[1]


def _fold(op: str, a: dict[str, Any], inputs: list[Any]) -> Any:
    """The value of a small node computed from constants alone, or None."""
    import numpy as np
    from onnx import numpy_helper

    if any(v is None for v in inputs):
        return None
    if op == "ConstantOfShape":
        fill = numpy_helper.to_array(a["value"]).reshape(-1)[0] if "value" in a else np.float32(0)
        shape = tuple(int(v) for v in inputs[0])
        return np.full(shape, fill) if math.prod(shape) <= 16 else None
    table = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Equal": np.equal}
    if op in table:
        return table[op](*inputs)
    if op == "Where":
        return np.where(*inputs)
    if op == "Div" and all(np.issubdtype(v.dtype, np.integer) for v in inputs):
        return np.sign(inputs[0] * inputs[1]) * (np.abs(inputs[0]) // np.abs(inputs[1]))  # ONNX truncates
    if op == "Gather":
        return np.take(inputs[0], inputs[1], axis=a.get("axis", 0))
    return None


def _half(channels: int, bounds: list[Any]) -> int | None:
    """Which half of the channels (0 or 1) a Slice with constant ``bounds`` (starts, ends,
    axes, steps) keeps, or None when it is no half along the channel axis."""
    if len(bounds) < 3 or any(b is None for b in bounds) or channels % 2:
        return None
    starts, ends, axes = ([int(v) for v in b.reshape(-1)] for b in bounds[:3])
    steps = [int(v) for v in bounds[3].reshape(-1)] if len(bounds) > 3 else [1]
    if len(starts) != 1 or axes != [1] or steps != [1]:
        return None
    start, end = starts[0], min(ends[0], channels)
    if (start, end) == (0, channels // 2):
        return 0
    if (start, end) == (channels // 2, channels):
        return 1
    return None


def _settle(model: Any, name: str, dims: tuple[int, ...]) -> Any:
    """Shape inference, where sizes the graph computes from ``Shape`` (``x.chunk(2)``'s
    split point) are first folded into constants, as often as that settles more shapes."""
    import numpy as np
    import onnx
    from onnx import numpy_helper, shape_inference

    work = onnx.ModelProto()
    work.CopyFrom(model)
    for _ in range(64):
        inferred = shape_inference.infer_shapes(work)
        shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in inferred.graph.value_info}
        shapes[name] = dims
        vals = {i.name: numpy_helper.to_array(i) for i in work.graph.initializer if math.prod(i.dims) <= 16}
        changed = False
        for node in work.graph.node:
            a = _attrs(node)
            if node.op_type == "Constant" and "value" in a and math.prod(a["value"].dims) <= 16:
                vals[node.output[0]] = numpy_helper.to_array(a["value"])
            elif node.op_type == "Shape" and shapes.get(node.input[0]) and 0 not in shapes[node.input[0]] and not set(a) - {"start", "end"}:
                vals[node.output[0]] = np.array(shapes[node.input[0]][a.get("start", 0):a.get("end")], dtype=np.int64)
            elif node.output:
                value = _fold(node.op_type, a, [vals.get(i) for i in node.input])
                if value is not None:
                    vals[node.output[0]] = value
            if node.op_type in ("Slice", "Reshape", "Expand"):
                for k, i in enumerate(node.input[1:], 1):
                    if i and i in vals and i not in {c.name for c in work.graph.initializer}:
                        fixed = f"{i}__settled"
                        if fixed not in {c.name for c in work.graph.initializer}:
                            work.graph.initializer.append(numpy_helper.from_array(np.asarray(vals[i]), fixed))
                        node.input[k] = fixed
                        changed = True
        if not changed:
            return inferred
    return inferred


def _learned(name: str, origin: dict[str, frozenset[str]], floats: set[str]) -> bool:
    """Whether constant ``name`` comes from one float initializer (a learned tensor)."""
    return len(origin.get(name, ())) == 1 and next(iter(origin[name])) in floats


def _attention(prefix: str, members: list[Any], model: Any, tensors: dict[str, int], consts: dict[str, tuple[int, ...]],
               origin: dict[str, frozenset[str]], floats: set[str], shapes: dict[str, tuple[int, ...]],
               last: set[str]) -> tuple[str, str, Line, int]:
    """The nodes of one attention module (those under ``prefix``, around a Softmax) as one
    ``attention heads=H`` row, once its figures, counted from the graph, are the row's:
    the float initializers it reads, the MACs of its MatMul and Gemm nodes, its shape."""
    from ..engine import analyse

    where = _scope(prefix + "x")[0]
    produced = {o for n in members for o in n.output}
    reads = [i for n in members for i in n.input if i and i not in produced]
    live = sorted({i for i in reads if i in tensors})
    if len(live) != 1 or live[0] not in last:
        raise UnsupportedOp(where, "attention subgraph", f"it reads {len(live)} tensors of the network, not one of tokens")
    late = sorted({i for i in reads if i not in tensors and i not in consts})
    if late:
        raise UnsupportedOp(where, "attention subgraph", f"it reads {late[0]}, computed outside it")
    names = {n.name for n in members}
    used = {i for n in model.graph.node if n.name not in names for i in n.input} | {o.name for o in model.graph.output}
    outputs = sorted(produced & used)
    if len(outputs) != 1:
        raise UnsupportedOp(where, "attention subgraph", f"{len(outputs)} of its tensors are read outside it")
    x, y = live[0], outputs[0]
    params = sum(math.prod(consts[init]) for init in {next(iter(origin[i])) for i in reads if i in consts and _learned(i, origin, floats)})
    macs = 0
    softmax = [n for n in members if n.op_type == "Softmax"]
    for n in members:
        if n.op_type in ("MatMul", "Gemm"):
            first = shapes.get(n.input[0], ())
            out = shapes.get(n.output[0], ())
            if not first or not out or 0 in first or 0 in out or (n.op_type == "Gemm" and _attrs(n).get("transA", 0)):
                raise UnsupportedOp(n.name, f"ONNX {n.op_type}", "its shapes are not known from shape inference")
            macs += math.prod(out) * first[-1]
        elif n.op_type not in _ATTENTION_OPS:
            raise UnsupportedOp(n.name, f"ONNX {n.op_type}", "not an op of an attention subgraph")
    scores = shapes.get(softmax[0].input[0], ()) if len(softmax) == 1 else ()
    if len(scores) != 4 or scores[-1] != scores[-2] or _attrs(softmax[0]).get("axis", -1) not in (-1, 3):
        raise UnsupportedOp(where, "attention subgraph", f"its softmax scores have the shape {scores}, not (N, heads, L, L)")
    line = Line(f"attention heads={scores[1]}", family="fc", bias=True)
    shape = shapes.get(x, ())
    if scores[0] == 1 and shape and shapes.get(y) == shape and len(shape) == 3 and scores[2] == shape[1]:
        expected = analyse(f"input {'x'.join(map(str, shape[1:]))}\n{line.text}\n")
        if (expected.totals.params, expected.totals.macs) == (params, macs):
            return x, y, line, params
        raise UnsupportedOp(where, "attention subgraph", f"its figures ({params:,} parameters, {macs:,} MACs) are not those of "
                            f"{line.text} ({expected.totals.params:,}, {expected.totals.macs:,})")
    raise UnsupportedOp(where, "attention subgraph", f"scores {scores} over tokens {shape}: not self-attention over every token")


_ATTENTION_OPS = {"Constant", "Identity", "Shape", "Gather", "Slice", "Concat", "Reshape", "Transpose", "Unsqueeze",
                  "Squeeze", "Mod", "Add", "Mul", "Div", "Sqrt", "Cast", "Softmax", "Dropout"}
"""What the exporter writes of ``nn.MultiheadAttention`` besides its MatMul and Gemm nodes."""


def import_onnx(path: str, input_shape: tuple[int, ...] | None, allow_partial: bool = False) -> Emitted:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise FrameworkMissing("onnx") from None
    source = path
    try:
        model = onnx.load(path)
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"cannot read {path}: {type(error).__name__}: {error}") from None
    inits = {i.name: tuple(i.dims) for i in model.graph.initializer}
    values = {i.name: i for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise UnsupportedOp("<graph>", f"{len(inputs)} inputs", "the spec language has one input")
    dims = tuple(d.dim_value for d in inputs[0].type.tensor_type.shape.dim)
    if input_shape is not None:
        wanted = (1, *(input_shape if len(input_shape) == 1 else (input_shape[-1], *input_shape[:-1])))
        if 0 not in dims and wanted != dims:
            raise ModelError(f"{path} has the fixed input {shape_text(dims)} (NCHW), not {shape_text(wanted)}")
        dims = wanted
    inferred = _settle(model, inputs[0].name, dims)
    shapes: dict[str, tuple[int, ...]] = {inputs[0].name: dims, **inits}
    for info in [*inferred.graph.value_info, *inferred.graph.output]:
        shapes[info.name] = tuple(d.dim_value for d in info.type.tensor_type.shape.dim)
    graph = Graph()
    engine = dims[1:] if len(dims) == 2 else (*dims[2:], dims[1])
    graph.add("input", [], shape=tuple(engine))
    tensors: dict[str, int] = {inputs[0].name: 0}
    consts: dict[str, tuple[int, ...]] = dict(inits)
    params = 0
    small: dict[str, list[int]] = {i.name: [int(v) for v in numpy_helper.to_array(i).reshape(-1)]
                                   for i in model.graph.initializer if math.prod(i.dims) <= 16 and i.data_type == 7}
    shuffles: dict[str, tuple[int, int]] = {}  # a channel shuffle under way: tensor -> (source node, groups)
    last: set[str] = set()  # tensors of rank 3 or more whose last axis holds the channels (NHWC maps, NxC tokens)
    flats: set[str] = set()  # an NCHW map reshaped to (N, C, H*W), the first half of its reading as tokens
    concats: list[tuple[int, list[int]]] = []
    chunks: dict[int, int] = {}  # a layer's output cut in two halves by Slice nodes -> its chunk node
    vals = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if math.prod(i.dims) <= 16}
    origin: dict[str, frozenset[str]] = {name: frozenset([name]) for name in inits}  # the initializers a constant comes from
    floats = {i.name for i in model.graph.initializer if i.data_type == 1}
    regions: dict[str, tuple[str, list[Any], list[bool]]] = {}  # node name -> the attention module holding it
    for softmax in model.graph.node:
        prefix = softmax.name.rsplit("/", 1)[0] + "/"
        if softmax.op_type == "Softmax" and prefix.strip("/"):
            members = [n for n in model.graph.node if n.name.startswith(prefix)]
            done: list[bool] = []
            for member in members:
                regions[member.name] = (prefix, members, done)

    def weight_shape(name: str) -> tuple[int, ...]:
        if name in consts:
            return consts[name]
        return shapes.get(name, ())

    for node in model.graph.node:
        path, stack = _scope(node.name or node.op_type)
        op = node.op_type
        a = _attrs(node)
        live = [i for i in node.input if i in tensors]
        try:
            if op in ("Identity",) and node.input[0] in consts:
                consts[node.output[0]] = consts[node.input[0]]
                origin[node.output[0]] = origin.get(node.input[0], frozenset())
                continue
            if op == "Constant":
                consts[node.output[0]] = tuple(a["value"].dims) if "value" in a else ()
                if "value" in a and math.prod(a["value"].dims) <= 16:
                    vals[node.output[0]] = numpy_helper.to_array(a["value"])
                if "value" in a and math.prod(a["value"].dims) <= 16:
                    small[node.output[0]] = [int(v) for v in numpy_helper.to_array(a["value"]).reshape(-1)]
                continue
            if node.name in regions and not regions[node.name][2] and live:
                region = regions[node.name]
                region[2].append(True)
                x, y, line, read = _attention(region[0], region[1], model, tensors, consts, origin, floats, shapes, last)
                params += read
                new = graph.add("layer", [tensors[x]], lines=[line], path=_scope(region[0] + "x")[0],
                                stack=_scope(region[0] + "x")[1], own=True)
                tensors[y] = new.id
                last.add(y)
                continue
            if node.name in regions and regions[node.name][2]:
                continue
            if not live and all(not i or i in consts for i in node.input):
                for name in node.output:  # a value computed from constants alone
                    consts[name] = shapes.get(name, ())
                    origin[name] = frozenset().union(*(origin.get(i, frozenset()) for i in node.input if i))
                value = _fold(op, a, [vals.get(i) for i in node.input])
                if value is not None:
                    vals[node.output[0]] = value
                    consts[node.output[0]] = tuple(value.shape)
                if op == "Expand" and node.input[1] in vals and node.input[0] in consts:
                    import numpy as np  # the shape of a broadcast constant (a class token's expand)
                    consts[node.output[0]] = tuple(np.broadcast_shapes(tuple(consts[node.input[0]]),
                                                                       tuple(int(v) for v in vals[node.input[1]])))
                continue
            if op == "Shape" and live and shapes.get(live[0]) and 0 not in shapes[live[0]] \
                    and not set(a) - {"start", "end"}:
                import numpy as np  # the shape of a tensor, as shape inference knows it
                value = np.array(shapes[live[0]][a.get("start", 0):a.get("end")], dtype=np.int64)
                consts[node.output[0]], vals[node.output[0]], origin[node.output[0]] = value.shape, value, frozenset()
                continue
            if not live:
                raise UnsupportedOp(path, op, "it reads no tensor of the network")
            src = tensors[live[0]]
            out_shape = shapes.get(node.output[0], ())
            line: Line | None = None
            if live[0] in last and op in _CHANNELS_FIRST:
                raise UnsupportedOp(path, f"ONNX {op}", "its input is channels last (NHWC), where it would read the wrong axis")
            if op == "Conv":
                w = weight_shape(node.input[1])
                k = tuple(a.get("kernel_shape", w[2:]))
                rank = len(k)
                s = tuple(a.get("strides", (1,) * rank))
                d = tuple(a.get("dilations", (1,) * rank))
                pads = tuple(a.get("pads", (0,) * 2 * rank))
                if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                    raise UnsupportedOp(path, f"Conv auto_pad={a['auto_pad']}")
                if pads[:rank] != pads[rank:]:
                    raise UnsupportedOp(path, f"Conv pads={pads}", "uneven padding")
                groups = a.get("group", 1)
                c_in = w[1] * groups
                out = w[0]
                head, words, groups = conv_head(k, s, out, c_in, groups)
                p = pads[:rank]
                if p != tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d)):
                    words.append(f"pad={axes_text(p)}")
                if any(x != 1 for x in d):
                    words.append(f"dilation={axes_text(d)}")
                if groups > 1:
                    words.append(f"groups={groups}")
                bias = len(node.input) > 2 and bool(node.input[2])
                params += math.prod(w) + (math.prod(weight_shape(node.input[2])) if bias else 0)
                line = Line(" ".join([head, *words]), family="conv", bias=bias)
            elif op in ("Gemm", "MatMul"):
                w = weight_shape(node.input[1])
                if len(w) != 2:
                    raise UnsupportedOp(path, op, "of two activations")
                trans = a.get("transB", 0) if op == "Gemm" else 0
                out = w[0] if trans else w[1]
                bias = op == "Gemm" and len(node.input) > 2 and bool(node.input[2])
                params += math.prod(w) + (math.prod(weight_shape(node.input[2])) if bias else 0)
                if len(shapes.get(live[0], (1, 1))) > 2 and live[0] not in last:
                    raise UnsupportedOp(path, f"ONNX {op}", "on a channels-first tensor, it would mix positions rather than channels")
                per = " per=token" if len(shapes.get(live[0], (1, 1))) > 2 else ""
                line = Line(f"fc-{out}{per}", family="fc", bias=bias)
            elif op == "BatchNormalization":
                line = Line("bn")
                params += 4 * math.prod(weight_shape(node.input[1]))
            elif op in _SIMPLE:
                line = Line(_SIMPLE[op])
            elif op == "Clip":
                line = Line("relu6")
            elif op in ("MaxPool", "AveragePool"):
                k = tuple(a["kernel_shape"])
                rank = len(k)
                s = tuple(a.get("strides", (1,) * rank))
                pads = tuple(a.get("pads", (0,) * 2 * rank))
                if pads[:rank] != pads[rank:]:
                    raise UnsupportedOp(path, f"{op} pads={pads}", "uneven padding")
                kind = "maxpool" if op == "MaxPool" else "avgpool"
                words = [f"{kind}{axes_text(k)}" + (f"/{axes_text(s)}" if s != k else "")]
                if any(pads[:rank]):
                    words.append(f"pad={axes_text(pads[:rank])}")
                if a.get("ceil_mode", 0):
                    words.append("ceil=yes")
                line = Line(" ".join(words))
            elif op in ("GlobalAveragePool", "GlobalMaxPool"):
                line = Line("gap" if op == "GlobalAveragePool" else "gmp")
            elif op == "Transpose" and live[0] not in last and len(out_shape) >= 4 \
                    and list(a.get("perm", [])) == [0, *range(2, len(out_shape)), 1]:
                last.add(node.output[0])  # NCHW to NHWC: the engine's own layout, so no layer
                tensors[node.output[0]] = src
                continue
            elif op == "Transpose" and live[0] in last and len(out_shape) >= 4 \
                    and list(a.get("perm", [])) == [0, len(out_shape) - 1, *range(1, len(out_shape) - 1)]:
                tensors[node.output[0]] = src  # NHWC back to NCHW
                continue
            elif op == "Reshape" and live[0] not in last and len(shapes.get(live[0], ())) == 4 \
                    and out_shape == (*shapes[live[0]][:2], shapes[live[0]][2] * shapes[live[0]][3]):
                flats.add(node.output[0])  # (N, C, H, W) to (N, C, H*W)
                tensors[node.output[0]] = src
                continue
            elif op == "Transpose" and live[0] in flats and list(a.get("perm", [])) == [0, 2, 1]:
                line = Line("tokens")  # (N, C, H*W) to (N, H*W, C): the map read as tokens
            elif op == "LayerNormalization" and live[0] in last:
                rank = len(shapes[live[0]])
                if a.get("axis", -1) % rank != rank - 1:
                    raise UnsupportedOp(path, f"ONNX LayerNormalization axis={a.get('axis')}", "only a norm over the channels is layernorm")
                channels = shapes[live[0]][-1]
                scale = weight_shape(node.input[1])
                shift = weight_shape(node.input[2]) if len(node.input) > 2 and node.input[2] else None
                if math.prod(scale) != channels or shift is None or math.prod(shift) != channels:
                    raise UnsupportedOp(path, f"ONNX LayerNormalization with weight {scale} and bias {shift}",
                                        f"layernorm has {channels} weights and {channels} biases")
                params += 2 * channels
                line = Line("layernorm")
            elif op == "Mul" and len(live) == 1 and _layerscale(shapes.get(live[0], ()), live[0] in last,
                                                                   [consts[i] for i in node.input if i in consts]):
                params += shapes[live[0]][-1 if live[0] in last else 1]
                line = Line("layerscale")
            elif op == "Reshape" and len(out_shape) == 5 and len(shapes.get(live[0], ())) == 4 \
                    and out_shape[1] * out_shape[2] == shapes[live[0]][1]:
                shuffles[node.output[0]] = (src, out_shape[1])  # channel shuffle, 1/3: split the channels in groups
                tensors[node.output[0]] = src
                continue
            elif op == "Transpose" and live[0] in shuffles and list(a.get("perm", [])) == [0, 2, 1, 3, 4]:
                shuffles[node.output[0]] = shuffles[live[0]]  # 2/3: swap the two channel axes
                tensors[node.output[0]] = src
                continue
            elif op == "Reshape" and live[0] in shuffles and len(out_shape) == 4:
                src, groups = shuffles[live[0]]  # 3/3: channels again
                line = Line(f"shuffle groups={groups}")
            elif op == "ReduceMean" and len(shapes.get(live[0], ())) > 2:
                rank = len(shapes[live[0]])
                axes = a.get("axes") or (small.get(node.input[1]) if len(node.input) > 1 else None)
                if sorted(x % rank for x in axes or []) != list(range(2, rank)):
                    raise UnsupportedOp(path, f"ONNX ReduceMean over axes {axes}", "only a mean over every spatial axis is gap")
                if a.get("keepdims", 1):
                    line = Line("gap")
                else:
                    new = graph.add("layer", [src], lines=[Line("gap"), Line("flatten")], path=path, stack=stack, own=False)
                    tensors[node.output[0]] = new.id
                    continue
            elif op == "Slice" and live == [node.input[0]] and live[0] not in last and len(shapes.get(live[0], ())) >= 3 \
                    and _half(shapes[live[0]][1], [vals.get(i) for i in node.input[1:]]) is not None:
                index = _half(shapes[live[0]][1], [vals.get(i) for i in node.input[1:]])  # x.chunk(2, dim=1)
                if src not in chunks:
                    chunks[src] = graph.add("chunk", [src], path=path, stack=stack, index=2).id
                tensors[node.output[0]] = graph.add("getitem", [chunks[src]], path=path, stack=stack, index=index).id
                continue
            elif op == "Split" and len(node.output) == 2 and a.get("axis", 0) == 1 \
                    and shapes.get(node.output[0]) == shapes.get(node.output[1]):
                chunk = graph.add("chunk", [src], path=path, stack=stack, index=2)
                for index, name in enumerate(node.output):
                    tensors[name] = graph.add("getitem", [chunk.id], path=path, stack=stack, index=index).id
                continue
            elif op in ("Flatten", "Reshape") and len(out_shape) == 2:
                before = shapes.get(live[0], ())
                if len(before) == 2:
                    tensors[node.output[0]] = src
                    continue
                line = Line("flatten")
            elif op in ("Dropout",):
                tensors[node.output[0]] = src
                continue
            elif op in ("Add", "Sum") and len(live) == 2:
                new = graph.add("add", [tensors[x] for x in live], path=path, stack=stack)
                tensors[node.output[0]] = new.id
                continue
            elif op == "Add" and len(live) == 1 and live[0] in last and len(out_shape) == 3 and any(
                    i in consts and _learned(i, origin, floats) and tuple(consts[i]) == (1, *out_shape[1:]) for i in node.input):
                params += math.prod(out_shape[1:])  # x + pos_embedding, one value per token and channel
                line = Line("posembed")
            elif op == "Gather" and live == [node.input[0]] and live[0] in last and len(shapes.get(live[0], ())) == 3 \
                    and a.get("axis") == 1 and small.get(node.input[1]) == [0] and consts.get(node.input[1]) == ():
                line = Line("selectcls")  # x[:, 0]
            elif op == "Add" and len(live) == 1 and any(i in consts for i in node.input):
                # a MatMul's bias
                prev = graph.nodes[src]
                other = next(i for i in node.input if i in consts)
                if prev.op == "layer" and prev.lines[0].family == "fc" and not prev.lines[0].bias:
                    prev.lines[0] = Line(prev.lines[0].text, family="fc", bias=True)
                    params += math.prod(consts[other])
                    tensors[node.output[0]] = src
                    continue
                raise UnsupportedOp(path, "Add of a constant")
            elif op == "Mul" and len(live) == 2 and any(
                    graph.nodes[tensors[x]].op == "layer" and graph.nodes[tensors[x]].lines[0].text == "sigmoid"
                    and graph.nodes[tensors[x]].inputs == [tensors[y]] for x, y in (live, live[::-1])):
                # x * sigmoid(x): SiLU as the exporter writes it
                base = next(tensors[y] for x, y in (live, live[::-1]) if graph.nodes[tensors[x]].inputs == [tensors[y]]
                            and graph.nodes[tensors[x]].lines[0].text == "sigmoid")
                src = base
                line = Line("silu")
            elif op == "Mul" and len(live) == 2:
                new = graph.add("mul", [tensors[x] for x in live], path=path, stack=stack)
                tensors[node.output[0]] = new.id
                continue
            elif op == "Concat" and len(live) == 1 and live[0] in last and len(node.input) == 2 and node.input[1] == live[0] \
                    and _learned(node.input[0], origin, floats) and tuple(consts[node.input[0]]) == (1, 1, shapes[live[0]][-1]):
                params += shapes[live[0]][-1]  # cat(class_token.expand(n, -1, -1), x)
                line = Line("clstoken")
            elif op == "Concat" and len(node.input) == 1:
                tensors[node.output[0]] = src
                continue
            elif op == "Concat" and a.get("axis") == 1 and live[0] not in last:
                flat = ids = [tensors[x] for x in live]
                for earlier, parts in reversed(concats):  # cat(x0, ..., fk) after cat(x0, ..., fk-1): DenseNet
                    if len(parts) < len(flat) and flat[:len(parts)] == parts:
                        ids = [earlier, *flat[len(parts):]]
                        break
                new = graph.add("concat", ids, path=path, stack=stack)
                concats.append((new.id, flat))
                tensors[node.output[0]] = new.id
                continue
            else:
                raise UnsupportedOp(path, f"ONNX {op}", "no layer of the language computes it")
            new = graph.add("layer", [src], lines=[line], path=path, stack=(*stack, path) if stack and stack[-1] != path else stack,
                            own=True)
            tensors[node.output[0]] = new.id
            if live[0] in last or line.text == "tokens":
                last.add(node.output[0])
        except UnsupportedOp:
            if not allow_partial or not live:
                raise
            new = graph.add("unsupported", [tensors[live[0]]], lines=[Line(f"unsupported: {path}: ONNX {op}")], path=path,
                            stack=stack)
            tensors[node.output[0]] = new.id
        finally:
            if op in _ELEMENTWISE and any(x in last for x in live):
                last.update(node.output)
    graph.output = tensors[model.graph.output[0].name]
    stored = sum(math.prod(d) for d in inits.values())
    header = [f"Imported from onnx:{source} by cnntable import (onnx {onnx.__version__}, shape inference).",
              f"{stored:,} values in {len(inits)} initializers; the layers read {params:,} parameters."]
    del values
    return emit(graph, header)
