"""The differential suite's memory guards: the engine's price of a spec, the candidate
check while drawing, and the address-space cap (see budget.py and the conftest)."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)

import resource
import time

import torch
from budget import BUDGET_BYTES, MEMORY_CAP_BYTES, fits, torch_bytes
from specgen import TOO_BIG, _out_shape
from translate import TooBig, translate

# 9 transposed convolutions of stride 3 grow 40 pixels to (...((40-1)*3+4)...) = 787,321 per side
BLOW_UP = "input 40x40x16\nrepeat 3:\n  repeat 3:\n    deconv4-16/3\n"


def test_price_is_activations_and_params_in_bytes() -> None:
    # input 8*8*1 = 64, fc-10: 10 outputs, 64*10 weights + 10 biases = 650 parameters
    assert torch_bytes("input 8x8x1\nfc-10\n") == (64 + 10 + 650) * 4
    assert torch_bytes("input 8x8x1\nfc-10\n", bytes_per_element=16) == (64 + 10 + 650) * 16
    assert torch_bytes("input 8x8x1\nfc-10\nconv3-4\n") is None  # refused by the engine
    assert fits("input 8x8x1\nfc-10\n")
    assert not fits("input 8x8x1\nfc-10\nconv3-4\n")


def test_a_blow_up_is_priced_not_built() -> None:
    cost = torch_bytes(BLOW_UP)
    assert cost is not None and cost > 1000 * BUDGET_BYTES
    start = time.perf_counter()
    assert _out_shape(["input 40x40x16"], (40, 40, 16), BLOW_UP.splitlines()[1:]) is TOO_BIG
    assert time.perf_counter() - start < 5


def test_translate_refuses_tensors_over_its_cap() -> None:
    with pytest.raises(TooBig):
        translate("input 64x64x16\nrelu\nrelu\n", max_elements=64 * 64 * 16 - 1)
    translate("input 64x64x16\nrelu\nrelu\n", max_elements=64 * 64 * 16)


def test_an_allocation_over_the_cap_fails_as_an_error() -> None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    assert soft != resource.RLIM_INFINITY and soft <= MEMORY_CAP_BYTES
    with pytest.raises((RuntimeError, MemoryError)):
        torch.empty(soft // 4 + 2**28, dtype=torch.float32)
