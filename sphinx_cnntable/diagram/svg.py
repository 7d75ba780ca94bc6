"""Draw a :class:`~.layout.Diagram` as standalone SVG (valid XML, no script).

Colours come from classes (``cnntable-diagram-*``) that read the ``--cnntable-diagram-*``
variables of ``static/cnntable.css`` (light and dark); the presentation attributes are
the fallback where the stylesheet is absent (a README on GitHub). Every text is
escaped; each box carries a ``<title>`` (the tooltip) with the row's figures.
"""

from __future__ import annotations

import hashlib
import html
import re

from .layout import FONT, PAD, SMALL, Box, Diagram

_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FILL = {"input": "#eef3f8", "layer": "#f6f8fa", "merge": "#fff4e5", "group": "#eaf5ea", "header": "none",
         "volume": "#dce7f3"}


def _esc(text: str) -> str:
    return html.escape(_INVALID_XML.sub("", text), quote=True)


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def _fit(text: str, width: float, size: int) -> str:
    """``text`` cut with an ellipsis to about ``width`` pixels at font ``size``."""
    limit = max(int(width / (0.6 * size)), 4)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def render_svg(diagram: Diagram, ident: str | None = None) -> str:
    """The diagram as an ``<svg>`` element; ``ident`` prefixes the ids of title/desc."""
    description = " ".join(diagram.notes) or f"{len(diagram.boxes)} boxes, {len(diagram.joins)} joins"
    title = diagram.title or "Network diagram"
    if ident is None:
        digest = hashlib.sha1(f"{title}|{description}|{len(diagram.boxes)}".encode()).hexdigest()[:10]
        ident = f"cnndiagram-{digest}"
    ident = re.sub(r"[^A-Za-z0-9_.-]", "-", ident) or "cnndiagram"
    if not ident[0].isalpha():
        ident = "d" + ident
    width, height = _num(diagram.width), _num(diagram.height)
    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="cnntable-diagram-svg" role="img" '
         f'aria-labelledby="{ident}-title {ident}-desc" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{FONT}">'),
        f'<title id="{ident}-title">{_esc(title)}</title>',
        f'<desc id="{ident}-desc">{_esc(description)}</desc>',
        '<defs><marker id="' + ident + '-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path class="cnntable-diagram-head" d="M0,0L8,4L0,8z" '
        'fill="#57606a"/></marker></defs>',
    ]
    y = PAD + FONT
    if diagram.title:
        out.append(f'<text class="cnntable-diagram-title" x="{PAD}" y="{y}" font-weight="bold" '
                   f'fill="#24292f">{_esc(diagram.title)}</text>')
        y += 20
    for note in diagram.notes:
        out.append(f'<text class="cnntable-diagram-note" x="{PAD}" y="{y}" font-size="{SMALL + 1}" '
                   f'fill="#57606a">{_esc(note)}</text>')
        y += 20 if diagram.style == "volumes" else 24
    for join in diagram.joins:
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in join.points)
        kind = "cnntable-diagram-skip" if join.routed else "cnntable-diagram-join"
        out.append(f'<polyline class="{kind}" points="{points}" fill="none" stroke="#57606a" '
                   f'stroke-width="1.2" marker-end="url(#{ident}-arrow)"/>')
    for box in diagram.boxes:
        out.append(_box(box))
    out.append("</svg>")
    return "".join(out)


def _box(box: Box) -> str:
    tip = f"<title>{_esc(box.tooltip)}</title>"
    x, y, w, h = (_num(v) for v in (box.x, box.y, box.w, box.h))
    if box.kind == "header":
        x1, y1, x2, y2 = (_num(v) for v in box.span or (box.x, box.y, box.x, box.y))
        text = _fit(box.label + (f" \u00b7 {box.detail}" if box.detail else ""), box.w - 4, SMALL + 1)
        return (f'<g class="cnntable-diagram-header">{tip}'
                f'<line class="cnntable-diagram-bracket" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
                f'stroke="#8c959f" stroke-width="1"/>'
                f'<text x="{_num(box.x + 2)}" y="{_num(box.y + box.h / 2 + 4)}" font-size="{SMALL + 1}" '
                f'font-style="italic" fill="#57606a">{_esc(text)}</text></g>')
    if box.kind == "volume":
        faces = "".join(
            f'<polygon class="cnntable-diagram-face{n}" points="{" ".join(f"{_num(px)},{_num(py)}" for px, py in face)}" '
            f'fill="{("#c6d8ee", "#e3ecf7", "#a9c2e0")[n]}" stroke="#57606a" stroke-width="0.8"/>'
            for n, face in enumerate(box.faces)
        )
        bottom = box.y + box.h
        return (f'<g class="cnntable-diagram-box cnntable-diagram-volume">{tip}{faces}'
                f'<text x="{_num(box.x)}" y="{_num(bottom - 16)}" font-size="{SMALL}" fill="#24292f">'
                f'{_esc(_fit(box.label, box.w, SMALL))}</text>'
                f'<text class="cnntable-diagram-muted" x="{_num(box.x)}" y="{_num(bottom - 4)}" font-size="{SMALL}" '
                f'fill="#57606a">{_esc(box.detail)}</text></g>')
    dash = ' stroke-dasharray="4 2"' if box.kind == "group" else ""
    parts = [
        f'<g class="cnntable-diagram-box cnntable-diagram-{box.kind}">{tip}',
        (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="{_FILL.get(box.kind, "#f6f8fa")}" '
         f'stroke="#57606a" stroke-width="1"{dash}/>'),
    ]
    if box.bar is not None and box.bar > 0:
        parts.append(f'<rect class="cnntable-diagram-bar" x="{_num(box.x + 1)}" y="{_num(box.y + box.h - 4)}" '
                     f'width="{_num((box.w - 2) * box.bar)}" height="3" fill="#4c78a8"/>')
    parts.append(f'<text x="{_num(box.x + 8)}" y="{_num(box.y + 16)}" fill="#24292f">'
                 f'{_esc(_fit(box.label, box.w - 12, FONT))}</text>')
    parts.append(f'<text class="cnntable-diagram-muted" x="{_num(box.x + 8)}" y="{_num(box.y + 30)}" '
                 f'font-size="{SMALL}" fill="#57606a">{_esc(_fit(box.detail, box.w - 12, SMALL))}</text></g>')
    return "".join(parts)
