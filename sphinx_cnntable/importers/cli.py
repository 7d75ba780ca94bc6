"""``cnntable import MODEL [key=value ...] --input SHAPE [-o FILE] [--allow-partial]`` and
``cnntable check SPEC --against MODEL [key=value ...] [--input SHAPE]``.

Exit status: 0 success (``check``: the spec matches); 1 a mismatch (``check``), an
operation the language cannot express, a model that cannot be read or a missing
framework; 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..engine import parse_shape
from ..errors import SpecError
from ..render_text import safe
from . import ModelError, parse_model
from .emit import UnsupportedOp

IMPORT_EXAMPLES = """\
examples:
  cnntable import torch:torchvision.models:get_model name=resnet18 --input 224x224x3 -o resnet18.cnn
  cnntable import torch:mypackage.models:Net width=64 --input 32x32x3
  cnntable import onnx:model.onnx -o model.cnn          the input shape comes from the graph
"""

CHECK_EXAMPLES = """\
examples:
  cnntable check resnet18.cnn --against torch:torchvision.models:get_model name=resnet18
  cnntable check model.cnn --against onnx:model.onnx

exit status: 0 the spec's figures equal the model's, 1 they differ (a per-row diff)
or the model cannot be read, 2 usage error.
"""


def _shape(text: str) -> tuple[int, ...]:
    try:
        return parse_shape(text)
    except SpecError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def import_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnntable import", description="Write a spec from a PyTorch or ONNX model.",
        epilog=IMPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", nargs="+", metavar="MODEL",
                        help="torch:package.module:callable [key=value ...] or onnx:path/to/model.onnx")
    parser.add_argument("--input", metavar="HxWxC", type=_shape, help="input shape (channels last, or 3x224x224 chw)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the spec here (default: standard output)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="write an operation the language cannot express as a comment line instead of failing")
    return parser


def check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnntable check", description="Compare a spec's figures with a PyTorch or ONNX model's.",
        epilog=CHECK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", metavar="SPEC", help="a .cnn spec file, or - for standard input")
    parser.add_argument("--against", nargs="+", required=True, metavar="MODEL",
                        help="torch:package.module:callable [key=value ...] or onnx:path/to/model.onnx")
    parser.add_argument("--input", metavar="HxWxC", type=_shape, help="input shape, overriding the spec's input line")
    return parser


def _fail(message: str) -> int:
    print(safe(f"cnntable: {message}"), file=sys.stderr)
    return 1


def import_main(argv: Sequence[str]) -> int:
    args = import_parser().parse_args(list(argv))
    try:
        ref = parse_model(args.model)
    except ModelError as error:
        import_parser().error(str(error))
    from . import import_model

    try:
        emitted = import_model(ref, args.input, args.allow_partial)
    except UnsupportedOp as error:
        return _fail(f"{error} (--allow-partial writes it as a comment line)")
    except ModelError as error:
        return _fail(str(error))
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(emitted.text)
        except OSError as error:
            return _fail(f"{args.output}: cannot write: {error.strerror or error}")
    else:
        from ..cli import write

        write(emitted.text)
    for note in emitted.unsupported:
        print(safe(f"cnntable import: written as a comment: {note}"), file=sys.stderr)
    return 0


def check_main(argv: Sequence[str]) -> int:
    args = check_parser().parse_args(list(argv))
    try:
        ref = parse_model(args.against)
    except ModelError as error:
        check_parser().error(str(error))
    from ..cli import read_spec, write
    from .check import check

    try:
        name, text = read_spec(args.spec)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return _fail(f"{args.spec}: cannot read: {reason}")
    try:
        result = check(text, ref, args.input, name)
    except SpecError as error:
        return _fail(f"{name}:{error.line}: {error.message}")
    except (UnsupportedOp, ModelError) as error:
        return _fail(str(error))
    if result.ok:
        write(result.message + "\n")
        return 0
    print(safe(result.message), file=sys.stderr)
    return 1
