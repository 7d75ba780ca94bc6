#!/usr/bin/env python3
"""Screenshots of a computed VGG-16 table and chart under several Sphinx themes.

Not a test: a maintainer's script. It builds a small demo project (the VGG-16 spec of
``docs/specs/vgg16.cnn``, a paragraph of ``:cnn:`` figures, the table and its chart)
once per theme, then takes headless Chromium screenshots at 1280 px and 390 px wide
(and furo in dark mode), crops them to the content and writes small PNGs to
``docs/_static/screenshots/``.

    python docs/screenshots.py                        # every theme installed
    python docs/screenshots.py --themes furo --widths 390
    python docs/screenshots.py --source docs --page vgg16 --widths 1280 --height 1800   # a real page

Needs: chromium (``apt-get install chromium``), the themes (``pip install furo
sphinx-rtd-theme pydata-sphinx-theme``; missing ones are skipped) and optionally Pillow
(cropping and palette compression; without it the PNGs are kept as taken).
"""

from __future__ import annotations

import argparse
import importlib.util
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


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found: apt-get install -y chromium")


def demo_project(root: Path, theme: str) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    shutil.copy(SPEC, src / "vgg16.cnn")
    (src / "index.rst").write_text(DEMO_PAGE, encoding="utf-8")
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


def build(src: Path, out: Path, theme: str) -> None:
    command = [sys.executable, "-m", "sphinx", "-q", "-E", "-b", "html", "-D", f"html_theme={theme}", str(src), str(out)]
    subprocess.run(command, check=True)


def shoot(browser: str, url: str, png: Path, width: int, height: int, dark: bool = False) -> None:
    with tempfile.TemporaryDirectory() as profile:
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}"]
        if dark:
            flags += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
        subprocess.run([browser, *flags, url], check=True, capture_output=True, timeout=120)


BAR_COLOURS = {False: ("#4c78a8", "#e07b12", "#3f8f3a"), True: ("#79a6e0", "#ffa94d", "#7bc96f")}
"""The chart's bar colours (light and dark, ``static/cnntable.css``): the crop ends below them."""


def shrink(png: Path, dark: bool = False, max_bytes: int = 300_000) -> None:
    """Crop below the chart (or the last content), then store with a palette."""
    try:
        from PIL import Image, ImageChops
    except ImportError:
        return
    image = Image.open(png).convert("RGB")
    bottom = 0
    for colour in BAR_COLOURS[dark]:
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
    args = parser.parse_args(argv)
    prefix = args.prefix or (args.page if args.source else "demo")
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
            src = args.source.resolve() if args.source else demo_project(root, theme)
            out = root / "html"
            build(src, out, theme)
            url = (out / f"{args.page}.html").as_uri() + (f"#{args.anchor}" if args.anchor else "")
            shots = [(width, False) for width in widths]
            if short == "furo":
                shots.append((widths[0], True))
            for width, dark in shots:
                png = args.out / f"{prefix}-{short}{'-dark' if dark else ''}-{width}.png"
                shoot(browser, url, png, width, args.height, dark)
                shrink(png, dark)
                written.append(png)
                print(f"{png.relative_to(Path.cwd()) if png.is_relative_to(Path.cwd()) else png} "
                      f"({png.stat().st_size // 1024} KB)")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
