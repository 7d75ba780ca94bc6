"""``cnntable import`` of torchvision's resnet50 against ``torchinfo.summary`` of the same
model: each in its own process, whole process (interpreter start, imports, model build,
trace or forward pass), wall time and peak memory (ru_maxrss of the child), and the
ratios, in one command::

    python benchmarks/import_vs_torchinfo.py [--model resnet50] [--input 224x224x3] [--repeat 3]

torchinfo runs a forward pass on real (random) weights at batch 1; ``cnntable import``
builds the model on the meta device and traces it with torch.fx, so it allocates no
weights. Both use one thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TORCHINFO = """\
import sys, types
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
import torch, torchvision, torchinfo
torch.set_num_threads(1)
model = torchvision.models.get_model({model!r}, weights=None).eval()
torchinfo.summary(model, input_size=(1, {c}, {h}, {w}), verbose=0, device="cpu")
"""

IMPORT = """\
import torch
torch.set_num_threads(1)
from sphinx_cnntable.cli import main
raise SystemExit(main(["import", "torch:torchvision.models:get_model", "name={model}", "--input", {shape!r}, "-o", {out!r}]))
"""


def run(code: str) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of a fresh ``python -c code``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-c", code], env)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the child failed: {code.splitlines()[-1]}")
    return seconds, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--input", default="224x224x3")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    h, w, c = (int(x) for x in args.input.split("x"))
    out = "/tmp/cnntable-bench-import.cnn"
    results: dict[str, list[tuple[float, int]]] = {"cnntable import": [], "torchinfo.summary": []}
    for _ in range(args.repeat):
        results["cnntable import"].append(run(IMPORT.format(model=args.model, shape=args.input, out=out)))
        results["torchinfo.summary"].append(run(TORCHINFO.format(model=args.model, c=c, h=h, w=w)))
    rows = {}
    for name, samples in results.items():
        seconds = statistics.median(s for s, _ in samples)
        peak = max(m for _, m in samples)
        rows[name] = (seconds, peak)
        print(f"{name:18} {seconds:7.2f} s   peak {peak / 2**20:8.1f} MiB   ({args.model}, {args.input}, median of {args.repeat})")
    (ti, mi), (tt, mt) = rows["cnntable import"], rows["torchinfo.summary"]
    print(f"ratio (import / torchinfo): time {ti / tt:.2f}, peak memory {mi / mt:.2f}")


if __name__ == "__main__":
    main()
