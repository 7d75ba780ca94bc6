"""Receptive fields per spatial axis, exact through strided and transposed windows.

On one axis, output position ``o`` of a layer sees the input interval ``[lo(o), hi(o)]``
(on an unbounded input, so borders do not clip it). A window of kernel ``k``, stride
``s``, padding ``p`` and dilation ``d`` reads the taps ``i = o*s - p + t*d`` (``t < k``);
a transposed window sends input ``i`` to the outputs ``o = i*s - p + t*d``, so an output
reads the inputs ``i = (o + p - t*d) / s`` that are whole numbers, and may read none.

``lo`` and ``hi`` repeat with a shift: ``lo(o + P) = lo(o) + Q`` (the jump is ``Q/P``
input pixels per output step), so ``P`` values describe them exactly. Ordinary windows
keep ``P = 1`` (then every output sees the same number of pixels, the textbook
``rf + (k - 1) * jump``); a transposed window of stride ``s`` multiplies ``P`` by ``s``
and a window of stride ``s`` divides it by ``gcd(P, s)``. The receptive field is the
largest ``hi(o) - lo(o) + 1``: after a transposed window neighbouring outputs can see
different numbers of pixels, and the table shows the largest.

Merges take the union position by position. Should ``P`` pass :data:`MAX_PERIOD`, the
axis switches to its affine envelope ``J*o + a <= lo(o)``, ``hi(o) <= J*o + b``, whose
``floor(b - a) + 1`` is an upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

MAX_PERIOD = 4096
"""Above this period (or this many taps per period) an axis keeps its envelope instead."""


@dataclass(frozen=True, slots=True)
class Window:
    """A layer's sliding window on one axis (see the module docstring)."""

    kernel: int
    stride: int
    pad: int = 0
    dilation: int = 1
    transposed: bool = False
    then_stride: int = 1
    """A kernel-1 window of this stride after the window: a resize by ``n/d`` is a
    transposed window of stride ``d`` then every ``n``-th position (nearest's
    ``floor(o*n/d)``)."""


@dataclass(frozen=True, slots=True)
class Periodic:
    """``lo(r + q*P) = lo[r] + q*Q`` (likewise ``hi``); None where an output sees nothing."""

    period: int
    shift: int
    lo: tuple[int | None, ...]
    hi: tuple[int | None, ...]

    def low(self, i: int) -> int | None:
        q, r = divmod(i, self.period)
        value = self.lo[r]
        return None if value is None else value + q * self.shift

    def high(self, i: int) -> int | None:
        q, r = divmod(i, self.period)
        value = self.hi[r]
        return None if value is None else value + q * self.shift

    @property
    def jump(self) -> Fraction:
        return Fraction(self.shift, self.period)

    @property
    def size(self) -> int:
        if self.period == 1 and self.lo[0] is not None and self.hi[0] is not None:
            return self.hi[0] - self.lo[0] + 1
        return max((h - lo + 1 for lo, h in zip(self.lo, self.hi, strict=True) if lo is not None and h is not None), default=0)


@dataclass(frozen=True, slots=True)
class Envelope:
    """``jump*o + a <= lo(o)`` and ``hi(o) <= jump*o + b``: an upper bound."""

    jump: Fraction
    a: Fraction
    b: Fraction

    @property
    def size(self) -> int:
        return math.floor(self.b - self.a) + 1


Axis = Periodic | Envelope

IDENTITY = Periodic(1, 1, (0,), (0,))
"""The input itself: position ``o`` sees pixel ``o``."""


def envelope(axis: Axis) -> Envelope:
    """The affine bounds of ``axis`` (itself if already an envelope)."""
    if isinstance(axis, Envelope):
        return axis
    jump = axis.jump
    lows = [lo - jump * r for r, lo in enumerate(axis.lo) if lo is not None]
    highs = [hi - jump * r for r, hi in enumerate(axis.hi) if hi is not None]
    return Envelope(jump, Fraction(min(lows)), Fraction(max(highs)))


def _min(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def taps(axis: Axis, window: Window) -> int:
    """An upper bound on the evaluations :func:`step` makes: 1 for an envelope and for
    the textbook case, else, per output position of the period, one plus the taps it
    reads (the engine counts them as work, see :data:`~.limits.TAPS_PER_STEP`)."""
    if isinstance(axis, Envelope):
        return 1
    k, s, d, period = window.kernel, window.stride, window.dilation, axis.period
    if window.transposed:
        first = 1 if period * s * k > MAX_PERIOD else period * s * (k + 1)
        return first + (3 * period * s if window.then_stride > 1 else 0)
    if period == 1 and axis.lo[0] is not None and axis.hi[0] is not None and window.then_stride == 1:
        return 1
    new_period = period // math.gcd(period, s)
    cycle = min(k, period // math.gcd(period, d))
    return new_period * (2 * cycle + 1) + (3 * new_period if window.then_stride > 1 else 0)


def step(axis: Axis, window: Window) -> Axis:
    """The receptive field after ``window``, from the one before it."""
    if window.then_stride > 1:
        first = Window(window.kernel, window.stride, window.pad, window.dilation, window.transposed)
        return step(step(axis, first), Window(1, window.then_stride))
    k, s, p, d = window.kernel, window.stride, window.pad, window.dilation
    if isinstance(axis, Envelope):
        jump, a, b = axis.jump, axis.a, axis.b
        if window.transposed:
            return Envelope(jump / s, a + jump * (p - (k - 1) * d) / s, b + jump * Fraction(p, s))
        return Envelope(jump * s, a - jump * p, b + jump * (-p + (k - 1) * d))
    period, shift = axis.period, axis.shift
    if window.transposed:
        new_period, new_shift = period * s, shift
        if new_period * k > MAX_PERIOD:
            return step(envelope(axis), window)
        lo, hi = [], []
        for o in range(new_period):
            inputs = [(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0]
            lo.append(_min([axis.low(i) for i in inputs]))
            hi.append(_max([axis.high(i) for i in inputs]))
        return Periodic(new_period, new_shift, tuple(lo), tuple(hi))
    if period == 1 and axis.lo[0] is not None and axis.hi[0] is not None:  # the textbook case
        return Periodic(1, shift * s, (axis.lo[0] - p * shift,), (axis.hi[0] + (-p + (k - 1) * d) * shift,))
    new_period = period // math.gcd(period, s)
    new_shift = shift * new_period * s // period
    # Taps whose residues mod P repeat every ``cycle`` taps, each repeat shifted by a
    # non-negative amount: the smallest lo is among the first ``cycle`` taps, the
    # largest hi among the last.
    cycle = min(k, period // math.gcd(period, d))
    lows, highs = axis.lo, axis.hi
    lo: list[int | None] = []
    hi: list[int | None] = []
    for o in range(new_period):
        base = o * s - p
        least: int | None = None
        for t in range(cycle):
            q, r = divmod(base + t * d, period)
            value = lows[r]
            if value is not None and (least is None or value + q * shift < least):
                least = value + q * shift
        most: int | None = None
        for t in range(k - cycle, k):
            q, r = divmod(base + t * d, period)
            value = highs[r]
            if value is not None and (most is None or value + q * shift > most):
                most = value + q * shift
        lo.append(least)
        hi.append(most)
    return Periodic(new_period, new_shift, tuple(lo), tuple(hi))


def _expand(axis: Periodic, period: int) -> Periodic:
    """The same functions written with a longer ``period`` (a multiple of the own)."""
    if period == axis.period:
        return axis
    return Periodic(
        period,
        axis.shift * period // axis.period,
        tuple(axis.low(r) for r in range(period)),
        tuple(axis.high(r) for r in range(period)),
    )


def union(first: Axis, second: Axis) -> Axis:
    """What an output sees through either of two merged branches, position by position.

    Branches of different jumps (equal output sizes reached through different strides)
    do not line up on an unbounded input; then the wider envelope is kept."""
    if isinstance(first, Periodic) and isinstance(second, Periodic) and first.jump == second.jump:
        period = math.lcm(first.period, second.period)
        if period <= MAX_PERIOD:
            x, y = _expand(first, period), _expand(second, period)
            lo = tuple(_min([a, b]) for a, b in zip(x.lo, y.lo, strict=True))
            hi = tuple(_max([a, b]) for a, b in zip(x.hi, y.hi, strict=True))
            return Periodic(period, x.shift, lo, hi)
    x, y = envelope(first), envelope(second)
    return Envelope(max(x.jump, y.jump), min(x.a, y.a), max(x.b, y.b))


def whole_jump(axis: Axis) -> int | Fraction:
    """The jump as an int when whole, else a Fraction."""
    if isinstance(axis, Periodic) and axis.shift % axis.period == 0:
        return axis.shift // axis.period
    jump = axis.jump
    return int(jump) if jump.denominator == 1 else jump
