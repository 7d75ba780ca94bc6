"""Training memory: parameters, gradients, optimizer state and saved activations.

Pure Python, from a computed breakdown (its batch) and an optimizer name:

* parameters: every parameter and batch-norm running statistic, at the dtype;
* gradients: one per trainable parameter, at the dtype;
* optimizer state: ``momentum`` (SGD with momentum) one buffer per trainable parameter,
  ``adam`` and ``adamw`` two (``exp_avg`` and ``exp_avg_sq``), ``sgd`` and ``none``
  none; Adam's ``step`` counters (CPU scalars in PyTorch by default) are left out;
* saved activations: what autograd keeps for backward at the batch (:mod:`.backward`).

``total_bytes`` is their sum. Left out: the CUDA context, the caching allocator's
reserve and fragmentation, cuDNN workspaces, the gradients of the activations alive
during the backward pass, and the output and loss.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Breakdown
from .layers import suggest
from .units import nbytes

OPTIMIZERS = {"none": 0, "sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
"""Optimizer name -> state tensors per trainable parameter."""


@dataclass(frozen=True)
class TrainingMemory:
    optimizer: str
    batch: int
    parameter_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    saved_activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.parameter_bytes + self.gradient_bytes + self.optimizer_bytes + self.saved_activation_bytes


def optimizer_name(text: str) -> str:
    """The optimizer for ``text``; ``ValueError`` lists the choices, with a did-you-mean."""
    name = text.strip().lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {text!r}{suggest(name, OPTIMIZERS)} (one of {', '.join(OPTIMIZERS)})")
    return name


def training_memory(breakdown: Breakdown, optimizer: str = "sgd", dtype: str = "float32") -> TrainingMemory:
    """The training memory of ``breakdown`` at its batch with ``optimizer``."""
    totals = breakdown.totals
    gradients = nbytes(totals.trainable_params, dtype)
    return TrainingMemory(
        optimizer=optimizer,
        batch=breakdown.batch,
        parameter_bytes=nbytes(totals.params, dtype),
        gradient_bytes=gradients,
        optimizer_bytes=OPTIMIZERS[optimizer] * gradients,
        saved_activation_bytes=totals.saved_bytes(dtype),
    )
