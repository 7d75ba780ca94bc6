"""Merge blocks: how the outputs of a block's branches combine into one tensor.

A merge row has no parameters and counts 0 MACs (an element-wise sum or a
concatenation); its activations are its output's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .base import Shape


@dataclass(frozen=True)
class MergeKind:
    """``combine`` maps the branches' output shapes to the merged shape, or None when
    they do not fit together (``mismatch`` then says why)."""

    name: str
    combine: Callable[[list[Shape]], Shape | None]
    mismatch: str


def _add(shapes: list[Shape]) -> Shape | None:
    """Element-wise sum: every shape equal."""
    return shapes[0] if all(shape == shapes[0] for shape in shapes) else None


def _concat(shapes: list[Shape]) -> Shape | None:
    """Concatenation along the channels: the other axes equal, channels summed."""
    first = shapes[0]
    if any(len(shape) != len(first) or shape[:-1] != first[:-1] for shape in shapes):
        return None
    return (*first[:-1], sum(shape[-1] for shape in shapes))


MERGES: dict[str, MergeKind] = {
    kind.name: kind
    for kind in (
        MergeKind("add", _add, "the branches' shapes differ"),
        MergeKind("concat", _concat, "the branches' heights and widths differ"),
    )
}
"""Block kinds whose body is ``branch:`` blocks, by name."""
