"""Layers that only rearrange a tensor."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from .base import Args, Effect, LayerError, LayerType, Shape, register


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


@register
@dataclass(frozen=True)
class ChannelShuffle(LayerType):
    """``shuffle groups=G`` (``channelshuffle``; G defaults to 2): interleaves the
    channels of G groups (ShuffleNet); same shape, no parameters, 0 MACs."""

    groups: int

    names: ClassVar[tuple[str, ...]] = ("shuffle", "channelshuffle")
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:shuffle|channelshuffle)$")
    keywords: ClassVar[frozenset[str]] = frozenset({"groups"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls(groups=args.integer("groups", 2))

    def apply(self, shape: Shape, head: str) -> Effect:
        if shape[-1] % self.groups:
            raise LayerError(f"{head}: {shape[-1]} channels do not split into groups={self.groups}")
        return Effect(output_shape=shape)
