"""Fully connected layers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import Args, Effect, LayerError, LayerType, Shape, parse_int, register


@register
@dataclass(frozen=True)
class FullyConnected(LayerType):
    """``fc-N`` or ``fc N`` (also ``linear``, ``dense``): flattens its input;
    weights in*N, MACs in*N. On a feature map its receptive-field step is the whole map."""

    units: int
    bias: bool

    names: ClassVar[tuple[str, ...]] = ("fc", "linear", "dense")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:fc|linear|dense)(?:-(\w+))?$")
    family: ClassVar[str] = "fc"
    keywords: ClassVar[frozenset[str]] = frozenset({"bias"})
    takes_positional: ClassVar[int] = 1

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if match.group(1) and args.positional:
            raise LayerError(f"{args.head}: give the width once (fc-4096 or fc 4096)")
        text = match.group(1) or (args.positional[0] if args.positional else None)
        if text is None:
            raise LayerError(f"{args.head}: give the width, as in fc-4096 or fc 4096")
        return cls(units=parse_int(text, "the width"), bias=args.flag("bias", True))

    def apply(self, shape: Shape, head: str) -> Effect:
        fan_in = math.prod(shape)
        fan_in_text = "*".join(str(d) for d in shape)
        whole = shape[:-1]
        return Effect(
            output_shape=(self.units,),
            weights=fan_in * self.units,
            biases=self.units if self.bias else 0,
            macs=fan_in * self.units,
            rf_kernel=whole,
            rf_stride=whole,
            formulas={
                "weights": f"{fan_in_text}*{self.units}",
                "biases": str(self.units) if self.bias else "0",
                "macs": f"{fan_in_text}*{self.units}",
            },
        )
