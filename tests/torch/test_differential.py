"""Random valid specs: the engine against PyTorch, row by row.

For every drawn spec the engine's layer and merge rows are compared with the modules
:mod:`translate` builds, in execution order: output shape, trainable parameters
(``numel`` of the module's parameters), non-trainable (BatchNorm running mean and
variance) and MACs counted by forward hooks (conv: weight.numel() * H_out * W_out;
transposed conv: weight.numel() * H_in * W_in; linear: weight.numel()).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings

from sphinx_cnntable.engine import analyse
from specgen import specs
from translate import bn_buffers, measure, translate

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
@given(specs())
def test_engine_matches_torch(text: str) -> None:
    compare(text)
