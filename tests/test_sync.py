"""``cnntable sync``: marked blocks regenerated, every other byte kept, all-or-nothing writes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from sphinx_cnntable import sync
from sphinx_cnntable.markers import find_blocks, split_lines

DATA = Path(__file__).parent / "data"

README = (
    "# Réseau ✓ — démo\r\n"
    "\r\n"
    "Intro with ünïcödé and a trailing space \r\n"
    "<!-- cnn-breakdown: specs/vgg16.cnn columns=name,shape,params fold -->\r\n"
    "stale text\r\n"
    "<!-- end cnn-breakdown -->\r\n"
    "\r\n"
    "```markdown\r\n"
    "<!-- cnn-breakdown: specs/not-there.cnn -->\r\n"
    "```\r\n"
    "Middle ☃\r\n"
    "<!-- cnn-breakdown: specs/tiny.cnn\r\n"
    "     numbers=compact format=json -->\r\n"
    "<!-- end cnn-breakdown -->\r\n"
    "no final newline ✓"
)
TINY = "input 8x8x3\nconv3-4\nfc-2\n"


def outside(text: str) -> list[str]:
    """The text outside marked blocks (markers included), piece by piece."""
    lines = split_lines(text)
    pieces, done = [], 0
    for block in find_blocks(lines, "markdown"):
        pieces.append("".join(lines[done:block.body]))
        done = block.end
    pieces.append("".join(lines[done:]))
    return pieces


@pytest.fixture
def readme_dir(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    shutil.copy(DATA / "vgg16.cnn", tmp_path / "specs" / "vgg16.cnn")
    (tmp_path / "specs" / "tiny.cnn").write_text(TINY, encoding="utf-8")
    (tmp_path / "README.md").write_bytes(README.encode("utf-8"))
    return tmp_path


def cnntable(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sphinx_cnntable", *args], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd, timeout=60)


def test_sync_preserves_every_other_byte(readme_dir: Path) -> None:
    result = cnntable("sync", "README.md", cwd=readme_dir)
    assert result.returncode == 0, result.stderr
    new = (readme_dir / "README.md").read_bytes()
    text = new.decode("utf-8")
    assert outside(text) == outside(README)
    assert text.endswith("no final newline ✓")
    assert "\n" not in text.replace("\r\n", "")  # CRLF kept, also in generated lines
    assert "stale text" not in text
    assert '"params": 626' in text and "```json" in text  # tiny: conv 3*3*3*4+4=112, fc 256*2+2=514
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<table>") == 1
    body = html[html.index("<table>"):html.index("</table>")]
    assert body.count("<tr>") == 1 + 14 and body.count('<th style') == 3
    assert '<td style="text-align:right">138,357,544</td>' not in body  # totals are a list, not a row
    assert "<strong>Total params:</strong> 138,357,544" in html


def test_check_stale_then_current(readme_dir: Path) -> None:
    before = (readme_dir / "README.md").read_bytes()
    stale = cnntable("sync", "--check", "README.md", cwd=readme_dir)
    assert stale.returncode == 1
    assert stale.stdout.startswith("--- a/README.md\n+++ b/README.md\n")
    assert "-stale text" in stale.stdout and "+| conv3-64 x 2 | 224x224x64 | 38,720 |" in stale.stdout
    assert (readme_dir / "README.md").read_bytes() == before
    assert cnntable("sync", "README.md", cwd=readme_dir).returncode == 0
    current = cnntable("sync", "--check", "README.md", cwd=readme_dir)
    assert current.returncode == 0 and current.stdout == "" and current.stderr == ""


def test_sync_is_idempotent_and_spec_paths_are_relative_to_the_readme(readme_dir: Path) -> None:
    assert cnntable("sync", str(readme_dir / "README.md"), cwd=readme_dir.parent).returncode == 0
    first = (readme_dir / "README.md").read_bytes()
    assert cnntable("sync", "README.md", cwd=readme_dir).returncode == 0
    assert (readme_dir / "README.md").read_bytes() == first


def test_rst_blocks(readme_dir: Path) -> None:
    source = (
        "Title\n=====\n\n"
        ".. cnn-breakdown-sync: specs/tiny.cnn columns=name,params\n"
        "   no-totals\n\n"
        ".. end cnn-breakdown-sync\n\n"
        ".. cnn-breakdown-sync: specs/tiny.cnn format=text\n"
        ".. end cnn-breakdown-sync\n"
        "\nEnde ü\n"
    )
    (readme_dir / "index.rst").write_text(source, encoding="utf-8")
    assert cnntable("sync", "index.rst", cwd=readme_dir).returncode == 0
    text = (readme_dir / "index.rst").read_text(encoding="utf-8")
    from docutils import nodes
    from docutils.core import publish_doctree

    tree = publish_doctree(text, settings_overrides={"report_level": 2, "halt_level": 2})
    tables = list(tree.findall(nodes.table))
    assert len(tables) == 1 and len(list(tables[0].findall(nodes.row))) == 4
    assert "Total" not in tables[0].astext()
    literal = next(iter(tree.findall(nodes.literal_block)))
    assert "Total params:" in literal.astext()
    assert text.endswith(".. end cnn-breakdown-sync\n\nEnde ü\n")


@pytest.mark.parametrize(
    "block, message",
    [
        ("<!-- cnn-breakdown: specs/missing.cnn -->\nold\n<!-- end cnn-breakdown -->\n",
         r"README.md:4: cannot read specs/missing.cnn"),
        ("<!-- cnn-breakdown: specs/tiny.cnn -->\nold\n", r"README.md:4: the cnn-breakdown block is not terminated"),
        ("<!-- cnn-breakdown: specs/tiny.cnn -->\n<!-- cnn-breakdown: specs/tiny.cnn -->\n<!-- end cnn-breakdown -->\n",
         r"README.md:5: a cnn-breakdown marker inside the block opened at line 4"),
        ("<!-- end cnn-breakdown -->\n", r"README.md:4: '<!-- end cnn-breakdown -->' without an opening marker"),
        ("<!-- cnn-breakdown: specs/bad.cnn -->\n<!-- end cnn-breakdown -->\n", r"README.md:4: specs/bad.cnn:3: "),
        ("<!-- cnn-breakdown: specs/tiny.cnn colums=name -->\n<!-- end cnn-breakdown -->\n",
         r"README.md:4: unknown marker option 'colums'"),
        ("<!-- cnn-breakdown: specs/tiny.cnn columns=nope -->\n<!-- end cnn-breakdown -->\n",
         r"README.md:4: columns: unknown column 'nope'"),
        ("<!-- cnn-breakdown: specs/tiny.cnn format=rst -->\n<!-- end cnn-breakdown -->\n",
         r"README.md:4: format 'rst' cannot go in this file"),
    ],
)
def test_errors_leave_the_file_unchanged(readme_dir: Path, block: str, message: str) -> None:
    (readme_dir / "specs" / "bad.cnn").write_text("input 4x4x3\nconv3-4\nconv9-4 pad=0\n", encoding="utf-8")
    good = "<!-- cnn-breakdown: specs/tiny.cnn -->\n<!-- end cnn-breakdown -->\n"
    source = "# T\n" + good + block + "tail\n"
    (readme_dir / "README.md").write_text(source, encoding="utf-8", newline="")
    for args in (("sync",), ("sync", "--check")):
        result = cnntable(*args, "README.md", cwd=readme_dir)
        assert result.returncode == 1
        assert re.match(message, result.stderr), result.stderr
        assert "Traceback" not in result.stderr
        assert (readme_dir / "README.md").read_bytes() == source.encode("utf-8")
    assert sorted(os.listdir(readme_dir)) == ["README.md", "specs"]


def test_other_files_still_synced_after_an_error(readme_dir: Path) -> None:
    (readme_dir / "broken.md").write_text("<!-- cnn-breakdown: specs/tiny.cnn -->\n", encoding="utf-8")
    result = cnntable("sync", "broken.md", "README.md", cwd=readme_dir)
    assert result.returncode == 1 and "broken.md:1:" in result.stderr
    assert "stale text" not in (readme_dir / "README.md").read_text(encoding="utf-8")


def test_missing_readme_and_usage(readme_dir: Path) -> None:
    assert cnntable("sync", "NOPE.md", cwd=readme_dir).returncode == 1
    assert cnntable("sync", cwd=readme_dir).returncode == 2
    assert cnntable("sync", "--bogus", "README.md", cwd=readme_dir).returncode == 2


def test_atomic_write_failure_keeps_the_original(readme_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def broken_replace(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    monkeypatch.chdir(readme_dir)
    assert sync.main(["README.md"]) == 1
    assert "README.md: cannot write: No space left on device" in capsys.readouterr().err
    assert (readme_dir / "README.md").read_bytes() == README.encode("utf-8")
    assert sorted(os.listdir(readme_dir)) == ["README.md", "specs"]


def test_atomic_write_keeps_mode_and_symlink_target(readme_dir: Path) -> None:
    real = readme_dir / "README.md"
    os.chmod(real, 0o640)
    link = readme_dir / "LINK.md"
    link.symlink_to("README.md")
    assert cnntable("sync", "LINK.md", cwd=readme_dir).returncode == 0
    assert link.is_symlink() and "stale text" not in real.read_text(encoding="utf-8")
    assert real.stat().st_mode & 0o777 == 0o640


def test_files_without_markers_are_untouched(readme_dir: Path) -> None:
    plain = readme_dir / "OTHER.md"
    plain.write_bytes(b"# nothing here\r\n")
    before = plain.stat().st_mtime_ns
    assert cnntable("sync", "OTHER.md", cwd=readme_dir).returncode == 0
    assert plain.read_bytes() == b"# nothing here\r\n" and plain.stat().st_mtime_ns == before


def test_pre_commit_hooks_file() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {hook["id"]: hook for hook in hooks}
    assert by_id["cnntable-sync"]["entry"] == "cnntable sync"
    assert by_id["cnntable-sync-check"]["entry"] == "cnntable sync --check"
    for hook in hooks:
        assert re.search(hook["files"], "README.md") and re.search(hook["files"], "docs/x.rst")
        assert not re.search(hook["files"], "specs/vgg16.cnn")


def test_docs_show_markers_without_triggering_them() -> None:
    docs = Path(__file__).parent.parent / "docs"
    text = (docs / "readmes.md").read_text(encoding="utf-8")
    assert "<!-- cnn-breakdown:" in text
    assert find_blocks(split_lines(text), "markdown") == []


def test_regression_every_problem_of_a_file_in_one_run(readme_dir: Path) -> None:
    # one problem per run used to take four runs to find four problems
    (readme_dir / "specs" / "bad.cnn").write_text("input 4x4x3\nconv3-4\nconv9-4 pad=0\n", encoding="utf-8")
    source = (
        "# T\n"
        "<!-- cnn-breakdown: specs/tiny.cnn colums=name -->\n<!-- end cnn-breakdown -->\n"  # 2
        "<!-- cnn-breakdown: specs/missing.cnn -->\n<!-- end cnn-breakdown -->\n"  # 4
        "<!-- cnn-breakdown: specs/tiny.cnn -->\n<!-- end cnn-breakdown -->\n"  # 6: fine
        "<!-- end cnn-breakdown -->\n"  # 8
        "<!-- cnn-breakdown: specs/bad.cnn -->\n<!-- end cnn-breakdown -->\n"  # 9
        "<!-- cnn-breakdown: specs/tiny.cnn numbrs=compact fold -->\n<!-- end cnn-breakdown -->\n"  # 11
    )
    (readme_dir / "README.md").write_text(source, encoding="utf-8", newline="")
    for args in (("sync",), ("sync", "--check")):
        result = cnntable(*args, "README.md", cwd=readme_dir)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            "README.md:2: unknown marker option 'colums' (did you mean 'columns'? one of format, input, bias, dtype, "
            "columns, numbers, precision, depth, batch, training, macs-per, formulas, fold, hide-empty, totals, no-totals)",
            "README.md:4: cannot read specs/missing.cnn: No such file or directory",
            "README.md:8: '<!-- end cnn-breakdown -->' without an opening marker",
            "README.md:9: specs/bad.cnn:3: conv9-4: kernel 9x9 is larger than the padded input 4x4",
            "README.md:11: unknown marker option 'numbrs' (did you mean 'numbers'? one of format, input, bias, dtype, "
            "columns, numbers, precision, depth, batch, training, macs-per, formulas, fold, hide-empty, totals, no-totals)",
        ], result.stderr
        assert (readme_dir / "README.md").read_bytes() == source.encode("utf-8")


def test_regression_edit_during_sync_is_not_overwritten(readme_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # an edit made while sync ran was silently overwritten
    edited = README.replace("Middle", "Edited meanwhile").encode("utf-8")
    original_render = sync.render

    def render_while_someone_edits(*args: object, **kwargs: object) -> str:
        (readme_dir / "README.md").write_bytes(edited)
        return original_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sync, "render", render_while_someone_edits)
    monkeypatch.chdir(readme_dir)
    assert sync.main(["README.md"]) == 1
    assert capsys.readouterr().err == "README.md: changed while being synced; nothing written (run cnntable sync again)\n"
    assert (readme_dir / "README.md").read_bytes() == edited
    assert sorted(os.listdir(readme_dir)) == ["README.md", "specs"]
    monkeypatch.setattr(sync, "render", original_render)
    assert sync.main(["README.md"]) == 0 and b"Edited meanwhile" in (readme_dir / "README.md").read_bytes()


def test_regression_stale_temporary_files_are_cleaned(readme_dir: Path) -> None:
    # kill -9 during a sync left .README.md.*.tmp files behind for ever
    ours = [".README.md.k3j_a9z0.tmp", ".README.md.00000000.tmp"]
    others = [".README.md.tmp", ".README.md.toolong123.tmp", ".OTHER.md.k3j_a9z0.tmp", "notes.tmp"]
    for name in ours + others:
        (readme_dir / name).write_text("half-written", encoding="utf-8")
    check = cnntable("sync", "--check", "README.md", cwd=readme_dir)
    assert check.returncode == 1 and all((readme_dir / name).exists() for name in ours)  # --check writes nothing
    assert cnntable("sync", "README.md", cwd=readme_dir).returncode == 0
    assert sorted(os.listdir(readme_dir)) == sorted(["README.md", "specs", *others])


def test_symlinked_readme_resolves_specs_from_the_name_given(readme_dir: Path) -> None:
    """The rule: spec paths are relative to the file as named on the command line. A link
    README.md -> docs/README.md with specs/ next to the link syncs through the link (and
    writes the target); the target named directly looks for docs/specs/."""
    (readme_dir / "docs").mkdir()
    (readme_dir / "README.md").rename(readme_dir / "docs" / "README.md")
    (readme_dir / "README.md").symlink_to(Path("docs") / "README.md")
    direct = cnntable("sync", "docs/README.md", cwd=readme_dir)
    assert direct.returncode == 1 and "docs/README.md:4: cannot read specs/vgg16.cnn" in direct.stderr
    assert cnntable("sync", "README.md", cwd=readme_dir).returncode == 0
    assert (readme_dir / "README.md").is_symlink()
    assert "stale text" not in (readme_dir / "docs" / "README.md").read_text(encoding="utf-8")


def test_check_diff_shows_control_characters(readme_dir: Path) -> None:
    text = README.replace("stale text", "stale \x1b]0;pwned\x07 text")
    (readme_dir / "README.md").write_bytes(text.encode("utf-8"))
    result = cnntable("sync", "--check", "README.md", cwd=readme_dir)
    assert result.returncode == 1 and "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "-stale \\x1b]0;pwned\\x07 text\n" in result.stdout
