"""The ``:cnn:`` role's training figures (issue 12) in a real Sphinx build: ``saved_memory``,
``gradient_memory``, ``optimizer_memory``, ``training_memory``, ``batch`` and a row's
``saved``, from tables with ``:batch:`` and ``:training:``.

Reference numbers (independent of the engine):

* ResNet-18 saved for backward: 22,256,640 B at batch 1 and 44,436,480 B at batch 2
  (issue 12: PyTorch's ``saved_tensors_hooks`` measure on torchvision's resnet18);
* gradients: torchvision's published 11,689,512 parameters x 4 bytes = 46,758,048;
* Adam state: 2 x 11,689,512 x 4 = 93,516,096; SGD with momentum: 1 x = 46,758,048;
* parameters in memory: the 11,689,512 trainable ones and BatchNorm's running mean and
  variance, 2 x 4,800 channels (64 + 4*64 + 5*128 + 5*256 + 5*512), x 4 bytes = 46,796,448;
* the total is their sum with the saved bytes: 46,796,448 + 46,758,048 + 93,516,096 +
  22,256,640 = 209,327,232 (Adam, batch 1) and 46,796,448 + 2 x 46,758,048 + 44,436,480
  = 184,749,024 (momentum, batch 2);
* rows at batch 1: ``conv1`` keeps the 224x224x3 input, 602,112 B; the first ``bn`` keeps
  conv1's 112x112x64 output, 3,211,264 B, and 4 x 64 float32 statistics, 1,024 B.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

SPEC = Path(__file__).resolve().parents[1] / "docs" / "gallery" / "specs" / "resnet18.cnn"
FIGURE = re.compile(r'<span class="cnn-figure">([^<]*)</span>')

NETS = """\
Networks
========

.. cnn-breakdown:: ResNet-18, batch 1, Adam
   :name: r18
   :file: specs/resnet18.cnn
   :training: adam

.. cnn-breakdown:: ResNet-18, batch 2, momentum
   :name: r18b2
   :file: specs/resnet18.cnn
   :batch: 2
   :training: momentum
"""

CITE = """\
Citing
======

A :cnn:`r18:saved_memory` :cnn:`r18:gradient_memory` :cnn:`r18:optimizer_memory`
:cnn:`r18:training_memory` :cnn:`r18:batch` :cnn:`r18/conv1:saved` :cnn:`r18/bn:saved`.

B :cnn:`r18b2:saved_memory` :cnn:`r18b2:gradient_memory` :cnn:`r18b2:optimizer_memory`
:cnn:`r18b2:training_memory` :cnn:`r18b2:batch` :cnn:`r18b2/conv1:saved`.
"""


@pytest.fixture
def training_app(make_app: Any, tmp_path: Path) -> Any:
    srcdir = tmp_path / "training"
    (srcdir / "specs").mkdir(parents=True)
    shutil.copy(SPEC, srcdir / "specs" / "resnet18.cnn")
    (srcdir / "conf.py").write_text('extensions = ["sphinx_cnntable"]\n', encoding="utf-8")
    (srcdir / "index.rst").write_text("Training\n========\n\n.. toctree::\n\n   nets\n   cite\n", encoding="utf-8")
    (srcdir / "nets.rst").write_text(NETS, encoding="utf-8")
    (srcdir / "cite.rst").write_text(CITE, encoding="utf-8")
    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()
    return app


def test_training_figures(training_app: Any) -> None:
    assert "cnntable." not in training_app.warning.getvalue(), training_app.warning.getvalue()
    html = (Path(training_app.outdir) / "cite.html").read_text(encoding="utf-8")
    assert FIGURE.findall(html) == [
        "22,256,640", "46,758,048", "93,516,096", "209,327,232", "1", "602,112", "3,212,288",
        "44,436,480", "46,758,048", "46,758,048", "184,749,024", "2", "1,204,224",
    ]
