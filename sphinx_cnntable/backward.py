"""What autograd keeps for the backward pass: every row's saved tensors, counted once.

Pure Python, on the engine's rows (after the walk). Each layer row carries the
:class:`~.layers.Saved` tensors its layer's entry declares; here they are resolved to
storages and counted:

* every row's output lives in a storage: its own, or its input's when the layer
  ``aliases`` it (a view such as ``flatten``, ``tokens`` or a crop; an in-place ``relu``);
  a storage holds ``batch * prod(shape)`` values of the row that allocated it;
* ``"input"`` / ``"output"`` name the storage of the row's input / output, ``"new"`` a
  tensor of the row's own; a storage kept by several rows counts once, on the first row
  (in reading order) that keeps it;
* autograd records nothing for an operation whose inputs need no gradient and that has no
  trainable parameters: a row before the first parameter (a ``maxpool`` on the input)
  keeps nothing. A row's output needs a gradient when its input does or it has trainable
  parameters; a merge's when any operand does;
* a ``multiply`` merge (``scale:``, ``x * body(x)``) keeps ``body(x)`` when ``x`` needs a
  gradient and ``x`` when ``body(x)`` does (PyTorch's ``mul``); ``add`` and ``concat``
  keep nothing.

Sizes: ``"float"`` values are of the activation dtype (``Row.saved_elements``);
``"int64"`` indices (8 bytes) and ``"float32"`` statistics (4 bytes) are bytes
(``Row.saved_extra_bytes``). See the conventions page for the rule of every layer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

Layout = tuple[tuple[int, ...], tuple[int, ...]]

EXTRA_BYTES = {"int64": 8, "float32": 4}


def account(rows: Sequence[Any], batch: int) -> None:
    """Scale every row's activations by ``batch`` and fill in its saved figures."""
    storage: list[int] = []  # per row: the index of the row whose output allocated its storage
    allocated: list[int] = []  # per row: the values its storage holds, if it allocates one
    layout: list[Layout] = []  # per row: its output's sizes and strides in PyTorch's layout
    grad: list[bool] = []
    counted: set[tuple[Any, ...]] = set()
    for index, row in enumerate(rows):
        if row.kind == "group":
            row.activations *= batch
            storage.append(index)
            allocated.append(batch * math.prod(row.output_shape))
            layout.append(_dense(row.output_shape, batch))
            grad.append(False)
            continue
        elements = math.prod(row.output_shape)
        if batch != 1:
            row.activations = batch * elements
            if "activations" in row.formulas:
                row.formulas = {**row.formulas, "activations": f"{batch}*{row.formulas['activations']}"}
        if row.kind == "input":
            storage.append(index)
            allocated.append(batch * math.prod(row.output_shape))
            layout.append(_dense(row.output_shape, batch))
            grad.append(False)
            continue
        inputs = row.inputs
        first = inputs[0]
        needs = grad[first] if len(inputs) == 1 else any(grad[i] for i in inputs)
        trainable = row.weights + row.biases > 0
        own = _dense(row.output_shape, batch)
        if row.view == "strided":  # a slice: the input's strides
            view: Layout | None = (own[0], layout[first][1])
        elif row.view == "reshape":  # a view where the merged axes allow it, else a copy
            view = _reshaped(layout[first], own[0])
        else:
            view = layout[first] if row.aliases else None
        if row.view == "tokens-major":  # a storage of its own, positions outermost
            own = _tokens_major(own[0])
        elif row.view == "channels-last":
            own = _channels_last(own[0])
        elif row.view == "like":  # an elementwise result: laid out as what it reads
            own = _like(_read(row, layout[first], batch))
        elif row.view == "follow" and _suggests_channels_last(layout[first]):
            own = _channels_last(own[0])  # the memory format its input suggests
        if row.aliases and view is not None and len(view[0]) != len(own[0]):
            view = own  # a view of another rank (selectcls): laid out densely
        storage.append(storage[first] if row.aliases and view is not None else index)
        allocated.append(batch * (math.prod(_allocated(row, batch)) if row.padded else elements))
        layout.append(view if row.aliases and view is not None else own)
        grad.append(needs or trainable)
        if not (needs or trainable) and row.kind != "merge":
            continue  # autograd records nothing
        keys: list[tuple[tuple[Any, ...], str, int]] = []
        if row.kind == "merge":
            if row.layer == "multiply":
                body, given = row.inputs
                if grad[given]:
                    keys.append(_storage(allocated, storage[body], batch))
                if grad[body]:
                    keys.append(_storage(allocated, storage[given], batch))
        else:
            for saved in row.saves:
                if saved.tensor == "input":
                    keys.append(_storage(allocated, storage[first], batch))
                elif saved.tensor == "output":
                    keys.append(_storage(allocated, storage[index], batch))
                elif saved.tensor == "input-suggested":  # .contiguous(x.suggest_memory_format())
                    read = _read(row, layout[first], batch)
                    if _is_contiguous(_channels_last_order(read) if _suggests_channels_last(read) else read):
                        keys.append(_storage(allocated, storage[first], batch))
                    else:
                        keys.append((("new", index, len(keys)), "float", batch * math.prod(row.output_shape)))
                elif (saved.tensor == "input-contiguous" and not _is_contiguous(_read(row, layout[first], batch))) or (
                    saved.tensor == "input-flat"
                    and _reshaped(layout[first], (batch, math.prod(rows[first].output_shape))) is None
                ):
                    size = batch * math.prod(row.output_shape if saved.tensor == "input-contiguous" else rows[first].output_shape)
                    keys.append((("new", index, len(keys)), "float", size))
                elif saved.tensor in ("input-contiguous", "input-flat") or (
                    saved.tensor == "input-view" and _in_projection_view(_read(row, layout[first], batch))
                ):
                    keys.append(_storage(allocated, storage[first], batch))
                elif not (saved.batch_one and batch != 1):  # "new", or "input-view" copied
                    size = saved.elements * (batch if saved.per_sample else 1)
                    keys.append((("new", index, len(keys)), saved.kind, size))
        for key, kind, size in keys:
            if key in counted:
                continue
            counted.add(key)
            if kind == "float":
                row.saved_elements += size
            else:
                row.saved_extra_bytes += EXTRA_BYTES[kind] * size
    _subtotals(rows)


@functools.lru_cache(maxsize=1024)
def _dense(shape: tuple[int, ...], batch: int) -> Layout:
    """The sizes and strides of a new tensor of ``shape`` (HxWxC) in PyTorch's layout:
    (batch, channels, spatial axes), contiguous. Cached: a network repeats its shapes."""
    sizes = (batch, shape[-1], *shape[:-1])
    strides = [1] * len(sizes)
    for axis in range(len(sizes) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * sizes[axis + 1]
    return sizes, tuple(strides)


def _tokens_major(sizes: tuple[int, ...]) -> Layout:
    """The layout of ``nn.MultiheadAttention``'s output read back as NC*: it computes in
    (positions, batch, channels) order, so the batch's stride is C, the channels' 1 and
    the positions' (row-major) batch*C; a flatten of it is a copy unless batch is 1 and
    C is 1."""
    batch, channels, *spatial = sizes
    inner = tuple(math.prod(spatial[i + 1:]) * batch * channels for i in range(len(spatial)))
    return sizes, (channels, 1, *inner)


def _channels_last(sizes: tuple[int, ...]) -> Layout:
    """A new tensor computed channels last (``nn.LayerNorm``, Swin's modules on
    ``x.movedim(1, -1)``) read back as NC*: channels' stride 1, positions' C."""
    batch, channels, *spatial = sizes
    inner = tuple(math.prod(spatial[i + 1:]) * channels for i in range(len(spatial)))
    return sizes, (math.prod(spatial) * channels, 1, *inner)


def _suggests_channels_last(layout: Layout) -> bool:
    """PyTorch's ``suggest_memory_format() == channels_last`` (``_3d``) for a 4-D (5-D)
    tensor of ``layout``: its strides, read in the order channels, the spatial axes from
    the last, batch, never decrease (an axis of size 1 does not multiply); the channels'
    stride 0 and a batch stride equal to the channels' (an ambiguous N111) say no."""
    sizes, strides = layout
    if len(sizes) not in (4, 5) or strides[1] == 0:
        return False
    least = 0
    for axis in (1, *range(len(sizes) - 1, 1, -1), 0):
        if sizes[axis] == 0 or strides[axis] < least or (axis == 0 and least == strides[1]):
            return False
        least = strides[axis] * sizes[axis] if sizes[axis] > 1 else strides[axis]
    return True


def _channels_last_order(layout: Layout) -> Layout:
    """``layout`` with its axes in channels-last order (batch, spatial axes, channels):
    contiguous in that order is ``is_contiguous(memory_format=channels_last)``."""
    sizes, strides = layout
    order = (0, *range(2, len(sizes)), 1)
    return tuple(sizes[i] for i in order), tuple(strides[i] for i in order)


def _like(layout: Layout) -> Layout:
    """The layout of an elementwise result (PyTorch's TensorIterator): a dense tensor whose
    axes are in the order of its input's strides, largest first."""
    sizes, strides = layout
    order = sorted(range(len(sizes)), key=lambda i: (-strides[i], i))
    out = [0] * len(sizes)
    step = 1
    for i in reversed(order):
        out[i] = step
        step *= sizes[i]
    return sizes, tuple(out)


def _is_contiguous(layout: Layout) -> bool:
    """``Tensor.is_contiguous``: axes of size 1 do not count."""
    expected = 1
    for size, stride in reversed(list(zip(*layout, strict=True))):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def _reshaped(layout: Layout, sizes: tuple[int, ...]) -> Layout | None:
    """The layout of ``reshape(sizes)`` when it is a view (the trailing axes of ``layout``
    merged into one, as ``flatten`` and ``tokens`` do), else None (PyTorch copies)."""
    old_sizes, old_strides = layout
    if len(sizes) == len(old_sizes):
        return sizes, old_strides
    start = len(sizes) - 1
    kept = [(n, st) for n, st in zip(old_sizes[start:], old_strides[start:], strict=True) if n != 1]
    if any(a[1] != b[1] * b[0] for a, b in zip(kept, kept[1:])):
        return None
    return sizes, (*old_strides[:start], kept[-1][1] if kept else 1)


def _in_projection_view(layout: Layout) -> bool:
    """Whether the 2-D matrix ``nn.MultiheadAttention``'s in-projection reads (and keeps)
    is a view of an NC* input of ``layout``: ``x.flatten(2)`` (a copy where the positions
    do not merge, after a crop), ``.transpose(1, 2)``, then the (positions, batch,
    channels) tokens reshaped to (positions * batch, channels), a view where the
    positions' stride is batch times the batch's (batch 1, one position, or an input
    laid out positions first such as another attention's output), else a copy."""
    batch, channels = layout[0][:2]
    positions = math.prod(layout[0][2:])
    flat = _reshaped(layout, (batch, channels, positions))
    if flat is None:
        return False
    stride_batch, _, stride_positions = flat[1]
    return batch == 1 or positions == 1 or stride_positions == batch * stride_batch


def _read(row: Any, given: Layout, batch: int) -> Layout:
    """The layout of what a shape-preserving row reads from its input ``given``: the
    input itself, or in a ``split:`` body a chunk of its channels (the same strides)."""
    sizes = _dense(row.output_shape, batch)[0]
    return given if sizes == given[0] else (sizes, given[1])


def _storage(elements: Sequence[int], owner: int, batch: int) -> tuple[tuple[Any, ...], str, int]:
    """The key, kind and size of the storage allocated by row ``owner``."""
    return ("storage", owner), "float", elements[owner]


def _allocated(row: Any, batch: int) -> tuple[int, ...]:
    """The shape (per sample) of the storage a row's output allocates: its own, or the
    padded one it is a contiguous slice of (``Effect.padded``)."""
    if not row.padded:
        return row.output_shape
    sizes = (batch, *row.output_shape)  # channels-last: batch, spatial axes, channels
    full = (batch, *row.padded)
    strides = tuple(math.prod(full[i + 1:]) for i in range(len(full)))
    return row.padded if _is_contiguous((sizes, strides)) else row.output_shape


def _subtotals(rows: Sequence[Any]) -> None:
    """A group row's saved figures: the sums over the rows nested under it."""
    open_groups: list[Any] = []
    for row in rows:
        while open_groups and open_groups[-1].depth >= row.depth:
            open_groups.pop()
        if row.kind == "group":
            row.saved_elements = row.saved_extra_bytes = 0
            open_groups.append(row)
            continue
        for group in open_groups:
            group.saved_elements += row.saved_elements
            group.saved_extra_bytes += row.saved_extra_bytes
