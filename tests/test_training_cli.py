"""--batch and --training in the CLI (JSON, CSV, Markdown, errors) and the mystmd plugin
(issue 12). Figures are asserted against independent references: torchvision's
published parameter counts (ResNet-18 11,689,512; VGG-16 138,357,544), the issue's
ResNet-18 saved bytes (22,256,640 B at batch 1, 44,436,480 B at batch 2) and the input a
convolution keeps (3*224*224 float32 values)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESNET18 = ROOT / "docs" / "gallery" / "specs" / "resnet18.cnn"
VGG16 = ROOT / "docs" / "specs" / "vgg16-train.cnn"
RESNET18_PARAMS = 11_689_512  # torchvision's published count (trainable)
RESNET18_BN_BUFFERS = 2 * 4_800  # running mean and variance of its 4,800 BN channels


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sphinx_cnntable", *args], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize(("optimizer", "states"), [("sgd", 0), ("momentum", 1), ("adam", 2), ("adamw", 2)])
def test_json_training_totals(optimizer: str, states: int) -> None:
    done = cli(str(RESNET18), "--batch", "2", "--training", optimizer, "-f", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    training = data["totals"]["training"]
    assert training["parameter_bytes"] == 4 * (RESNET18_PARAMS + RESNET18_BN_BUFFERS)
    assert training["gradient_bytes"] == 4 * RESNET18_PARAMS
    assert training["optimizer_bytes"] == states * 4 * RESNET18_PARAMS
    assert training["saved_activation_bytes"] == 44_436_480
    assert training["total_bytes"] == sum(training[k] for k in (
        "parameter_bytes", "gradient_bytes", "optimizer_bytes", "saved_activation_bytes"))
    assert data["batch"] == 2


def test_json_rows_saved_bytes() -> None:
    data = json.loads(cli(str(RESNET18), "-f", "json").stdout)
    assert data["totals"]["saved_bytes"] == 22_256_640
    conv1 = data["layers"][1]
    assert conv1["name"] == "conv1" and conv1["saved_bytes"] == 3 * 224 * 224 * 4  # its input
    assert sum(row["saved_bytes"] for row in data["layers"] if row["kind"] != "group") == 22_256_640
    assert "training" not in data["totals"]  # --training none: no summary


def test_csv_and_markdown_show_the_saved_column() -> None:
    csv = cli(str(VGG16), "-f", "csv", "--columns", "name,saved").stdout.splitlines()
    assert csv[0].startswith("Layer,\"Saved for backward")
    assert csv[3].split(",")[1] == str(3 * 224 * 224 * 4)  # the first conv keeps its input
    markdown = cli(str(VGG16), "-f", "markdown", "--columns", "name,saved", "--training", "momentum").stdout
    assert "Saved for backward" in markdown
    assert f"{4 * 138_357_544:,} B" in markdown  # gradients, and the momentum buffers
    text = cli(str(VGG16), "--columns", "name,saved").stdout
    assert "Saved for backward" in text


RESNET18_MACS = 1_814_073_344  # torchvision's published _ops for resnet18: 1.81 GFLOPs at batch 1


def test_macs_per_sample_or_per_batch() -> None:
    per_sample = cli(str(RESNET18), "--batch", "8", "--columns", "name,macs").stdout
    assert "MACs (per sample)" in per_sample
    assert f"multiply-accumulates per sample): {RESNET18_MACS:,}" in " ".join(per_sample.split())
    per_batch = cli(str(RESNET18), "--batch", "8", "--macs-per", "batch", "--columns", "name,macs").stdout
    assert "MACs (batch 8)" in per_batch
    assert f"multiply-accumulates, batch 8): {8 * RESNET18_MACS:,}" in " ".join(per_batch.split())
    fc = [line.split() for line in per_batch.splitlines() if line.startswith("fc ")]
    assert fc == [["fc", f"{8 * 512 * 1000:,}"]]
    # at batch 1 a batch is a sample
    assert cli(str(RESNET18), "--macs-per", "batch").stdout == cli(str(RESNET18)).stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--batch", "0"), "batch must be between 1 and"),
    (("--batch", "two"), "--batch"),
    (("--training", "rmsprop"), "unknown optimizer 'rmsprop'"),
    (("--macs-per", "bach"), "expected sample or batch, got 'bach'"),
])
def test_bad_values_exit_2(args: tuple[str, ...], message: str) -> None:
    done = cli(str(RESNET18), *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_myst_plugin_batch_and_training(tmp_path: Path) -> None:
    from test_myst_plugin import call, directive_data, texts

    options = {"columns": "name, saved", "batch": "2", "training": "adam"}
    (container,) = call(["--directive", "cnn-breakdown"], directive_data(RESNET18.read_text(), options),
                        env={"CNNTABLE_MYST_STORE": str(tmp_path)})
    words = json.dumps(container)
    assert "44,436,480" in words  # the figure at batch 2
    assert f"{2 * 4 * RESNET18_PARAMS:,}" in words  # Adam's two buffers per parameter
    assert texts is not None
