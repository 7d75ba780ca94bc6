"""The real ``cnntable`` command, run as a subprocess (``python -m`` and the console script)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

DATA = Path(__file__).parent / "data"
VGG = DATA / "vgg16.cnn"
SCRIPT = Path(sys.executable).with_name("cnntable.exe" if os.name == "nt" else "cnntable")


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, script: bool = False,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "sphinx_cnntable"]
    environment = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    environment.update(env or {})
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, encoding="utf-8",
        env=environment, cwd=cwd, timeout=60,
    )


def vgg_json(*extra: str) -> dict:
    result = run(str(VGG), "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_matches_published_vgg16_figures() -> None:
    data = vgg_json()
    totals = data["totals"]
    assert totals["params"] == 138_357_544
    assert totals["weights"] == 138_344_128
    assert totals["biases"] == 138_357_544 - 138_344_128
    assert totals["activations"] == 15_237_608
    assert totals["macs"] == 15_470_264_320
    assert totals["trainable_params"] == 138_357_544 and totals["non_trainable_params"] == 0
    assert totals["activation_bytes"] == 4 * 15_237_608  # float32
    assert data["output_shape"] == [1000]
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert data["layers"][0]["name"] == "input" and data["layers"][0]["output_shape"] == [224, 224, 3]
    assert layers["conv1_1"]["params"] == 1_792
    assert layers["conv1_1"]["output_shape"] == [224, 224, 64]
    assert layers["pool5"]["receptive_field"] == 212
    assert layers["pool5"]["output_shape"] == [7, 7, 512]
    assert layers["fc6"]["params"] == 25088 * 4096 + 4096
    for layer in data["layers"]:
        assert {"name", "output_shape", "params", "macs", "activations", "receptive_field"} <= set(layer)
        assert isinstance(layer["receptive_field"], int)
    assert sum(layer["params"] for layer in data["layers"]) == totals["params"]


def test_json_dtype_memory() -> None:
    assert vgg_json("--dtype", "fp16")["totals"]["param_bytes"] == 2 * 138_357_544


def test_console_script_and_module_agree() -> None:
    assert SCRIPT.exists(), SCRIPT
    by_script = run(str(VGG), "--format", "csv", script=True)
    by_module = run(str(VGG), "--format", "csv")
    assert by_script.returncode == 0 and by_script.stdout == by_module.stdout


def test_text_format() -> None:
    result = run(str(VGG), "--numbers", "compact", "--color", "always", env={"NO_COLOR": ""})
    assert result.returncode == 0
    assert "\x1b[" in result.stdout
    plain = run(str(VGG))
    lines = plain.stdout.splitlines()
    assert lines[0].split() == ["Layer", "Output", "shape", "Activations", "Params", "MACs"]
    conv = next(line for line in lines if line.startswith("conv1_1 "))
    assert conv.split()[-2:] == ["1,792", "86,704,128"]
    assert lines[0].index("Params") + len("Params") == conv.index("1,792") + len("1,792")  # right-aligned
    assert "Total params:" in plain.stdout and "138,357,544" in plain.stdout
    assert "\x1b[" not in plain.stdout  # auto: not a terminal


def test_text_indents_nested_rows() -> None:
    spec = "input 8x8x3\nstage:\n  conv3-4\n  inner:\n    conv3-4\nfc-2\n"
    result = run("-", "--columns", "name,params", "--no-totals", stdin=spec)
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    rows = result.stdout.splitlines()[2:]
    assert rows[2].startswith("  conv3-4") and rows[4].startswith("    conv3-4")
    assert names[0] == "input" and "Total" not in result.stdout


def test_no_color_env_and_auto() -> None:
    assert "\x1b[" not in run(str(VGG), env={"NO_COLOR": "1"}).stdout
    assert "\x1b[" not in run(str(VGG), "--color", "never").stdout
    assert "\x1b[" not in run(str(VGG), "--color", "auto", env={"NO_COLOR": "1"}).stdout


def test_no_color_auto_on_a_terminal() -> None:
    pty = pytest.importorskip("pty")
    import select

    def colored(env: dict[str, str]) -> bool:
        leader, follower = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "sphinx_cnntable", str(VGG)], stdout=follower,
                                   stderr=subprocess.PIPE, env={**os.environ, **env})
        os.close(follower)
        chunks = b""
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks += chunk
        process.wait(30)
        os.close(leader)
        return b"\x1b[" in chunks

    clean = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    assert colored({**clean, "NO_COLOR": ""}) is True
    assert colored({**clean, "NO_COLOR": "1"}) is False


def test_markdown_renders_as_a_table() -> None:
    result = run(str(VGG), "--format", "markdown", "--columns", "name,shape,params")
    assert result.returncode == 0
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert html.count("<table>") == 1
    assert html.count("<tr>") == 1 + 22  # header + input + 21 layers
    assert html.count("<th ") == 3
    assert '<td style="text-align:right">1,792</td>' in html
    assert "<li><strong>Total params:</strong> 138,357,544</li>" in html


def test_markdown_and_rst_escape_user_text() -> None:
    from sphinx_cnntable.render_text import render_markdown, render_rst
    from sphinx_cnntable.table import COLUMNS, Cell, Table, TableRow

    nasty = "a|b *c* _d_ <i>x</i> [l](u) `t` & conv1_1"
    table = Table([COLUMNS["name"], COLUMNS["params"]], [TableRow((Cell(nasty), Cell("7", True)), "layer", 1, nasty, 1)])
    html = MarkdownIt("commonmark").enable("table").render(render_markdown(table))
    assert html.count("<td") == 2 and "<em>" not in html and "<a " not in html and "<code>" not in html
    assert "&nbsp;&nbsp;a|b *c* _d_ &lt;i&gt;x&lt;/i&gt; [l](u) `t` &amp; conv1_1</td>" in html.replace("\xa0", "&nbsp;")

    from docutils.core import publish_doctree

    tree = publish_doctree(render_rst(table), settings_overrides={"report_level": 2, "halt_level": 2})
    assert nasty in tree.astext()


def test_nesting_marks_the_name_column_wherever_it_stands() -> None:
    # Regression: the indent and the group's bold went on the first column, so
    # `--columns params,name` printed "**224**" and "&nbsp;&nbsp;224" among the numbers.
    spec = "input 8x8x3\nstem:\n  conv3-8\nfc-10\n"  # conv3-8: 3*3*3*8 + 8 = 224
    args = ("-", "--columns", "params,name", "--no-totals")
    markdown = run(*args, "--format", "markdown", stdin=spec).stdout.splitlines()
    assert markdown[3:5] == ["| 224 | **stem** |", "| 224 | &nbsp;&nbsp;conv3-8 |"]
    rst = run(*args, "--format", "rst", stdin=spec).stdout
    assert "   * - 224\n     - **stem**\n   * - 224\n     - \u2003conv3-8\n" in rst
    text = run(*args, stdin=spec).stdout.splitlines()
    assert [line.split() for line in text[3:5]] == [["224", "stem"], ["224", "conv3-8"]]
    assert text[4].endswith("    conv3-8")  # two columns apart, then two spaces per depth


def test_rst_renders_with_docutils() -> None:
    from docutils.core import publish_doctree
    from docutils import nodes

    result = run(str(VGG), "--format", "rst", "--fold", "--columns", "name,params")
    assert result.returncode == 0
    tree = publish_doctree(result.stdout, settings_overrides={"report_level": 2, "halt_level": 2})
    tables = list(tree.findall(nodes.table))
    assert len(tables) == 1
    rows = list(tables[0].findall(nodes.row))
    assert len(rows) == 1 + 14  # header, input, 13 folded or single rows
    assert rows[2].astext().split() == ["conv3-64", "x", "2", "38,720"]


def test_csv_raw_integers() -> None:
    result = run(str(VGG), "--format", "csv", "--numbers", "compact", "--formulas")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["Layer", "Output shape", "Activations", "Params", "MACs", "Depth"]
    conv = next(row for row in rows if row[0] == "conv1_1")
    assert conv == ["conv1_1", "224x224x64", "3211264", "1792", "86704128", "0"]
    assert sum(int(row[3]) for row in rows[1:]) == 138_357_544


def test_stdin_and_options() -> None:
    spec = "input 32x32x3\nconv3-16\nfc-10\n"
    result = run("-", "--format", "json", "--bias", "no", "--input", "16x16x3", stdin=spec)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["layers"][1]["params"] == 3 * 3 * 3 * 16
    assert data["layers"][2]["params"] == 16 * 16 * 16 * 10


def test_formulas_depth_hide_empty() -> None:
    result = run(str(VGG), "--formulas", "--hide-empty", "--no-totals", "--columns", "name,params")
    assert "maxpool" not in result.stdout and "1,728 + 64 = 1,792" in result.stdout
    spec = "input 8x8x3\nstage:\n  conv3-4\n  conv3-4\n"
    shallow = run("-", "--depth", "1", "--columns", "name", "--no-totals", stdin=spec)
    assert shallow.stdout.split()[2:] == ["input", "stage"]


@pytest.mark.parametrize("given, shown", [(None, "spec.cnn"), ("-", "<stdin>")])
def test_spec_error_exit_1(tmp_path: Path, given: str | None, shown: str) -> None:
    spec = "input 8x8x3\nconv3-4\nconv9-4 pad=0\n"
    (tmp_path / "spec.cnn").write_text(spec, encoding="utf-8")
    result = run(given or "spec.cnn", stdin=spec if given else None, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{shown}:3: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_missing_and_non_utf8_file_exit_1(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope.cnn"))
    assert missing.returncode == 1 and "nope.cnn: cannot read" in missing.stderr
    (tmp_path / "latin.cnn").write_bytes(b"input 8x8x3\nconv3-4 # caf\xe9\n")
    latin = run(str(tmp_path / "latin.cnn"))
    assert latin.returncode == 1 and "not UTF-8" in latin.stderr and "Traceback" not in latin.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--columns", "name,bogus"],
        ["--dtype", "float7"],
        ["--format", "xml"],
        ["--input", "3x3x3x3x3"],
        ["--bias", "maybe"],
        ["--depth", "0"],
        ["--precision", "0"],
        ["--precision", "21"],  # 1 to 20, as the directive's :precision:
        ["--numbers", "roman"],
        ["--color", "sometimes"],
        ["--bogus"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*([str(VGG)] if args else []), *args)
    assert result.returncode == 2, result.stderr
    assert "usage: cnntable" in result.stderr and "Traceback" not in result.stderr


def test_precision_goes_up_to_20_as_in_the_directive() -> None:
    spec = "input 8x8x3\nfc-12345\n"  # fc-12345: 8*8*3*12345 + 12345 = 2,382,585 params
    result = run("-", "--numbers", "compact", "--precision", "20", "--columns", "name,params", "--no-totals", stdin=spec)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["fc-12345", "2.382585M"]


def test_help_has_examples() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "cnntable specs/vgg16.cnn --format json" in result.stdout
    assert "exit status:" in result.stdout


def test_spec_file_named_sync(tmp_path: Path) -> None:
    shutil.copy(VGG, tmp_path / "sync")
    result = run("./sync", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["totals"]["params"] == 138_357_544
    assert run("sync", cwd=tmp_path).returncode == 2  # the subcommand, without files


def test_unicode_spec_and_output(tmp_path: Path) -> None:
    spec = "# Größe ✓\ninput 8x8x3\nconv3-4 ×2\n"
    (tmp_path / "u.cnn").write_text(spec, encoding="utf-8")
    result = run(str(tmp_path / "u.cnn"), env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert result.returncode == 0, result.stderr


NASTY_SPEC = "input 8x8x3\ndefine b n=1:\n  relu\nb n=\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f\nb n=javascript:alert(1)\nb n=me@example.com\n"
CONTROLS = {chr(code) for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} - {"\n"}


@pytest.mark.parametrize("fmt", ["text", "markdown", "rst", "csv", "json"])
def test_regression_control_characters_never_reach_the_terminal(fmt: str) -> None:
    # ESC ] 0 ; ... BEL set the terminal's title and ESC [ 2 J cleared the screen
    result = run("-", "--format", fmt, "--color", "never", stdin=NASTY_SPEC)
    assert result.returncode == 0, result.stderr
    assert not CONTROLS & set(result.stdout), sorted(CONTROLS & set(result.stdout))
    shown = json.loads(result.stdout)["layers"][1]["name"] if fmt == "json" else result.stdout
    assert "pwned" in shown


def test_control_characters_are_shown_as_escapes() -> None:
    text = run("-", "--color", "always", stdin=NASTY_SPEC).stdout
    assert "b n=\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7f" in text
    assert "\x1b[1m" in text  # our own colours still work
    data = json.loads(run("-", "--format", "json", stdin=NASTY_SPEC).stdout)
    assert data["layers"][1]["name"] == "b n=\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f"  # JSON keeps the text exactly
    error = run("-", stdin="input 8x8x3\nrelu\x1b[2J\n")
    assert error.returncode == 1 and "\x1b" not in error.stderr and "\\x1b" in error.stderr


def test_regression_rst_output_links_nothing() -> None:
    from docutils.core import publish_doctree
    from docutils import nodes

    result = run("-", "--format", "rst", stdin=NASTY_SPEC)
    assert result.returncode == 0
    assert "javascript\\:alert(1)" in result.stdout
    tree = publish_doctree(result.stdout, settings_overrides={"report_level": 2, "halt_level": 2})
    assert not list(tree.findall(nodes.reference)) and not list(tree.findall(nodes.target))
    assert "b n=javascript:alert(1)" in tree.astext() and "b n=me@example.com" in tree.astext()


def test_regression_repeated_columns_are_refused() -> None:
    result = run(str(VGG), "--columns", "name,params,name")
    assert result.returncode == 2 and "column 'name' is given twice" in result.stderr
