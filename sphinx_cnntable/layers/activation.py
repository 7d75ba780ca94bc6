"""Element-wise layers: activations and dropout (same shape, no parameters, 0 MACs).

Backward (PyTorch's eager kernels in ``train()`` mode): ``relu`` keeps its output, which
is its input's storage when in place (``inplace=yes``, the default, as torchvision builds
its models); ``sigmoid``, ``tanh`` and ``softmax`` keep their output; ``relu6``,
``leakyrelu``, ``elu``, ``gelu``, ``silu``, ``hswish`` and ``hsigmoid`` their input (in
place: ``leakyrelu`` and ``elu`` their output, the others a copy of their input);
``identity`` nothing; ``dropout`` its mask, ``droppath`` one value per sample."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import math

from .base import INPUT, OUTPUT, Args, Effect, LayerError, LayerType, Saved, Shape, register


ELEMENTWISE = (
    "relu", "relu6", "leakyrelu", "elu", "gelu", "silu", "swish", "hswish", "hardswish", "hsigmoid", "hardsigmoid",
    "sigmoid", "tanh", "softmax", "identity",
)


KEEPS_OUTPUT = frozenset({"relu", "sigmoid", "tanh", "softmax"})
"""Activations whose backward reads their output (the others read their input)."""
IN_PLACE = {
    "relu": "output", "leakyrelu": "output", "elu": "output",
    "relu6": "copy", "silu": "copy", "swish": "copy", "hswish": "copy", "hardswish": "copy",
    "hsigmoid": "copy", "hardsigmoid": "copy",
}
"""Activations with an in-place form (``inplace=yes``), and what the in-place backward
keeps: the output (its input's storage) or a copy of the input (PyTorch's in-place
kernels that need the original values)."""


@register
@dataclass(frozen=True)
class Elementwise(LayerType):
    """``relu``, ``relu6``, ``sigmoid``, ``tanh``, ``softmax``, ``identity`` and friends:
    same shape out, no parameters, 0 MACs. ``inplace=yes|no`` for those with an in-place
    form (:data:`IN_PLACE`): yes by default for ``relu`` (torchvision's
    ``nn.ReLU(inplace=True)``), no for the others (``nn.Module`` defaults)."""

    name: str = "relu"
    inplace: bool = False

    names: ClassVar[tuple[str, ...]] = ELEMENTWISE
    pattern: ClassVar[re.Pattern[str]] = re.compile(rf"^(?:{'|'.join(ELEMENTWISE)})$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"inplace"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        name = match.group(0)
        inplace = args.flag("inplace", name == "relu")
        if name not in IN_PLACE:
            if inplace and "inplace" in args.explicit:
                raise LayerError(f"{args.head}: has no in-place form in PyTorch (inplace= is for {', '.join(sorted(IN_PLACE))})")
            inplace = False
        return cls(name=name, inplace=inplace)

    def apply(self, shape: Shape, head: str) -> Effect:
        if self.name == "identity":
            return Effect(output_shape=shape, aliases=True)
        if self.inplace:
            kept = OUTPUT if IN_PLACE[self.name] == "output" else Saved("new", math.prod(shape))
            return Effect(output_shape=shape, aliases=True, saves=(kept,))
        return Effect(output_shape=shape, saves=(OUTPUT if self.name in KEEPS_OUTPUT else INPUT,),
                      view="" if self.name == "softmax" else "like")


def _probability(text: str, head: str) -> float:
    if not re.fullmatch(r"(?:0|1|0?\.\d+|0\.\d*|1\.0*)", text):
        raise LayerError(f"{head}: p= takes a probability between 0 and 1, not {text!r}")
    return float(text)


@register
@dataclass(frozen=True)
class Dropout(LayerType):
    """``dropout`` (``p=``, default 0.5): same shape, no parameters. Backward: keeps its
    mask, one value of the activation dtype per element (PyTorch's CPU kernel:
    ``input * mask``; CUDA's fused kernel keeps a bool mask instead); ``p=0`` is the
    identity and keeps nothing, ``p=1`` keeps one zero."""

    p: float = 0.5

    names: ClassVar[tuple[str, ...]] = ("dropout",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^dropout$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"p"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(p=_probability(args.options["p"], args.head) if "p" in args.options else 0.5)

    def apply(self, shape: Shape, head: str) -> Effect:
        if self.p == 0:
            return Effect(output_shape=shape, aliases=True)
        if self.p == 1:
            return Effect(output_shape=shape, saves=(Saved("new", 1, per_sample=False),), view="like")
        return Effect(output_shape=shape, saves=(Saved("new", math.prod(shape)),), view="like")


@register
@dataclass(frozen=True)
class StochasticDepth(LayerType):
    """``droppath`` (``stochasticdepth``; ``p=`` read and checked): drops a residual
    branch per sample while training; same shape, no parameters, 0 MACs. Accepted so a
    spec reads like the code it describes. Backward (torchvision's ``StochasticDepth``,
    mode ``row``): keeps its per-sample mask, one value per sample (nothing with ``p=0``)."""

    p: float | None = None

    names: ClassVar[tuple[str, ...]] = ("droppath", "stochasticdepth")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:droppath|stochasticdepth)$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"p"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(p=_probability(args.options["p"], args.head) if "p" in args.options else None)

    def apply(self, shape: Shape, head: str) -> Effect:
        if self.p == 0:
            return Effect(output_shape=shape, aliases=True)
        return Effect(output_shape=shape, saves=(Saved("new", 1),), view="like")
