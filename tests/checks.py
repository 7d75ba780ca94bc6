"""Shared test checks: properties every breakdown must have, whatever the spec."""

from __future__ import annotations

from sphinx_cnntable.engine import Breakdown

COLUMNS = ("weights", "biases", "non_trainable", "macs", "activations")


def check_sums(breakdown: Breakdown) -> None:
    """Each total is its column's sum over non-group rows; each group row holds the
    sum of the rows nested under it (the following rows that are deeper)."""
    leaves = list(breakdown.leaves())
    totals = breakdown.totals
    assert totals.weights == sum(r.weights for r in leaves)
    assert totals.biases == sum(r.biases for r in leaves)
    assert totals.non_trainable_params == sum(r.non_trainable for r in leaves)
    assert totals.macs == sum(r.macs for r in leaves)
    assert totals.activations == sum(r.activations for r in leaves)
    assert totals.trainable_params == totals.weights + totals.biases
    assert totals.params == totals.trainable_params + totals.non_trainable_params
    rows = breakdown.rows
    for index, row in enumerate(rows):
        if row.kind != "group":
            continue
        members = []
        for later in rows[index + 1 :]:
            if later.depth <= row.depth:
                break
            if later.kind != "group":
                members.append(later)
        for column in COLUMNS:
            assert getattr(row, column) == sum(getattr(m, column) for m in members), (row.name, column)
