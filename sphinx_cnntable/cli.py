"""The ``cnntable`` command: ``cnntable SPEC`` prints a spec's table,
``cnntable sync FILES...`` refreshes the tables marked in READMEs (:mod:`.sync`), and
``cnntable myst-plugin`` is the mystmd executable plugin (:mod:`.myst_plugin`), and
``cnntable diagram SPEC -o FILE.svg`` draws the architecture (:mod:`.diagram.cli`);
``cnntable import MODEL`` writes a spec from a PyTorch or ONNX model and ``cnntable check
SPEC --against MODEL`` compares the two (:mod:`.importers.cli`).

Exit status: 0 success; 1 a spec error (``FILE:LINE: message`` on stderr), an
unreadable spec file, or stale blocks under ``sync --check``; 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from . import __version__
from .errors import SpecError
from .limits import MAX_SPEC_BYTES
from .outputs import FORMATS, input_shape, output_format, positive, render, request_from, yes_no
from .render_text import safe
from .table import COLUMNS, column_keys, macs_per, parse_numbers
from .training import optimizer_name
from .units import DTYPE_BITS, MAX_PRECISION, dtype_name

EXAMPLES = """\
examples:
  cnntable specs/vgg16.cnn                         aligned table with totals
  cnntable specs/vgg16.cnn --numbers compact --fold
  cnntable specs/resnet18.cnn --depth 1            top-level rows and group subtotals
  cnntable specs/vgg16.cnn --format markdown --columns name,shape,params
  cnntable specs/vgg16.cnn --format json | jq .totals.params
  echo "input 32x32x3
  conv3-16
  fc-10" | cnntable - --formulas
  cnntable sync README.md docs/*.rst               refresh marked tables in place
  cnntable sync --check README.md                  CI: exit 1 and a diff when stale
  cnntable myst-plugin --init cnntable_plugin.py   a mystmd (Jupyter Book 2) plugin file
  cnntable diagram specs/resnet18.cnn --depth 2 -o resnet18.svg   an architecture diagram
  cnntable import torch:torchvision.models:get_model name=resnet18 --input 224x224x3 -o resnet18.cnn
  cnntable check resnet18.cnn --against torch:torchvision.models:get_model name=resnet18

exit status: 0 success, 1 spec error (FILE:LINE: message) or unreadable file,
2 usage error (unknown option, bad --columns/--dtype/--input value).
"""


def _arg(convert: Callable[[str], object]) -> Callable[[str], object]:
    """Turn a ``ValueError`` into argparse's usage error (exit 2)."""

    def check(text: str) -> object:
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return check


def _text(convert: Callable[[str], object]) -> Callable[[str], str]:
    """Validate with ``convert`` but keep the text (the request re-reads it)."""

    def check(text: str) -> str:
        _arg(convert)(text)
        return text

    return check


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnntable",
        description="Print the per-layer table of a CNN spec: output shapes, activations, "
        "parameters, MACs, memory and receptive field.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("spec", metavar="SPEC", help="a .cnn spec file (UTF-8), or - for standard input")
    add("-f", "--format", type=_arg(output_format), default="text", help=f"{' | '.join(FORMATS)} (default text)")
    add("--input", metavar="HxWxC", type=_text(input_shape), help="input shape, overriding the spec's input line")
    add("--bias", metavar="yes|no", type=_text(yes_no), help="default bias for conv and fc layers")
    add("--dtype", type=_text(dtype_name), help=f"element type for memory figures: {', '.join(DTYPE_BITS)}")
    add("--columns", type=_text(column_keys), help=f"comma-separated columns: {', '.join(COLUMNS)}")
    add("--formulas", action="store_true", default=None, help="show the arithmetic behind each number")
    add("--numbers", type=_text(parse_numbers), help="exact | compact | exact,activations=compact")
    add("--precision", metavar="N", type=_text(lambda t: positive(t, "precision", 1, MAX_PRECISION)),
        help="significant digits of compact numbers (default 2)")
    add("--fold", action="store_true", default=None, help="fold runs of identical layers into 'conv3-64 x 2'")
    add("--hide-empty", action="store_true", default=None, help="leave out rows without parameters")
    add("--depth", metavar="N", type=_text(lambda t: positive(t, "depth")), help="only rows nested less than N deep")
    add("--batch", metavar="N", type=_text(lambda t: positive(t, "batch", 1, 1_000_000)),
        help="batch size: activations and saved-for-backward bytes are for N samples (default 1)")
    add("--training", metavar="OPTIMIZER", type=_text(optimizer_name),
        help="training-memory summary for none (default), sgd, momentum, adam or adamw")
    add("--macs-per", metavar="sample|batch", type=_text(macs_per),
        help="MACs per sample (default, as torchvision counts) or for the whole --batch")
    add("--no-totals", dest="totals", action="store_false", default=None, help="leave out the totals")
    add("--color", choices=("auto", "always", "never"), default="auto",
        help="colour the text format: auto (a terminal, unless NO_COLOR is set), always, never")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def use_color(choice: str, stream: TextIO) -> bool:
    """``always``/``never`` as said; ``auto``: a terminal and no non-empty ``NO_COLOR``."""
    if choice != "auto":
        return choice == "always"
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def read_spec(path: str) -> tuple[str, str]:
    """(display name, text) of ``path`` (``-`` reads stdin); ``OSError``/``ValueError``."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
        name = "<stdin>"
    else:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
        name = path
    if len(data) > MAX_SPEC_BYTES:
        raise ValueError(f"larger than {MAX_SPEC_BYTES} bytes")
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 (byte {error.start})") from None


def write(text: str) -> None:
    """Write UTF-8 to stdout whatever the locale says."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["sync"]:
            from .sync import main as sync_main

            return sync_main(args[1:])
        if args[:1] == ["diagram"]:
            from .diagram.cli import main as diagram_main

            return diagram_main(args[1:])
        if args[:1] == ["import"]:
            from .importers.cli import import_main

            return import_main(args[1:])
        if args[:1] == ["check"]:
            from .importers.cli import check_main

            return check_main(args[1:])
        if args[:1] == ["myst-plugin"]:
            from .myst_plugin import main as plugin_main

            return plugin_main(args[1:])
        return _table(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as error:  # a bug of ours: say so in one line, never a traceback
        print(safe(f"cnntable: internal error: {type(error).__name__}: {error} (please report it)"), file=sys.stderr)
        return 1


def _table(args: list[str]) -> int:
    namespace = build_parser().parse_args(args)
    values = {key: getattr(namespace, key.replace("-", "_")) for key in
              ("format", "input", "bias", "dtype", "columns", "formulas", "numbers",
               "precision", "fold", "hide-empty", "depth", "totals", "batch", "training",
               "macs-per")}
    try:
        request = request_from(values)
    except ValueError as error:
        build_parser().error(str(error))
    try:
        name, text = read_spec(namespace.spec)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        print(safe(f"cnntable: {namespace.spec}: cannot read: {reason}"), file=sys.stderr)
        return 1
    try:
        output = render(text, request, color=use_color(namespace.color, sys.stdout))
    except SpecError as error:
        print(safe(f"{name}:{error.line}: {error.message}"), file=sys.stderr)
        return 1
    except (RecursionError, MemoryError) as error:
        print(safe(f"{name}: the spec is too large to compute ({type(error).__name__})"), file=sys.stderr)
        return 1
    write(output)
    return 0
