"""How ``analyse`` scales with the number of layers.

Run: ``python benchmarks/engine_scaling.py [--profile]``

Two spec shapes at 1,000, 10,000 and 100,000 layers: a flat one (conv3-64 / bn / relu
lines written out) and one made of nested ``repeat`` blocks (groups with subtotals).
Prints the best of a few runs, the time per layer, the growth ratios 10k/1k and
100k/10k (linear is about 10x) and whether 100k layers take under a second.

Memory: the peak of Python allocations while ``analyse`` runs (``tracemalloc``, a run
of its own, since tracing slows it), per layer, and its ratio 100k/10k (linear is about
10x); then the peak resident set size of a whole ``cnntable -f text`` process on the
100k-layer specs (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a fresh wrapper process).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError

SIZES = (1_000, 10_000, 100_000)
UNIT = ("conv3-64", "bn", "relu")


def flat(layers: int) -> str:
    """``layers`` lines, cycling conv3-64 / bn / relu."""
    lines = ["input 32x32x64"]
    lines.extend(UNIT[i % 3] for i in range(layers))
    return "\n".join(lines) + "\n"


def repeated(layers: int) -> str:
    """``repeat`` blocks, two deep: stages of 10 blocks of conv3-64 / bn / relu / conv1-64 / bn."""
    blocks = layers // 50
    return (
        "input 32x32x64\n"
        f"repeat {blocks}:\n"
        "  stage: repeat 10:\n"
        "    conv3-64\n"
        "    bn\n"
        "    relu\n"
        "    conv1-64\n"
        "    bn\n"
    )


def best_time(text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        analyse(text)
        best = min(best, time.perf_counter() - start)
    return best


def peak_bytes(text: str) -> int:
    """Peak of traced Python allocations while ``analyse(text)`` runs, the spec text aside."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        analyse(text)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


WRAPPER = r"""
import resource, subprocess, sys, json
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))  # KiB on Linux
"""


def cli_peak_rss_kib(text: str) -> int:
    """Peak RSS of ``python -m sphinx_cnntable -f text SPEC`` (the CLI) on ``text``, in KiB."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.cnn"
        spec.write_text(text, encoding="utf-8")
        command = [sys.executable, "-m", "sphinx_cnntable", "-f", "text", str(spec)]
        out = subprocess.run([sys.executable, "-c", WRAPPER, *command], stdout=subprocess.PIPE, check=True).stdout
    return int(json.loads(out))


def memory(name: str, make: Callable[[int], str]) -> None:
    peaks = {size: peak_bytes(make(size)) for size in SIZES[1:]}
    for size, peak in peaks.items():
        print(f"{name:8} {size:>7,} layers: analyse peak {peak / 2**20:7.1f} MiB traced, {peak / size:6.0f} B/layer")
    rss = cli_peak_rss_kib(make(SIZES[-1]))
    print(f"{name:8} peak ratio 100k/10k = {peaks[100_000] / peaks[10_000]:.1f}x; "
          f"CLI on 100k layers: peak RSS {rss / 1024:.1f} MiB")


def report(name: str, make: Callable[[int], str]) -> None:
    times: dict[int, float] = {}
    for size in SIZES:
        text = make(size)
        runs = 5 if size < 100_000 else 3
        times[size] = best_time(text, runs)
        rows = len(analyse(text).rows)
        print(f"{name:8} {size:>7,} layers ({rows:>7,} rows): {times[size] * 1000:9.1f} ms, "
              f"{times[size] / size * 1e6:6.2f} us/layer")
    print(f"{name:8} ratio 10k/1k = {times[10_000] / times[1_000]:.1f}x, "
          f"100k/10k = {times[100_000] / times[10_000]:.1f}x; "
          f"100k under 1 s: {'yes' if times[100_000] < 1 else 'NO'}")


ADVERSARIAL = {
    "defaults": "input 8x8x3\nrepeat 1000:\n  repeat 300:\n    default conv bias=no stride=1\nrelu\n",
    "groups": "input 8x8x3\nrepeat 50000:\n  g: relu\n",
    "calls": "input 8x8x3\ndefine b n:\n  conv1-{n}\nrepeat 50000:\n  b 8\n",
    "residuals": "input 8x8x3\nrepeat 50000:\n  residual:\n    relu\n",
    "concats": "input 8x8x3\nrepeat 25000:\n  concat:\n    branch: conv1-1\n    branch: relu\n  conv1-3\n",
    "deconv/conv": "input 64x64x3\nrepeat 50000:\n  deconv3-8/2\n  conv3-8/2\n",
    "mixed strides": "input 60x60x3\nrepeat 10000:\n  deconv5-8/5\n  conv3-8/2 pad=1\n  deconv3-8/2\n  conv7-8/5 pad=3\n",
    "up 3/2, down": "input 64x64x3\nrepeat 50000:\n  upsample size=96x96\n  upsample size=64x64\n",
    "runaway": "input 8x8x3\nrepeat 100000:\n  repeat 100000:\n    default bias=no\nrelu\n",
}
"""Specs that make few rows per statement, or many receptive-field evaluations per row."""


def work_report() -> None:
    """Engine time per 100,000 steps of work (the unit of the work limit) on the
    adversarial specs, against the flat 100k-layer spec measured in the same run."""
    baseline_text = flat(100_000)
    baseline = best_time(baseline_text, 3) / analyse(baseline_text).work * 100_000
    print(f"{'flat (baseline)':16} {baseline * 1000:7.0f} ms per 100k steps")
    for name, text in ADVERSARIAL.items():
        start = time.perf_counter()
        try:
            breakdown = analyse(text)
        except SpecError as error:
            elapsed = time.perf_counter() - start
            print(f"{name:16} refused in {elapsed * 1000:7.1f} ms ({error.message[:40]}...)")
            continue
        elapsed = time.perf_counter() - start
        per = elapsed / breakdown.work * 100_000
        print(f"{name:16} {per * 1000:7.0f} ms per 100k steps ({breakdown.work:>9,} steps, "
              f"{len(breakdown.rows):>7,} rows, {elapsed * 1000:6.0f} ms), ratio to flat {per / baseline:.2f}")


def profile(text: str) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(analyse, text)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="profile the 100k-layer specs")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory figures")
    parser.add_argument("--work", action="store_true", help="only the time per step of work on adversarial specs")
    args = parser.parse_args()
    if args.work:
        work_report()
        return
    for name, make in (("flat", flat), ("repeat", repeated)):
        report(name, make)
        if not args.no_memory:
            memory(name, make)
        if args.profile:
            profile(make(100_000))
    work_report()


if __name__ == "__main__":
    main()
