"""Layer types: each one a self-contained entry that reads its line and maps an input
shape to its output shape, parameters, MACs and receptive-field step.

Shapes are ``(*spatial, C)`` for feature maps of 1 to 3 spatial axes (``(L, C)``,
``(H, W, C)``, ``(D, H, W, C)``) and ``(N,)`` for vectors; a token sequence is ``(N, C)``,
the shape of a 1-D map. Conventions:

* weights and biases are trainable; batch-norm running mean and variance are the
  only non-trainable parameters (Keras counts them, PyTorch keeps them as buffers);
* MACs are the multiply-accumulates of conv and fc weights and of the attention
  matmuls (torchvision's ``_ops``): bias additions, normalisation, activations, pooling and merges count 0;
* a layer's receptive-field step is its effective kernel and stride per spatial axis.

One module per family (:mod:`.conv`, :mod:`.pool`, :mod:`.linear`, :mod:`.norm`,
:mod:`.activation`, :mod:`.shape_ops`, :mod:`.attention` for token sequences; merge blocks in :mod:`.merge`), on the shared
:mod:`.base` (effects, arguments, registry) and :mod:`.geometry` (rank-general shapes
and sliding windows). Adding a layer type means adding one class to its family's
module, decorated with :func:`register`; the import order below is the order in which
:func:`build_layer` tries the patterns.
"""

from __future__ import annotations

from . import conv, pool, linear, norm, activation, shape_ops, attention  # noqa: F401  (registers the types)
from .activation import Dropout, Elementwise, StochasticDepth
from .attention import Attention, ClassToken, PatchEmbed, PatchMerge, PositionEmbedding, SelectClassToken, Tokens
from .base import (
    FAMILIES,
    REGISTRY,
    Args,
    Axes,
    INPUT,
    OUTPUT,
    Effect,
    LayerError,
    LayerType,
    Pair,
    Saved,
    Shape,
    build_layer,
    known_keywords,
    known_names,
    parse_axes,
    parse_int,
    parse_pair,
    register,
    show_axes,
    show_pair,
    show_shape,
    suggest,
)
from .conv import Conv, DepthwiseConv, TransposedConv
from .geometry import Padding, effective, kernel_text, parse_padding, per_axis, spatial, window_output, windowed
from .linear import FullyConnected
from .merge import MERGES, MergeKind
from .norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, LayerScale, LocalResponseNorm
from .pool import GlobalPool, Pool
from .shape_ops import ChannelShuffle, Crop, Flatten, PixelShuffle, Upsample, ZeroPad

__all__ = [
    "FAMILIES", "INPUT", "MERGES", "OUTPUT", "Saved", "REGISTRY", "Args", "Attention", "Axes", "BatchNorm", "ChannelShuffle", "ClassToken", "Conv",
    "Crop", "DepthwiseConv", "Dropout", "Effect", "Elementwise", "Flatten", "FullyConnected", "GlobalPool", "GroupNorm",
    "InstanceNorm", "LayerError", "LayerNorm", "LayerScale", "LayerType", "LocalResponseNorm", "MergeKind", "Padding",
    "Pair", "PatchEmbed", "PatchMerge", "PixelShuffle", "Pool", "PositionEmbedding", "SelectClassToken", "Shape",
    "StochasticDepth", "Tokens", "TransposedConv", "Upsample", "ZeroPad", "build_layer", "effective", "kernel_text",
    "known_keywords", "known_names", "parse_axes", "parse_int", "parse_padding", "parse_pair", "per_axis", "register",
    "show_axes", "show_pair", "show_shape", "spatial", "suggest", "window_output", "windowed",
]
