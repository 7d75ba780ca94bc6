"""The docs' tables as a reader sees them: headless Chromium measures the DOM.

Builds the documentation under alabaster, furo, sphinx-rtd-theme and pydata-sphinx-theme,
loads the VGG-16 page, the quickstart and three gallery pages 1280 px and 390 px wide
(furo also in dark mode) and asserts, from the positions the browser computed
(``docs/screenshots.py``, :data:`CHECK_JS`): every total's label and value inside the
viewport, level with each other, with no number broken from its unit; no caption
clipped; every table wider than its box scrolling inside it with the cue shown above it;
every number (the receptive field included) right-aligned and on one line; the first
column's background light, or dark in dark mode.

Skipped when Chromium is missing (``apt-get install chromium``) or a theme is not
installed (the ``themes`` extra).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS))
import screenshots  # noqa: E402 (docs/screenshots.py)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = ("vgg16", "quickstart", "gallery/resnet18", "gallery/mobilenet_v2", "gallery/googlenet")
TABLES = {"vgg16": (6, 55), "quickstart": (1, 9), "gallery/resnet18": (1, 9), "gallery/mobilenet_v2": (1, 9),
          "gallery/googlenet": (1, 9)}
"""How many ``cnn-breakdown`` tables each page holds, and total lines (9 a table; one of
VGG-16's tables has ``:no-totals:``, and its two training tables add the batch's and the
training memory's lines)."""
WIDTHS = (1280, 390)
VARIANTS = (("alabaster", False), ("furo", False), ("furo", True), ("rtd", False), ("pydata", False))

BROWSER = screenshots.find_chromium()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """Build the docs once per theme (the five pages written), on first use."""
    outputs: dict[str, Path] = {}

    def get(short: str) -> Path:
        if short not in outputs:
            theme = screenshots.THEMES[short]
            if theme != "alabaster" and importlib.util.find_spec(theme) is None:
                pytest.skip(f"{theme} is not installed")
            out = tmp_path_factory.mktemp(f"html-{short}")
            screenshots.build(DOCS, out, theme, *(str(DOCS / f"{page}.rst") for page in PAGES))
            outputs[short] = out
        return outputs[short]

    return get


def _luminance(css: str) -> float:
    red, green, blue = (int(value) for value in re.findall(r"\d+", css)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("theme", "dark"), VARIANTS, ids=["alabaster", "furo", "furo-dark", "rtd", "pydata"])
def test_totals_and_captions_visible(built, theme: str, dark: bool, width: int) -> None:
    out = built(theme)
    for page in PAGES:
        report = screenshots.check_page(BROWSER, out / f"{page}.html", width, dark)
        where = f"{theme}{' dark' if dark else ''} {width} px {page}"
        assert report["width"] == width, where
        assert report["problems"] == [], where
        assert (report["figures"], report["totals"]) == TABLES[page], where
        assert report["cues"] == report["wide"], where  # the cue shows exactly above the tables that scroll
        if width == 390:
            assert report["wide"] >= 1, where
        for background in report["backgrounds"]:
            assert (_luminance(background) < 0.3) if dark else (_luminance(background) > 0.8), (where, background)
