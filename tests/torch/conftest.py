"""Differential tests against PyTorch: skipped as a whole when torch is not installed."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip(
    "torch",
    reason="PyTorch is not installed: the differential tests need the 'torch' extra "
    "(pip install -e '.[torch]' installs torch==2.13.0 and torchinfo==1.8.0)",
)

import torch  # noqa: E402

# The helpers (translate, specgen) sit next to the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.torch)
