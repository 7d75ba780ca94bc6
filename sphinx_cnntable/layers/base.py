"""What every layer type shares: the :class:`Effect` it returns, the :class:`Args` it
reads, number parsing, and the registry that maps a line's first word to its type.

Nothing here knows a particular layer; the family modules register their types with
:func:`register`, and :func:`build_layer` tries them in registration order.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

from ..limits import MAX_DIGITS
from ..receptive import Window

Shape = tuple[int, ...]
"""``(*spatial, C)`` for a feature map of 1 to 3 spatial axes (``(L, C)``,
``(H, W, C)``, ``(D, H, W, C)``), ``(N,)`` for a vector."""

Axes = tuple[int, ...]
"""One integer per spatial axis, or a single one that holds for every axis."""

Pair = tuple[int, int]
Step = tuple[int | Fraction, ...]


class LayerError(ValueError):
    """A layer that cannot be built or applied; the engine adds the line number."""


@dataclass(frozen=True)
class Saved:
    """One tensor a layer's backward keeps (PyTorch's eager kernels in ``train()`` mode).

    ``tensor`` says which: ``"input"`` and ``"output"`` are the layer's input and output
    tensors themselves (their storage: counted once however many rows keep it);
    ``"input-contiguous"`` is the input, or a contiguous copy of it when the input is a
    strided view or laid out channels last (``instance_norm`` calls ``.contiguous()``);
    ``"input-suggested"`` is the input, or a copy of it when it is not dense in the
    memory format it suggests (``group_norm``: ``x.contiguous(x.suggest_memory_format())``);
    ``"input-flat"`` the input flattened to a vector (``fc``): the
    input's storage where that reshape is a view, a copy where it is not;
    ``"input-view"`` is the input read as (positions x batch, channels) tokens: its
    storage where those reshapes are views (batch 1, one position, an input laid out
    positions first) and a copy of ``elements`` values per sample where they are not (a
    larger batch, a crop; ``nn.MultiheadAttention``'s in-projection);
    ``"new"`` is a tensor of the layer's own of ``elements`` values. ``kind`` is
    ``"float"`` (the activation dtype), ``"float32"`` (normalisation statistics, kept in
    float32 whatever the dtype) or ``"int64"`` (max-pooling indices, Swin's relative
    position index); ``per_sample``: ``elements`` is per sample (times the batch), else
    in all (BatchNorm's per-channel statistics do not grow with the batch);
    ``batch_one``: kept at batch 1 only (a tensor a larger batch does not keep, such as
    the qkv storage that windowed attention's ``k^T`` and ``v`` view when the whole batch
    is one window, where a larger batch copies them)."""

    tensor: str
    elements: int = 0
    kind: str = "float"
    per_sample: bool = True
    batch_one: bool = False


INPUT = Saved("input")
OUTPUT = Saved("output")


@dataclass(frozen=True)
class Effect:
    """What one layer does to its input.

    ``window`` is the layer's sliding window per spatial axis of its input (kernel,
    stride, padding, dilation, transposed or not), which the receptive field follows
    exactly; ``rf_kernel`` and ``rf_stride`` are a shorter form for a window without
    padding (a stride ``n/s`` is a transposed window of kernel ``k*s``, then every
    ``n``-th position). All empty means
    the identity (a layer on a vector, an activation).
    ``saves`` and ``aliases`` describe the backward (see :class:`Saved`).
    ``formulas`` holds the expressions behind ``weights``, ``biases``, ``macs`` and
    ``non_trainable`` (without their results), for example ``"(3*3*3)*64"``.
    """

    output_shape: Shape
    weights: int = 0
    biases: int = 0
    non_trainable: int = 0
    macs: int = 0
    rf_kernel: Axes = ()
    rf_stride: Step = ()
    formulas: Mapping[str, str] = field(default_factory=dict)
    window: tuple[Window, ...] = ()
    saves: tuple[Saved, ...] = ()
    """What the backward keeps (:class:`Saved`); nothing is kept when neither the input
    needs a gradient nor the layer has trainable parameters (autograd records nothing)."""
    aliases: bool = False
    """The output shares its input's storage: a view (``flatten``, ``tokens``, a crop) or
    an in-place operation (``relu``)."""
    padded: tuple[int, ...] = ()
    """The output is ``x[:, :H, :W].contiguous()`` of a channels-last tensor of this
    (padded) shape (windowed attention): where that slice is contiguous, ``.contiguous()``
    returns it and the output keeps the padded storage."""
    view: str = ""
    """For a view: ``"strided"`` keeps its input's strides (a crop: a slice, not
    contiguous unless the slice happens to be); ``"reshape"`` is a view of a contiguous
    input and a copy of a strided one (``flatten``, ``tokens``: PyTorch's ``reshape``).
    For a layer with a storage of its own, ``"tokens-major"`` lays it out positions
    first, then batch, then channels (``nn.MultiheadAttention``'s output);
    ``"channels-last"`` channels innermost (``nn.LayerNorm`` on ``x.movedim(1, -1)``);
    ``"like"`` as the input it reads (an elementwise result); ``"follow"`` channels last
    where the input suggests that memory format, else contiguous (convolutions, pooling,
    batch and group norm, resampling: PyTorch's ``suggest_memory_format``)."""

    def windows(self) -> tuple[Window, ...]:
        """``window``, or the windows ``rf_kernel`` and ``rf_stride`` stand for."""
        if self.window or not self.rf_kernel:
            return self.window
        out = []
        for kernel, stride in zip(self.rf_kernel, self.rf_stride, strict=True):
            stride = Fraction(stride)
            if stride.denominator == 1:
                out.append(Window(kernel, int(stride)))
            else:
                d = stride.denominator
                out.append(Window(kernel * d, d, transposed=True, then_stride=stride.numerator))
        return tuple(out)


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


def parse_axes(text: str, what: str, minimum: int = 1) -> Axes:
    """``3`` (every axis), ``1x7`` (height x width) or ``3x1x1`` (depth x height x width)."""
    parts = text.lower().split("x")
    if len(parts) > 3:
        raise LayerError(f"bad size {text!r} for {what} (write N, HxW or DxHxW)")
    return tuple(parse_int(part, what, minimum) for part in parts)


def parse_pair(text: str, what: str, minimum: int = 1) -> Pair:
    """``3`` or ``1x7`` (height x width): a size for exactly two axes."""
    axes = parse_axes(text, what, minimum)
    if len(axes) == 1:
        return axes[0], axes[0]
    if len(axes) == 2:
        return axes[0], axes[1]
    raise LayerError(f"bad size {text!r} for {what} (write N or HxW)")


def show_axes(axes: Axes) -> str:
    return "x".join(str(d) for d in axes)


show_pair = show_axes


def show_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


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

    def stride(self, written: Axes | None, default: Axes) -> Axes:
        """The stride: ``stride=`` on the line, else a ``/S`` in the name, else a
        ``default stride=``, else ``default``."""
        if written is not None and "stride" not in self.explicit:
            return written
        return self.axes("stride", default)

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

    def axes(self, key: str, default: Axes, minimum: int = 1) -> Axes:
        """``key=N``, ``key=HxW`` or ``key=DxHxW``; ``default`` when absent."""
        if key not in self.options:
            return default
        return parse_axes(self.options[key], f"{key}=", minimum)

    def pair(self, key: str, default: Pair, minimum: int = 1) -> Pair:
        if key not in self.options:
            return default
        return parse_pair(self.options[key], f"{key}=", minimum)


class LayerType:
    """A registered entry: ``pattern`` matches the first word of a line."""

    pattern: ClassVar[re.Pattern[str]]
    names: ClassVar[tuple[str, ...]] = ()  # the words the pattern starts with, for hints
    family: ClassVar[str] = "other"
    keywords: ClassVar[frozenset[str]] = frozenset()
    takes_positional: ClassVar[int] = 0

    @classmethod
    def build(cls, match: re.Match[str], args: Args) -> LayerType:
        raise NotImplementedError

    def apply(self, shape: Shape, head: str) -> Effect:
        raise NotImplementedError


REGISTRY: list[type[LayerType]] = []

FAMILIES = ("conv", "fc", "pool", "norm", "activation", "other")


def register(cls: type[LayerType]) -> type[LayerType]:
    REGISTRY.append(cls)
    return cls


_KEYWORDS: list[tuple[int, frozenset[str]]] = []


def known_keywords() -> frozenset[str]:
    """Every ``key=value`` keyword a registered layer type accepts (recomputed when one registers)."""
    if not _KEYWORDS or _KEYWORDS[0][0] != len(REGISTRY):
        _KEYWORDS[:] = [(len(REGISTRY), frozenset().union(*(cls.keywords for cls in REGISTRY)))]
    return _KEYWORDS[0][1]


def known_names() -> tuple[str, ...]:
    """Every layer word (``conv``, ``maxpool``, ``relu``...), for hints."""
    return tuple(name for cls in REGISTRY for name in cls.names)


def suggest(word: str, candidates: Iterable[str]) -> str:
    """``", did you mean 'x'?"`` for the closest candidate (difflib ratio at least
    0.6), else ``""``."""
    close = difflib.get_close_matches(word.lower(), sorted(set(candidates)), n=1, cutoff=0.6)
    return f", did you mean {close[0]!r}?" if close else ""


_STEM = re.compile(r"^[a-z_]+")
_GLUED_REPEAT = re.compile(r"^(.+?)[x×](\d+)$", re.IGNORECASE)


_WORD = re.compile(r"^([^\s=]+)=(\S*)$")


def build_layer(
    text: str, defaults: Mapping[str, Mapping[str, str]], blocks: Iterable[str] = ()
) -> tuple[LayerType, str]:
    """Read one layer line (``conv3-64/2 pad=0``) into a layer and its head word.

    ``defaults`` maps a family (or ``"all"``) to keyword defaults (``default bias=no``);
    the family's own default comes first (the engine drops it when a later ``default``
    for all families sets the same key). ``blocks`` (the user's ``define`` names) join
    the layer words in the "did you mean" hint for an unknown layer.
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
        stem = _STEM.match(head)
        hint = suggest(stem.group(0), (*known_names(), *blocks)) if stem else ""
        raise LayerError(f"unknown layer {words[0]!r}{hint}")
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
            hint = suggest(key, cls.keywords)
            raise LayerError(f"{words[0]}: unknown keyword {key!r}{hint} (allowed: {allowed})")
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
    try:
        return cls.build(match, Args(words[0], positional, options, explicit)), words[0]
    except LayerError as error:
        glued = _GLUED_REPEAT.match(words[0])
        if glued and cls.pattern.match(glued.group(1).lower()):
            raise LayerError(f"{error} (to repeat the layer, write '{glued.group(1)} x{glued.group(2)}')") from None
        raise
