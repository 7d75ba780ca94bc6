"""Draw a :class:`~.layout.Diagram` as a TikZ picture (vector, for pdflatex).

The layout's pixels become points at 0.75 pt/px, and the picture is scaled down (never
up) to fit ``max_width`` by ``max_height`` points: ``scale = min(1, max_width / (0.75 *
width), max_height / (0.75 * height))``. Every text goes through :func:`tex_escape`.
"""

from __future__ import annotations

import re

from .layout import FONT, PAD, SMALL, Box, Diagram

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "\u00b7": r"\textperiodcentered{}",
    "\u2026": r"\dots{}",
    "\u00d7": r"\texttimes{}",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FILL = {"input": "black!6", "layer": "black!3", "merge": "orange!12", "group": "green!8"}


def tex_escape(text: str) -> str:
    """``text`` safe in LaTeX body text: specials replaced, control characters dropped."""
    return "".join(_SPECIALS.get(char, char) for char in _CONTROL.sub(" ", text))


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def _fit(text: str, width: float, size: int) -> str:
    limit = max(int(width / (0.6 * size)), 4)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def render_tikz(diagram: Diagram, max_width: float = 460.0, max_height: float = 620.0) -> str:
    """A ``tikzpicture`` (needs ``\\usepackage{tikz}``), y pointing down as in SVG."""
    scale = min(1.0, max_width / (0.75 * diagram.width), max_height / (0.75 * diagram.height))
    unit = f"{0.75 * scale:.4f}pt"
    out = [
        "\\begin{center}",
        (f"\\begin{{tikzpicture}}[x={unit},y=-{unit},font=\\sffamily,"
         "every node/.style={inner sep=0pt,anchor=base west}]"),
    ]
    size = f"\\fontsize{{{_n(FONT * 0.75 * scale)}}}{{{_n(FONT * 0.9 * scale)}}}\\selectfont\\sffamily"
    small = f"\\fontsize{{{_n(SMALL * 0.75 * scale)}}}{{{_n(SMALL * 0.9 * scale)}}}\\selectfont\\sffamily"
    y = PAD + FONT
    if diagram.title:
        out.append(f"\\node[font={size}\\bfseries] at ({PAD},{y}) {{{tex_escape(diagram.title)}}};")
        y += 20
    for note in diagram.notes:
        out.append(f"\\node[font={small},text=black!65] at ({PAD},{y}) {{{tex_escape(note)}}};")
        y += 20 if diagram.style == "volumes" else 24
    for join in diagram.joins:
        path = " -- ".join(f"({_n(x)},{_n(y)})" for x, y in join.points)
        out.append(f"\\draw[-latex,black!65,line width={_n(0.9 * scale)}pt] {path};")
    for box in diagram.boxes:
        out.extend(_box(box, size, small, scale))
    out.append("\\end{tikzpicture}")
    out.append("\\end{center}")
    return "\n".join(out) + "\n"


def _box(box: Box, size: str, small: str, scale: float) -> list[str]:
    line = f"line width={_n(0.75 * scale)}pt"
    if box.kind == "header":
        x1, y1, x2, y2 = box.span or (box.x, box.y, box.x, box.y)
        text = _fit(box.label + (f" \u00b7 {box.detail}" if box.detail else ""), box.w - 4, SMALL + 1)
        return [
            f"\\draw[black!40,{line}] ({_n(x1)},{_n(y1)}) -- ({_n(x2)},{_n(y2)});",
            (f"\\node[font={small}\\itshape,text=black!65] at ({_n(box.x + 2)},{_n(box.y + box.h / 2 + 4)}) "
             f"{{{tex_escape(text)}}};"),
        ]
    if box.kind == "volume":
        lines = []
        for shade, face in zip(("blue!18", "blue!8", "blue!30"), box.faces):
            path = " -- ".join(f"({_n(x)},{_n(y)})" for x, y in face)
            lines.append(f"\\filldraw[fill={shade},draw=black!65,{line}] {path} -- cycle;")
        bottom = box.y + box.h
        lines.append(f"\\node[font={small}] at ({_n(box.x)},{_n(bottom - 16)}) {{{tex_escape(_fit(box.label, box.w, SMALL))}}};")
        lines.append(f"\\node[font={small},text=black!65] at ({_n(box.x)},{_n(bottom - 4)}) {{{tex_escape(box.detail)}}};")
        return lines
    dash = ",dashed" if box.kind == "group" else ""
    lines = [
        (f"\\filldraw[fill={_FILL.get(box.kind, 'black!3')},draw=black!65,{line},rounded corners={_n(3 * scale)}pt{dash}] "
         f"({_n(box.x)},{_n(box.y)}) rectangle ({_n(box.x + box.w)},{_n(box.y + box.h)});")
    ]
    if box.bar:
        lines.append(f"\\fill[blue!55] ({_n(box.x + 1)},{_n(box.y + box.h - 4)}) rectangle "
                     f"({_n(box.x + 1 + (box.w - 2) * box.bar)},{_n(box.y + box.h - 1)});")
    lines.append(f"\\node[font={size}] at ({_n(box.x + 8)},{_n(box.y + 16)}) {{{tex_escape(_fit(box.label, box.w - 12, FONT))}}};")
    lines.append(f"\\node[font={small},text=black!65] at ({_n(box.x + 8)},{_n(box.y + 30)}) "
                 f"{{{tex_escape(_fit(box.detail, box.w - 12, SMALL))}}};")
    return lines
