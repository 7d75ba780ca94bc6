"""Differential tests against PyTorch (the ``torch`` extra).

Without PyTorch every module here is skipped with a clear reason (each starts with
``pytest.importorskip("torch", reason=...)``). The skip is per module rather than a
``pytest.importorskip`` in this conftest: pytest turns a skip raised while importing a
conftest into an error when the directory is named on the command line
(``pytest tests/differential``), and only into a skip when it is collected from ``tests``.

Memory: every test here runs under a soft ``RLIMIT_AS`` of
:data:`budget.MEMORY_CAP_BYTES` (8 GiB unless ``CNNTABLE_TORCH_MEMORY_CAP_MB`` says
otherwise; 0 turns it off), so a spec that escapes the engine's budget fails its test
with an allocation error instead of exhausting the machine.

Seed: the Hypothesis tests run with ``CNNTABLE_TORCH_SEED`` (a random one when unset),
printed in the report header and in the report of any failing test; set it to rerun
the same examples.
"""

from __future__ import annotations

import importlib.util
import os
import random
import resource
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers (translate, specgen, reference_models) sit next to the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

from budget import MEMORY_CAP_BYTES  # noqa: E402

SEED = int(os.environ.setdefault("CNNTABLE_TORCH_SEED", str(random.SystemRandom().randrange(2**32))))

if importlib.util.find_spec("torch") is not None:
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.torch)


def _seed_line() -> str:
    return f"differential tests: CNNTABLE_TORCH_SEED={SEED}, memory cap {MEMORY_CAP_BYTES // 2**20:,} MiB (RLIMIT_AS)"


def pytest_report_header() -> str:
    return _seed_line()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The seed again at the end, also under ``-q`` (which hides the header)."""
    terminalreporter.write_line(_seed_line())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed:
        report.sections.append(("differential seed", f"rerun with CNNTABLE_TORCH_SEED={SEED}"))
    return report


@pytest.fixture(autouse=True)
def memory_cap() -> Iterator[None]:
    """A soft cap on the address space while a differential test runs (restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = MEMORY_CAP_BYTES if hard == resource.RLIM_INFINITY else min(MEMORY_CAP_BYTES, hard)
    if MEMORY_CAP_BYTES <= 0 or (soft != resource.RLIM_INFINITY and soft <= cap):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
