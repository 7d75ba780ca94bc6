#!/usr/bin/env python3
"""Screenshots of a computed VGG-16 table and chart under several Sphinx themes, and the
layout checks that ``tests/test_browser.py`` runs in headless Chromium.

As a script it builds a small demo project (the VGG-16 spec of
``docs/specs/vgg16.cnn``, a paragraph of ``:cnn:`` figures, the table and its chart)
once per theme, then takes headless Chromium screenshots at 1280 px and 390 px wide
(and furo and pydata in dark mode), crops them to the content and writes small PNGs to
``docs/_static/screenshots/``. With ``--diagram`` the demo page holds two ``cnn-diagram``
drawings instead (a small network with every kind of join, and AlexNet's volumes).

    python docs/screenshots.py                        # every theme installed
    python docs/screenshots.py --diagram --widths 1280 --height 2600
    python docs/screenshots.py --themes furo --widths 390
    python docs/screenshots.py --source docs --page vgg16 --widths 1280 --height 1800   # a real page

:func:`check_page` loads a built page in headless Chromium at a given width (light or
dark) with :data:`CHECK_JS` added, and returns what that script measured in the DOM:
every total's label and value inside the viewport and on one line, no number broken
from its unit, every caption unclipped, every table wider than its box showing the
scroll cue above it, every numeric column right-aligned.

Needs: chromium (``apt-get install chromium``), the themes (``pip install furo
sphinx-rtd-theme pydata-sphinx-theme``; missing ones are skipped) and optionally Pillow
(cropping and palette compression; without it the PNGs are kept as taken).
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "_static" / "screenshots"
SPEC = HERE / "specs" / "vgg16.cnn"
THEMES = {
    "alabaster": "alabaster",
    "furo": "furo",
    "rtd": "sphinx_rtd_theme",
    "pydata": "pydata_sphinx_theme",
}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

DEMO_PAGE = """\
VGG-16, computed
================

.. _demo:

VGG-16 has :cnn:`vgg16:params` parameters; ``fc1`` alone holds
:cnn:`vgg16/fc1:params:percent` of them. One 224x224 image costs :cnn:`vgg16:macs:G`
GMACs and :cnn:`vgg16:activation_memory:MiB` of float32 activations.

.. cnn-breakdown:: VGG-16 with biases, stage subtotals
   :name: vgg16
   :file: vgg16.cnn
   :columns: name, shape, activations, params, macs
   :chart: params, macs, memory
"""


DIAGRAM_PAGE = """\
Diagrams, computed
==================

.. cnn-diagram:: Residual, squeeze-and-excitation, a named skip and a side output
   :show: params
   :encode: params

   input 32x32x3
   stem: conv3-16
   bn
   relu
   residual:
     conv3-16
     bn
     relu
     conv3-16
     bn
   scale:
     gap
     conv1-4
     relu
     conv1-16
     sigmoid
   maxpool2
   aux: side:
     gap
     fc-10
   conv3-32
   concat:
     branch: from stem
     branch: upsample2
   conv1-10
   gap

.. cnn-diagram:: AlexNet, feature maps
   :file: alexnet.cnn
   :style: volumes
"""
"""The page ``--diagram`` shoots: a flow diagram with every kind of join, and a volumes drawing."""

GALLERY_SPECS = HERE / "gallery" / "specs"


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium() -> str:
    path = find_chromium()
    if path is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    return path


def demo_project(root: Path, theme: str, diagram: bool = False) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    shutil.copy(SPEC, src / "vgg16.cnn")
    shutil.copy(GALLERY_SPECS / "alexnet.cnn", src / "alexnet.cnn")
    (src / "index.rst").write_text(DIAGRAM_PAGE if diagram else DEMO_PAGE, encoding="utf-8")
    (src / "conf.py").write_text(
        textwrap.dedent(f"""\
            project = "sphinx-cnntable demo"
            extensions = ["sphinx_cnntable"]
            html_theme = {theme!r}
            html_title = "sphinx-cnntable"
            """),
        encoding="utf-8",
    )
    return src


def build(src: Path, out: Path, theme: str, *pages: str) -> None:
    """Build ``src`` as HTML under ``theme`` (writing only ``pages``, source paths, if given)."""
    command = [sys.executable, "-m", "sphinx", "-q", "-E", "-b", "html", "-D", f"html_theme={theme}", str(src), str(out)]
    subprocess.run([*command, *pages], check=True)


def dark_flags() -> list[str]:
    """Chromium flags that make the page see ``prefers-color-scheme: dark``."""
    return ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]


CHECK_JS = r"""
(function () {
  "use strict";
  function lines(range) {  // distinct line boxes a range covers
    var tops = {};
    Array.prototype.forEach.call(range.getClientRects(), function (rect) {
      if (rect.width > 0) { tops[Math.round(rect.top)] = true; }
    });
    return Object.keys(tops).length;
  }
  function run() {
    var width = document.documentElement.clientWidth;
    var report = {width: width, figures: 0, totals: 0, wide: 0, cues: 0, problems: [], backgrounds: []};
    function inside(rect) { return rect.left >= -0.5 && rect.right <= width + 0.5; }
    function problem(name, text) { report.problems.push(name + ": " + text); }
    document.querySelectorAll("div.cnntable-figure").forEach(function (figure, index) {
      report.figures += 1;
      var name = (figure.id || "table " + (index + 1));
      var caption = figure.querySelector("p.cnntable-caption");
      if (caption && (!inside(caption.getBoundingClientRect()) || caption.scrollWidth > caption.clientWidth + 1)) {
        problem(name, "caption clipped");
      }
      var box = figure.querySelector("div.cnntable-scroll");
      var table = box.querySelector("table.cnntable");
      var boxRect = box.getBoundingClientRect();
      if (!inside(boxRect)) { problem(name, "scroll box wider than the viewport"); }
      var cue = figure.querySelector("p.cnntable-cue");
      var cueRect = cue.getBoundingClientRect();
      var cueShown = cueRect.height > 0 && inside(cueRect) && cueRect.bottom <= boxRect.top + 1 &&
        getComputedStyle(cue).visibility === "visible";
      if (table.getBoundingClientRect().width > box.clientWidth + 1) {
        report.wide += 1;
        if (["auto", "scroll"].indexOf(getComputedStyle(box).overflowX) < 0) { problem(name, "wide table does not scroll"); }
        if (!cueShown) { problem(name, "wide table without a visible cue above it"); }
      }
      if (cueShown) { report.cues += 1; }
      figure.querySelectorAll("tr.cnntable-total").forEach(function (row) {
        report.totals += 1;
        var label = row.cells[0], value = row.cells[row.cells.length - 1];
        var what = name + " / " + label.textContent;
        var labelRect = label.getBoundingClientRect(), valueRect = value.getBoundingClientRect();
        var scroller = value.closest("div.cnntable-scroll");
        if (!(inside(labelRect) && inside(valueRect)) && !(scroller && cueShown)) { problem(what, "total outside the viewport"); }
        if (Math.abs(labelRect.top - valueRect.top) > 2) { problem(what, "label not level with its value"); }
        var text = value.firstChild;
        var pattern = /\d[\d,.]*( [A-Za-z]+)?/g, match;
        while (text && text.nodeType === 3 && (match = pattern.exec(text.data)) !== null) {
          var range = document.createRange();
          range.setStart(text, match.index);
          range.setEnd(text, match.index + match[0].length);
          if (lines(range) !== 1) { problem(what, "'" + match[0] + "' broken across lines"); }
        }
      });
      var headers = Array.prototype.map.call(table.tHead.rows[0].cells, function (cell) { return cell.textContent; });
      var rf = headers.indexOf("Receptive field");
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        Array.prototype.forEach.call(row.cells, function (cell, column) {
          var numeric = cell.classList.contains("cnntable-num");
          if ((numeric || column === rf) && getComputedStyle(cell).textAlign !== "right") {
            problem(name + " / " + headers[column], "number not right-aligned");
          }
          if (numeric && !cell.classList.contains("cnntable-shown-formula")) {
            var range = document.createRange();
            range.selectNodeContents(cell);
            if (lines(range) !== 1) { problem(name + " / " + headers[column], "'" + cell.textContent + "' wraps"); }
          }
        });
      });
      var sticky = table.querySelector("tbody td.cnntable-sticky");
      if (sticky) { report.backgrounds.push(getComputedStyle(sticky).backgroundColor); }
    });
    window.parent.postMessage(JSON.stringify(report), "*");
  }
  window.addEventListener("load", function () { setTimeout(run, 300); });
})();
"""
"""Measures a page's ``cnn-breakdown`` tables in the browser and posts the report (JSON)
to the page framing it (:func:`framed`), which writes it into ``pre#cnntable-check``."""

FRAME = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{width} px</title></head>
<body style="margin:0">
<iframe src="{src}" style="display:block;border:0;width:{width}px;height:{height}px"></iframe>
<script>
window.addEventListener("message", function (event) {{
  var pre = document.createElement("pre");
  pre.id = "cnntable-check";
  pre.textContent = event.data;
  document.body.appendChild(pre);
}});
</script>
</body></html>
"""


def framed(page: Path, width: int, height: int, anchor: str = "") -> Path:
    """A page next to ``page`` that shows it in a frame ``width`` px wide: Chromium's
    headless window is never narrower than 500 px, a frame is (and the page's media
    queries see the frame's width)."""
    frame = page.with_name(f"{page.stem}.frame-{width}.html")
    src = page.name + (f"#{anchor}" if anchor else "")
    frame.write_text(FRAME.format(src=html.escape(src), width=width, height=height), encoding="utf-8")
    return frame


def check_page(browser: str, page: Path, width: int, dark: bool = False, height: int = 900) -> dict:
    """Load the built ``page`` (an HTML file) with :data:`CHECK_JS` added, ``width`` px
    wide, and return the script's report: ``figures``, ``totals``, ``wide``, ``cues``,
    ``problems`` (a list of sentences), ``backgrounds`` (of the first cells)."""
    static = page.parent / "cnntable-check.js"
    static.write_text(CHECK_JS, encoding="utf-8")
    copy = page.with_name(page.stem + ".cnntable-check.html")
    text = page.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", f'<script src="{static.name}"></script></body>'), encoding="utf-8")
    frame = framed(copy, width, height)
    with tempfile.TemporaryDirectory() as profile:
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={max(width, 500) + 20},{height + 20}",
                 "--virtual-time-budget=5000", "--dump-dom"]
        if dark:
            flags += dark_flags()
        result = subprocess.run([browser, *flags, frame.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="cnntable-check">(.*?)</pre>', result.stdout, re.DOTALL)
    if not found:
        raise RuntimeError(f"no report from {os.fspath(frame)}: {result.stderr[-2000:]}")
    return json.loads(html.unescape(found.group(1)))


def shoot(browser: str, page: Path, png: Path, width: int, height: int, dark: bool = False, anchor: str = "") -> None:
    """A screenshot of ``page`` ``width`` px wide (in a frame: :func:`framed`), cropped to it."""
    frame = framed(page, width, height, anchor)
    with tempfile.TemporaryDirectory() as profile:
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                 f"--window-size={max(width, 500)},{height}", "--virtual-time-budget=5000"]
        if dark:
            flags += dark_flags()
        subprocess.run([browser, *flags, frame.as_uri()], check=True, capture_output=True, timeout=120)
    if width < 500:
        try:
            from PIL import Image
        except ImportError:
            return
        Image.open(png).crop((0, 0, width, height)).save(png)


BAR_COLOURS = {False: ("#4c78a8", "#e07b12", "#3f8f3a"), True: ("#79a6e0", "#ffa94d", "#7bc96f")}
"""The chart's bar colours (light and dark, ``static/cnntable.css``): the crop ends below them."""


def shrink(png: Path, dark: bool = False, max_bytes: int = 300_000, below_chart: bool = True) -> None:
    """Crop below the chart (or, without one or with ``below_chart`` false, the last
    content), then store with a palette."""
    try:
        from PIL import Image, ImageChops
    except ImportError:
        return
    image = Image.open(png).convert("RGB")
    bottom = 0
    for colour in BAR_COLOURS[dark] if below_chart else ():
        red, green, blue = ImageChops.difference(image, Image.new("RGB", image.size, colour)).split()
        largest = ImageChops.lighter(red, ImageChops.lighter(green, blue))  # per-pixel max channel difference
        box = largest.point(lambda value: 255 if value < 12 else 0).getbbox()
        if box:
            bottom = max(bottom, box[3])
    if not bottom:
        background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
        box = ImageChops.difference(image, background).getbbox()
        bottom = box[3] if box else image.height
    image = image.crop((0, 0, image.width, min(image.height, bottom + 24)))
    colours = 256
    while True:
        image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
        if png.stat().st_size <= max_bytes or colours <= 32:
            break
        colours //= 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--themes", default=",".join(THEMES), help="comma-separated: " + ", ".join(THEMES))
    parser.add_argument("--widths", default="1280,390", help="window widths in px")
    parser.add_argument("--height", type=int, default=2300, help="window height in px (the page is cropped after)")
    parser.add_argument("--source", type=Path, help="a Sphinx project to build instead of the demo")
    parser.add_argument("--page", default="index", help="the page to shoot (docname)")
    parser.add_argument("--anchor", default="", help="scroll to this id first (e.g. the table's :name:)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--prefix", help="file names: PREFIX-THEME[-dark]-WIDTH.png (default: demo, or the --page)")
    parser.add_argument("--diagram", action="store_true",
                        help="shoot the demo's diagram page (flow with joins, AlexNet volumes) instead of its table")
    args = parser.parse_args(argv)
    prefix = args.prefix or (args.page if args.source else "diagram" if args.diagram else "demo")
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    widths = [int(width) for width in args.widths.split(",") if width.strip()]
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for short in [name.strip() for name in args.themes.split(",") if name.strip()]:
            theme = THEMES.get(short, short)
            if theme != "alabaster" and importlib.util.find_spec(theme) is None:
                print(f"skip {short}: {theme} is not installed", file=sys.stderr)
                continue
            root = Path(tmp) / short
            src = args.source.resolve() if args.source else demo_project(root, theme, args.diagram)
            out = root / "html"
            build(src, out, theme)
            page = out / f"{args.page}.html"
            shots = [(width, False) for width in widths]
            if short in ("furo", "pydata"):  # the themes with a dark mode that follows the system's
                shots.append((widths[0], True))
            for width, dark in shots:
                png = args.out / f"{prefix}-{short}{'-dark' if dark else ''}-{width}.png"
                shoot(browser, page, png, width, args.height, dark, args.anchor)
                shrink(png, dark, below_chart=not args.diagram)
                written.append(png)
                print(f"{png.relative_to(Path.cwd()) if png.is_relative_to(Path.cwd()) else png} "
                      f"({png.stat().st_size // 1024} KB)")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
