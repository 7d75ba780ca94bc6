"""Layer types: each one a self-contained entry that reads its line and maps an input
shape to its output shape, parameters, MACs and receptive-field step.

Shapes are ``(*spatial, C)`` for feature maps of 1 to 3 spatial axes (``(L, C)``,
``(H, W, C)``, ``(D, H, W, C)``) and ``(N,)`` for vectors. Conventions:

* weights and biases are trainable; batch-norm running mean and variance are the
  only non-trainable parameters (Keras counts them, PyTorch keeps them as buffers);
* MACs are the multiply-accumulates of conv and fc weights only (torchvision's
  ``_ops``): bias additions, normalisation, activations, pooling and merges count 0;
* a layer's receptive-field step is its effective kernel and stride per spatial axis.

One module per family (:mod:`.conv`, :mod:`.pool`, :mod:`.linear`, :mod:`.norm`,
:mod:`.activation`, :mod:`.shape_ops`; merge blocks in :mod:`.merge`), on the shared
:mod:`.base` (effects, arguments, registry) and :mod:`.geometry` (rank-general shapes
and sliding windows). Adding a layer type means adding one class to its family's
module, decorated with :func:`register`; the import order below is the order in which
:func:`build_layer` tries the patterns.
"""

from __future__ import annotations

from . import conv, pool, linear, norm, activation, shape_ops  # noqa: F401  (registers the types)
from .activation import Dropout, Elementwise
from .base import (
    FAMILIES,
    REGISTRY,
    Args,
    Axes,
    Effect,
    LayerError,
    LayerType,
    Pair,
    Shape,
    build_layer,
    known_keywords,
    parse_axes,
    parse_int,
    parse_pair,
    register,
    show_axes,
    show_pair,
    show_shape,
)
from .conv import Conv, DepthwiseConv, TransposedConv
from .geometry import Padding, effective, kernel_text, parse_padding, per_axis, spatial, window_output, windowed
from .linear import FullyConnected
from .merge import MERGES, MergeKind
from .norm import BatchNorm, LocalResponseNorm
from .pool import GlobalPool, Pool
from .shape_ops import Crop, Flatten, PixelShuffle, Upsample, ZeroPad

__all__ = [
    "FAMILIES", "MERGES", "REGISTRY", "Args", "Axes", "BatchNorm", "Conv", "DepthwiseConv", "Dropout", "Effect",
    "Crop", "Elementwise", "Flatten", "FullyConnected", "GlobalPool", "LayerError", "LayerType", "LocalResponseNorm",
    "MergeKind", "Padding", "Pair", "PixelShuffle", "Pool", "Shape", "TransposedConv", "Upsample", "ZeroPad", "build_layer", "effective", "kernel_text",
    "known_keywords", "parse_axes", "parse_int", "parse_padding", "parse_pair", "per_axis", "register", "show_axes",
    "show_pair", "show_shape", "spatial", "window_output", "windowed",
]
