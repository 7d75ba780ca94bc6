"""Element-wise layers: activations and dropout (same shape, no parameters, 0 MACs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from .base import Args, Effect, LayerError, LayerType, Shape, register


ELEMENTWISE = (
    "relu", "relu6", "leakyrelu", "elu", "gelu", "silu", "swish", "hswish", "hardswish", "hsigmoid", "hardsigmoid",
    "sigmoid", "tanh", "softmax", "identity",
)


@register
@dataclass(frozen=True)
class Elementwise(LayerType):
    """``relu``, ``relu6``, ``sigmoid``, ``tanh``, ``softmax``, ``identity`` and friends:
    same shape out, no parameters, 0 MACs."""

    names: ClassVar[tuple[str, ...]] = ELEMENTWISE
    pattern: ClassVar[re.Pattern[str]] = re.compile(rf"^(?:{'|'.join(ELEMENTWISE)})$")
    family: ClassVar[str] = "activation"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        return Effect(output_shape=shape)


def _probability(text: str, head: str) -> float:
    if not re.fullmatch(r"(?:0|1|0?\.\d+|0\.\d*|1\.0*)", text):
        raise LayerError(f"{head}: p= takes a probability between 0 and 1, not {text!r}")
    return float(text)


@register
@dataclass(frozen=True)
class Dropout(LayerType):
    """``dropout`` (``p=`` is read and checked, not used): same shape, no parameters."""

    names: ClassVar[tuple[str, ...]] = ("dropout",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^dropout$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"p"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if "p" in args.options:
            _probability(args.options["p"], args.head)
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        return Effect(output_shape=shape)


@register
@dataclass(frozen=True)
class StochasticDepth(LayerType):
    """``droppath`` (``stochasticdepth``; ``p=`` read and checked): drops a residual
    branch per sample while training; same shape, no parameters, 0 MACs. Accepted so a
    spec reads like the code it describes."""

    names: ClassVar[tuple[str, ...]] = ("droppath", "stochasticdepth")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:droppath|stochasticdepth)$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"p"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if "p" in args.options:
            _probability(args.options["p"], args.head)
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        return Effect(output_shape=shape)
