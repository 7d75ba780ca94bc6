"""Fuzzing: any text gives either a breakdown whose totals are its column sums, or a
SpecError located on a line of the text. Any other exception is a bug."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sphinx_cnntable import figures
from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError
from sphinx_cnntable.figures import FORMATS, ROW_FIGURES, TOTAL_FIGURES, FigureError, Reference

from checks import check_sums

DATA = Path(__file__).resolve().parent / "data"
SEEDS = [path.read_text(encoding="utf-8") for path in sorted(DATA.glob("*.cnn"))] + [
    "input 8x8x16\nconcat:\n  branch: conv1-8\n  branch:\n    conv1-4\n    conv3-12 dilation=2\nadd:\n"
    "  branch: identity\n  branch: conv1-36 groups=4\nres: residual: bn\nrepeat 2:\n  dwconv3 mult=2\n"
    "  conv1-36\nmaxpool3/2 pad=1 ceil=yes\ndeconv4-8/2 outpad=1\ngap\nfc 10 bias=no\n",
    "input 784\ndefault fc bias=no\ndefine mlp w n=2:\n  repeat {n}:\n    fc-{w*2//2}\n    relu\nmlp 64\nb: mlp w=32 n=3\nsoftmax\n",
]
NUMBERS = ("0", "-1", "1", "2", "7", str(10**12), "999999999999999999999999999999999", "x", "")
UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)

MAIN = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    try:
        breakdown = analyse(text)
    except SpecError as error:
        assert 1 <= error.line <= max(1, len(text.splitlines())), (error.line, text)
        assert error.message and str(error) == f"line {error.line}: {error.message}"
        return
    check_sums(breakdown)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid spec with a few tokens dropped, duplicated, swapped or replaced, numbers
    set to edge values, indentation broken, or unicode inserted."""
    lines = draw(st.sampled_from(SEEDS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        words = lines[index].split(" ")
        action = draw(st.integers(0, 9))
        position = draw(st.integers(0, max(0, len(words) - 1)))
        if action == 0:
            del lines[index]
        elif action == 1:
            lines.insert(index, lines[index])
        elif action == 2:
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == 3 and words:
            del words[position]
        elif action == 4 and words:
            words.insert(position, words[position])
        elif action == 5 and len(words) > 1:
            words[0], words[-1] = words[-1], words[0]
        elif action == 6:
            number = draw(st.sampled_from(NUMBERS))
            words = [_renumber(word, number, draw(st.integers(0, 3))) for word in words]
        elif action == 7:
            lines[index] = draw(st.sampled_from(("", " ", "  ", "\t", "    ", "   "))) + lines[index].lstrip()
        elif action == 8:
            cut = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:cut] + draw(UNICODE) + lines[index][cut:]
        else:
            lines[index] = lines[index] + draw(st.sampled_from((":", " x3", " x 0", " ×2", " # c", " {in}", "{", " pad=same", " ceil=yes")))
        if 3 <= action <= 6 and index < len(lines):
            lines[index] = " ".join(words)
    return "\n".join(lines)


def _renumber(word: str, number: str, which: int) -> str:
    digits = [i for i, ch in enumerate(word) if ch.isdigit()]
    if not digits:
        return word
    start = digits[min(which, len(digits) - 1)]
    end = start
    while end < len(word) and word[end].isdigit():
        end += 1
    return word[:start] + number + word[end:]


@MAIN
@given(mutated())
def test_mutated_specs(text: str) -> None:
    check(text)


@MAIN
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check(text)


LANGUAGE = st.sampled_from(
    ["input", "conv3-64", "conv", "-", "x", "×", "3", ":", " ", "  ", "\n", "\n  ", "{", "}", "in", "*",
     "repeat", "residual", "add", "concat", "branch", "define", "default", "bias=no", "pad=", "=", "fc",
     "maxpool", "/", "2", "0", "#", "\t", "gap", "bn", "dwconv", "deconv", "1x1", "224x224x3"]
)


@MAIN
@given(st.lists(LANGUAGE, max_size=60).map("".join))
def test_language_soup(text: str) -> None:
    check(text)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=40), st.integers(5_000, 12_000))
def test_very_long_lines(chunk: str, length: int) -> None:
    check("input 8x8x3\n" + (chunk * (length // len(chunk) + 1))[:length])
    check("input 8x8x3\nconv3-" + (chunk * (length // len(chunk) + 1))[:length])


BIG = ("9" * 30, "1" + "0" * 29, "123456789" * 3, "4294967296")
FORMAT_NAMES = st.tuples(st.sampled_from([*FORMATS, "Exact", "mib", "COMPACT"]), st.sampled_from(("", "0", "1", "3", "6", "9"))).map(
    "".join
)


@st.composite
def big_specs(draw: st.DrawFn) -> str:
    """Specs whose figures run to dozens of digits: inputs and layer widths near the limit."""
    height, width = draw(st.sampled_from(("1", *BIG))), draw(st.sampled_from(("1", *BIG)))
    layers = draw(st.lists(st.sampled_from(("fc-{}", "conv1-{}", "conv3-{} pad=1", "bn", "relu", "dwconv3 pad=1")), min_size=1, max_size=4))
    return f"input {height}x{width}x1\n" + "\n".join(layer.format(draw(st.sampled_from(BIG))) for layer in layers)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated() | big_specs(), FORMAT_NAMES)
def test_every_format_of_every_figure(text: str, fmt: str) -> None:
    """Any spec the engine accepts, any figure, any format: a text or a FigureError."""
    try:
        summary = figures.summarize(analyse(text))
    except SpecError:
        return
    try:
        canonical = figures._format_name(fmt)
    except FigureError:
        return
    references = [Reference("s", None, figure, canonical) for figure in TOTAL_FIGURES]
    references += [Reference("s", row, figure, canonical) for row in list(summary["rows"])[:10] for figure in ROW_FIGURES]
    for reference in references:
        try:
            figures._check_format(reference)
        except FigureError:
            continue
        assert isinstance(figures.resolve(summary, reference), str)


# ----------------------------------------------------------------------------- sync markers

MARKER_WORDS = st.sampled_from([
    "specs/tiny.cnn", "specs/missing.cnn", "columns=name,params", "colums=name", "columns=name,name", "fold", "fold=maybe",
    "no-totals", "totals=no", "numbers=compact", "numbers=exact,params=compact", "numbers=", "precision=0",
    "precision=3", "depth=1", "depth=-1", "format=json", "format=rst", "format=html", "input=4x4x3", "input=0",
    "bias=no", "dtype=fp16", "dtype=fp99", "hide-empty", "formulas", "'", '"a b"', "=", "x=y", "\x1b[2J", "-->",
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(MARKER_WORDS, max_size=5), min_size=1, max_size=4), st.sampled_from(["README.md", "README.rst"]))
def test_sync_marker_options(tmp_path: Path, blocks: list[list[str]], name: str) -> None:
    """Any marker options: the synced text, or a SyncError naming FILE:LINE for each problem."""
    from sphinx_cnntable import sync

    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "tiny.cnn").write_text("input 8x8x3\nconv3-4\nfc-2\n", encoding="utf-8")
    rst = name.endswith(".rst")
    start, end = (".. cnn-breakdown-sync: {}", ".. end cnn-breakdown-sync") if rst else ("<!-- cnn-breakdown: {} -->", "<!-- end cnn-breakdown -->")
    text = "".join(f"{start.format(' '.join(words))}\nSTALE-BODY\n{end}\n\n" for words in blocks)
    try:
        new, count = sync.sync_text(text, str(tmp_path / name), str(tmp_path))
    except sync.SyncError as error:
        for line in str(error).splitlines():
            assert line.startswith(f"{tmp_path / name}:"), line
            assert line.split(":", 2)[1].isdigit(), line
        return
    assert count == len(blocks) and "STALE-BODY" not in new


# ----------------------------------------------------------------------------- directive options, role formats

OPTION_VALUES = {
    "input": ["4x4x3", "0", "x", "99999999999999999999999999999999", "1x1x1"],
    "bias": ["", "yes", "no", "maybe"],
    "dtype": ["fp16", "int4", "fp99", ""],
    "columns": ["name, params", "name,name", "flops", "", "rf, memory, macs"],
    "formulas": ["", "no", "please"],
    "numbers": ["compact", "exact, params=compact", "params=", "weird"],
    "precision": ["1", "0", "21", "x"],
    "fold": ["", "yes", "2"],
    "hide-empty": [""],
    "depth": ["1", "0", "-1", "99"],
    "no-totals": ["", "no"],
    "chart": ["params", "params, macs, memory", "bogus", ""],
    "chart-scale": ["log", "linear", "cubic"],
    "class": ["wide", "!!", ""],
    "name": ["net", "a b", ""],
}
DIRECTIVE_SPECS = ["input 8x8x3\nconv3-4\nfc-2", "input 4x4x3\nconv9-4 pad=0", "input 8x8x3\nrelu\u2028x\nbogus",
                   "input 1x1x1\nfc-" + "9" * 29, ""]
ROLE_FORMATS = st.tuples(
    st.sampled_from(["params", "macs", "activation_memory", "param_memory", "output_shape", "bogus"]),
    st.sampled_from(["", ":K", ":G3", ":T6", ":compact", ":compact9", ":percent6", ":MiB", ":GiB3", ":kB", ":raw", ":zz"]),
).map("".join)


@st.composite
def directives(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(sorted(OPTION_VALUES)), unique=True, max_size=5))
    options = "".join(f"   :{name}: {draw(st.sampled_from(OPTION_VALUES[name]))}\n".replace(" \n", "\n") for name in names)
    spec = draw(st.sampled_from(DIRECTIVE_SPECS))
    body = "".join(f"   {line}\n" for line in spec.splitlines())
    return f".. cnn-breakdown:: Fuzzed\n{options}\n{body}\n"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(directives(), min_size=1, max_size=12), st.lists(ROLE_FORMATS, max_size=12))
def test_directive_options_and_role_formats_in_a_build(make_app: Any, tmp_path_factory: Any, pages: list[str],
                                                       roles: list[str]) -> None:
    """Any options on any spec, any figure in any format: the build finishes, and every
    problem is one located cnntable warning, never an internal error."""
    srcdir = tmp_path_factory.mktemp("fuzz")
    (srcdir / "conf.py").write_text('extensions = ["sphinx_cnntable"]\nkeep_warnings = True\n', encoding="utf-8")
    cites = "".join(f":cnn:`net:{reference}` and :cnn:`net/fc-2:{reference}`\n\n" for reference in roles)
    (srcdir / "index.rst").write_text("Fuzz\n====\n\n" + "\n".join(pages) + "\n" + cites, encoding="utf-8")
    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()
    app.cleanup()
    for line in app.warning.getvalue().splitlines():
        if "WARNING" in line or "ERROR" in line:
            assert "please report" not in line and "Traceback" not in line, line
            assert re.search(r"index\.rst:\d+: (WARNING|ERROR)", line), line
