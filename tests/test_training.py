"""``:batch:`` / ``:training:`` through real Sphinx builds (reST and MyST), the CLI and
the mystmd plugin's shared option parsing. Expected figures are PyTorch's measure as
published in issue 12 (ResNet-18: 22,256,640 B saved at batch 1, 44,436,480 B at batch 2)."""

from __future__ import annotations

from pathlib import Path

from html_tables import read_tables
from sphinx.util.console import strip_escape_sequences

from sphinx_cnntable.options import OptionError, directive_options

ROOT = Path(__file__).resolve().parents[1]
RESNET18 = (ROOT / "docs" / "gallery" / "specs" / "resnet18.cnn").read_text()
RESNET18_PARAMS = 11_689_512  # torchvision's resnet18
SAVED_1, SAVED_2 = 22_256_640, 44_436_480


def _rst(options: str) -> str:
    body = "\n".join("   " + line if line else "" for line in RESNET18.strip("\n").splitlines())
    option_lines = "".join(f"   {line}\n" for line in options.strip().splitlines())
    return f"Page\n====\n\n.. cnn-breakdown:: ResNet-18\n   :name: r18\n{option_lines}\n{body}\n"


def _warnings(app) -> list[str]:
    text = strip_escape_sequences(app.warning.getvalue())
    # "while setting up extension X: ... is already registered" comes from Sphinx's and
    # MyST's own setup when an earlier test in the same process left docutils' registries
    # filled (test order dependent); it says nothing about this extension's options
    return [line for line in text.splitlines()
            if ("WARNING" in line or "ERROR" in line) and "is already registered" not in line]


def _table(app):
    html = (Path(app.outdir) / "index.html").read_text(encoding="utf-8")
    (table,) = [t for t in read_tables(html) if "cnntable" in t.classes]
    return table, html


def test_batch_and_training_rst(project) -> None:
    text = _rst(":columns: name, saved\n:batch: 2\n:training: momentum\n:depth: 1")
    text += "\nSaved :cnn:`r18:saved_memory:raw`, total :cnn:`r18:training_memory:raw`.\n"
    app = project(text)
    assert _warnings(app) == []
    table, html = _table(app)
    assert table.headers == ["Layer", "Saved for backward (float32, batch 2, B)"]
    total = 3 * RESNET18_PARAMS * 4 + 2 * 4800 * 4 + SAVED_2  # params + BN buffers, grads, momentum
    assert f'<span class="cnn-figure">{SAVED_2}</span>' in html
    assert f'<span class="cnn-figure">{total}</span>' in html
    lines = {key: value for key, value in table.totals.items() if key.startswith("Training memory")}
    assert lines["Training memory (momentum, batch 2, float32): saved for backward"].replace("\xa0", " ").startswith(f"{SAVED_2:,} B")


def test_macs_per_batch_rst(project) -> None:
    app = project(_rst(":columns: name, macs\n:batch: 4\n:macs-per: batch\n:depth: 1"))
    assert _warnings(app) == []
    table, _ = _table(app)
    assert table.headers == ["Layer", "MACs (batch 4)"]
    line = next(value for key, value in table.totals.items() if key.startswith("MACs"))
    assert line == f"{4 * 1_814_073_344:,}"  # torchvision's published 1.81 GFLOPs (MACs) x 4


def test_batch_myst(project) -> None:
    text = "# Page\n\n```{cnn-breakdown} ResNet-18\n:name: r18\n:training: sgd\n\n" + RESNET18 + "```\n\n"
    text += "Saved {cnn}`r18:saved_memory:raw`.\n"
    app = project(text, md=True)
    assert _warnings(app) == []
    _, html = _table(app)
    assert f'<span class="cnn-figure">{SAVED_1}</span>' in html


def test_bad_values_warn_and_the_build_goes_on(project) -> None:
    app = project(_rst(":batch: 0") + "\n" + _rst(":training: adamx").split("====\n", 1)[1].replace(":name: r18", ":name: r19"))
    warnings = _warnings(app)
    assert any("index.rst:4" in w and ":batch:" in w and "0" in w for w in warnings), warnings
    assert any(":training:" in w and "did you mean 'adam'" in w for w in warnings), warnings
    assert (Path(app.outdir) / "index.html").exists()


def test_shared_option_parsing() -> None:
    """The mystmd plugin and the directive read options through the same function."""
    table, *_ = directive_options({"batch": "8", "training": "AdamW"})
    assert (table.batch, table.training) == (8, "adamw")
    assert directive_options({"batch": "8", "macs-per": "Batch"})[0].macs_per == "batch"
    for bad in ({"batch": "0"}, {"batch": "x"}, {"training": "adamx"}, {"macs-per": "token"}):
        try:
            directive_options(bad)
        except OptionError:
            continue
        raise AssertionError(bad)
