"""The training-memory estimate against the peak of one training step, on the CPU.

Run: ``python benchmarks/training_peak.py [--batch 8] [--model resnet50|vgg16 ...]``
(needs the ``torch`` extra: torch 2.13, torchvision 0.28).

Where no GPU is at hand, this measures what ``torch.cuda.max_memory_allocated`` would on
one: the peak of the bytes PyTorch's CPU allocator holds during the second step of an
SGD-with-momentum loop (forward, backward, ``step``), read from ``torch.profiler``'s
memory events in time order, plus what was allocated before the step began (the input,
parameters, buffers, momentum, and the gradients where they are kept). It prints that peak, the
estimate (``training_memory(..., "momentum").total_bytes``) and their ratio, once with
PyTorch's default ``zero_grad()`` (gradients set to None) and once with
``zero_grad(set_to_none=False)`` (each new gradient added into the kept one). The CPU
has no cuDNN workspaces and no caching allocator, so this is the estimate's own error,
not the GPU's overheads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "differential"))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import torchvision_models  # noqa: E402,F401  (torchvision without its compiled ops)
import torchvision  # noqa: E402
from sphinx_cnntable.engine import analyse  # noqa: E402
from sphinx_cnntable.training import training_memory  # noqa: E402

SPECS = {"vgg16": ROOT / "docs" / "specs" / "vgg16-train.cnn", "resnet50": ROOT / "tests" / "data" / "resnet50.cnn"}


def step_peak(name: str, batch: int, set_to_none: bool) -> int:
    """Bytes held at the peak of the second training step (see the module)."""
    model = torchvision.models.get_model(name, weights=None).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 224, 224)
    model(x).sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=set_to_none)
    held = x.untyped_storage().nbytes()  # the input: the estimate counts it (the first conv keeps it)
    held += sum(t.untyped_storage().nbytes() for t in (*model.parameters(), *model.buffers()))
    held += sum(s["momentum_buffer"].untyped_storage().nbytes() for s in opt.state.values())
    if not set_to_none:
        held += sum(p.grad.untyped_storage().nbytes() for p in model.parameters() if p.grad is not None)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(x).sum().backward()
        opt.step()
    running = peak = 0
    for event in sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start):
        running += event.self_cpu_memory_usage
        peak = max(peak, running)
    return held + peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--model", action="append", choices=sorted(SPECS))
    args = parser.parse_args()
    torch.set_num_threads(2)
    for name in args.model or sorted(SPECS):
        estimate = training_memory(analyse(SPECS[name].read_text(), batch=args.batch), "momentum").total_bytes
        for set_to_none in (True, False):
            peak = step_peak(name, args.batch, set_to_none)
            mode = "zero_grad()" if set_to_none else "zero_grad(set_to_none=False)"
            print(f"{name:9} batch {args.batch:3}  {mode:29} peak {peak:>14,} B  estimate {estimate:>14,} B  "
                  f"ratio {peak / estimate:.3f}")


if __name__ == "__main__":
    main()
