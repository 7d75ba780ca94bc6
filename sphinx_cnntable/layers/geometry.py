"""Shapes of any spatial rank, in one place: a feature map is ``(*spatial, C)`` with 1
(``L``), 2 (``H, W``) or 3 (``D, H, W``) spatial axes; sizes written on a layer line
(kernel, stride, padding, dilation) hold one value for every axis or one per axis.

Sliding windows follow PyTorch per axis:
``out = floor((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1``.
"""

from __future__ import annotations

from ..receptive import Window
from .base import Args, Axes, LayerError, Shape, parse_axes, show_axes

Padding = tuple[str, Axes]
"""``("explicit", axes)``, ``("same", ())`` (TensorFlow) or ``("default", ())`` (the
layer's own default, resolved once the rank is known)."""

AXIS_NAMES = {1: "L", 2: "HxW", 3: "DxHxW"}


def spatial(shape: Shape, head: str) -> tuple[Axes, int]:
    """The spatial sizes and the channels of a feature map; a vector is an error."""
    if len(shape) < 2:
        raise LayerError(f"{head} needs an HxWxC input, got a vector of {shape[0]:,}")
    return shape[:-1], shape[-1]


def per_axis(axes: Axes, rank: int, head: str, what: str) -> Axes:
    """``axes`` for each of ``rank`` axes: one value is repeated, else the counts must agree."""
    if len(axes) == rank:
        return axes
    if len(axes) == 1:
        return axes * rank
    raise LayerError(
        f"{head}: {what} {show_axes(axes)} has {len(axes)} axes but the input has {rank} "
        f"({AXIS_NAMES[rank]}); write one size or {rank}"
    )


def parse_padding(args: Args) -> Padding:
    """``pad=N``, ``pad=HxW``, ``pad=DxHxW``, ``pad=same`` or ``pad=valid`` (0)."""
    if "pad" not in args.options:
        return "default", ()
    value = args.options["pad"].lower()
    if value == "same":
        return "same", ()
    if value == "valid":
        return "explicit", (0,)
    return "explicit", parse_axes(value, "pad=", minimum=0)


def effective(kernel: Axes, dilation: Axes) -> Axes:
    """The dilated kernel span per axis: ``dilation*(kernel-1) + 1``."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))


def window_output(size: int, kernel: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False) -> int:
    """``floor((size + 2*pad - dilation*(kernel-1) - 1) / stride) + 1`` (PyTorch), with
    ceil mode dropping a last window that would start in the right padding; 0 when empty."""
    span = dilation * (kernel - 1) + 1
    room = size + 2 * pad - span
    out = (room + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return max(out, 0)


def windowed(
    head: str, sizes: Axes, kernel: Axes, stride: Axes, padding: Padding, dilation: Axes, ceil: bool = False
) -> Axes:
    """Output sizes of a sliding window (all arguments per axis, padding resolved);
    ``same`` is TensorFlow's ceil(in/stride)."""
    mode, pad = padding
    if mode == "same":
        return tuple(-(-size // s) for size, s in zip(sizes, stride, strict=True))
    out = tuple(
        window_output(size, k, s, p, d, ceil) for size, k, s, p, d in zip(sizes, kernel, stride, pad, dilation, strict=True)
    )
    if min(out) < 1:
        span = effective(kernel, dilation)
        what = "dilated kernel" if span != kernel else "kernel"
        padded = tuple(size + 2 * p for size, p in zip(sizes, pad, strict=True))
        raise LayerError(f"{head}: {what} {show_axes(span)} is larger than the padded input {show_axes(padded)}")
    return out


def same_padded(sizes: Axes, kernel: Axes, stride: Axes, dilation: Axes) -> Axes:
    """The input sizes after TensorFlow's "same" padding (``total`` added per axis, as in
    :func:`windows`): what a layer with ``pad=same`` reads, a zero-padded copy."""
    return tuple(
        n + max((-(-n // s) - 1) * s + span - n, 0)
        for n, s, span in zip(sizes, stride, effective(kernel, dilation), strict=True)
    )


def kernel_text(kernel: Axes) -> str:
    return "*".join(str(k) for k in kernel)


def windows(
    sizes: Axes, kernel: Axes, stride: Axes, padding: Padding, dilation: Axes, transposed: bool = False
) -> tuple[Window, ...]:
    """The receptive-field windows, one per axis; ``same`` pads ``total // 2`` before,
    ``total = max((ceil(in/stride) - 1)*stride + span - in, 0)`` (TensorFlow)."""
    mode, pad = padding
    if mode == "same":
        pad = tuple(
            max((-(-n // s) - 1) * s + span - n, 0) // 2
            for n, s, span in zip(sizes, stride, effective(kernel, dilation), strict=True)
        )
    return tuple(Window(k, s, p, d, transposed) for k, s, p, d in zip(kernel, stride, pad, dilation, strict=True))
