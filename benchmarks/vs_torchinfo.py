"""``cnntable --format json`` against ``torchinfo.summary`` on VGG-16, each a whole process.

Run: ``python benchmarks/vs_torchinfo.py [--runs 5]``
(needs ``torch==2.13.0`` and ``torchinfo==1.8.0``: the ``torch`` extra).

* ours: ``cnntable --format json docs/specs/vgg16.cnn`` (the console script);
* theirs: a script that builds VGG-16 (configuration D) from ``torch.nn`` layers (no
  torchvision, no weights downloaded: random initialisation) and prints
  ``torchinfo.summary(model, input_size=(1, 3, 224, 224))``'s totals as JSON.

Every measurement runs in a fresh wrapper process that starts the command and reads
``resource.getrusage(RUSAGE_CHILDREN)`` after it, so the peak resident set size
(``ru_maxrss``) is that one command's. Runs alternate between the two; prints the
figures each reports (which must agree), the medians of wall time and peak RSS, and the
ratios torchinfo / cnntable.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "specs" / "vgg16.cnn"

TORCHINFO_SCRIPT = r"""
import json
import torch
from torch import nn
import torchinfo

def vgg16():
    layers, channels = [], 3
    for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
    return nn.Sequential(*layers, nn.Flatten(),
                         nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 1000))

stats = torchinfo.summary(vgg16(), input_size=(1, 3, 224, 224), verbose=0)
print(json.dumps({"params": stats.total_params, "macs": stats.total_mult_adds}))
"""

WRAPPER = r"""
import resource, subprocess, sys, time, json
start = time.perf_counter()
result = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=True)
seconds = time.perf_counter() - start
rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": seconds, "rss_kib": rss_kib, "stdout": result.stdout.decode()}))
"""


def measure(command: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cnntable = shutil.which("cnntable", path=str(Path(sys.executable).parent)) or shutil.which("cnntable")
    if cnntable is None:
        sys.exit("cnntable is not installed (pip install -e .)")
    commands = {
        "cnntable": [cnntable, "--format", "json", str(SPEC)],
        "torchinfo": [sys.executable, "-c", TORCHINFO_SCRIPT],
    }
    samples: dict[str, list[dict]] = {name: [] for name in commands}
    measure(commands["torchinfo"])  # warm the file cache for torch's libraries, unmeasured
    measure(commands["cnntable"])
    for run in range(args.runs):
        for name in (("cnntable", "torchinfo") if run % 2 == 0 else ("torchinfo", "cnntable")):
            sample = measure(commands[name])
            samples[name].append(sample)
            print(f"run {run + 1} {name:9s} {sample['seconds']:6.3f} s  {sample['rss_kib'] / 1024:7.1f} MiB", flush=True)
    report = json.loads(samples["cnntable"][0]["stdout"])
    ours, theirs = report["totals"], json.loads(samples["torchinfo"][0]["stdout"])
    # torchinfo's Mult-Adds also count one addition per output element of a layer with a
    # bias (docs/conventions.rst, "Reconciling torchinfo"); add them to our MACs to compare
    bias_adds = sum(row["activations"] for row in report["layers"] if row["kind"] == "layer" and row["biases"])
    print(f"cnntable : params {ours['params']:,}  MACs {ours['macs']:,}  (+ bias additions {bias_adds:,}"
          f" = {ours['macs'] + bias_adds:,})")
    print(f"torchinfo: params {theirs['params']:,}  mult-adds {theirs['macs']:,}")
    agree = ours["params"] == theirs["params"] and ours["macs"] + bias_adds == theirs["macs"]
    print("figures agree" if agree else "figures DIFFER")
    med = {name: (statistics.median(s["seconds"] for s in values), statistics.median(s["rss_kib"] for s in values))
           for name, values in samples.items()}
    for name, (seconds, rss) in med.items():
        print(f"{name:9s} median {seconds:6.3f} s  peak RSS {rss / 1024:7.1f} MiB")
    print(f"ratio torchinfo/cnntable: time {med['torchinfo'][0] / med['cnntable'][0]:.1f}x, "
          f"peak memory {med['torchinfo'][1] / med['cnntable'][1]:.1f}x")


if __name__ == "__main__":
    main()
