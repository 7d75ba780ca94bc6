"""A docs tree full of broken ``cnn-breakdown`` directives and ``:cnn:`` citations
(tests/roots/test-broken, reST and MyST pages), interleaved with valid tables.

The build must finish; every problem is reported exactly once, at the right file and
line (the full list below was derived by hand from the source files: the line of the
offending spec line for spec errors, the directive's first line for option and file
problems, the spec file's own line for errors inside a ``:file:``, the role's line for
citations); the valid tables on the same pages keep their numbers; and ``-W`` turns
the warnings into a failed build.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sphinx.util.console import strip_escape_sequences

from html_tables import ROOTS, read_tables
from sphinx_cnntable.limits import MAX_SPEC_BYTES

# (file relative to the source directory, line, a piece of the message)
EXPECTED = [
    # spec_errors.rst: spec errors in reST content, at the offending spec line
    ("spec_errors.rst", 19, "unknown layer 'frobconv'"),
    ("spec_errors.rst", 27, "conv3-8: unknown keyword 'frob'"),
    ("spec_errors.rst", 34, "bad number '8x' for the filters"),
    ("spec_errors.rst", 42, "conv11-8: kernel 11x11 is larger than the padded input 8x8"),
    ("spec_errors.rst", 49, "conv3-6: channels not divisible by groups=4"),
    ("spec_errors.rst", 63, "add: the branches' shapes differ"),
    ("spec_errors.rst", 72, "concat: the branches' heights and widths differ"),
    ("spec_errors.rst", 82, "residual: the body changes the shape from 8x8x3 to 8x8x8"),
    ("spec_errors.rst", 91, "unexpected indentation"),
    ("spec_errors.rst", 98, "the repeat count 100,001 is over the limit of 100,000"),
    ("spec_errors.rst", 105, "no input shape"),
    ("spec_errors.rst", 110, "no spec: give it as the directive's content or in :file:"),
    ("spec_errors.rst", 130, "attention: 8 channels do not split into heads=3"),
    # options.rst: bad options, at the directive's line
    ("options.rst", 4, ":input: input '224x224x3x1x1': write HxWxC"),
    ("options.rst", 10, ":dtype: unknown dtype 'float7'"),
    ("options.rst", 25, ":columns: unknown column 'flop'"),
    ("options.rst", 31, ":numbers: unknown number format 'roughly'"),
    ("options.rst", 37, ":depth: expected a whole number 1 or more, got 'zero'"),
    ("options.rst", 43, ":bias: expected yes or no, got 'maybe'"),
    ("options.rst", 49, ":precision: expected a whole number from 1 to 20, got '0'"),
    ("options.rst", 55, ":chart: unknown chart metric 'flopz'"),
    ("options.rst", 65, "give the spec as content or in :file:, not both"),
    # files.rst: :file: problems at the directive, errors inside a spec file at its own line
    ("files.rst", 4, "spec file 'specs/nosuch.cnn' not found"),
    ("files.rst", 7, "spec file 'specs/adir.cnn' is not a file"),
    ("files.rst", 14, "spec file 'specs/latin1.cnn' is not UTF-8"),
    ("files.rst", 17, f"spec file 'specs/huge.cnn' is larger than the limit of {MAX_SPEC_BYTES:,} bytes"),
    ("specs/bad.cnn", 4, "bad number 'two' for stride="),
    ("specs/tab.cnn", 4, "indent with spaces only"),
    # myst_page.md: the same kinds of problem under myst-parser
    ("myst_page.md", 20, "unknown layer 'frobconv'"),
    ("myst_page.md", 28, "indent with spaces only"),
    ("myst_page.md", 33, ":dtype: unknown dtype 'float7'"),
    ("myst_page.md", 47, "residual: the body changes the shape"),
    ("myst_page.md", 53, "no spec"),
    ("myst_page.md", 63, "conv3-8: unknown keyword 'frob'"),
    ("myst_page.md", 66, "no cnn-breakdown named 'nosuch-md'"),
    ("myst_page.md", 68, "unknown figure 'bogus'"),
    ("myst_page.md", 72, "spec file 'specs/latin1.cnn' is not UTF-8"),
    # roles.rst: citations that cannot be resolved
    ("roles.rst", 6, "no cnn-breakdown named 'nosuch'"),
    ("roles.rst", 8, "unknown figure 'bogus'"),
    ("roles.rst", 10, "breakdown 'valid-a' has no row 'nosuch'"),
    ("roles.rst", 12, "unknown format 'zz'"),
    ("roles.rst", 14, "'just-a-name': write BREAKDOWN[/ROW]:FIGURE[:FORMAT]"),
    ("roles.rst", 16, "no cnn-breakdown named 'empty'"),  # its directive failed (spec_errors.rst:110)
]

# caption -> total params of each valid table (hand-computed; see the module docstring of test_directive)
# 32x32x3, conv3-16, relu, maxpool, fc-10: 3*3*3*16 + 16 = 448; 16*16*16*10 + 10 = 40,970 -> 41,418
# 8x8x3, conv3-4, fc-10: 3*3*3*4 + 4 = 112; 8*8*4*10 + 10 = 2,570 -> 2,682
# specs/good.cnn 16x16x3, conv3-8, maxpool, fc-10: 224 + 8*8*8*10 + 10 = 5,354
VALID = {
    "index": {"Index valid": "2,682"},
    "spec_errors": {"Valid A": "41,418", "Valid B": "2,682", "Valid C": "41,418"},
    "options": {"Valid D": "2,682", "Bad chart, table still drawn": "41,418"},
    "files": {"Valid from a file": "5,354", "Valid after the file errors": "2,682"},
    "myst_page": {"Valid MyST": "41,418", "Valid MyST again": "2,682"},
    "roles": {"Valid E": "2,682"},
}
CITED = {
    "roles": ["41,418", "2,682", "5,354", "2,682", "41,418", "2,682"],
    "myst_page": ["41,418"],
}
WARNING = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+): (?P<level>WARNING|ERROR): (?P<message>.*)$")
FIGURE = re.compile(r'<span class="cnn-figure">([^<]*)</span>')


def broken_source(tmp_path: Path) -> Path:
    """A copy of the root plus ``specs/huge.cnn``, one byte over the size limit (not kept in git)."""
    srcdir = tmp_path / "broken"
    shutil.copytree(ROOTS / "test-broken", srcdir)
    line = "#" + "x" * 1023 + "\n"
    head = "input 8x8x3\nconv3-8\n"
    body = line * ((MAX_SPEC_BYTES - len(head)) // len(line) + 1)
    (srcdir / "specs" / "huge.cnn").write_text(head + body, encoding="utf-8")
    assert (srcdir / "specs" / "huge.cnn").stat().st_size > MAX_SPEC_BYTES
    return srcdir


def located(srcdir: Path, warnings: str) -> list[tuple[str, int, str]]:
    """Every warning as (file relative to ``srcdir``, line, message); a warning without a
    location fails the test."""
    found = []
    for text in strip_escape_sequences(warnings).splitlines():
        if not text.strip():
            continue
        match = WARNING.match(text)
        assert match, f"warning without file:line: {text!r}"
        path = Path(match["file"])
        assert path.is_absolute() and path.is_relative_to(srcdir), text
        found.append((path.relative_to(srcdir).as_posix(), int(match["line"]), match["message"]))
    return found


@pytest.fixture(params=[0, 2], ids=["serial", "j2"])
def broken_app(request: pytest.FixtureRequest, make_app: Any, tmp_path: Path) -> Any:
    srcdir = broken_source(tmp_path)
    app = make_app("html", srcdir=srcdir, builddir=tmp_path / "out", freshenv=True, parallel=request.param)
    app.build()
    app.cleanup()
    return app


def test_every_problem_once_at_its_file_and_line(broken_app: Any) -> None:
    srcdir = Path(broken_app.srcdir)
    found = located(srcdir, broken_app.warning.getvalue())
    pairs = Counter((file, line) for file, line, _ in found)
    assert sorted(pairs.elements()) == sorted((file, line) for file, line, _ in EXPECTED)
    assert max(pairs.values()) == 1  # exactly once each
    messages = {(file, line): message for file, line, message in found}
    for file, line, piece in EXPECTED:
        message = messages[file, line]
        assert piece in message, (file, line, message)
        assert message.startswith(("cnn-breakdown: ", "cnn: ")) and re.search(r"\[cnntable\.\w+\]$", message)
    assert broken_app.statuscode == 0


def test_valid_tables_on_the_same_pages_are_intact(broken_app: Any) -> None:
    outdir = Path(broken_app.outdir)
    for docname, expected in VALID.items():
        html = (outdir / f"{docname}.html").read_text(encoding="utf-8")
        drawn = {table.caption: table for table in read_tables(html) if "cnntable" in table.classes}
        assert set(drawn) == set(expected), docname  # the broken directives draw nothing
        for caption, params in expected.items():
            assert drawn[caption].totals["Total params"] == params, (docname, caption)
            assert drawn[caption].layers, (docname, caption)
    for docname, figures in CITED.items():
        html = (outdir / f"{docname}.html").read_text(encoding="utf-8")
        assert FIGURE.findall(html) == figures, docname
    # the broken directives leave no trace (keep_warnings is off), the prose around them stays
    spec_errors = (outdir / "spec_errors.html").read_text(encoding="utf-8")
    assert "Repeat over the limit:" in spec_errors and "cnntable-error" not in spec_errors


def test_warnings_as_errors_fail_the_build(tmp_path: Path) -> None:
    """``python -m sphinx -W`` as a whole process: the build fails (exit status 1)."""
    srcdir = broken_source(tmp_path)
    command = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(srcdir), str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0, result.stderr[-2000:]  # 1 on Sphinx 8+, 2 on 7.4
    assert "[cnntable." in result.stderr
    clean = subprocess.run(command[:3] + command[4:], capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr[-2000:]  # the same tree without -W builds
