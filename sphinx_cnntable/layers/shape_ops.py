"""Layers that only rearrange a tensor."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import Args, Effect, LayerType, Shape, register


@register
@dataclass(frozen=True)
class Flatten(LayerType):
    """``flatten``: a feature map to a vector of its size (HxWxC to H*W*C). A vector has
    one position, so its receptive-field step takes the whole map (as ``fc`` and ``gap``
    do): a layer after ``flatten`` sees what it would see without it."""

    names: ClassVar[tuple[str, ...]] = ("flatten",)
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^flatten$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        whole = shape[:-1]
        return Effect(output_shape=(math.prod(shape),), rf_kernel=whole, rf_stride=whole)
