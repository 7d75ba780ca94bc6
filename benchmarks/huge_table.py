"""A Sphinx build of one huge table: time and peak memory, with and without the row limit.

Run: ``/work/venv/bin/python benchmarks/huge_table.py [--layers 100000] [--flat] [--no-limit] [--max-rows N]``

Writes a one-page project whose page holds ``repeat N: relu`` (``--flat``: ``N`` relu
lines written out) in a ``cnn-breakdown`` with ``:name:`` and a ``:cnn:`` citation,
and builds it with ``python -m sphinx -b html -q`` as a whole process in a fresh
wrapper process that reads the child's peak resident set size from
``getrusage(RUSAGE_CHILDREN).ru_maxrss``. First with the default ``cnntable_max_rows``
(the table folds to a depth that fits, or elides its middle rows; ``--max-rows``
sets another value), then, with
``--no-limit``, with ``cnntable_max_rows = None`` (every row drawn: what every build did
before the limit existed). Prints the wall time, the peak RSS, the size of the page and
the number of table rows in it, and whether the limited build met < 30 s and < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

WRAPPER = r"""
import resource, subprocess, sys, time, json
start = time.perf_counter()
result = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": seconds, "rss_kib": rss_kib, "rc": result.returncode,
                  "stderr": result.stderr.decode()[-2000:]}))
"""


def page(layers: int, flat: bool) -> str:
    """The page: a title, the table (``:name: big``) and a sentence citing its params."""
    spec = ["input 8x8x3", *(["relu"] * layers if flat else [f"repeat {layers}:", "  relu"])]
    body = "\n".join(f"   {line}" for line in spec)
    return f"Huge\n====\n\n.. cnn-breakdown:: {layers:,} ReLUs\n   :name: big\n\n{body}\n\nParams: :cnn:`big:params`.\n"


def build(layers: int, flat: bool, limit: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="cnntable-huge-") as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        src.mkdir()
        conf = 'extensions = ["sphinx_cnntable"]\n' + (f"cnntable_max_rows = {limit}\n" if limit else "")
        (src / "conf.py").write_text(conf, encoding="utf-8")
        (src / "index.rst").write_text(page(layers, flat), encoding="utf-8")
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)]
        result = json.loads(subprocess.run([sys.executable, "-c", WRAPPER, *command],
                                           stdout=subprocess.PIPE, check=True).stdout)
        html = out / "index.html"
        text = html.read_text(encoding="utf-8") if html.exists() else ""
        result["html_bytes"] = len(text.encode())
        result["rows"] = text.count("<tr")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=100_000)
    parser.add_argument("--flat", action="store_true", help="relu lines written out (no repeat)")
    parser.add_argument("--no-limit", action="store_true", help="also build with cnntable_max_rows = None")
    parser.add_argument("--max-rows", type=int, help="cnntable_max_rows for the first build (default: its default)")
    args = parser.parse_args()
    shape = "flat" if args.flat else "repeat"
    first = ("default limit", "") if args.max_rows is None else (f"limit {args.max_rows:,}", str(args.max_rows))
    runs = [first] + ([("no limit", "None")] if args.no_limit else [])
    for label, limit in runs:
        result = build(args.layers, args.flat, limit)
        seconds, mib = float(result["seconds"]), int(result["rss_kib"]) / 1024  # type: ignore[arg-type]
        kib, rows = int(result["html_bytes"]) / 1024, int(result["rows"])  # type: ignore[arg-type]
        verdict = "yes" if seconds < 30 and mib < 1024 else "NO"
        print(f"{shape} {args.layers:,} relu, {label:13}: {seconds:7.2f} s, peak RSS {mib:7.1f} MiB, "
              f"page {kib:9.1f} KiB, {rows:,} table rows"
              f"{'' if limit == 'None' else f'; < 30 s and < 1 GB: {verdict}'}")
        if result["rc"]:
            print(f"  exit status {result['rc']}: {result['stderr']}")


if __name__ == "__main__":
    main()
