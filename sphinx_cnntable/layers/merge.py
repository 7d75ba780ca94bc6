"""Merge blocks: how the outputs of a block's branches combine into one tensor.

``add:`` and ``concat:`` hold ``branch:`` blocks, each walked from the block's input;
``residual:`` and ``scale:`` hold one body, and the block's input is the other operand:
``residual:`` adds it (``x + body(x)``), ``scale:`` multiplies it channel by channel by a
body that ends in ``1x1xC`` (squeeze-and-excitation: ``x * body(x)``, broadcast over the
spatial axes). ``split:`` keeps the first ``C - C//2`` channels aside, runs its body on
the other ``C//2`` and concatenates the two (ShuffleNetV2's ``x.chunk(2, dim=1)``). A merge row has no parameters and counts 0 MACs (an element-wise sum or
product, or a concatenation, as torchvision's ``_ops``); its activations are its
output's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .base import LayerError, Shape, show_shape

Operand = tuple[Shape, int]
"""An output shape and the line that produced it."""


@dataclass(frozen=True)
class MergeKind:
    """``combine`` maps the operands (the branches, or the body then the block's input)
    to the merged shape, or raises :class:`LayerError`. ``row`` names the merge row;
    ``branches`` says whether the block holds ``branch:`` blocks or one body;
    ``rf`` is ``"union"`` (the merged output sees what any operand sees) or ``"input"``
    (the receptive field and jump of the block's input go on: a ``scale:`` body's
    global context is not counted, see :doc:`conventions`)."""

    name: str
    combine: Callable[[list[Operand]], Shape]
    row: str
    branches: bool = True
    rf: str = "union"
    body_input: Callable[[Shape], Shape] | None = None
    """The shape the body starts from (default: the block's input)."""


def _listing(operands: list[Operand]) -> str:
    return ", ".join(f"{show_shape(shape)} (line {line})" for shape, line in operands)


def _add(operands: list[Operand]) -> Shape:
    """Element-wise sum: every shape equal."""
    first = operands[0][0]
    if any(shape != first for shape, _ in operands):
        raise LayerError(f"the branches' shapes differ: {_listing(operands)}")
    return first


def _concat(operands: list[Operand]) -> Shape:
    """Concatenation along the channels: the other axes equal, channels summed."""
    first = operands[0][0]
    if any(len(shape) != len(first) or shape[:-1] != first[:-1] for shape, _ in operands):
        raise LayerError(f"the branches' heights and widths differ: {_listing(operands)}")
    return (*first[:-1], sum(shape[-1] for shape, _ in operands))


def _residual(operands: list[Operand]) -> Shape:
    """``x + body(x)``: the body keeps the shape."""
    (body, _), (given, _) = operands
    if body != given:
        raise LayerError(
            f"the body changes the shape from {show_shape(given)} to {show_shape(body)}; use 'add:' with a projection branch"
        )
    return given


def _scale(operands: list[Operand]) -> Shape:
    """``x * body(x)``: the body ends in one value per channel of ``x`` (``1x1xC``)."""
    (body, _), (given, _) = operands
    wanted = (*(1 for _ in given[:-1]), given[-1])
    if len(given) < 2 or body not in (wanted, given[-1:]):
        raise LayerError(
            f"the body must end in {show_shape(wanted)} (one value per channel of the input {show_shape(given)}), "
            f"not {show_shape(body)}"
        )
    return given


def _split_input(shape: Shape) -> Shape:
    """The channels the body of ``split:`` gets: ``C // 2``."""
    if len(shape) < 2 or shape[-1] < 2:
        raise LayerError(f"needs a feature map of at least 2 channels to split, not {show_shape(shape)}")
    return (*shape[:-1], shape[-1] // 2)


def _split(operands: list[Operand]) -> Shape:
    """``concat(x[:C - C//2], body(x[C - C//2:]))``: the body keeps the other axes."""
    (body, _), (given, _) = operands
    if body[:-1] != given[:-1] or len(body) != len(given):
        raise LayerError(f"the body changes the size from {show_shape(given[:-1])} to {show_shape(body[:-1])}")
    return (*given[:-1], given[-1] - given[-1] // 2 + body[-1])


MERGES: dict[str, MergeKind] = {
    kind.name: kind
    for kind in (
        MergeKind("add", _add, "add"),
        MergeKind("concat", _concat, "concat"),
        MergeKind("residual", _residual, "add", branches=False),
        MergeKind("scale", _scale, "multiply", branches=False, rf="input"),
        MergeKind("split", _split, "concat", branches=False, body_input=_split_input),
    )
}
"""Merge blocks by name."""
