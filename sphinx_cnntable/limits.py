"""Documented limits that keep a spec from running away (see docs: spec language)."""

from __future__ import annotations

MAX_ROWS = 250_000
"""Rows after expansion of ``repeat``, ``xN`` and user blocks."""

MAX_WORK = 1_000_000
"""Steps of work computing a spec may take: every statement executed counts one (a
``default`` line too, though it makes no row), plus one per 100 characters of its text,
one per row an ``xN`` makes beyond the first, one per ``repeat`` iteration, and one per
``TAPS_PER_STEP`` receptive-field evaluations."""

TAPS_PER_STEP = 4
"""Receptive-field evaluations that count as one more step of work: after transposed or
fractional strides an axis repeats with a period of up to 4,096 positions, and a window
of kernel ``k`` then reads up to ``k`` taps per position (see ``receptive.taps``). The
textbook case (period 1, every network without upsampling) counts nothing."""

WORK_CHARS = 100
"""Characters of a statement's text that count as one more step of work."""

MAX_REPEAT = 100_000
"""The largest count a single ``repeat N:`` or ``xN`` accepts."""

MAX_DEPTH = 32
"""Nesting depth of blocks, user-block calls included."""

MAX_SPEC_BYTES = 4 * 1024 * 1024
"""Size of a spec text or file, in bytes of UTF-8."""

MAX_LINE_CHARS = 10_000
"""Length of one spec line."""

MAX_DIGITS = 30
"""Digits of a number written in a spec, and of any size or channel count it computes."""

MAX_NUMBER = 10**MAX_DIGITS
"""The first integer too large for a size, a channel count or a ``{...}`` value."""
