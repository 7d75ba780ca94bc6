"""Differential tests against PyTorch (the ``torch`` extra).

Without PyTorch every module here is skipped with a clear reason (each starts with
``pytest.importorskip("torch", reason=...)``). The skip is per module rather than a
``pytest.importorskip`` in this conftest: pytest turns a skip raised while importing a
conftest into an error when the directory is named on the command line
(``pytest tests/differential``), and only into a skip when it is collected from ``tests``.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import pytest

# The helpers (translate, specgen, reference_models) sit next to the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

if importlib.util.find_spec("torch") is not None:
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.torch)
