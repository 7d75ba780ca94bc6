"""Walk a parsed spec and compute every row's figures and the totals.

Rows come in four kinds: ``input`` (the input tensor, counted in activations as the
CS231n table does), ``layer``, ``merge`` (the element-wise sum of ``add``/``residual``
or the concatenation of ``concat``) and ``group`` (a block header whose figures are the
subtotals of the rows inside it). Totals are sums over every row that is not a group,
so each total equals the sum of its column; the rows of a ``side:`` block (a side
output) count like any other, although the main path goes on without them.

A label names the tensor its statement outputs (by the label and by its full path; the
latest one so named wins), and ``from NAME`` makes that tensor the current one again:
this is how a long skip (a U-Net decoder's ``concat`` of ``enc1``) is written.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from . import arith, backward, receptive
from .breakdown import Breakdown, Row, Step, Totals
from .receptive import Window
from .errors import SpecError
from .layers import MERGES, Effect, LayerError, Shape, build_layer, known_keywords, parse_int, suggest
from .limits import MAX_DEPTH, MAX_DIGITS, MAX_NUMBER, MAX_REPEAT, MAX_ROWS, MAX_WORK, TAPS_PER_STEP, WORK_CHARS
from .spec import (
    BlockStatement,
    DefaultStatement,
    DefineStatement,
    InputStatement,
    LayerStatement,
    Spec,
    Statement,
    parse,
)

__all__ = ["Breakdown", "Row", "Step", "Totals", "analyse", "compute", "parse_shape"]

FAMILY_WORDS = ("all", "conv", "fc", "pool", "norm", "activation")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")




@dataclass(slots=True)
class _State:
    """The shape so far, per spatial axis of the input what each position sees, and
    the index of the row that made the tensor (``row``)."""

    shape: Shape
    rf: tuple[receptive.Axis, ...]
    row: int = 0
    sizes: tuple[int, ...] = ()
    """The receptive field per axis; all 0 when one axis sees no input anywhere (an
    output position then sees nothing, whatever the other axes would add)."""
    jump: Step = ()

    def __post_init__(self) -> None:
        if not self.sizes:
            sizes = tuple(axis.size for axis in self.rf)
            self.sizes = sizes if all(sizes) else (0,) * len(sizes)
            self.jump = tuple(receptive.whole_jump(axis) for axis in self.rf)

    def after(self, shape: Shape, rf: tuple[receptive.Axis, ...], row: int) -> _State:
        """The state a layer leaves: its figures are this one's when ``rf`` is unchanged."""
        if rf is self.rf:
            return _State(shape, rf, row, self.sizes, self.jump)
        return _State(shape, rf, row)


@dataclass(frozen=True)
class _Applied:
    """A layer applied to one input shape: everything a row needs but its place."""

    effect: Effect
    activations: int
    formulas: dict[str, str]
    windows: tuple[Window, ...]
    pointwise: bool
    """Every window is 1x1 with stride 1 and no padding (or there is none): on the
    input's own axes the receptive field goes through unchanged."""

    def row(self, name: str, text: str, depth: int, line: int, path: str | None, state: _State, read: int) -> Row:
        """The row of this layer at one place: ``state`` is what it leaves, ``read`` the
        row it reads. Positional, in :class:`Row`'s field order: the engine's hottest line
        (keywords cost three times as much on 100k rows)."""
        e = self.effect
        return Row(
            name, "layer", text, depth, line, e.output_shape, path, None,
            e.weights, e.biases, e.non_trainable, e.macs, self.activations,
            state.sizes, state.jump,
            self.formulas,  # shared by the rows of one cached layer; never changed in place
            (read,), e.saves, e.aliases, e.view, e.padded,
        )  # fmt: skip


@dataclass
class _Context:
    """The walk's state. ``defaults_version`` names the defaults in force: every
    ``default`` line issues a new one and leaving its block restores the one before, so
    the caches (layer text, defaults, input shape) never serve a stale layer;
    ``running`` holds the sums of the leaf rows so far, so a group's subtotals are a
    difference (``marks`` keeps the sums at each open group). ``work`` counts the steps
    taken so far (see :data:`~.limits.MAX_WORK`)."""

    defaults: dict[str, dict[str, str]]
    defines: dict[str, DefineStatement]
    rows: list[Row] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    defaults_version: int = 0
    versions_issued: int = 0
    layers: dict[tuple[str, int], tuple[object, str]] = field(default_factory=dict)
    applied: dict[tuple[str, int, Shape], _Applied] = field(default_factory=dict)
    running: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    marks: dict[int, tuple[int, ...]] = field(default_factory=dict)
    work: int = 0
    default_lines: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    names: dict[str, _State] = field(default_factory=dict)

    def name(self, label: str | None, path: str | None, state: _State) -> None:
        """Let ``from`` find ``state`` by ``label`` and by ``path``."""
        if label is not None:
            self.names[label] = state
        if path is not None:
            self.names[path] = state

    def add_leaf(self, row: Row) -> None:
        self.rows.append(row)
        running = self.running
        running[0] += row.weights
        running[1] += row.biases
        running[2] += row.non_trainable
        running[3] += row.macs
        running[4] += row.activations


ORDERS = {"lc": 2, "hwc": 3, "dhwc": 4, "cl": 2, "chw": 3, "cdhw": 4}
"""Axis orders an ``input`` line may name after its sizes; ``c`` first is PyTorch's."""


def _looks_channels_first(shape: Shape) -> bool:
    """``1x8000`` or ``2x44100`` (a first size of at most 2 before one of at least 64), or
    ``3x224x224``, ``3x16x112x112`` (at most 4 before two equal last sizes of at least 8)."""
    if len(shape) == 2:
        return shape[0] <= 2 and shape[1] >= 64
    return len(shape) > 2 and shape[0] <= 4 and shape[-1] == shape[-2] >= 8


def parse_shape(text: str, line: int = 1) -> Shape:
    """``224x224x3`` (height x width x channels), ``8000x1`` (length x channels),
    ``16x112x112x3`` (depth x height x width x channels) or ``784`` (a vector); an order
    word after the sizes (``3x224x224 chw``) reads PyTorch's channels-first order.

    Without one, sizes that look channels-first (:func:`_looks_channels_first`) are
    refused with the two ways to write them, rather than read as a 3-pixel-high map of
    224 channels."""
    words = text.strip().lower().replace("×", "x").split()
    shown = text.strip()
    if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ORDERS):
        extra = f" (an order after the sizes is one of {', '.join(ORDERS)})" if len(words) == 2 else ""
        raise SpecError(line, f"input {shown!r}: write HxWxC (224x224x3), LxC (8000x1), DxHxWxC or N (784){extra}")
    parts = words[0].split("x")
    if len(parts) > 4:
        raise SpecError(line, f"input {shown!r}: write HxWxC (224x224x3), LxC (8000x1), DxHxWxC or N (784)")
    try:
        shape = tuple(parse_int(part.strip(), "the input size") for part in parts)
    except LayerError as error:
        raise SpecError(line, f"input: {error}") from None
    if len(words) == 2:
        order = words[1]
        if ORDERS[order] != len(shape):
            raise SpecError(line, f"input {shown!r}: the order {order!r} names {ORDERS[order]} sizes, not {len(shape)}")
        return (*shape[1:], shape[0]) if order.startswith("c") else shape
    if _looks_channels_first(shape):
        last = {2: "lc", 3: "hwc", 4: "dhwc"}[len(shape)]
        first = "c" + last[:-1]
        flipped = "x".join(map(str, (*shape[1:], shape[0])))
        raise SpecError(
            line,
            f"input {words[0]} looks channels-first (PyTorch's {first.upper()}): write {flipped}, or "
            f"{words[0]} {first} to keep PyTorch's order ({words[0]} {last} if {shape[-1]} channels are meant)",
        )
    return shape


def analyse(text: str, input_shape: str | Shape | None = None, bias: bool | None = None, batch: int = 1) -> Breakdown:
    """Parse and compute ``text``. ``input_shape`` overrides the spec's ``input`` line;
    ``bias`` sets the default for conv and fc layers (``default bias=...``); ``batch``
    multiplies the activations and the tensors saved for backward that grow with it."""
    with _collector_paused():
        return compute(parse(text), input_shape, bias, batch)


def compute(spec: Spec, input_shape: str | Shape | None = None, bias: bool | None = None, batch: int = 1) -> Breakdown:
    """Compute a parsed spec (see :func:`analyse`)."""
    with _collector_paused():
        return _compute(spec, input_shape, bias, batch)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the rows are built, and restore it
    as it was, even on an error. The rows and states hold no reference cycles (plain
    reference counting frees them), yet on 100k rows the collector's repeated passes
    over the growing list of live rows take a fifth of the engine's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compute(spec: Spec, input_shape: str | Shape | None, bias: bool | None, batch: int) -> Breakdown:
    statements = spec.statements
    if not statements:
        raise SpecError(1, "the spec is empty: give at least an input and one layer")
    defaults: dict[str, dict[str, str]] = {}
    if bias is not None:
        defaults["all"] = {"bias": "yes" if bias else "no"}
    defines: dict[str, DefineStatement] = {}
    for statement in statements:
        if isinstance(statement, DefineStatement):
            if statement.name in defines:
                raise SpecError(statement.line, f"block {statement.name!r} is defined twice")
            defines[statement.name] = statement
    body = [s for s in statements if not isinstance(s, DefineStatement)]
    shape = _input_shape(body, input_shape)
    context = _Context(defaults=defaults, defines=defines)
    first_line = body[0].line if body else statements[0].line
    context.rows.append(
        Row(
            name="input",
            kind="input",
            layer="input",
            depth=0,
            line=first_line,
            output_shape=shape,
            activations=math.prod(shape),
            formulas={"activations": "*".join(map(str, shape))},
        )
    )
    ones = (1,) * max(len(shape) - 1, 1)
    context.rows[0].receptive_field = context.rows[0].jump = ones
    state = _State(shape=shape, rf=(receptive.IDENTITY,) * len(ones))
    context.names["input"] = state
    state = _walk([s for s in body if not isinstance(s, InputStatement)], state, context, 0, None, {})
    rows = context.rows
    if batch < 1:
        raise SpecError(first_line, f"the batch size must be at least 1, not {batch}")
    backward.account(rows, batch)
    weights = biases = non_trainable = macs = activations = saved_elements = saved_extra_bytes = 0
    for row in rows:
        if row.kind != "group":
            weights += row.weights
            biases += row.biases
            non_trainable += row.non_trainable
            macs += row.macs
            activations += row.activations
            saved_elements += row.saved_elements
            saved_extra_bytes += row.saved_extra_bytes
    totals = Totals(
        params=weights + biases + non_trainable,
        trainable_params=weights + biases,
        non_trainable_params=non_trainable,
        weights=weights,
        biases=biases,
        macs=macs,
        activations=activations,
        saved_elements=saved_elements,
        saved_extra_bytes=saved_extra_bytes,
    )
    return Breakdown(
        input_shape=shape,
        rows=rows,
        totals=totals,
        final_shape=state.shape,
        final_row=state.row,
        batch=batch,
        work=context.work,
    )


def _input_shape(body: list[Statement], given: str | Shape | None) -> Shape:
    inputs = [s for s in body if isinstance(s, InputStatement)]
    for statement in inputs:
        if statement is not body[0]:
            first = body[0]
            before = ""
            if not isinstance(first, InputStatement):
                # Name the statement in the way: a stray line (say a MyST option line
                # kept as content) is easier to find than the input line it displaces.
                shown = f", {first.text!r}," if isinstance(first, LayerStatement) else ""
                before = f" (line {first.line}{shown} comes before it)"
            raise SpecError(statement.line, f"'input' must be the first statement of the spec{before}")
    if given is not None:
        return parse_shape(given if isinstance(given, str) else "x".join(map(str, given)))
    if not inputs:
        line = body[0].line if body else 1
        raise SpecError(line, "no input shape: start the spec with 'input HxWxC' (or give :input: / --input)")
    return parse_shape(inputs[0].dims, inputs[0].line)


def _substitute(text: str, env: Mapping[str, int | str], line: int) -> str:
    if "{" not in text and "}" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        try:
            return str(arith.evaluate(match.group(1).lower(), env))
        except arith.ArithError as error:
            raise SpecError(line, str(error)) from None

    result = _PLACEHOLDER.sub(value, text)
    if "{" in result or "}" in result:
        raise SpecError(line, f"unbalanced braces in {text!r}")
    return result


def _count(text: str, env: Mapping[str, int | str], line: int, what: str) -> int:
    try:
        count = _parse_count(_substitute(text, env, line), what)
    except LayerError as error:
        raise SpecError(line, str(error)) from None
    if count > MAX_REPEAT:
        raise SpecError(line, f"{what} {count:,} is over the limit of {MAX_REPEAT:,}")
    return count



@functools.lru_cache(maxsize=256)
def _parse_count(text: str, what: str) -> int:
    return parse_int(text, what)


def _join(prefix: str | None, label: str | None) -> str | None:
    if label is None:
        return prefix
    return f"{prefix}.{label}" if prefix else label


def _check_rows(context: _Context, line: int, more: int = 0) -> None:
    if len(context.rows) + more > MAX_ROWS:
        raise SpecError(line, f"the spec expands to more than {MAX_ROWS:,} rows (the limit)")



def _spend(context: _Context, line: int, steps: int) -> None:
    """Count ``steps`` of work; refuse the spec once it has taken more than ``MAX_WORK``."""
    context.work += steps
    if context.work > MAX_WORK:
        raise SpecError(line, _WORK_MESSAGE)


def _check_work(context: _Context, line: int, more: int) -> None:
    """Refuse now a loop whose remaining ``more`` steps would cross ``MAX_WORK``."""
    if context.work + more > MAX_WORK:
        raise SpecError(line, _WORK_MESSAGE)


def _weight(statement: Statement) -> int:
    """The steps one run of ``statement`` counts: 1, plus 1 per ``WORK_CHARS`` of its text."""
    if isinstance(statement, LayerStatement):
        return 1 + (len(statement.text) + len(statement.count or "")) // WORK_CHARS
    text = getattr(statement, "text", "") + (getattr(statement, "argument", None) or "")
    return 1 + len(text) // WORK_CHARS


_WORK_MESSAGE = f"the spec takes more than {MAX_WORK:,} steps to compute (the limit; every statement run counts)"


def _walk(
    statements: list[Statement],
    state: _State,
    context: _Context,
    depth: int,
    prefix: str | None,
    env: Mapping[str, int | str],
) -> _State:
    if depth > MAX_DEPTH:
        line = statements[0].line if statements else 1
        raise SpecError(line, f"blocks are nested deeper than the limit of {MAX_DEPTH}")
    saved: tuple[dict[str, dict[str, str]], int] | None = None
    for statement in statements:
        _spend(context, statement.line, _weight(statement))
        if isinstance(statement, LayerStatement):
            state = _layer_statement(statement, state, context, depth, prefix, env)
        elif isinstance(statement, BlockStatement):
            state = _block(statement, state, context, depth, prefix, env)
        elif isinstance(statement, DefaultStatement):
            if saved is None:
                saved = ({family: dict(values) for family, values in context.defaults.items()}, context.defaults_version)
            _default(statement, context, env)
        elif isinstance(statement, InputStatement):
            raise SpecError(statement.line, "'input' must be the first statement of the spec")
        elif isinstance(statement, DefineStatement):
            raise SpecError(statement.line, "define blocks at the top level only")
    if saved is not None and depth > 0:
        # a default set inside a block (or a user block's body) ends with the block
        context.defaults, context.defaults_version = saved
    return state


def _default(statement: DefaultStatement, context: _Context, env: Mapping[str, int | str]) -> None:
    text = _substitute(statement.text, env, statement.line)
    parsed = context.default_lines.get(text)
    if parsed is None:
        parsed = context.default_lines[text] = _parse_default(text, statement.line)
    family, pairs = parsed
    for key, value in pairs:
        if family == "all":  # the later default wins: it replaces the families' ones too
            for scoped in context.defaults.values():
                scoped.pop(key, None)
        context.defaults.setdefault(family, {})[key] = value
    context.versions_issued += 1
    context.defaults_version = context.versions_issued


def _parse_default(text: str, line: int) -> tuple[str, list[tuple[str, str]]]:
    """``[FAMILY] key=value ...`` read: the family (``all`` if none) and the pairs."""
    words = text.split()
    family = "all"
    if words and "=" not in words[0]:
        family = words.pop(0).lower()
        if family in known_keywords():
            raise SpecError(line, f"default: write {family}=value, as in 'default bias=no'")
        if family not in FAMILY_WORDS:
            hint = suggest(family, FAMILY_WORDS)
            raise SpecError(line, f"default: unknown layer family {family!r}{hint} (one of {', '.join(FAMILY_WORDS)})")
    if not words:
        raise SpecError(line, "default: give key=value, as in 'default bias=no'")
    allowed = known_keywords()
    pairs: list[tuple[str, str]] = []
    for word in words:
        key, sep, value = word.partition("=")
        key = key.lower()
        if not sep or not value:
            raise SpecError(line, f"default: {word!r} is not key=value")
        if key not in allowed:
            raise SpecError(line, f"default: unknown keyword {key!r}{suggest(key, allowed)}")
        pairs.append((key, value))
    return family, pairs

def _layer_statement(
    statement: LayerStatement,
    state: _State,
    context: _Context,
    depth: int,
    prefix: str | None,
    env: Mapping[str, int | str],
) -> _State:
    text = _substitute(statement.text, env, statement.line)
    head = text.split(None, 1)[0].lower()
    if statement.count is None and statement.label is None and head != "from" and head not in context.defines:
        _check_rows(context, statement.line, 1)  # the common line: one layer, no label
        return _apply_layer(text, None, statement.line, state, context, depth, prefix)
    count = 1 if statement.count is None else _count(statement.count, env, statement.line, "the repeat count")
    _check_rows(context, statement.line, count)
    if head == "from":
        if count > 1:
            raise SpecError(statement.line, "'from NAME' cannot be repeated")
        state = _from(text, statement.line, context)
        context.name(statement.label, _join(prefix, statement.label), state)
        return state
    for index in range(1, count + 1):
        before = context.work
        if index > 1:
            _spend(context, statement.line, _weight(statement))
        label = statement.label
        if label is not None and count > 1:
            label = f"{label}_{index}"
        if head in context.defines:
            state = _call(statement, text, label, state, context, depth, prefix)
        else:
            state = _apply_layer(text, label, statement.line, state, context, depth, prefix)
        if label is not None:
            context.name(label, _join(prefix, label), state)
        if index == 2:
            _check_work(context, statement.line, (context.work - before) * (count - 2))
    if count > 1:
        context.name(statement.label, _join(prefix, statement.label), state)
    return state


def _from(text: str, line: int, context: _Context) -> _State:
    """``from NAME``: the tensor last labelled ``NAME`` (a label or a full path)."""
    words = text.split()
    if len(words) != 2:
        raise SpecError(line, "from: give one name, as in 'from enc1'")
    name = words[1]
    state = context.names.get(name)
    if state is None:
        close = difflib.get_close_matches(name, list(context.names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (a label names the output of its line or block)"
        raise SpecError(line, f"from: no tensor named {name!r} before this line{hint}")
    return state


def _apply_layer(
    text: str, label: str | None, line: int, state: _State, context: _Context, depth: int, prefix: str | None
) -> _State:
    applied = context.applied.get((text, context.defaults_version, state.shape))
    if applied is None:
        applied = _apply_new(text, line, state.shape, context)
    effect = applied.effect
    shape = effect.output_shape
    if applied.pointwise and len(applied.windows) in (0, len(state.rf)):
        after = state.after(shape, state.rf, len(context.rows))
    else:
        after = state.after(shape, _step(state, applied.windows, context, line), len(context.rows))
    context.add_leaf(applied.row(label or text, text, depth, line, _join(prefix, label), after, state.row))
    return after


def _apply_new(text: str, line: int, shape: Shape, context: _Context) -> _Applied:
    """Build (or reuse) the layer for ``text`` and apply it to ``shape``; cache the result."""
    try:
        built = context.layers.get((text, context.defaults_version))
        if built is None:
            built = context.layers[(text, context.defaults_version)] = build_layer(text, context.defaults, context.defines)
        layer, head = built
        effect: Effect = layer.apply(shape, head)  # type: ignore[attr-defined]
    except LayerError as error:
        raise SpecError(line, str(error)) from None
    out = _bounded(effect.output_shape, line, text)
    formulas = {**effect.formulas, "activations": "*".join(map(str, out))}
    windows = effect.windows()
    pointwise = all(window == _POINTWISE for window in windows)
    applied = _Applied(effect=effect, activations=math.prod(out), formulas=formulas, windows=windows, pointwise=pointwise)
    context.applied[(text, context.defaults_version, shape)] = applied
    return applied


def _bounded(shape: Shape, line: int, what: str) -> Shape:
    """Refuse an output size or channel count of more than ``MAX_DIGITS`` digits."""
    if max(shape) >= MAX_NUMBER:
        raise SpecError(line, f"{what}: the output has a size with more than {MAX_DIGITS} digits")
    return shape


_POINTWISE = Window(1, 1)
"""A kernel-1, stride-1 window without padding: the receptive field goes through unchanged."""


def _step(state: _State, windows: tuple[Window, ...], context: _Context, line: int) -> tuple[receptive.Axis, ...]:
    """Each axis through the layer's window (:func:`receptive.step`); a layer with no
    window (an activation, a layer on a vector) keeps what its input saw. A window over
    axes that are not the input's (one sliding along the tokens of a flattened map) may
    reach any input position: each axis then sees at least the whole input. The
    evaluations beyond the textbook case count as work, before they run."""
    if not windows:
        return state.rf
    if len(windows) != len(state.rf):
        return tuple(
            axis if axis.size >= size else receptive.Periodic(1, 1, (0,), (size - 1,))
            for axis, size in zip(state.rf, context.rows[0].output_shape[:-1], strict=True)
        )
    pairs = tuple(zip(state.rf, windows, strict=True))
    cost = sum(receptive.taps(axis, window) for axis, window in pairs)
    if cost > len(pairs):
        _spend(context, line, cost // TAPS_PER_STEP)
    return tuple(receptive.step(axis, window) for axis, window in pairs)


def _open_group(
    context: _Context, name: str, block: str, line: int, depth: int, path: str | None, shape: Shape
) -> int:
    _check_rows(context, line, 1)
    context.rows.append(Row(name=name, kind="group", layer=name, depth=depth, line=line, output_shape=shape, path=path, block=block))
    index = len(context.rows) - 1
    context.marks[index] = tuple(context.running)
    return index


def _close_group(context: _Context, index: int, state: _State) -> None:
    """Give a group row its subtotals (the leaf rows added since it opened, at any
    depth: the running sums minus those at its opening) and its output."""
    group = context.rows[index]
    mark = context.marks.pop(index)
    running = context.running
    group.weights = running[0] - mark[0]
    group.biases = running[1] - mark[1]
    group.non_trainable = running[2] - mark[2]
    group.macs = running[3] - mark[3]
    group.activations = running[4] - mark[4]
    group.output_shape = state.shape
    group.receptive_field = state.sizes
    group.jump = state.jump


def _merge_row(context: _Context, name: str, line: int, depth: int, state: _State, inputs: tuple[int, ...]) -> None:
    context.add_leaf(
        Row(
            name=name,
            kind="merge",
            layer=name,
            depth=depth,
            line=line,
            output_shape=state.shape,
            activations=math.prod(state.shape),
            receptive_field=state.sizes,
            jump=state.jump,
            formulas={"activations": "*".join(map(str, state.shape))},
            inputs=inputs,
        )
    )


def _block(
    statement: BlockStatement,
    state: _State,
    context: _Context,
    depth: int,
    prefix: str | None,
    env: Mapping[str, int | str],
) -> _State:
    """Walk a block; its label names its output (a side block's: the side output)."""
    path = _join(prefix, statement.label)
    if statement.kind == "side":
        index = _open_group(context, statement.label or "side", "side", statement.line, depth, path, state.shape)
        out = _walk(statement.body, state, context, depth + 1, path, env)
        _close_group(context, index, out)
        context.name(statement.label, path, out)
        return state
    out = _block_body(statement, state, context, depth, prefix, env)
    context.name(statement.label, path, out)
    return out


def _block_body(
    statement: BlockStatement,
    state: _State,
    context: _Context,
    depth: int,
    prefix: str | None,
    env: Mapping[str, int | str],
) -> _State:
    kind = statement.kind
    line = statement.line
    path = _join(prefix, statement.label)
    if kind == "repeat":
        count = _count(statement.argument or "", env, line, "the repeat count")
        title = statement.label or f"repeat {count}"
        index = _open_group(context, title, kind, line, depth, path, state.shape)
        for iteration in range(1, count + 1):
            before, work = len(context.rows), context.work
            _spend(context, line, 1)
            inner_prefix = f"{path}_{iteration}" if path else None
            if len(statement.body) > 1:
                sub = _open_group(context, f"#{iteration}", "iteration", line, depth + 1, inner_prefix, state.shape)
                state = _walk(statement.body, state, context, depth + 2, inner_prefix, env)
                _close_group(context, sub, state)
            else:
                state = _walk(statement.body, state, context, depth + 1, inner_prefix, env)
            if iteration == 1:
                _check_rows(context, line, (len(context.rows) - before) * (count - 1))
                _check_work(context, line, (context.work - work) * (count - 1))
        _close_group(context, index, state)
        return state
    if kind in ("group", "branch"):
        index = _open_group(context, statement.label or kind, kind, line, depth, path, state.shape)
        state = _walk(statement.body, state, context, depth + 1, path, env)
        _close_group(context, index, state)
        return state
    return _merge(statement, state, context, depth, prefix, env)


def _union(a: tuple[receptive.Axis, ...], b: tuple[receptive.Axis, ...]) -> tuple[receptive.Axis, ...]:
    if a is b or a == b:  # a branch that kept what the other saw (an identity shortcut)
        return a
    return tuple(receptive.union(x, y) for x, y in zip(a, b, strict=True))


def _merge(
    statement: BlockStatement,
    state: _State,
    context: _Context,
    depth: int,
    prefix: str | None,
    env: Mapping[str, int | str],
) -> _State:
    """A merge block (:data:`~sphinx_cnntable.layers.MERGES`): walk each branch on the
    block's input (or the one body, the block's input being the other operand), then
    combine the outputs."""
    kind = statement.kind
    merge = MERGES[kind]
    path = _join(prefix, statement.label)
    index = _open_group(context, statement.label or kind, kind, statement.line, depth, path, state.shape)
    outs: list[tuple[int, _State]] = []
    if merge.branches:
        for branch in statement.body:
            assert isinstance(branch, BlockStatement)
            if len(branch.body) == 1 and branch.label is None:
                out = _walk(branch.body, state, context, depth + 1, path, env)
            else:
                out = _block(branch, state, context, depth + 1, path, env)
            outs.append((branch.line, out))
    else:
        start = state
        if merge.body_input is not None:
            try:
                start = _State(shape=merge.body_input(state.shape), rf=state.rf, row=state.row)
            except LayerError as error:
                raise SpecError(statement.line, f"{kind}: {error}") from None
        outs = [(statement.line, _walk(statement.body, start, context, depth + 1, path, env)), (statement.line, state)]
    try:
        shape = merge.combine([(out.shape, line) for line, out in outs])
    except LayerError as error:
        raise SpecError(statement.line, f"{kind}: {error}") from None
    rf = state.rf if merge.rf == "input" else outs[0][1].rf
    if merge.rf == "union":
        for _, out in outs[1:]:
            rf = _union(rf, out.rf)
    same = next((out for _, out in (*outs, (0, state)) if out.rf is rf), None)  # its figures already computed
    shape = _bounded(shape, statement.line, kind)
    merged = same.after(shape, rf, len(context.rows)) if same is not None else _State(shape, rf, len(context.rows))
    _merge_row(context, merge.row, statement.line, depth + 1, merged, tuple(out.row for _, out in outs))
    _close_group(context, index, merged)
    return merged


_ARG = re.compile(r"^([A-Za-z_]\w*)=(\S+)$")


def _call(
    statement: LayerStatement,
    text: str,
    label: str | None,
    state: _State,
    context: _Context,
    depth: int,
    prefix: str | None,
) -> _State:
    """Expand a user block: bind its parameters, then walk its body as a group."""
    words = text.split()
    define = context.defines[words[0].lower()]
    if define.name in context.calls:
        chain = " -> ".join([*context.calls, define.name])
        raise SpecError(statement.line, f"a block cannot call itself ({chain})")
    bound: dict[str, int | str] = {}
    names = [name for name, _ in define.params]
    positional_done = False
    for position, word in enumerate(words[1:]):
        match = _ARG.match(word)
        if match:
            positional_done = True
            name = match.group(1).lower()
            if name not in names:
                hint = suggest(name, names)
                raise SpecError(
                    statement.line, f"{define.name}: unknown parameter {name!r}{hint} (has: {', '.join(names) or 'none'})"
                )
            if name in bound:
                raise SpecError(statement.line, f"{define.name}: parameter {name!r} given twice")
            bound[name] = _value(match.group(2), statement.line)
        elif positional_done:
            raise SpecError(statement.line, f"{define.name}: positional value {word!r} after a name=value")
        elif position >= len(names):
            given = len([w for w in words[1:] if not _ARG.match(w)])
            raise SpecError(statement.line, f"{define.name}: takes at most {len(names)} value{'s' * (len(names) != 1)}, got {given}")
        else:
            bound[names[position]] = _value(word, statement.line)
    for name, default in define.params:
        if name not in bound:
            if default is None:
                raise SpecError(statement.line, f"{define.name}: missing value for {name!r}")
            bound[name] = _value(default, define.line)
    bound["in"] = state.shape[-1]
    path = _join(prefix, label)
    index = _open_group(context, label or text, "call", statement.line, depth, path, state.shape)
    context.calls.append(define.name)
    try:
        state = _walk(define.body, state, context, depth + 1, path, bound)
    except SpecError as error:
        if error.line == statement.line:
            raise
        raise SpecError(statement.line, f"{text}: {error.message} (in define {define.name}, line {error.line})") from None
    context.calls.pop()
    _close_group(context, index, state)
    return state


def _value(text: str, line: int) -> int | str:
    if not (text.isascii() and text.isdigit()):
        return text
    if len(text.lstrip("0")) > MAX_DIGITS:
        raise SpecError(line, f"value {text[:12]}... is too large (more than {MAX_DIGITS} digits)")
    return int(text.lstrip("0") or "0")
