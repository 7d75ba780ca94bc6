"""Fully connected layers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import INPUT, Args, Effect, LayerError, LayerType, Saved, Shape, parse_int, register


@register
@dataclass(frozen=True)
class FullyConnected(LayerType):
    """``fc-N`` or ``fc N`` (also ``linear``, ``dense``): flattens its input;
    weights in*N, MACs in*N. On a feature map its receptive-field step is the whole map.

    ``per=token``: ``torch.nn.Linear`` on the channels of every token (or map position),
    keeping the other axes: weights C*N, MACs tokens*C*N, receptive field unchanged.
    Backward: keeps its input (its flattened view)."""

    units: int
    bias: bool
    per_token: bool = False

    names: ClassVar[tuple[str, ...]] = ("fc", "linear", "dense")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:fc|linear|dense)(?:-(\w+))?$")
    family: ClassVar[str] = "fc"
    keywords: ClassVar[frozenset[str]] = frozenset({"bias", "per"})
    takes_positional: ClassVar[int] = 1

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        if match.group(1) and args.positional:
            raise LayerError(f"{args.head}: give the width once (fc-4096 or fc 4096)")
        text = match.group(1) or (args.positional[0] if args.positional else None)
        if text is None:
            raise LayerError(f"{args.head}: give the width, as in fc-4096 or fc 4096")
        per = args.options.get("per", "all").lower()
        if per not in ("all", "token"):
            raise LayerError(f"{args.head}: per= takes token (or all, the default), not {args.options['per']!r}")
        return cls(units=parse_int(text, "the width"), bias=args.flag("bias", True), per_token=per == "token")

    def apply(self, shape: Shape, head: str) -> Effect:
        if self.per_token:
            return self._per_token(shape)
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
            saves=(Saved("input-flat"),),
            formulas={
                "weights": f"{fan_in_text}*{self.units}",
                "biases": str(self.units) if self.bias else "0",
                "macs": f"{fan_in_text}*{self.units}",
            },
        )

    def _per_token(self, shape: Shape) -> Effect:
        *positions, c = shape
        tokens = math.prod(positions)
        tokens_text = "*".join(f"{d}" for d in positions)
        return Effect(
            output_shape=(*positions, self.units),
            weights=c * self.units,
            biases=self.units if self.bias else 0,
            macs=tokens * c * self.units,
            saves=(INPUT,),
            formulas={
                "weights": f"{c}*{self.units}",
                "biases": str(self.units) if self.bias else "0",
                "macs": f"{tokens_text}*{c}*{self.units}" if positions else f"{c}*{self.units}",
            },
        )
