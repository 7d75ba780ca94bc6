"""Layer types: each one a self-contained entry that reads its line and maps an input
shape to its output shape, parameters, MACs and receptive-field step.

Shapes are ``(H, W, C)`` for feature maps and ``(N,)`` for vectors. Conventions:

* weights and biases are trainable; batch-norm running mean and variance are the
  only non-trainable parameters (Keras counts them, PyTorch keeps them as buffers);
* MACs are the multiply-accumulates of conv and fc weights only (torchvision's
  ``_ops``): bias additions, normalisation, activations, pooling and merges count 0;
* a layer's receptive-field step is its effective kernel and stride per axis.

Adding a layer type means adding one class here, decorated with :func:`register`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

from .limits import MAX_DIGITS

Shape = tuple[int, ...]
Pair = tuple[int, int]


class LayerError(ValueError):
    """A layer that cannot be built or applied; the engine adds the line number."""


@dataclass(frozen=True)
class Effect:
    """What one layer does to its input.

    ``formulas`` holds the expressions behind ``weights``, ``biases``, ``macs`` and
    ``non_trainable`` (without their results), for example ``"(3*3*3)*64"``.
    """

    output_shape: Shape
    weights: int = 0
    biases: int = 0
    non_trainable: int = 0
    macs: int = 0
    rf_kernel: Pair = (1, 1)
    rf_stride: tuple[int | Fraction, int | Fraction] = (1, 1)
    formulas: Mapping[str, str] = field(default_factory=dict)


class Args:
    """The positional words and ``key=value`` options of one layer line; ``options``
    includes the defaults in force, ``explicit`` names the keys written on the line."""

    def __init__(
        self, head: str, positional: list[str], options: dict[str, str], explicit: frozenset[str] | None = None
    ) -> None:
        self.head = head
        self.positional = positional
        self.options = options
        self.explicit = frozenset(options) if explicit is None else explicit

    def stride(self, written: Pair | None, default: Pair) -> Pair:
        """The stride: ``stride=`` on the line, else a ``/S`` in the name, else a
        ``default stride=``, else ``default``."""
        if written is not None and "stride" not in self.explicit:
            return written
        return self.pair("stride", default)

    def integer(self, key: str, default: int, minimum: int = 1) -> int:
        return parse_int(self.options[key], f"{key}=", minimum) if key in self.options else default

    def flag(self, key: str, default: bool) -> bool:
        if key not in self.options:
            return default
        value = self.options[key].lower()
        if value in ("yes", "true", "on", "1"):
            return True
        if value in ("no", "false", "off", "0"):
            return False
        raise LayerError(f"{self.head}: {key}= takes yes or no, not {self.options[key]!r}")

    def pair(self, key: str, default: Pair, minimum: int = 1) -> Pair:
        if key not in self.options:
            return default
        return parse_pair(self.options[key], f"{key}=", minimum)


def parse_int(text: str, what: str, minimum: int = 1) -> int:
    """A decimal integer of at least ``minimum``; anything else is a user error."""
    if not text.isascii() or not text.isdigit():
        raise LayerError(f"bad number {text!r} for {what}")
    if len(text.lstrip("0")) > MAX_DIGITS:
        raise LayerError(f"{what} {text[:12]}... is too large (more than {MAX_DIGITS} digits)")
    value = int(text.lstrip("0") or "0")
    if value < minimum:
        raise LayerError(f"{what} must be at least {minimum}, not {value}")
    return value


def parse_pair(text: str, what: str, minimum: int = 1) -> Pair:
    """``3`` or ``1x7`` (height x width)."""
    parts = text.lower().split("x")
    if len(parts) == 1:
        value = parse_int(parts[0], what, minimum)
        return value, value
    if len(parts) == 2:
        return parse_int(parts[0], what, minimum), parse_int(parts[1], what, minimum)
    raise LayerError(f"bad size {text!r} for {what} (write N or HxW)")


def show_pair(pair: Pair) -> str:
    return f"{pair[0]}x{pair[1]}"


def show_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


class LayerType:
    """A registered entry: ``pattern`` matches the first word of a line."""

    pattern: ClassVar[re.Pattern[str]]
    family: ClassVar[str] = "other"
    keywords: ClassVar[frozenset[str]] = frozenset()
    takes_positional: ClassVar[int] = 0

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        raise NotImplementedError

    def apply(self, shape: Shape, head: str) -> Effect:
        raise NotImplementedError


REGISTRY: list[type[LayerType]] = []


def register(cls: type[LayerType]) -> type[LayerType]:
    REGISTRY.append(cls)
    return cls


_KEYWORDS: list[tuple[int, frozenset[str]]] = []


def known_keywords() -> frozenset[str]:
    """Every ``key=value`` keyword a registered layer type accepts (recomputed when one registers)."""
    if not _KEYWORDS or _KEYWORDS[0][0] != len(REGISTRY):
        _KEYWORDS[:] = [(len(REGISTRY), frozenset().union(*(cls.keywords for cls in REGISTRY)))]
    return _KEYWORDS[0][1]


FAMILIES = ("conv", "fc", "pool", "norm", "activation", "other")


def spatial(shape: Shape, head: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise LayerError(f"{head} needs an HxWxC input, got a vector of {shape[0]:,}")
    return shape[0], shape[1], shape[2]


# --- padding -------------------------------------------------------------------

Padding = tuple[str, Pair]  # ("explicit", (ph, pw)) or ("same", (0, 0))


def parse_padding(args: Args, default: Pair) -> Padding:
    if "pad" not in args.options:
        return "explicit", default
    value = args.options["pad"].lower()
    if value == "same":
        return "same", (0, 0)
    if value == "valid":
        return "explicit", (0, 0)
    return "explicit", parse_pair(value, "pad=", minimum=0)


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
    head: str, shape: Shape, kernel: Pair, stride: Pair, padding: Padding, dilation: Pair = (1, 1), ceil: bool = False
) -> tuple[int, int]:
    """Output height and width of a sliding window; ``same`` is TensorFlow's ceil(in/stride)."""
    height, width, _ = spatial(shape, head)
    mode, (ph, pw) = padding
    if mode == "same":
        return -(-height // stride[0]), -(-width // stride[1])
    out_h = window_output(height, kernel[0], stride[0], ph, dilation[0], ceil)
    out_w = window_output(width, kernel[1], stride[1], pw, dilation[1], ceil)
    if out_h < 1 or out_w < 1:
        span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
        what = "dilated kernel" if span != kernel else "kernel"
        raise LayerError(
            f"{head}: {what} {show_pair(span)} is larger than the padded input {show_pair((height + 2 * ph, width + 2 * pw))}"
        )
    return out_h, out_w


def effective(kernel: Pair, dilation: Pair) -> Pair:
    return dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1


def kernel_text(kernel: Pair) -> str:
    return f"{kernel[0]}*{kernel[1]}"


# --- convolutions --------------------------------------------------------------


@dataclass(frozen=True)
class _ConvBase(LayerType):
    kernel: Pair
    filters: int | None  # None: as many as the input channels (depthwise)
    stride: Pair
    padding: Padding
    dilation: Pair
    groups: int | None  # None: depthwise
    bias: bool
    multiplier: int = 1

    family: ClassVar[str] = "conv"

    @staticmethod
    def read(args: Args, kernel_text_: str, stride_text: str | None) -> dict[str, object]:
        kernel = parse_pair(kernel_text_, "the kernel")
        stride = args.stride(parse_pair(stride_text, "the stride") if stride_text else None, (1, 1))
        dilation = args.pair("dilation", (1, 1))
        default_pad = (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)
        return {
            "kernel": kernel,
            "stride": stride,
            "padding": parse_padding(args, default_pad),
            "dilation": dilation,
            "bias": args.flag("bias", True),
        }

    def channels(self, shape: Shape, head: str) -> tuple[int, int, int]:
        """Input channels, output channels and groups, checked for divisibility."""
        _, _, c_in = spatial(shape, head)
        groups = c_in if self.groups is None else self.groups
        c_out = c_in * self.multiplier if self.filters is None else self.filters
        if c_in % groups or c_out % groups:
            raise LayerError(
                f"{head}: channels not divisible by groups={groups} (input {c_in}, output {c_out})"
            )
        return c_in, c_out, groups

    def apply(self, shape: Shape, head: str) -> Effect:
        c_in, c_out, groups = self.channels(shape, head)
        out_h, out_w = windowed(head, shape, self.kernel, self.stride, self.padding, self.dilation)
        per_filter = self.kernel[0] * self.kernel[1] * (c_in // groups)
        weights = per_filter * c_out
        fan_in = f"{kernel_text(self.kernel)}*{c_in // groups}"
        return Effect(
            output_shape=(out_h, out_w, c_out),
            weights=weights,
            biases=c_out if self.bias else 0,
            macs=weights * out_h * out_w,
            rf_kernel=effective(self.kernel, self.dilation),
            rf_stride=self.stride,
            formulas={
                "weights": f"({fan_in})*{c_out}",
                "biases": str(c_out) if self.bias else "0",
                "macs": f"({fan_in})*{c_out}*{out_h}*{out_w}",
            },
        )


@register
@dataclass(frozen=True)
class Conv(_ConvBase):
    """``convK-F[/S]``: weights ``(kh*kw*Cin/groups)*F``, MACs weights*Hout*Wout."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^conv(\d\w*?)-(\w+?)(?:/(\w+))?$")
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "dilation", "groups", "bias"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        fields = cls.read(args, match.group(1), match.group(3))
        filters = parse_int(match.group(2), "the filters")
        return cls(filters=filters, groups=args.integer("groups", 1), **fields)  # type: ignore[arg-type]


@register
@dataclass(frozen=True)
class DepthwiseConv(_ConvBase):
    """``dwconvK[/S]``: groups = input channels; ``mult=`` output channels per input."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^dwconv(\w+?)(?:/(\w+))?$")
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "dilation", "bias", "mult"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        fields = cls.read(args, match.group(1), match.group(2))
        return cls(filters=None, groups=None, multiplier=args.integer("mult", 1), **fields)  # type: ignore[arg-type]



@register
@dataclass(frozen=True)
class TransposedConv(LayerType):
    """``deconvK-F[/S]`` (ConvTranspose2d): out = (in-1)*S - 2*pad + dil*(K-1) + outpad + 1.

    Weights ``Cin*(F/groups)*kh*kw``; MACs weights*Hin*Win (every input element meets
    the whole kernel). Default pad floor(dil*(K-1)/2), so ``deconv4-256/2`` doubles.
    """

    kernel: Pair
    filters: int
    stride: Pair
    pad: Pair
    output_pad: Pair
    dilation: Pair
    groups: int
    bias: bool

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:deconv|convt|upconv)(\w+?)-(\w+?)(?:/(\w+))?$")
    family: ClassVar[str] = "conv"
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "outpad", "dilation", "groups", "bias"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        fields = _ConvBase.read(args, match.group(1), match.group(3))
        mode, pad = fields.pop("padding")  # type: ignore[misc]
        if mode == "same":
            raise LayerError(f"{args.head}: pad=same is not defined for a transposed convolution; give pad=N and outpad=N")
        return cls(
            filters=parse_int(match.group(2), "the filters"),
            pad=pad,
            output_pad=args.pair("outpad", (0, 0), minimum=0),
            groups=args.integer("groups", 1),
            **fields,  # type: ignore[arg-type]
        )

    def apply(self, shape: Shape, head: str) -> Effect:
        height, width, c_in = spatial(shape, head)
        if c_in % self.groups or self.filters % self.groups:
            raise LayerError(
                f"{head}: channels not divisible by groups={self.groups} (input {c_in}, output {self.filters})"
            )
        for axis in (0, 1):
            if self.output_pad[axis] >= max(self.stride[axis], self.dilation[axis]):
                raise LayerError(f"{head}: outpad must be smaller than the stride or the dilation")
        span = effective(self.kernel, self.dilation)
        out = tuple(
            (size - 1) * self.stride[axis] - 2 * self.pad[axis] + span[axis] + self.output_pad[axis]
            for axis, size in enumerate((height, width))
        )
        if out[0] < 1 or out[1] < 1:
            raise LayerError(f"{head}: the output would be empty ({show_pair(out)}); reduce pad=")  # type: ignore[arg-type]
        per_input = (self.filters // self.groups) * self.kernel[0] * self.kernel[1]
        weights = c_in * per_input
        reach = tuple(-(-span[axis] // self.stride[axis]) for axis in (0, 1))
        return Effect(
            output_shape=(out[0], out[1], self.filters),
            weights=weights,
            biases=self.filters if self.bias else 0,
            macs=weights * height * width,
            rf_kernel=reach,  # type: ignore[arg-type]
            rf_stride=(Fraction(1, self.stride[0]), Fraction(1, self.stride[1])),
            formulas={
                "weights": f"{c_in}*({self.filters // self.groups}*{kernel_text(self.kernel)})",
                "biases": str(self.filters) if self.bias else "0",
                "macs": f"{c_in}*({self.filters // self.groups}*{kernel_text(self.kernel)})*{height}*{width}",
            },
        )


# --- pooling -------------------------------------------------------------------


@register
@dataclass(frozen=True)
class Pool(LayerType):
    """``maxpool``/``pool``/``avgpool`` ``[K][/S]``: window K (default 2), stride S
    (default K), ``pad=``, ``ceil=yes`` as PyTorch's ceil_mode. No parameters, 0 MACs."""

    kernel: Pair
    stride: Pair
    padding: Padding
    ceil: bool

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:maxpool|avgpool|pool)(\w*?)(?:/(\w+))?$")
    family: ClassVar[str] = "pool"
    keywords: ClassVar[frozenset[str]] = frozenset({"stride", "pad", "ceil"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        kernel = parse_pair(match.group(1), "the window") if match.group(1) else (2, 2)
        stride = args.stride(parse_pair(match.group(2), "the stride") if match.group(2) else None, kernel)
        padding = parse_padding(args, (0, 0))
        ceil = args.flag("ceil", False)
        if padding[0] == "explicit" and (padding[1][0] > kernel[0] // 2 or padding[1][1] > kernel[1] // 2):
            raise LayerError(f"{args.head}: pad= must be at most half the window {show_pair(kernel)}")
        return cls(kernel=kernel, stride=stride, padding=padding, ceil=ceil)

    def apply(self, shape: Shape, head: str) -> Effect:
        out_h, out_w = windowed(head, shape, self.kernel, self.stride, self.padding, ceil=self.ceil)
        return Effect(output_shape=(out_h, out_w, shape[2]), rf_kernel=self.kernel, rf_stride=self.stride)


@register
@dataclass(frozen=True)
class GlobalPool(LayerType):
    """``gap`` (global average pooling) and ``gmp`` (global max): HxWxC to 1x1xC."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:gap|gmp|globalavgpool|globalmaxpool)$")
    family: ClassVar[str] = "pool"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        height, width, channels = spatial(shape, head)
        return Effect(output_shape=(1, 1, channels), rf_kernel=(height, width), rf_stride=(height, width))


# --- fully connected -----------------------------------------------------------


@register
@dataclass(frozen=True)
class FullyConnected(LayerType):
    """``fc-N`` or ``fc N`` (also ``linear``, ``dense``): flattens its input;
    weights in*N, MACs in*N."""

    units: int
    bias: bool

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
        kernel = (shape[0], shape[1]) if len(shape) == 3 else (1, 1)
        return Effect(
            output_shape=(self.units,),
            weights=fan_in * self.units,
            biases=self.units if self.bias else 0,
            macs=fan_in * self.units,
            rf_kernel=kernel,
            rf_stride=kernel,
            formulas={
                "weights": f"{fan_in_text}*{self.units}",
                "biases": str(self.units) if self.bias else "0",
                "macs": f"{fan_in_text}*{self.units}",
            },
        )


# --- normalisation -------------------------------------------------------------


@register
@dataclass(frozen=True)
class BatchNorm(LayerType):
    """``bn``: gamma and beta (C weights, C biases, trainable), running mean and
    variance (2C non-trainable, Keras's count; PyTorch keeps them as buffers)."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^(?:bn|batchnorm)$")
    family: ClassVar[str] = "norm"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        channels = shape[-1]
        return Effect(
            output_shape=shape,
            weights=channels,
            biases=channels,
            non_trainable=2 * channels,
            formulas={"weights": str(channels), "biases": str(channels), "non_trainable": f"2*{channels}"},
        )


# --- parameter-free layers -----------------------------------------------------

@register
@dataclass(frozen=True)
class Elementwise(LayerType):
    """``relu``, ``relu6``, ``sigmoid``, ``tanh``, ``softmax``, ``identity`` and friends:
    same shape out, no parameters, 0 MACs."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:relu|relu6|leakyrelu|elu|gelu|silu|swish|hswish|hardswish|hsigmoid|hardsigmoid"
        r"|sigmoid|tanh|softmax|identity)$"
    )
    family: ClassVar[str] = "activation"

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        return Effect(output_shape=shape)


@register
@dataclass(frozen=True)
class Dropout(LayerType):
    """``dropout`` (``p=`` is read and checked, not used): same shape, no parameters."""

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
class LocalResponseNorm(LayerType):
    """``lrn`` (``size=`` neighbouring channels, default 5): normalises across the
    channels of a feature map, so it needs an HxWxC input; no parameters."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^lrn$")
    family: ClassVar[str] = "activation"
    keywords: ClassVar[frozenset[str]] = frozenset({"size"})

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        args.integer("size", 5)
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        spatial(shape, head)
        return Effect(output_shape=shape)


def _probability(text: str, head: str) -> float:
    if not re.fullmatch(r"(?:0|1|0?\.\d+|0\.\d*|1\.0*)", text):
        raise LayerError(f"{head}: p= takes a probability between 0 and 1, not {text!r}")
    return float(text)


@register
@dataclass(frozen=True)
class Flatten(LayerType):
    """``flatten``: HxWxC to a vector of H*W*C. A vector has one position, so its
    receptive-field step takes the whole map (as ``fc`` and ``gap`` do): a layer after
    ``flatten`` sees what it would see without it."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^flatten$")

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        return cls()

    def apply(self, shape: Shape, head: str) -> Effect:
        whole = (shape[0], shape[1]) if len(shape) == 3 else (1, 1)
        return Effect(output_shape=(math.prod(shape),), rf_kernel=whole, rf_stride=whole)


# --- lookup --------------------------------------------------------------------

_WORD = re.compile(r"^([^\s=]+)=(\S*)$")


def build_layer(text: str, defaults: Mapping[str, Mapping[str, str]]) -> tuple[LayerType, str]:
    """Read one layer line (``conv3-64/2 pad=0``) into a layer and its head word.

    ``defaults`` maps a family (or ``"all"``) to keyword defaults (``default bias=no``);
    the family's own default comes first (the engine drops it when a later ``default``
    for all families sets the same key).
    """
    words = text.split()
    head = words[0].lower()
    for cls in REGISTRY:
        match = cls.pattern.match(head)
        if match:
            break
    else:
        if words[0].endswith(":"):
            raise LayerError(f"{words[0][:-1]!r} is not a label: a label is a letter or '_' and then letters, digits, '_' or '.'")
        raise LayerError(f"unknown layer {words[0]!r}")
    positional: list[str] = []
    options: dict[str, str] = {}
    for word in words[1:]:
        pair = _WORD.match(word)
        if pair is None:
            positional.append(word)
            continue
        key = pair.group(1).lower()
        if key not in cls.keywords:
            allowed = ", ".join(sorted(cls.keywords)) or "none"
            raise LayerError(f"{words[0]}: unknown keyword {key!r} (allowed: {allowed})")
        if key in options:
            raise LayerError(f"{words[0]}: keyword {key!r} given twice")
        if not pair.group(2):
            raise LayerError(f"{words[0]}: {key}= needs a value")
        options[key] = pair.group(2)
    if len(positional) > cls.takes_positional:
        raise LayerError(f"{words[0]}: unexpected {positional[cls.takes_positional]!r}")
    explicit = frozenset(options)
    for scope in (cls.family, "all"):
        for key, value in defaults.get(scope, {}).items():
            if key in cls.keywords:
                options.setdefault(key, value)
    return cls.build(match, Args(words[0], positional, options, explicit)), words[0]

