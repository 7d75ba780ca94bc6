"""The JSON form of a breakdown: every row (the input included) and the totals.

Schema (extra keys may be added, none removed)::

    {"input_shape": [H, W, C], "output_shape": [...], "dtype": "float32",
     "totals": {"params", "trainable_params", "non_trainable_params", "weights", "biases",
                "macs", "activations", "activation_bytes", "param_bytes", "saved_bytes",
                "training": {"optimizer", "batch", "parameter_bytes", "gradient_bytes",
                             "optimizer_bytes", "saved_activation_bytes", "total_bytes"}},
     "batch": B,
     "layers": [{"name", "kind", "layer", "depth", "line", "path", "block", "output_shape",
                 "params", "trainable_params", "non_trainable_params", "weights", "biases",
                 "macs", "activations", "receptive_field", "receptive_field_hw", "saved_bytes"}, ...]}

``totals.training`` is there only with ``--training`` other than ``none``; activations and
saved bytes are for ``batch`` samples, MACs per sample.

Shapes are ``[H, W, C]`` (``[L, C]``, ``[D, H, W, C]``) or ``[N]``; ``receptive_field``
is the largest axis as an int, ``receptive_field_hw`` one entry per spatial axis.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .engine import Breakdown, Row
from .render_text import json_safe
from .training import training_memory
from .units import nbytes


def breakdown_dict(breakdown: Breakdown, dtype: str = "float32", training: str = "none") -> dict[str, Any]:
    """The breakdown as plain JSON-ready data; ``totals.training`` when ``training`` names
    an optimizer (not ``none``)."""
    totals = breakdown.totals
    data = {
        "input_shape": list(breakdown.input_shape),
        "output_shape": list(breakdown.output_shape),
        "dtype": dtype,
        "totals": {
            **asdict(totals),
            "activation_bytes": nbytes(totals.activations, dtype),
            "param_bytes": nbytes(totals.params, dtype),
            "saved_bytes": breakdown.totals.saved_bytes(dtype),
        },
        "batch": breakdown.batch,
        "layers": [_row(row, dtype) for row in breakdown.rows],
    }
    if training != "none":
        memory = training_memory(breakdown, training, dtype)
        data["totals"]["training"] = {  # type: ignore[index]
            "optimizer": training,
            "batch": breakdown.batch,
            "parameter_bytes": memory.parameter_bytes,
            "gradient_bytes": memory.gradient_bytes,
            "optimizer_bytes": memory.optimizer_bytes,
            "saved_activation_bytes": memory.saved_activation_bytes,
            "total_bytes": memory.total_bytes,
        }
    return data


def _row(row: Row, dtype: str = "float32") -> dict[str, Any]:
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
        "saved_bytes": row.saved_bytes(dtype),
    }


def render_json(breakdown: Breakdown, dtype: str = "float32", training: str = "none") -> str:
    """Indented JSON, ending in a newline; non-ASCII text is kept as is, but every control
    character is escaped (``json`` does C0; :func:`~.render_text.json_safe` DEL and C1)."""
    return json_safe(json.dumps(breakdown_dict(breakdown, dtype, training), indent=2, ensure_ascii=False)) + "\n"
