"""The computed table's data: :class:`Row`, :class:`Totals` and :class:`Breakdown`.

The engine (:mod:`sphinx_cnntable.engine`) fills them in; the renderers, the Sphinx
adapter and the command line read them. Pure data: no parsing, no computing, no
Sphinx. Rows come in four kinds: ``input``, ``layer``, ``merge`` and ``group`` (see the
engine's docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from .layers import Saved, Shape
from .units import nbytes


@dataclass(slots=True)
class Row:
    """One row of a breakdown. ``trainable = weights + biases``, ``params = trainable +
    non_trainable``; ``receptive_field`` and ``jump`` are per spatial axis of the input
    (height, width; length; depth, height, width) in input pixels."""

    name: str
    kind: str
    layer: str
    depth: int
    line: int
    output_shape: Shape
    path: str | None = None
    block: str | None = None
    weights: int = 0
    biases: int = 0
    non_trainable: int = 0
    macs: int = 0
    activations: int = 0
    receptive_field: tuple[int, ...] = (1, 1)
    jump: Step = (1, 1)
    formulas: dict[str, str] = field(default_factory=dict)
    inputs: tuple[int, ...] = ()
    """Indices (in ``Breakdown.rows``) of the rows whose outputs this row reads: one for
    a layer, the operands for a merge, none for the input and for group rows."""
    saves: tuple[Saved, ...] = ()
    aliases: bool = False
    view: str = ""
    padded: tuple[int, ...] = ()
    saved_elements: int = 0
    """Values of the activation dtype this row's backward keeps that no earlier row
    keeps (at the breakdown's batch; a group: the sum of its rows)."""
    saved_extra_bytes: int = 0
    """Bytes of int64 indices and float32 statistics this row keeps, likewise."""

    def saved_bytes(self, dtype: str = "float32") -> int:
        """Bytes saved for backward: ``saved_elements`` at ``dtype`` plus the extra bytes."""
        return nbytes(self.saved_elements, dtype) + self.saved_extra_bytes

    @property
    def trainable(self) -> int:
        return self.weights + self.biases

    @property
    def params(self) -> int:
        return self.weights + self.biases + self.non_trainable

    @property
    def rf(self) -> int:
        """The receptive field as one integer: the larger axis."""
        return max(self.receptive_field)


@dataclass(frozen=True)
class Totals:
    """Sums over all non-group rows."""

    params: int
    trainable_params: int
    non_trainable_params: int
    weights: int
    biases: int
    macs: int
    activations: int
    saved_elements: int = 0
    saved_extra_bytes: int = 0

    def saved_bytes(self, dtype: str = "float32") -> int:
        """Bytes saved for backward at the breakdown's batch (see :class:`Row`)."""
        return nbytes(self.saved_elements, dtype) + self.saved_extra_bytes


@dataclass
class Breakdown:
    """The computed table: rows in reading order, and the totals."""

    input_shape: Shape
    rows: list[Row]
    totals: Totals
    final_shape: Shape | None = None
    final_row: int | None = None
    """Index of the row that made the main path's output (a side output is not it)."""
    batch: int = 1
    """The batch size: activations and saved tensors are for this many samples."""
    work: int = 0
    """The steps of work computing it took (see :data:`~.limits.MAX_WORK`)."""

    @property
    def output_shape(self) -> Shape:
        """The main path's output (a side output after it does not change it)."""
        if self.final_shape is not None:
            return self.final_shape
        return self.rows[-1].output_shape if self.rows else self.input_shape

    def leaves(self) -> Iterator[Row]:
        return (row for row in self.rows if row.kind != "group")

    def find(self, path: str) -> list[Row]:
        """Rows whose label path (or, failing that, display name) is ``path``."""
        by_path = [row for row in self.rows if row.path == path]
        return by_path or [row for row in self.rows if row.name == path]


Step = tuple[int | Fraction, ...]
