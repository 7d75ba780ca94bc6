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

import math
from collections.abc import Sequence
from typing import Any

EXTRA_BYTES = {"int64": 8, "float32": 4}


def account(rows: Sequence[Any], batch: int) -> None:
    """Scale every row's activations by ``batch`` and fill in its saved figures."""
    storage: list[int] = []  # per row: the index of the row whose output allocated its storage
    grad: list[bool] = []
    counted: set[tuple[Any, ...]] = set()
    for index, row in enumerate(rows):
        if row.kind == "group":
            row.activations *= batch
            storage.append(index)
            grad.append(False)
            continue
        elements = math.prod(row.output_shape)
        if batch != 1:
            row.activations = batch * elements
            if "activations" in row.formulas:
                row.formulas["activations"] = f"{batch}*{row.formulas['activations']}"
        if row.kind == "input":
            storage.append(index)
            grad.append(False)
            continue
        first = row.inputs[0]
        needs = any(grad[i] for i in row.inputs)
        trainable = row.weights + row.biases > 0
        storage.append(storage[first] if row.aliases else index)
        grad.append(needs or trainable)
        keys: list[tuple[tuple[Any, ...], str, int]] = []
        if row.kind == "merge":
            if row.layer == "multiply":
                body, given = row.inputs
                if grad[given]:
                    keys.append(_storage(rows, storage[body], batch))
                if grad[body]:
                    keys.append(_storage(rows, storage[given], batch))
        elif needs or trainable:
            for saved in row.saves:
                if saved.tensor == "input" or (saved.tensor == "input-view" and batch == 1):
                    keys.append(_storage(rows, storage[first], batch))
                elif saved.tensor == "output":
                    keys.append(_storage(rows, storage[index], batch))
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


def _storage(rows: Sequence[Any], owner: int, batch: int) -> tuple[tuple[Any, ...], str, int]:
    """The key, kind and size of the storage allocated by row ``owner``."""
    return ("storage", owner), "float", batch * math.prod(rows[owner].output_shape)


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
