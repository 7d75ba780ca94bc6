"""The importers' core side, without any framework: model references, the CLI's usage
errors, the promise that the package and the Sphinx extension never import torch or
onnx, and ``:verify:`` in a build where torch cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sphinx_cnntable.cli import main
from sphinx_cnntable.importers import ModelError, parse_model, parse_value

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_the_package_and_the_extension_import_no_framework() -> None:
    code = (
        "import sys, sphinx_cnntable, sphinx_cnntable.sphinx_ext, sphinx_cnntable.importers, "
        "sphinx_cnntable.importers.check, sphinx_cnntable.importers.cli, sphinx_cnntable.verify, sphinx_cnntable.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'torchvision', 'onnxscript'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), cwd=ROOT)


def test_model_references() -> None:
    ref = parse_model(["torch:torchvision.models:get_model", "name=resnet18", "num_classes=10", "dropout=0.5",
                       "flag=true", "other=None", "label='a b'"])
    assert ref.kind == "torch" and ref.target == "torchvision.models:get_model"
    assert dict(ref.kwargs) == {"name": "resnet18", "num_classes": 10, "dropout": 0.5, "flag": True, "other": None,
                                "label": "a b"}
    assert parse_model("onnx:model.onnx").target == "model.onnx"
    assert parse_value("__import__('os')") == "__import__('os')"  # a string, never evaluated
    for bad in (["resnet18"], ["torch:torchvision.models"], ["keras:x:y"], ["torch:a.b:c", "novalue"],
                ["torch:a.b:c", "x=1", "x=2"], ["onnx:m.onnx", "a=1"], ["torch:a-b:c"]):
        with pytest.raises(ModelError):
            parse_model(bad)


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["import", "resnet18", "--input", "224x224x3"])
    assert exit_info.value.code == 2
    assert "torch:package.module:callable" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "docs/specs/vgg16.cnn"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["import", "torch:a.b:c", "--input", "3x224x224"])
    assert exit_info.value.code == 2
    assert "channels-first" in capsys.readouterr().err


def test_missing_framework_is_one_line(tmp_path: Path) -> None:
    code = "import sys; sys.modules['torch'] = None\nfrom sphinx_cnntable.cli import main\n" \
           "sys.exit(main(['import', 'torch:tinynet:tiny', '--input', '8x8x3']))\n"
    run = subprocess.run([sys.executable, "-c", code], check=False, env=_env(), cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip() == "cnntable: torch is not installed (pip install 'sphinx-cnntable[torch]')"


CONF_NO_TORCH = """\
import sys
sys.modules["torch"] = None      # as if torch were not installed
sys.modules["onnx"] = None
extensions = ["sphinx_cnntable"]
show_warning_types = True  # Sphinx 7.4 leaves the [type.subtype] suffix out by default
"""

PAGE = """\
Verified
========

.. cnn-breakdown:: One
   :verify: torch:tinynet:tiny

   input 8x8x3
   conv3-8
   relu
   fc-10

.. cnn-breakdown:: Two
   :verify: torch:tinynet:tiny

   input 8x8x3
   conv3-8
   relu
   fc-10
"""


def test_verify_without_torch_draws_the_table_with_one_info_message(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF_NO_TORCH, encoding="utf-8")
    (src / "index.rst").write_text(PAGE, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-E", "-b", "html", str(src), str(tmp_path / "out")],
                         check=False, env=_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("torch is not installed") == 1, run.stdout
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert html.count("<table") >= 2 and "fc-10" in html


def test_verify_needs_a_model(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(CONF_NO_TORCH, encoding="utf-8")
    (src / "index.rst").write_text(textwrap.dedent("""\
        Page
        ====

        .. cnn-breakdown::
           :verify: keras:model.h5

           input 8x8x3
           conv3-8
        """), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-E", "-b", "html", str(src), str(tmp_path / "out")],
                         check=False, env=_env(), capture_output=True, text=True)
    assert run.returncode == 0
    assert "index.rst:4: WARNING: cnn-breakdown: :verify: model 'keras:model.h5'" in run.stderr, run.stderr
    assert "[cnntable.verify]" in run.stderr
