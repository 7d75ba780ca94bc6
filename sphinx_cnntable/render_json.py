"""The JSON form of a breakdown: every row (the input included) and the totals.

Schema (extra keys may be added, none removed)::

    {"input_shape": [H, W, C], "output_shape": [...], "dtype": "float32",
     "totals": {"params", "trainable_params", "non_trainable_params", "weights", "biases",
                "macs", "activations", "activation_bytes", "param_bytes"},
     "layers": [{"name", "kind", "layer", "depth", "line", "path", "block", "output_shape",
                 "params", "trainable_params", "non_trainable_params", "weights", "biases",
                 "macs", "activations", "receptive_field", "receptive_field_hw"}, ...]}

Shapes are ``[H, W, C]`` (``[L, C]``, ``[D, H, W, C]``) or ``[N]``; ``receptive_field``
is the largest axis as an int, ``receptive_field_hw`` one entry per spatial axis.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .engine import Breakdown, Row
from .render_text import json_safe
from .units import nbytes


def breakdown_dict(breakdown: Breakdown, dtype: str = "float32") -> dict[str, Any]:
    """The breakdown as plain JSON-ready data."""
    totals = breakdown.totals
    return {
        "input_shape": list(breakdown.input_shape),
        "output_shape": list(breakdown.output_shape),
        "dtype": dtype,
        "totals": {
            **asdict(totals),
            "activation_bytes": nbytes(totals.activations, dtype),
            "param_bytes": nbytes(totals.params, dtype),
        },
        "layers": [_row(row) for row in breakdown.rows],
    }


def _row(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "layer": row.layer,
        "depth": row.depth,
        "line": row.line,
        "path": row.path,
        "block": row.block,
        "output_shape": list(row.output_shape),
        "params": row.params,
        "trainable_params": row.trainable,
        "non_trainable_params": row.non_trainable,
        "weights": row.weights,
        "biases": row.biases,
        "macs": row.macs,
        "activations": row.activations,
        "receptive_field": row.rf,
        "receptive_field_hw": list(row.receptive_field),
    }


def render_json(breakdown: Breakdown, dtype: str = "float32") -> str:
    """Indented JSON, ending in a newline; non-ASCII text is kept as is, but every control
    character is escaped (``json`` does C0; :func:`~.render_text.json_safe` DEL and C1)."""
    return json_safe(json.dumps(breakdown_dict(breakdown, dtype), indent=2, ensure_ascii=False)) + "\n"
