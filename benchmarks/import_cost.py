"""What importing sphinx-cnntable adds to a Sphinx start.

Run: ``python benchmarks/import_cost.py [--runs 15]``

Each measurement is a fresh ``python -c`` process that times, with ``time.perf_counter``:

1. ``import sphinx; import sphinx.application`` (the baseline every build pays);
2. then ``import sphinx_cnntable`` (the engine, what ``extensions = [...]`` loads first);
3. then ``import sphinx_cnntable.sphinx_ext`` (directive, role, domain, chart: what
   ``setup()`` imports).

Prints the medians over ``--runs`` processes, and sphinx-cnntable's own import time as a
share of Sphinx's. Bytecode caching is on for the children, with its cache in a temporary
``PYTHONPYCACHEPREFIX`` warmed by one unmeasured run, whatever ``PYTHONDONTWRITEBYTECODE``
says in the calling shell: an installed wheel has its ``.pyc`` files, as Sphinx has
here, so that is the fair comparison (``--cold`` measures without any bytecode cache).
``--importtime`` prints the ``-X importtime`` lines of one run for the
package's own modules instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

PROBE = """
import json, time
t0 = time.perf_counter()
import sphinx, sphinx.application
t1 = time.perf_counter()
import sphinx_cnntable
t2 = time.perf_counter()
import sphinx_cnntable.sphinx_ext
t3 = time.perf_counter()
print(json.dumps({"sphinx": t1 - t0, "engine": t2 - t1, "extension": t3 - t2}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--cold", action="store_true", help="no bytecode cache at all")
    args = parser.parse_args()
    env = dict(os.environ)
    cache = tempfile.TemporaryDirectory(prefix="cnntable-pycache-")
    if args.cold:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = cache.name  # empty, never written: nothing cached
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache.name
        subprocess.run([sys.executable, "-c", PROBE], capture_output=True, check=True, env=env)  # warm the cache
    if args.importtime:
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE], capture_output=True, text=True,
                                check=True, env=env)
        for line in result.stderr.splitlines():
            if "sphinx_cnntable" in line or "import time: self" in line:
                print(line)
        return
    samples: dict[str, list[float]] = {"sphinx": [], "engine": [], "extension": []}
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env).stdout
        for key, value in json.loads(out).items():
            samples[key].append(value)
    median = {key: statistics.median(values) * 1000 for key, values in samples.items()}
    ours = median["engine"] + median["extension"]
    print(f"runs: {args.runs} fresh processes ({'no bytecode cache' if args.cold else 'warm bytecode cache'}), "
          "medians (ms)")
    print(f"import sphinx, sphinx.application      {median['sphinx']:8.1f}")
    print(f"+ import sphinx_cnntable (engine)      {median['engine']:8.1f}")
    print(f"+ import sphinx_cnntable.sphinx_ext    {median['extension']:8.1f}")
    print(f"sphinx-cnntable total                  {ours:8.1f}  = {ours / median['sphinx']:.1%} of Sphinx's")


if __name__ == "__main__":
    main()
