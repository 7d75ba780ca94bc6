"""Compare a spec's figures with a model's: ``cnntable check`` and ``:verify:``.

Both sides go through the engine: the model is imported (:func:`~.import_model`) and
its spec computed, so the comparison is row by row over the rows that carry figures
(parameters or MACs), in reading order, plus the totals and the output shape. Rows
without figures (activations, pooling, dropout) may be left out of a hand-written spec,
as the gallery's VGG-16 leaves out its ReLUs, so they are not compared one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import Breakdown, Row, analyse
from ..layers import show_shape
from . import ModelRef, import_model


@dataclass(frozen=True)
class Figures:
    line: int
    text: str
    path: str
    shape: tuple[int, ...]
    trainable: int
    non_trainable: int
    macs: int


@dataclass
class Result:
    ok: bool
    lines: list[str]
    first_line: int | None = None
    """The spec line of the first mismatching row (None when the totals alone differ)."""
    first_path: str | None = None

    @property
    def message(self) -> str:
        return "\n".join(self.lines)


def _rows(breakdown: Breakdown, paths: list[str] | None = None) -> list[Figures]:
    found: list[Figures] = []
    layer_index = 0
    for row in breakdown.rows:
        if row.kind != "layer":
            continue
        path = paths[layer_index] if paths and layer_index < len(paths) else (row.path or row.name)
        layer_index += 1
        if row.params or row.macs:
            found.append(_figures(row, path))
    return found


def _figures(row: Row, path: str) -> Figures:
    return Figures(row.line, row.layer, path, row.output_shape, row.weights + row.biases, row.non_trainable, row.macs)


def _show(f: Figures) -> str:
    return f"{show_shape(f.shape)}, {f.trainable:,} trainable + {f.non_trainable:,} non-trainable, {f.macs:,} MACs"


def compare(spec: Breakdown, model: Breakdown, model_paths: list[str], spec_name: str = "spec") -> Result:
    mine, theirs = _rows(spec), _rows(model, model_paths)
    lines: list[str] = []
    first_line = first_path = None
    for index, (a, b) in enumerate(zip(mine, theirs)):
        if (a.shape, a.trainable, a.non_trainable, a.macs) != (b.shape, b.trainable, b.non_trainable, b.macs):
            first_line, first_path = a.line, b.path
            lines.append(f"{spec_name}:{a.line}: row {index + 1} with figures differs from the model's {b.path}:")
            lines.append(f"  spec  {a.text}: {_show(a)}")
            lines.append(f"  model {b.text} ({b.path}): {_show(b)}")
            break
    if first_line is None and len(mine) != len(theirs):
        if len(mine) < len(theirs):
            extra = theirs[len(mine)]
            first_path = extra.path
            lines.append(f"{spec_name}: the spec has {len(mine)} rows with figures, the model {len(theirs)}; "
                         f"the first one missing is {extra.path} ({extra.text}: {_show(extra)})")
        else:
            extra = mine[len(theirs)]
            first_line = extra.line
            lines.append(f"{spec_name}:{extra.line}: the spec has {len(mine)} rows with figures, the model {len(theirs)}; "
                         f"this one is extra ({extra.text}: {_show(extra)})")
    s, m = spec.totals, model.totals
    for label, x, y in (("trainable parameters", s.trainable_params, m.trainable_params),
                        ("non-trainable parameters", s.non_trainable_params, m.non_trainable_params),
                        ("MACs", s.macs, m.macs)):
        if x != y:
            lines.append(f"total {label}: spec {x:,}, model {y:,} ({x - y:+,})")
    if spec.output_shape != model.output_shape:
        lines.append(f"output shape: spec {show_shape(spec.output_shape)}, model {show_shape(model.output_shape)}")
    ok = not lines
    if ok:
        lines.append(f"{spec_name}: matches the model: {len(mine)} rows with figures, {s.params:,} parameters "
                     f"({s.non_trainable_params:,} non-trainable), {s.macs:,} MACs, output {show_shape(spec.output_shape)}")
    return Result(ok, lines, first_line, first_path)


def check(text: str, ref: ModelRef, input_shape: tuple[int, ...] | None = None, spec_name: str = "spec",
          bias: bool | None = None) -> Result:
    """Compute ``text`` and the model ``ref`` at the spec's input (or ``input_shape``) and compare."""
    spec = analyse(text, input_shape, bias)
    shape = input_shape or spec.input_shape
    imported = import_model(ref, shape)
    model = analyse(imported.text)
    return compare(spec, model, imported.paths, spec_name)
