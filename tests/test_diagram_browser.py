"""In real headless Chromium (skipped without it): every text of every diagram on the
gallery pages lies inside its SVG's viewBox, box labels inside their boxes, and the
font is at least 10 px at a 1280 px wide window."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOTS = Path(__file__).parent / "roots"
GALLERY = Path(__file__).parent.parent / "docs" / "gallery" / "specs"

CHECK = """
<script>
const problems = [];
let texts = 0;
for (const svg of document.querySelectorAll("svg.cnntable-diagram-svg")) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const scale = svg.getBoundingClientRect().width / width;
  for (const text of svg.querySelectorAll("text")) {
    texts += 1;
    const box = text.getBBox();
    const size = parseFloat(getComputedStyle(text).fontSize) * scale;
    const name = text.textContent;
    if (box.x < -0.5 || box.y < -0.5 || box.x + box.width > width + 0.5 || box.y + box.height > height + 0.5)
      problems.push("outside the viewBox: " + name);
    if (size < 9.95) problems.push("font " + size + "px: " + name);
    const rect = text.parentNode.querySelector(":scope > rect");
    if (rect && !text.classList.contains("cnntable-diagram-title")) {
      const r = rect.getBBox();
      if (box.x < r.x || box.x + box.width > r.x + r.width + 0.5) problems.push("outside its box: " + name);
    }
  }
}
document.body.setAttribute("data-result", JSON.stringify({texts, problems}));
</script>
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.screenshots
@pytest.mark.skipif(_chromium() is None, reason="needs chromium")
def test_gallery_diagrams_are_readable_in_chromium(make_app: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(GALLERY, src / "specs")
    (src / "conf.py").write_text('extensions = ["sphinx_cnntable"]\n', encoding="utf-8")
    pages = []
    for spec in sorted(GALLERY.glob("*.cnn")):
        for options in ("", "   :depth: 2\n   :show: params, macs\n   :encode: params\n",
                        "   :direction: right\n", "   :style: volumes\n"):
            pages.append(f".. cnn-diagram:: {spec.stem}\n   :file: specs/{spec.name}\n{options}\n")
    (src / "index.rst").write_text("Gallery\n=======\n\n" + "\n".join(pages), encoding="utf-8")
    app = make_app("html", srcdir=src, freshenv=True)
    app.build()
    assert app.warning.getvalue() == ""
    page = Path(app.outdir) / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
         "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
        check=False, capture_output=True, text=True, timeout=300,
    )
    if not result.stdout.strip():  # no page at all: the browser could not start (a memory cap, no sandbox)
        pytest.skip(f"chromium did not start: {result.stderr.strip()[-300:]}")
    match = re.search(r'data-result="([^"]*)"', result.stdout)
    assert match, result.stderr[-2000:]
    data = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert data["texts"] > 1000
    assert data["problems"] == []
