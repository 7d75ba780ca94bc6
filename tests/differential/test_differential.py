"""Random valid specs: the engine against PyTorch, row by row.

For every drawn spec the engine's layer and merge rows are compared with the modules
:mod:`translate` builds, in execution order: output shape, trainable parameters
(``numel`` of the module's parameters), non-trainable (BatchNorm running mean and
variance) and MACs counted by forward hooks (conv: weight.numel() * H_out * W_out;
transposed conv: weight.numel() * H_in * W_in; linear: weight.numel()). Candidates
PyTorch refused while a spec was drawn must be refused by the engine too. A second
property compares receptive fields with the input gradient of one output unit.

``CNNTABLE_TORCH_EXAMPLES`` (default 500) sets the number of specs per property.
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import math
import os

from hypothesis import HealthCheck, assume, given, settings

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError
from specgen import deconv_chains, specs
from translate import axis_extents, bn_buffers, deconv_period, measure, translate

EXAMPLES = int(os.environ.get("CNNTABLE_TORCH_EXAMPLES", "500"))


def compare(text: str) -> None:
    """Assert that the engine and PyTorch agree on ``text`` (used by the regressions too)."""
    breakdown = analyse(text)
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
    assert breakdown.output_shape == records[-1].shape


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs(with_rejected=True))
def test_engine_matches_torch(drawn: tuple[str, list[str]]) -> None:
    text, rejected = drawn
    totals = analyse(text).totals
    assume((totals.activations + totals.params) * 4 < 512 * 2**20)  # keep PyTorch's memory bounded
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
        try:
            net = translate(big)
        except Exception:  # a merge whose branches only line up at the drawn size
            return False
        units = deconv_period(net)
        if units > 36:
            return False
        rows, cols = ([extent for extent in axis if extent is not None] for axis in axis_extents(net, units))
        top, bottom = min(t for t, _ in rows), max(b for _, b in rows)
        left, right = min(lo for lo, _ in cols), max(hi for _, hi in cols)
        if top > 0 and left > 0 and bottom < height - 1 and right < width - 1:
            break
        height, width = 2 * height, 2 * width
    else:
        raise AssertionError(f"receptive field still clipped at {height}x{width}\n{text}")
    measured = (max(b - t + 1 for t, b in rows), max(hi - lo + 1 for lo, hi in cols))
    engine = analyse(big)
    row = [row for row in engine.leaves()][-1]
    assert row.receptive_field == measured, f"engine {row.receptive_field} != torch {measured}\n{text}"
    return True


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(specs(max_statements=6, rf=True))
def test_receptive_field_matches_gradient(text: str) -> None:
    assume(check_receptive_field(text))


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(deconv_chains())
def test_transposed_receptive_field_matches_gradient(text: str) -> None:
    """Chains with transposed convolutions: exact, the largest over neighbouring units."""
    assume(check_receptive_field(text))
