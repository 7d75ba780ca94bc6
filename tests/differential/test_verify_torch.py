"""``:verify:`` with PyTorch installed: a docs root whose table matches its model builds
with ``-W``; a spec that drifts warns at the line of the first differing row; the second
build reads the cached import instead of tracing again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason=":verify: against a PyTorch model needs PyTorch (the torch extra)")

ROOT = Path(__file__).resolve().parents[2]

TINYNET = """\
from torch import nn


def tiny(width=8):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))
"""

CONF = """\
import os, sys
sys.path.insert(0, os.path.dirname(__file__))
extensions = ["sphinx_cnntable"]
show_warning_types = True  # Sphinx 7.4 leaves the [type.subtype] suffix out by default
"""

PAGE = """\
Verified
========

.. cnn-breakdown:: Tiny
   :verify: torch:tinynet:tiny width=8

   input 16x16x3
   conv3-{width}
   bn
   relu
   gap
   fc-10
"""


def _build(src: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "sphinx", *flags, "-b", "html", str(src), str(out)],
                          check=False, env=env, capture_output=True, text=True, timeout=300)


def test_verify_builds_clean_then_warns_at_the_row(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "tinynet.py").write_text(TINYNET, encoding="utf-8")
    (src / "conf.py").write_text(CONF, encoding="utf-8")
    (src / "index.rst").write_text(PAGE.replace("{width}", "8"), encoding="utf-8")
    run = _build(src, tmp_path / "out", "-W")
    assert run.returncode == 0, run.stderr
    assert list((tmp_path / "out" / ".doctrees" / "cnntable-verify").glob("*.json"))
    (src / "index.rst").write_text(PAGE.replace("{width}", "9"), encoding="utf-8")
    run = _build(src, tmp_path / "out")
    assert run.returncode == 0
    line = PAGE.splitlines().index("   conv3-{width}") + 1
    assert f"index.rst:{line}: WARNING: cnn-breakdown: the spec differs from torch:tinynet:tiny width=8" in run.stderr, run.stderr
    assert "[cnntable.verify]" in run.stderr and "0 (" not in run.stderr.split("differs")[0]
