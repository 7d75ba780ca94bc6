"""The issue's measure of what autograd keeps for the backward pass, independent of the
engine: register a pack hook with ``torch.autograd.graph.saved_tensors_hooks``, run the
model once in ``train()`` mode, and add up ``untyped_storage().nbytes()`` over the
distinct storages packed that are not parameters' storages (buffers, such as
BatchNorm's running statistics, do count: the backward receives them)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def saved_storages(model: nn.Module, x: torch.Tensor, run: Callable[[nn.Module, torch.Tensor], object] | None = None
                   ) -> dict[int, tuple[int, list[tuple[tuple[int, ...], torch.dtype]]]]:
    """Storage pointer -> (bytes, [(shape, dtype) of each tensor packed with it]), for one
    forward pass of ``model.train()`` on ``x``, parameters' storages left out."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    found: dict[int, tuple[int, list[tuple[tuple[int, ...], torch.dtype]]]] = {}
    keep: list[torch.Tensor] = []  # keep every packed tensor alive, so no pointer is reused

    def pack(tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in params:
            found.setdefault(pointer, (storage.nbytes(), []))[1].append((tuple(tensor.shape), tensor.dtype))
        keep.append(tensor)
        return None  # never unpacked (no backward runs); a tensor here would be a cycle

    model.train()
    # The pack hook returns None, not the tensor: a saved output returned as itself holds
    # its own autograd node, a reference cycle the garbage collector cannot see, which
    # kept every model measured in a process alive (4 GB after 14 gallery builders).
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda packed: packed):
        out = run(model, x) if run is not None else model(x)
    del out
    keep.clear()
    return found


def saved_bytes(model: nn.Module, x: torch.Tensor, run: Callable[[nn.Module, torch.Tensor], object] | None = None) -> int:
    """The sum of the distinct non-parameter storages saved for backward (see the module)."""
    return sum(size for size, _ in saved_storages(model, x, run).values())
