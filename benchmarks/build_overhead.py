"""What a ``cnn-breakdown`` costs a Sphinx build, against the same table typed by hand.

Run: ``python benchmarks/build_overhead.py [--pages 200] [--runs 3] [--profile]``

Generates two projects in a temporary directory, each with ``--pages`` pages:

* ``directive``: every page holds a VGG-16 ``cnn-breakdown`` (spec inline, 16 layers,
  5 named stages, so 28 rows + 5 total lines);
* ``listtable``: the same pages with each directive replaced by the equivalent
  hand-typed ``list-table`` (same caption, header, rows, cells and total lines), written
  once from our own table model;
* ``diagram`` (with ``--diagram``): each directive followed by a ``cnn-diagram`` of its
  table by ``:name:`` (flow, with parameters, a bar per box), so the difference to
  ``directive`` is what a diagram adds;
* ``none`` (reference): the same pages with no table at all, so the difference to it is
  what each table costs (reported per table).

Then runs ``python -m sphinx -b html -q SRC OUT`` on each as a whole process, alternating
the projects, ``--runs`` times each, with a fresh output directory every time, and
prints every wall time and CPU time (user + system of the build process, which a machine
shared with other jobs disturbs less), their medians and minimums, the ratio directive /
list-table (goal <= 1.05) and the cost per table over the pages without one.
``--profile`` instead profiles one in-process build of the directive project and prints
the top of the cumulative profile filtered to ``sphinx_cnntable``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.table import TableOptions, build_table

VGG16 = """\
input 224x224x3
conv1:
  conv1_1: conv3-64
  conv1_2: conv3-64
  pool1: maxpool
conv2:
  conv2_1: conv3-128
  conv2_2: conv3-128
  pool2: maxpool
conv3:
  conv3_1: conv3-256
  conv3_2: conv3-256
  conv3_3: conv3-256
  pool3: maxpool
conv4:
  conv4_1: conv3-512
  conv4_2: conv3-512
  conv4_3: conv3-512
  pool4: maxpool
conv5:
  conv5_1: conv3-512
  conv5_2: conv3-512
  conv5_3: conv3-512
  pool5: maxpool
fc1: fc-4096
fc2: fc-4096
fc3: fc-1000
"""

CONF_DIRECTIVE = 'extensions = ["sphinx_cnntable"]\nproject = "bench"\n'
CONF_LISTTABLE = 'extensions = []\nproject = "bench"\n'
KINDS = ("directive", "listtable", "none")
PROSE = "Some prose around the table, as a real page would have.\n"


def directive_block(index: int) -> str:
    body = textwrap.indent(VGG16, "   ")
    return f".. cnn-breakdown:: VGG-16, page {index}\n   :name: vgg16-{index}\n\n{body}"


def list_table_block(index: int) -> str:
    """The directive's table as a hand-typed list-table: caption, header, rows, totals
    (the total label, empty cells, then the value, since list-table has no spans)."""
    table = build_table(analyse(VGG16), TableOptions())
    ncols = len(table.headers)
    lines = [f".. list-table:: VGG-16, page {index}", "   :header-rows: 1", f"   :name: vgg16-{index}",
             "   :class: longtable", ""]

    def row(cells: list[str]) -> None:
        for position, cell in enumerate(cells):
            marker = "   * - " if position == 0 else "     - "
            lines.append((marker + cell).rstrip())

    row(list(table.headers))
    for table_row in table.rows:
        cells = [cell.text for cell in table_row.cells]
        if table_row.depth:
            cells[0] = "\u00b7\u00a0" * table_row.depth + cells[0]
        if table_row.kind == "group":
            cells[0] = f"**{cells[0]}**"
        row(cells)
    for total in table.totals:
        row([f"**{total.label}**", *[""] * (ncols - 2), total.text])
    return "\n".join(lines) + "\n"


def page(index: int, block: str) -> str:
    title = f"Page {index}"
    return f"{title}\n{'=' * len(title)}\n\n{PROSE}\n{block}\n{PROSE}"


def make_project(root: Path, kind: str, pages: int) -> Path:
    src = root / kind
    src.mkdir(parents=True)
    (src / "conf.py").write_text(CONF_DIRECTIVE if kind in ("directive", "diagram") else CONF_LISTTABLE, encoding="utf-8")
    toctree = "\n".join(f"   page{i}" for i in range(pages))
    (src / "index.rst").write_text(f"Bench\n=====\n\n.. toctree::\n\n{toctree}\n", encoding="utf-8")
    if kind == "directive":
        block = directive_block
    elif kind == "diagram":
        def block(i: int) -> str:
            return directive_block(i) + f"\n.. cnn-diagram::\n   :name: vgg16-{i}\n   :show: params\n   :encode: params\n"
    elif kind == "none":
        def block(i: int) -> str:
            return ""
    else:
        cached = list_table_block(0)
        def block(i: int) -> str:  # the same table, only the caption and name change
            return cached.replace("page 0", f"page {i}").replace("vgg16-0", f"vgg16-{i}")
    for i in range(pages):
        (src / f"page{i}.rst").write_text(page(i, block(i)), encoding="utf-8")
    return src


def build(src: Path, out: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system, from ``getrusage``) of one build."""
    if out.exists():
        shutil.rmtree(out)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def profile(src: Path, out: Path) -> None:
    import cProfile
    import pstats

    from sphinx.application import Sphinx

    app = Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html", status=None, warning=sys.stderr,
                 freshenv=True)
    profiler = cProfile.Profile()
    profiler.enable()
    app.build()
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(r"sphinx_cnntable|directives/tables|parsers/rst/states", 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    parser.add_argument("--diagram", action="store_true", help="also a project with a cnn-diagram per table")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cnntable-bench-"))
    try:
        kinds = (*KINDS, "diagram") if args.diagram else KINDS
        projects = {kind: make_project(root, kind, args.pages) for kind in kinds}
        if args.profile:
            profile(projects["directive"], root / "out-profile")
            return
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
        for run in range(args.runs):
            order = kinds if run % 2 == 0 else kinds[::-1]
            for kind in order:
                seconds, cpu_seconds = build(projects[kind], root / f"out-{kind}")
                times[kind].append(seconds)
                cpu[kind].append(cpu_seconds)
                print(f"run {run + 1} {kind:9s} {seconds:7.2f} s wall {cpu_seconds:7.2f} s CPU", flush=True)
        print(f"pages: {args.pages}, runs: {args.runs} each (alternating, fresh outdir)")
        for label, values in (("wall", times), ("CPU", cpu)):
            med = {kind: statistics.median(v) for kind, v in values.items()}
            best = {kind: min(v) for kind, v in values.items()}
            for kind in values:
                print(f"{label:4s} {kind:9s} median {med[kind]:6.2f} s  min {best[kind]:6.2f} s  all "
                      + " ".join(f"{t:.2f}" for t in values[kind]))
            ratio = med["directive"] / med["listtable"]
            print(f"{label:4s} ratio directive/list-table: median {ratio:.3f}, "
                  f"min {best['directive'] / best['listtable']:.3f} (goal <= 1.05: {'met' if ratio <= 1.05 else 'MISSED'})")
            for kind in ("directive", "listtable"):
                per_table = (med[kind] - med["none"]) / args.pages * 1000
                print(f"{label:4s} {kind:9s} cost per table over the no-table pages: {per_table:.1f} ms (median), "
                      f"{(best[kind] - best['none']) / args.pages * 1000:.1f} ms (min)")
        if args.diagram:
            med = {kind: statistics.median(v) for kind, v in times.items()}
            per_diagram = (med["diagram"] - med["directive"]) / args.pages * 1000
            per_table = (med["directive"] - med["none"]) / args.pages * 1000
            print(f"diagram   cost per diagram over the directive pages: {per_diagram:.1f} ms "
                  f"({per_diagram / per_table:.2f} of the directive's cost; goal < 1)")
    finally:
        if args.keep:
            print(f"projects kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
