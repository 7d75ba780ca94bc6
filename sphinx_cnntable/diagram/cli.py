"""``cnntable diagram SPEC -o FILE.svg``: the ``cnn-diagram`` drawing as a standalone
SVG (for a README: GitHub shows it as an image) or a TikZ picture (``--format tikz``).

Exit status as the table command's: 0 success, 1 a spec error (``FILE:LINE: message``)
or an unreadable/unwritable file, 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ..engine import analyse
from ..errors import SpecError
from ..outputs import input_shape, positive, yes_no
from ..units import dtype_name
from .layout import (
    DIRECTIONS,
    ENCODINGS,
    MAX_BOXES,
    STYLES,
    DiagramError,
    layout,
    parse_show,
)
from .svg import render_svg
from .tikz import render_tikz


def _checked(convert: Callable[[str], object]) -> Callable[[str], str]:
    """Validate with ``convert`` (a usage error, exit 2, if it refuses) but keep the text."""

    def check(text: str) -> str:
        try:
            convert(text)
        except (ValueError, DiagramError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    return check


def _mode(target: Path) -> int:
    """The file's own permissions if it exists, else what a new file gets (0o666 less the umask)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnntable diagram",
        description="Draw a CNN spec as an architecture diagram (SVG or TikZ).",
        epilog="example: cnntable diagram specs/resnet18.cnn --depth 2 -o docs/resnet18.svg",
    )
    add = parser.add_argument
    add("spec", metavar="SPEC", help="a .cnn spec file (UTF-8), or - for standard input")
    add("-o", "--output", metavar="FILE", help="write here (atomically) instead of standard output")
    add("--format", choices=("svg", "tikz"), default=None, help="svg (default; tikz for a FILE.tex)")
    add("--style", choices=STYLES, default="flow", help="flow (boxes and joins) or volumes (3-D feature maps)")
    add("--direction", choices=DIRECTIONS, default="down", help="flow direction: down or right")
    add("--depth", metavar="N", type=_checked(lambda t: positive(t, "depth")), help="only rows nested less than N deep")
    add("--show", metavar="LIST", type=_checked(parse_show), default="", help="figures in each box: params, macs")
    add("--encode", choices=ENCODINGS, help="a bar in each box, its length (log) by params, macs or memory")
    add("--title", default="", help="a heading drawn above the diagram")
    add("--input", metavar="HxWxC", type=_checked(input_shape), help="input shape, overriding the spec's")
    add("--bias", metavar="yes|no", type=_checked(yes_no), help="default bias for conv and fc layers")
    add("--dtype", type=_checked(dtype_name), default="float32", help="element type for memory figures")
    add("--max-boxes", metavar="N", type=_checked(lambda t: positive(t, "max-boxes")), default=str(MAX_BOXES),
        help=f"fold to a smaller depth past N boxes (default {MAX_BOXES})")
    return parser


def main(argv: Sequence[str]) -> int:
    from ..cli import read_spec, write

    args = build_parser().parse_args(list(argv))
    try:
        name, text = read_spec(args.spec)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        print(f"cnntable: {args.spec}: cannot read: {reason}", file=sys.stderr)
        return 1
    try:
        breakdown = analyse(text, args.input, yes_no(args.bias) if args.bias else None)
    except SpecError as error:
        print(f"{name}:{error.line}: {error.message}", file=sys.stderr)
        return 1
    diagram = layout(
        breakdown, args.style, args.direction, int(args.depth) if args.depth else None, parse_show(args.show),
        args.encode, dtype_name(args.dtype), args.title, int(args.max_boxes),
    )
    fmt = args.format or ("tikz" if args.output and args.output.endswith(".tex") else "svg")
    output = render_tikz(diagram) if fmt == "tikz" else render_svg(diagram, "cnndiagram") + "\n"
    if not args.output or args.output == "-":
        write(output)
        return 0
    target = Path(args.output)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(output)
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        print(f"cnntable: {args.output}: cannot write: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
