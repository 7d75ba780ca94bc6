"""Random valid specs: the engine against PyTorch, row by row.

For every drawn spec the engine's layer and merge rows are compared with the modules
:mod:`translate` builds, in execution order: output shape, trainable parameters
(``numel`` of the module's parameters), non-trainable (BatchNorm running mean and
variance) and MACs counted by forward hooks (conv: weight.numel() * H_out * W_out;
transposed conv: weight.numel() * H_in * W_in; linear: weight.numel()). Candidates
PyTorch refused while a spec was drawn must be refused by the engine too. A second
property compares receptive fields with the input gradient of one output unit.

``CNNTABLE_TORCH_EXAMPLES`` (default 500) sets the number of specs per property.
Every spec is priced by the engine first and only built in PyTorch when it fits the
memory budget (:mod:`budget`); the seed of the run is printed in the report header and
with any failure (``CNNTABLE_TORCH_SEED`` reruns it, see the conftest).
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import math
import os

import torch

from hypothesis import HealthCheck, assume, given, seed, settings

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError
from budget import BUDGET_BYTES, fits
from specgen import deconv_chains, specs
from translate import axis_extents, bn_buffers, deconv_period, measure, to_engine, translate

EXAMPLES = int(os.environ.get("CNNTABLE_TORCH_EXAMPLES", "500"))
SEED = int(os.environ["CNNTABLE_TORCH_SEED"])  # set by the conftest when not given


def compare(text: str) -> None:
    """Assert that the engine and PyTorch agree on ``text`` (used by the regressions too)."""
    breakdown = analyse(text)
    assert fits(text), f"over the memory budget of {BUDGET_BYTES:,} bytes\n{text}"
    net = translate(text)
    records = measure(net)
    rows = [row for row in breakdown.rows if row.kind in ("layer", "merge")]
    got = [(r.kind, r.layer, r.output_shape, r.trainable, r.non_trainable, r.macs) for r in rows]
    want = [(q.kind, q.text, q.shape, q.trainable, q.non_trainable, q.macs) for q in records]
    for index, (engine_row, torch_row) in enumerate(zip(got, want)):
        assert engine_row == torch_row, f"row {index}: engine {engine_row} != torch {torch_row}\n{text}"
    assert len(got) == len(want), f"{len(got)} engine rows, {len(want)} torch rows\n{text}"
    totals = breakdown.totals
    assert totals.trainable_params == sum(p.numel() for p in net.module.parameters())
    assert totals.non_trainable_params == bn_buffers(net.module)
    assert totals.macs == sum(q.macs for q in records)
    with torch.no_grad():  # the main path's output (a side output may run last)
        assert breakdown.output_shape == to_engine(net.module.eval()(net.zeros()).shape)


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(specs(with_rejected=True))
def test_engine_matches_torch(drawn: tuple[str, list[str]]) -> None:
    text, rejected = drawn
    assume(fits(text))
    compare(text)
    # ... and what PyTorch refuses (empty outputs, kernels over the padded input, merge
    # shapes that differ), the engine refuses with a SpecError too.
    for bad in rejected:
        with pytest.raises(SpecError):
            analyse(bad)


def grown(text: str, height: int, width: int) -> str:
    lines = text.splitlines()
    channels = lines[0].split("x")[-1]
    return "\n".join([f"input {height}x{width}x{channels}", *lines[1:]]) + "\n"


def check_receptive_field(text: str) -> bool:
    """The engine's receptive field of the last row against the extent of the nonzero
    input gradient (all-ones weights, max pooling as average pooling), per axis, of the
    outputs at the central index of that axis, on an input grown until no extent touches
    the border. After transposed convolutions neighbouring outputs see different
    extents, repeating with at most the product of their strides: as many indices as
    that are probed and the largest extent is the receptive field. False when the spec
    cannot be probed (too large, or its merges only line up at the drawn size)."""
    row = [row for row in analyse(text).leaves()][-1]
    height = 2 * row.receptive_field[0] + 4 * math.ceil(row.jump[0]) + 16
    width = 2 * row.receptive_field[1] + 4 * math.ceil(row.jump[1]) + 16
    if height * width > 400 * 400:  # keep the probe small
        return False
    for _ in range(4):
        big = grown(text, height, width)
        if not fits(big, bytes_per_element=8 * 2):  # float64 values and their gradients
            return False
        try:
            net = translate(big)
        except Exception:  # a merge whose branches only line up at the drawn size
            return False
        units = deconv_period(net)
        if units > 36:
            return False
        if any(size // 2 + units > size for size in analyse(big).output_shape[:-1]):
            if not fits(grown(text, 2 * height, 2 * width), bytes_per_element=8 * 2):
                return False  # too few outputs to probe a whole period, and no room to grow
            height, width = 2 * height, 2 * width
            continue
        rows, cols = ([extent for extent in axis if extent is not None] for axis in axis_extents(net, units))
        # No extent at all on an axis: no output sees any input there (a stride that lands
        # only between a transposed convolution's inputs), which the engine states as 0.
        top, bottom = min((t for t, _ in rows), default=1), max((b for _, b in rows), default=0)
        left, right = min((lo for lo, _ in cols), default=1), max((hi for _, hi in cols), default=0)
        if top > 0 and left > 0 and bottom < height - 1 and right < width - 1:
            break
        height, width = 2 * height, 2 * width
    else:
        raise AssertionError(f"receptive field still clipped at {height}x{width}\n{text}")
    measured = (max((b - t + 1 for t, b in rows), default=0), max((hi - lo + 1 for lo, hi in cols), default=0))
    engine = analyse(big)
    row = [row for row in engine.leaves()][-1]
    assert row.receptive_field == measured, f"engine {row.receptive_field} != torch {measured}\n{text}"
    return True


@seed(SEED)
@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(specs(max_statements=6, rf=True))
def test_receptive_field_matches_gradient(text: str) -> None:
    assume(fits(text))
    assume(check_receptive_field(text))


@seed(SEED)
@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(deconv_chains())
def test_transposed_receptive_field_matches_gradient(text: str) -> None:
    """Chains with transposed convolutions: exact, the largest over neighbouring units."""
    assume(fits(text))
    assume(check_receptive_field(text))
