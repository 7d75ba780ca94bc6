"""Importers: a spec from a real model (``cnntable import``), and the comparison of a spec
with one (``cnntable check``, the directive's ``:verify:``).

``MODEL`` is ``torch:package.module:callable [key=value ...]`` (:mod:`.torch_fx`, needs
the ``torch`` extra) or ``onnx:path/to/model.onnx`` (:mod:`.onnx_graph`, the ``onnx``
extra). Nothing here imports a framework at import time: the frameworks are imported
when a model is read, so the core package and the Sphinx extension never need them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .emit import Emitted, UnsupportedOp

__all__ = ["Emitted", "FrameworkMissing", "ModelError", "ModelRef", "UnsupportedOp", "import_model", "parse_model"]


class ModelError(Exception):
    """A model that cannot be read: a bad reference, an import or call that fails."""


class FrameworkMissing(ModelError):
    """The framework the model needs (torch, onnx) is not installed."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        super().__init__(f"{framework} is not installed (pip install 'sphinx-cnntable[{framework}]')")


@dataclass(frozen=True)
class ModelRef:
    kind: str  # "torch" or "onnx"
    target: str
    kwargs: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        args = "".join(f" {k}={v!r}" if isinstance(v, str) else f" {k}={v}" for k, v in self.kwargs)
        return f"{self.kind}:{self.target}{args}"


_KEY = re.compile(r"^[A-Za-z_]\w*$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_value(text: str) -> object:
    """A ``key=value`` value: an int, a float, True/False/None, or a string (quotes optional)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def parse_model(words: str | list[str]) -> ModelRef:
    """``torch:pkg.mod:callable key=value ...`` or ``onnx:path.onnx``."""
    parts = words.split() if isinstance(words, str) else list(words)
    if not parts:
        raise ModelError("no model: give torch:package.module:callable or onnx:path/to/model.onnx")
    head, rest = parts[0], parts[1:]
    kind, sep, target = head.partition(":")
    if not sep or kind not in ("torch", "onnx") or not target:
        raise ModelError(f"model {head!r}: write torch:package.module:callable or onnx:path/to/model.onnx")
    kwargs: list[tuple[str, object]] = []
    for word in rest:
        key, eq, value = word.partition("=")
        if not eq or not _KEY.match(key):
            raise ModelError(f"model argument {word!r}: write key=value")
        if any(key == k for k, _ in kwargs):
            raise ModelError(f"model argument {key!r} given twice")
        kwargs.append((key, parse_value(value)))
    if kind == "torch":
        module, colon, name = target.partition(":")
        if not colon or not module or not name or not all(_KEY.match(p) for p in module.split(".")) or not _KEY.match(name):
            raise ModelError(f"model {head!r}: write torch:package.module:callable")
    elif kwargs:
        raise ModelError("an onnx model takes no key=value arguments")
    return ModelRef(kind, target, tuple(kwargs))


def import_model(ref: ModelRef, input_shape: tuple[int, ...] | None, allow_partial: bool = False) -> Emitted:
    """The spec of the model ``ref`` at ``input_shape`` (engine order: channels last)."""
    if ref.kind == "torch":
        from . import torch_fx

        if input_shape is None:
            raise ModelError("a torch model needs --input (for example 224x224x3)")
        return torch_fx.import_torch(ref, input_shape, allow_partial)
    from . import onnx_graph

    return onnx_graph.import_onnx(ref.target, input_shape, allow_partial)
