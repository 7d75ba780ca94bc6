"""``cnntable myst-plugin``, the mystmd (Jupyter Book 2) executable plugin.

The protocol is tested by running the plugin as mystmd does (a process per call, JSON
on stdin and stdout); the whole path with a real ``mystmd`` from npm: ``myst build
--md --jats`` on a small site, reading every number and message back from ``out.md``
and the JATS XML, and comparing them with a Sphinx build of the same page.

Reference numbers (by hand): ``conv3-4`` on 8x8x3 holds 3*3*3*4 + 4 = 112 parameters and
does 3*3*3*4 * 8*8 = 6,912 MACs; ``conv3-4`` on 8x8x4 holds 3*3*4*4 + 4 = 148 and does
9,216; ``bn`` on 4 channels holds 8 trainable + 8 running statistics = 16; ``fc-10`` on
8*8*4 = 256 inputs holds 2,560 + 10 = 2,570 and does 2,560. Total 112 + 148 + 16 + 2,570 =
2,846 (2,838 trainable, 8 not); activations 192 + 3*256 + 10 = 970 elements, 3,880 bytes in
float32.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PLUGIN = [sys.executable, "-m", "sphinx_cnntable", "myst-plugin"]
ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
"""The plugin's processes import this checkout's package, whatever their working folder."""
TINY = "input 8x8x3\nstem: conv3-4\nblock:\n  conv3-4\n  bn\nhead: fc-10\n"
TOTALS = {
    "Total params": "2,846",
    "Trainable params": "2,838",
    "Non-trainable params (batch-norm running statistics)": "8",
    "Weights": "2,816",
    "Biases": "22",
    "MACs (conv, fc and attention multiply-accumulates)": "18,688",
    "Activations (elements, input included)": "970",
    "Activation memory (float32)": "3,880 B (3.88 kB, 3.79 KiB)",
    "Parameter memory (float32)": "11,384 B (11.38 kB, 11.12 KiB)",
}
LAYERS = [
    ["input", "8x8x3", "0", "0"],
    ["stem", "8x8x4", "112", "6,912"],
    ["block", "8x8x4", "164", "9,216"],
    ["conv3-4", "8x8x4", "148", "9,216"],
    ["bn", "8x8x4", "16", "0"],
    ["head", "10", "2,570", "2,560"],
]
BAD_KEYWORD = "conv3-16: unknown keyword 'frobnicate' (allowed: bias, dilation, groups, pad, stride)"


def call(args: list[str], data: Any = None, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    """Run the plugin as mystmd does and read its JSON answer."""
    done = subprocess.run(
        PLUGIN + args,
        input=json.dumps(data) if data is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**ENV, **(env or {})},
        cwd=cwd,
        check=True,
    )
    return json.loads(done.stdout)


def directive_data(body: str | None, options: dict[str, str], line: int = 3, arg: Any = None) -> dict[str, Any]:
    """What mystmd sends for a directive opening on ``line``, its body after the options."""
    children = [{"type": "mystDirectiveBody", "position": {"start": {"line": line + len(options) + 2}}}] if body else []
    node = {"type": "mystDirective", "name": "cnn-breakdown", "position": {"start": {"line": line}}, "children": children}
    return {"name": "cnn-breakdown", "node": node, "options": options, "body": body, "arg": arg}


def texts(node: Any) -> str:
    if isinstance(node, list):
        return "".join(texts(child) for child in node)
    if node.get("type") in ("text", "inlineCode"):
        return node.get("value", "")
    return texts(node.get("children", []))


def test_specification_names_the_directive_role_and_transform() -> None:
    spec = call([])
    assert [d["name"] for d in spec["directives"]] == ["cnn-breakdown"]
    assert set(spec["directives"][0]["options"]) >= {"name", "columns", "file", "formulas", "numbers", "depth", "chart"}
    assert [r["name"] for r in spec["roles"]] == ["cnn"]
    assert spec["transforms"] == [{"name": "cnn-figures", "doc": "Resolve {cnn} citations.", "stage": "project"}]


def test_directive_answers_with_a_real_table(tmp_path: Path) -> None:
    caption = [{"type": "text", "value": "Tiny"}]
    options = {"name": "tiny", "columns": "name, shape, params, macs"}
    (container,) = call(["--directive", "cnn-breakdown"], directive_data(TINY, options, arg=caption),
                        env={"CNNTABLE_MYST_STORE": str(tmp_path)})
    assert container["type"] == "container" and container["kind"] == "table"
    assert container["label"] == "tiny" and container["identifier"] == "tiny"
    caption_node, table = container["children"]
    assert caption_node["type"] == "caption" and texts(caption_node) == "Tiny"
    assert table["type"] == "table"
    header, *rows = table["children"]
    assert [texts(cell) for cell in header["children"]] == ["Layer", "Output shape", "Params", "MACs"]
    assert all(cell["header"] for cell in header["children"])
    assert [cell.get("align") for cell in header["children"]] == [None, None, "right", "right"]
    layers = [[texts(cell).lstrip("\u2003") for cell in row["children"]] for row in rows[: len(LAYERS)]]
    assert layers == LAYERS
    totals = {texts(row["children"][0]): texts(row["children"][-1]) for row in rows[len(LAYERS):]}
    assert totals == TOTALS
    assert rows[len(LAYERS)]["children"][0]["colspan"] == 3
    assert rows[2]["children"][0]["children"][0]["type"] == "strong"  # the group row


@pytest.mark.parametrize(
    ("options", "body", "message", "where"),
    [
        ({"depth": "zero"}, TINY, ":depth: expected a whole number 1 or more, got 'zero'", "line 3"),
        ({"columns": "name, bogus"}, TINY, ":columns: unknown column 'bogus'", "line 3"),
        ({"formulas": "maybe"}, TINY, ":formulas: expected no value (or yes/no), got 'maybe'", "line 3"),
        ({}, "input 8x8x3\nconv3-16 frobnicate=1", BAD_KEYWORD, "line 6"),  # the body opens on line 5
        ({"file": "nosuch.cnn"}, None, "spec file 'nosuch.cnn' not found", "line 3"),
        ({}, None, "no spec: give it as the directive's content or in :file:", "line 3"),
    ],
)
def test_directive_problems_read_as_the_sphinx_warnings(
    tmp_path: Path, options: dict[str, str], body: str | None, message: str, where: str
) -> None:
    (admonition,) = call(["--directive", "cnn-breakdown"], directive_data(body, options),
                         env={"CNNTABLE_MYST_STORE": str(tmp_path)}, cwd=tmp_path)
    assert admonition["type"] == "admonition" and admonition["kind"] == "error"
    assert texts(admonition["children"][1]).startswith(f"cnn-breakdown: {message}")
    assert texts(admonition["children"][1]).endswith(f"(at {where})")


def test_role_then_transform_resolve_across_calls(tmp_path: Path) -> None:
    env = {"CNNTABLE_MYST_STORE": str(tmp_path)}
    call(["--directive", "cnn-breakdown"], directive_data(TINY, {"name": "Tiny"}), env=env)
    paragraph: dict[str, Any] = {"type": "paragraph", "children": []}
    for reference in ("tiny:params", "tiny/block/bn:non_trainable", "tiny/5:params", "tiny:bogus", "tiny/blok:params"):
        role = call(["--role", "cnn"], {"name": "cnn", "body": reference, "node": {"position": {"start": {"line": 9}}}},
                    env=env)
        paragraph["children"] += [*role, {"type": "text", "value": " | "}]
    tree = call(["--transform", "cnn-figures"], {"type": "root", "children": [paragraph]}, env=env)
    assert texts(tree).split(" | ")[:-1] == [
        "2,846",
        "8",
        "16",  # spec line 5: bn
        "tiny:bogus [cnn: unknown figure 'bogus' (one of params, trainable_params, non_trainable_params, weights, "
        "biases, macs, activations, activation_memory, param_memory, output_shape, input_shape, saved_memory, "
        "gradient_memory, optimizer_memory, training_memory, batch; a row figure needs BREAKDOWN/ROW)]",
        "tiny/blok:params [cnn: breakdown 'tiny' has no row 'blok' (did you mean block, block/bn?)]",
    ]


def test_init_writes_an_executable_plugin_file(tmp_path: Path) -> None:
    path = tmp_path / "cnntable_plugin.py"
    subprocess.run([*PLUGIN, "--init", str(path), "--python", sys.executable], check=True, capture_output=True, env=ENV)
    assert os.access(path, os.X_OK)
    spec = json.loads(subprocess.run([str(path)], check=True, capture_output=True, text=True, env=ENV).stdout)
    assert spec["name"] == "sphinx-cnntable"


# -- a real mystmd ------------------------------------------------------------------

PAGE = """\
# Networks

```{cnn-breakdown} Tiny *network*
:name: tiny
:columns: name, shape, params, macs

input 8x8x3
stem: conv3-4
block:
  conv3-4
  bn
head: fc-10
```

Cited here: {cnn}`tiny:params` parameters, {cnn}`tiny/block/bn:params` in the bn,
{cnn}`tiny:activation_memory:B` of activations; {cnn}`tiny/blok:params` is a typo.

```{cnn-breakdown}
:depth: zero

input 8x8x3
```

```{cnn-breakdown} Bad
:columns: name, params

input 8x8x3
conv3-16 frobnicate=1
```

```{cnn-breakdown}
:file: specs/bad.cnn
```
"""
CITING = """\
# Prose

The tiny network has {cnn}`tiny:params` parameters ({cnn}`tiny/stem:params:percent` in its stem)
and {cnn}`tiny:macs` MACs; {cnn}`nosuch:params` names no table.
"""
MYST_YML = """\
version: 1
project:
  title: cnntable
  toc:
    - file: index.md
    - file: prose.md
  plugins:
    - type: executable
      path: cnntable_plugin.py
  exports:
    - format: md
      articles: [index.md]
      output: _build/exports/out.md
    - format: md
      articles: [prose.md]
      output: _build/exports/prose.md
    - format: jats
      output: _build/exports/out.xml
"""


def _myst() -> str | None:
    """The ``myst`` command: ``$CNNTABLE_MYST``, else ``myst`` on PATH."""
    found = os.environ.get("CNNTABLE_MYST") or shutil.which("myst")
    return found if found and shutil.which("node") else None


@pytest.fixture(scope="module")
def myst_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    myst = _myst()
    if myst is None:
        pytest.skip("needs Node and mystmd (npm install mystmd; set CNNTABLE_MYST or put myst on PATH)")
    site = tmp_path_factory.mktemp("myst-site")
    (site / "myst.yml").write_text(MYST_YML, encoding="utf-8")
    (site / "index.md").write_text(PAGE, encoding="utf-8")
    (site / "prose.md").write_text(CITING, encoding="utf-8")
    (site / "specs").mkdir()
    (site / "specs" / "bad.cnn").write_text("input 8x8x3\nconv3-16 frobnicate=1\n", encoding="utf-8")
    subprocess.run([*PLUGIN, "--init", str(site / "cnntable_plugin.py"), "--python", sys.executable], check=True,
                   capture_output=True, env=ENV)
    done = subprocess.run([myst, "build", "--md", "--jats"], cwd=site, env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sphinx-cnntable (cnntable_plugin.py) loaded: 1 directive, 1 role, 1 transform" in done.stdout + done.stderr
    return site / "_build" / "exports"


@pytest.mark.slow
def test_mystmd_markdown_export(myst_site: Path) -> None:
    out = (myst_site / "out.md").read_text(encoding="utf-8")
    assert ":::{list-table} Tiny *network*" in out and ":name: tiny" in out
    cells = re.findall(r"^\s*\*?\s*\*\s+(.*)$", out, flags=re.MULTILINE)
    for row in LAYERS:
        for text in row:
            assert any(cell.strip("*\u2003 ") == text for cell in cells), text
    for label, value in TOTALS.items():
        assert f"**{label}**" in out and value in out
    assert "Cited here: 2,846 parameters, 16 in the bn,\n3,880 B of activations" in out
    assert "`tiny/blok:params` \\[cnn: breakdown 'tiny' has no row 'blok' (did you mean block, block/bn?)]" in out
    prose = (myst_site / "prose.md").read_text(encoding="utf-8")
    assert "The tiny network has 2,846 parameters (3.9% in its stem)\nand 18,688 MACs" in prose
    assert "`nosuch:params` \\[cnn: no cnn-breakdown named 'nosuch']" in prose
    assert "cnn-breakdown: :depth: expected a whole number 1 or more, got 'zero' (at line 18)" in out
    assert f"cnn-breakdown: {BAD_KEYWORD} (at line 28)" in out
    assert f"cnn-breakdown: {BAD_KEYWORD} (at specs/bad.cnn:2)" in out


@pytest.mark.slow
def test_mystmd_jats_export(myst_site: Path) -> None:
    from defusedxml import ElementTree

    root = ElementTree.parse(myst_site / "out.xml").getroot()
    (wrap,) = root.iter("table-wrap")
    assert "".join(wrap.find("caption").itertext()).strip() == "Tiny network"
    rows = [[("".join(cell.itertext()), cell.get("align"), cell.get("colspan")) for cell in row] for row in wrap.iter("tr")]
    assert [text for text, _, _ in rows[0]] == ["Layer", "Output shape", "Params", "MACs"]
    assert [[text.lstrip("\u2003") for text, _, _ in row] for row in rows[1 : 1 + len(LAYERS)]] == LAYERS
    assert all(align == "right" for row in rows[1 : 1 + len(LAYERS)] for _, align, _ in row[2:])
    totals = rows[1 + len(LAYERS) :]
    assert {row[0][0]: row[-1][0] for row in totals} == TOTALS
    assert all(row[0][2] == "3" and row[-1][1] == "right" for row in totals)
    paragraphs = ["".join(p.itertext()) for p in root.iter("p")]
    assert any(p.startswith("Cited here: 2,846 parameters, 16 in the bn,") for p in paragraphs), paragraphs
    assert any("The tiny network has 2,846 parameters (3.9% in its stem)" in p for p in paragraphs), paragraphs
    assert any("tiny/blok:params [cnn: breakdown 'tiny' has no row 'blok' (did you mean block, block/bn?)] is a typo"
               in p for p in paragraphs), paragraphs
    assert any("nosuch:params [cnn: no cnn-breakdown named 'nosuch'] names no table" in p for p in paragraphs)
    errors = ["".join(box.itertext()).split("cnn-breakdown", 2)[-1].strip() for box in root.iter("boxed-text")]
    assert errors == [
        ": :depth: expected a whole number 1 or more, got 'zero' (at line 18)",
        f": {BAD_KEYWORD} (at line 28)",
        f": {BAD_KEYWORD} (at specs/bad.cnn:2)",
    ]


@pytest.mark.slow
def test_mystmd_and_sphinx_agree(myst_site: Path, project: Any, tables: Any) -> None:
    """The same page built by Sphinx (myst-parser): the same rows and the same messages."""
    app = project(PAGE, md=True, files={"specs/bad.cnn": "input 8x8x3\nconv3-16 frobnicate=1\n"})
    warnings = re.findall(r"index\.md:(\d+): WARNING: cnn(?:-breakdown)?: (.*?) \[cnntable", app.warning.getvalue())
    sphinx = {(message, line) for line, message in warnings}
    (table,) = [t for t in tables((Path(app.outdir) / "index.html").read_text(encoding="utf-8")) if "cnntable" in t.classes]
    assert [[cell.lstrip("\u2003\xa0\u00b7 ") for cell in row.texts] for row in table.layers] == LAYERS
    out = (myst_site / "out.md").read_text(encoding="utf-8")
    for message, line in sphinx:
        if message.startswith("breakdown 'tiny' has no row"):
            assert message.replace("_", "\\_") in out
        else:
            assert f"cnn-breakdown: {message} (at line {line})" in out, (message, line)
    assert {message for message, _line in sphinx} == {
        "breakdown 'tiny' has no row 'blok' (did you mean block, block/bn?)",
        ":depth: expected a whole number 1 or more, got 'zero'",
        BAD_KEYWORD,
    }


def test_duplicate_names_and_classes(tmp_path: Path) -> None:
    env = {"CNNTABLE_MYST_STORE": str(tmp_path)}
    first = call(["--directive", "cnn-breakdown"], directive_data(TINY, {"name": "tiny", "class": "wide Narrow"}), env=env)
    assert first[0]["class"] == "cnntable wide narrow"
    again = call(["--directive", "cnn-breakdown"], directive_data(TINY, {"name": "tiny"}), env=env)
    assert [node["type"] for node in again] == ["container"]  # the same table met again (one read per export)
    other = call(["--directive", "cnn-breakdown"], directive_data("input 4x4x1\nfc-2", {"name": "Tiny"}, line=30), env=env)
    assert [node["type"] for node in other] == ["admonition", "container"]
    assert texts(other[0]["children"][1]) == (
        "cnn-breakdown: duplicate name 'Tiny' (also at line 3); citations use the first (at line 30)"
    )


def test_chart_gives_the_summary_line(tmp_path: Path) -> None:
    nodes = call(["--directive", "cnn-breakdown"], directive_data(TINY, {"chart": "params"}),
                 env={"CNNTABLE_MYST_STORE": str(tmp_path)})
    assert [node["type"] for node in nodes] == ["container", "paragraph"]
    # head holds 2,570 of 2,846 parameters: 90.3%
    assert texts(nodes[1]).startswith("Largest by params: head (90.3%)"), texts(nodes[1])
    (bad,) = call(["--directive", "cnn-breakdown"], directive_data(TINY, {"chart": "params", "chart-scale": "cubic"}),
                  env={"CNNTABLE_MYST_STORE": str(tmp_path)})[1:]
    assert texts(bad["children"][1]).startswith("cnn-breakdown: :chart: unknown chart scale 'cubic'")


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked with signal 0 on POSIX only")
def test_store_is_per_mystmd_process_and_old_ones_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sphinx_cnntable import myst_plugin

    monkeypatch.delenv("CNNTABLE_MYST_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    base = Path("_build", "temp", "cnntable")
    dead = base / "2147483646"  # above any pid_max: never a live process
    dead.mkdir(parents=True)
    (dead / "x.json").write_text("{}", encoding="utf-8")
    assert myst_plugin.store_dir() == base / str(os.getppid())
    assert not dead.exists()
