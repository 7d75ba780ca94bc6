#!/usr/bin/env python3
"""Build the docs as a PDF and picture the pages with tables, to look at them page by page.

A maintainer's script: builds ``docs/`` with Sphinx's LaTeX builder, runs ``make
all-pdf`` (latexmk), prints the page count and every overfull box of the log (how far
too wide, and where), then finds the pages holding each ``--find`` text with
``pdftotext`` and draws them with ``pdftoppm`` as PNGs in ``--out``.

    python docs/pdf_pages.py                                  # the default texts below
    python docs/pdf_pages.py --find "Comparison with other tools" --dpi 100
    python docs/pdf_pages.py --latex-dir /tmp/latex --no-build  # pictures of an existing build

Needs TeX Live (Debian: texlive-latex-recommended texlive-latex-extra
texlive-fonts-recommended tex-gyre latexmk make) and poppler-utils.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIND = (
    "as laid out in the CS231n notes",  # the VGG-16 chapter's formulas table
    "every layer, with stage subtotals",
    "A spec without an input line",  # a narrow table and its totals
    "Comparison with other tools",  # the conventions comparison
    ":chart-scale:",  # the directive's Options table
)


def pages_with(pdf: Path, text: str, count: int) -> list[int]:
    """The pages of ``pdf`` whose text holds ``text`` (spaces and line breaks alike)."""
    wanted = " ".join(text.split())
    found = []
    for page in range(1, count + 1):
        words = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                               capture_output=True, text=True, check=True).stdout
        if wanted in " ".join(words.split()):
            found.append(page)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latex-dir", type=Path, help="the LaTeX build directory (default: a temporary one)")
    parser.add_argument("--no-build", action="store_true", help="use the PDF already in --latex-dir")
    parser.add_argument("--find", action="append", help="text whose pages to draw (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("pdf-pages"), help="where the PNGs go")
    parser.add_argument("--dpi", type=int, default=70)
    args = parser.parse_args(argv)
    latex = args.latex_dir or Path(tempfile.mkdtemp(prefix="cnntable-latex-"))
    if not args.no_build:
        subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "latex", str(HERE), str(latex)], check=True)
        subprocess.run(["make", "-C", str(latex), "all-pdf"], check=True, capture_output=True)
    (pdf,) = latex.glob("*.pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    log = pdf.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    overfull = re.findall(r"^Overfull \\hbox \(([\d.]+)pt too wide\) (.*)$", log, re.MULTILINE)
    print(f"{pdf}: {count} pages, {len(overfull)} overfull boxes")
    for width, where in overfull:
        print(f"  {width}pt too wide {where}")
    args.out.mkdir(parents=True, exist_ok=True)
    for text in args.find or FIND:
        pages = pages_with(pdf, text, count)
        print(f"{text!r}: pages {pages}")
        for page in pages:
            prefix = args.out / f"page-{page:03d}"
            subprocess.run(["pdftoppm", "-r", str(args.dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page),
                            str(pdf), str(prefix)], check=True)
            print(f"  {prefix}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
