"""What sphinx-cnntable's own code costs per table inside a real HTML build.

Run: ``python benchmarks/directive_share.py [--pages 200] [--runs 2]``

Builds, in this process and alternately, two projects of ``--pages`` pages made by
``build_overhead.py``: ``directive`` (a VGG-16 ``cnn-breakdown`` per page) and
``literal`` (the same pages with each directive turned into a ``code-block`` of the
same lines, the extension loaded), so both pay docutils' parsing of the block. CPU time
(``time.process_time``) is summed around every entry point of the extension: the
directive's ``run`` (spec parsing, the engine, the table model, the HTML, the domain
entry), the HTML visitor, and the event handlers and post-transforms. It prints that
sum per table, the whole build's CPU time per table over the ``literal`` build, and the
share of the directive build that is ours.

The sum of our own code is the figure a shared machine disturbs least: the two whole
builds differ by a few ms per table and other jobs move each by more than that.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_overhead  # noqa: E402  (the same generated projects)
from sphinx.application import Sphinx  # noqa: E402

import sphinx_cnntable.chart  # noqa: E402
import sphinx_cnntable.diagram.node  # noqa: E402
import sphinx_cnntable.directive  # noqa: E402
import sphinx_cnntable.domain  # noqa: E402
import sphinx_cnntable.readme  # noqa: E402
import sphinx_cnntable.render_nodes  # noqa: E402
import sphinx_cnntable.sphinx_ext  # noqa: E402

SPENT: dict[str, float] = {}


def _timed(key: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[key] = SPENT.get(key, 0.0) + time.process_time() - start
    return timed


def instrument() -> None:
    """Wrap the extension's entry points (before any Sphinx app runs its ``setup``)."""
    breakdown = sphinx_cnntable.directive.CnnBreakdown
    breakdown.run = _timed("directive run", breakdown.run)
    domain = sphinx_cnntable.domain.CnnDomain
    for name in ("clear_doc", "merge_domaindata", "process_doc"):
        setattr(domain, name, _timed(f"domain {name}", getattr(domain, name)))
    modules = [
        (sphinx_cnntable.render_nodes, "visit_cnntable_html", "HTML visitor"),
        (sphinx_cnntable.sphinx_ext, "visit_cnntable_html", "HTML visitor"),
        (sphinx_cnntable.chart, "_resolve", "chart doctree-resolved"),
        (sphinx_cnntable.diagram.node, "_resolve", "diagram doctree-resolved"),
        (sphinx_cnntable.readme, "_source_read", "README source-read"),
    ]
    for module, name, key in modules:
        if hasattr(module, name):
            setattr(module, name, _timed(key, getattr(module, name)))
    for transform in (sphinx_cnntable.sphinx_ext.ExpandTables, sphinx_cnntable.sphinx_ext.UnspanCells):
        transform.run = _timed(f"post-transform {transform.__name__}", transform.run)


def literal_project(directive_src: Path, root: Path) -> Path:
    src = root / "literal"
    shutil.copytree(directive_src, src)
    for page in src.glob("page*.rst"):
        text = page.read_text(encoding="utf-8").replace(".. cnn-breakdown::", ".. code-block:: text\n   :caption:")
        page.write_text(text, encoding="utf-8")
    return src


def build(src: Path, out: Path) -> float:
    """CPU seconds of one fresh in-process HTML build."""
    start = time.process_time()
    app = Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html", status=None, warning=None,
                 freshenv=True)
    app.build()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    instrument()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = {"directive": build_overhead.make_project(root, "directive", args.pages)}
        sources["literal"] = literal_project(sources["directive"], root)
        ours: list[float] = []
        whole: dict[str, list[float]] = {"directive": [], "literal": []}
        for run in range(args.runs):
            for kind, src in sources.items():
                SPENT.clear()
                cpu = build(src, root / f"out-{kind}-{run}")
                whole[kind].append(cpu)
                if kind == "directive":
                    ours.append(sum(SPENT.values()))
                    parts = ", ".join(f"{key} {value * 1000 / args.pages:.2f}" for key, value in sorted(SPENT.items()))
                    print(f"run {run + 1} directive: {cpu:.2f} s CPU; ours {ours[-1] * 1000 / args.pages:.2f} ms "
                          f"per table ({parts})")
                else:
                    print(f"run {run + 1} literal:   {cpu:.2f} s CPU")
    per_table = statistics.median(ours) * 1000 / args.pages
    over = (statistics.median(whole["directive"]) - statistics.median(whole["literal"])) * 1000 / args.pages
    share = statistics.median(ours) / statistics.median(whole["directive"])
    print(f"our code per table (median): {per_table:.2f} ms (goal <= 5 ms)")
    print(f"whole build per table over the literal pages (median): {over:.2f} ms")
    print(f"our share of the directive build's CPU time: {share:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
