"""What PyTorch will allocate for a spec, computed by the engine before PyTorch builds it.

The differential tests build every drawn spec (and, while drawing, every candidate
statement) in PyTorch. A few nested ``repeat`` blocks of transposed convolutions grow an
image by 3x per layer, and one such spec once held 24 GB: so every spec is first priced
by the engine, for any layer form it knows, and only built when it fits
:data:`BUDGET_BYTES` (``CNNTABLE_TORCH_BUDGET_MB``, default 512 MB, at batch 1).

:data:`MEMORY_CAP_BYTES` (``CNNTABLE_TORCH_MEMORY_CAP_MB``, default 8,192 MB) is the
hard cap the conftest puts on the test process's address space (``RLIMIT_AS``), so a
regression of the budget fails as a ``MemoryError``/``RuntimeError`` in one test instead
of a machine killed by the kernel.
"""

from __future__ import annotations

import os

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError

BUDGET_BYTES = int(os.environ.get("CNNTABLE_TORCH_BUDGET_MB", "512")) * 2**20
MEMORY_CAP_BYTES = int(os.environ.get("CNNTABLE_TORCH_MEMORY_CAP_MB", "8192")) * 2**20
FLOAT32 = 4


def torch_bytes(text: str, bytes_per_element: int = FLOAT32) -> int | None:
    """An upper bound of what PyTorch holds to build and run ``text`` at batch 1:
    (every row's output, the input included, as if none were ever freed + every
    parameter and batch-norm buffer) * ``bytes_per_element``. ``None`` when the engine
    refuses the spec."""
    try:
        totals = analyse(text).totals
    except SpecError:
        return None
    return (totals.activations + totals.params) * bytes_per_element


def fits(text: str, budget: int = BUDGET_BYTES, bytes_per_element: int = FLOAT32) -> bool:
    """Whether the engine prices ``text`` within ``budget`` bytes (False when it refuses it)."""
    cost = torch_bytes(text, bytes_per_element)
    return cost is not None and cost <= budget
