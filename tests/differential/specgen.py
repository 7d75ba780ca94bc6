"""Hypothesis strategy for valid specs, covering every layer form and every block.

Each candidate statement is checked by building it with PyTorch (:mod:`translate`) on
the current shape; a candidate PyTorch refuses (an empty output, bad groups, merge
shapes that differ) is replaced by a safe fallback, so every drawn spec is valid for
PyTorch and the engine must accept it too. A candidate whose output holds more than
:data:`MAX_ELEMENTS` values (upsampling, transposed convolutions) is replaced too, which
keeps every drawn network small.

A candidate is priced by the engine before PyTorch builds it (:mod:`budget`): one over a
quarter of the budget is replaced by the fallback too (not recorded as refused), and
one the engine refuses is built with a cap on its tensors' size. The tests still
``assume()`` the whole drawn spec fits the budget.
"""

from __future__ import annotations

import math

import torch
from hypothesis import assume
from hypothesis import strategies as st

from budget import BUDGET_BYTES, torch_bytes
from translate import TooBig, translate

CANDIDATE_BYTES = BUDGET_BYTES // 4
"""A candidate statement's price limit: its fallback (three tensors of its input's size at
most) then stays within the budget."""

REFUSED_MAX_ELEMENTS = 2**20
"""A candidate the engine refuses cannot be priced: PyTorch builds it only while every
layer's input holds at most this many elements (one layer then makes at most 144 times
as many: a 4x4 transposed convolution of stride 3 from 1 to 16 channels)."""

TOO_BIG = ("too big",)
"""What :func:`_out_shape` returns for a candidate over :data:`CANDIDATE_BYTES`."""

UNCHECKED = ("unchecked",)
"""What :func:`_out_shape` returns for a candidate :mod:`translate` cannot build (a
form it checks on images only, met on a sequence in a later ``repeat`` iteration):
not a refusal by PyTorch, so not a spec the engine must refuse."""

DEFINES = """\
define cbr w k=3 s=1:
  conv{k}-{w}/{s}
  bn
  relu
define inv out expand=2:
  conv1-{in*expand}
  bn
  relu6
  dwconv3
  bn
  conv1-{out}
define invres expand=2:
  residual:
    inv {in} {expand}
define incep a b:
  concat:
    branch: conv1-{a}
    branch:
      conv1-{b}
      conv3-{b}
    branch:
      maxpool3/1 pad=1 ceil=yes
      conv1-{a}
define proj w s=2:
  add:
    branch:
      conv3-{w}/{s}
      bn
    branch: conv1-{w}/{s}
  relu
define squeeze:
  conv1-{(in+1)//2}
define head n:
  gap
  fc-{n}
"""

MAX_ATTENTION_TOKENS = 400
MAX_ELEMENTS = 100_000
"""The largest output a drawn statement may have (values, batch 1)."""

ACTIVATIONS = ["relu", "relu6", "leakyrelu", "elu", "gelu", "silu", "swish", "hswish", "hardswish", "hsigmoid",
               "hardsigmoid", "sigmoid", "tanh", "identity", "dropout", "dropout p=0.2"]


def _text(header: list[str], shape: tuple[int, ...], lines: list[str]) -> str:
    return "\n".join([f"input {'x'.join(map(str, shape))}", *header[1:], *lines]) + "\n" + DEFINES


def _out_shape(header: list[str], shape: tuple[int, ...], lines: list[str],
               budget: int | None = CANDIDATE_BYTES) -> tuple[int, ...] | None:
    """The shape after ``lines`` (indented from column 0) on ``shape``, None if PyTorch
    refuses, :data:`TOO_BIG` if the engine prices it over ``budget`` bytes."""
    text = _text(header, shape, lines)
    cost = torch_bytes(text)
    if budget is not None and cost is not None and cost > budget:
        return TOO_BIG
    max_elements = REFUSED_MAX_ELEMENTS if budget is not None and cost is None else None
    try:
        net = translate(text, max_elements)
        with torch.no_grad():
            out = net.module(net.zeros())
    except TooBig:
        return TOO_BIG
    except ValueError as error:
        return UNCHECKED if str(error).startswith("translate:") else None
    except Exception:
        return None
    if 0 in out.shape:
        return None
    dims = tuple(out.shape)[1:]
    del net, out
    return dims if len(dims) == 1 else (*dims[1:], dims[0])


def _indent(lines: list[str], by: int = 2) -> list[str]:
    return [" " * by + line for line in lines]


class _Gen:
    def __init__(self, draw, header: list[str], rf: bool = False, rank: int = 2) -> None:
        self.draw = draw
        self.rank = rank  # spatial axes of the input
        self.rf = rf
        self.header = header
        self.rejected: list[str] = []  # candidates PyTorch refused, as whole specs
        self.labels = 0

    def label(self) -> str:
        self.labels += 1
        return f"L{self.labels}"

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    # -- single layers --------------------------------------------------------

    def pad_option(self, kernel: int) -> str:
        mode = self.pick(["default", "default", "n", "hxw", "valid", "same"])
        if mode == "n":
            return f" pad={self.integer(0, kernel)}"
        if mode == "hxw":
            return f" pad={self.axes(0, kernel)}"
        return "" if mode == "default" else f" pad={mode}"

    def axes(self, lo: int, hi: int) -> str:
        """One size per spatial axis: ``1x3`` (2-D), ``2x1x3`` (3-D), ``3`` (1-D)."""
        return "x".join(str(self.integer(lo, hi)) for _ in range(self.rank))

    def kernel(self) -> str:
        if self.integer(0, 5) == 0:
            return self.axes(1, 4)
        return str(self.integer(1, 5))

    def token_layer(self, shape: tuple[int, ...]) -> str:
        """A sequence or attention form. Global attention only on at most
        ``MAX_ATTENTION_TOKENS`` positions (its score matrix grows as their square);
        windowed attention and patch merging only on images (torchvision's Swin checks them)."""
        c = shape[-1]
        forms = ["fc", "layernorm", "posembed", "gelu"]
        if len(shape) > 1:
            forms += ["patch", "tokens"]
            if math.prod(shape[:-1]) <= MAX_ATTENTION_TOKENS:
                forms += ["attention", "attention"]
        if len(shape) == 2:
            forms += ["clstoken", "clstoken", "selectcls"]
        if len(shape) == 3:
            forms += ["window", "window", "patchmerge", "patchmerge"]
        form = self.pick(forms)
        heads = self.pick([h for h in (1, 2, 3, 4) if c % h == 0] + [self.integer(1, 4)])
        if form == "fc":
            text = f"{self.pick(['fc', 'linear'])}-{self.integer(1, 16)} per=token"
        elif form == "patch":
            size = self.pick(["2", "3", "4", "2x3"] if len(shape) == 3 else ["2", "3", "4"])
            text = f"patch{size}-{self.integer(1, 16)}"
        elif form == "attention":
            text = f"{self.pick(['attention', 'mhsa', 'selfattention'])} heads={heads}"
            if self.integer(0, 2) == 0:
                text += " backend=flash"
        elif form == "window":
            window = self.pick(["2", "3", "4", "7", "3x2"])
            text = f"attention heads={heads} window={window}"
            if self.integer(0, 1):
                limit = min(int(w) for w in window.split("x")) - 1
                text += f" shift={self.integer(0, limit)}" if self.integer(0, 2) else f" shift={self.integer(0, limit)}x0"
        else:
            text = form
        if form in ("fc", "patch", "attention", "window") and self.integer(0, 4) == 0:
            text += " bias=no"
        return text

    def layer(self, shape: tuple[int, ...]) -> str:
        if not self.rf and self.integer(0, 1 if len(shape) == 2 else 3) == 0:  # half the layers on tokens
            return self.token_layer(shape)
        if len(shape) == 1:
            form = self.pick(["fc", "fc", "bn", "act", "flatten", "softmax", "ln", "scale"])
        elif self.rf:  # receptive field: images all the way
            form = self.pick(["conv", "conv", "conv", "dwconv", "deconv", "pool", "pool", "bn", "act", "lrn"])
        else:
            form = self.pick(["conv", "conv", "conv", "dwconv", "deconv", "pool", "pool", "gap", "fc", "bn",
                              "act", "flatten", "lrn", "softmax", "upsample", "pixelshuffle", "zeropad", "crop",
                              "ln", "gn", "in", "scale", "shuffle"])
        c = shape[-1]
        if form == "conv":
            k = self.kernel()
            groups = self.pick([g for g in (1, 2, 3, 4) if c % g == 0])
            filters = groups * self.integer(1, max(1, 16 // groups))
            text = f"conv{k}-{filters}"
            stride = self.integer(1, 3)
            if stride > 1:
                text += self.pick([f"/{stride}", f" stride={stride}", f" stride={self.axes(1, 3)}"])
            text += self.pad_option(int(k.split("x")[0]))
            if self.integer(0, 3) == 0:
                text += self.pick([" dilation=2", f" dilation={self.axes(1, 2)}", " dilation=3"])
            if groups > 1:
                text += f" groups={groups}"
        elif form == "dwconv":
            text = f"dwconv{self.kernel()}"
            if self.integer(0, 1):
                text += f"/{self.integer(1, 3)}"
            text += self.pad_option(3)
            if c <= 8 and self.integer(0, 1):
                text += f" mult={self.integer(1, 2)}"
            if self.integer(0, 3) == 0:
                text += " dilation=2"
        elif form == "deconv":
            text = self.deconv(c)
        elif form == "pool":
            k = self.integer(1, 4)
            # PyTorch's CPU AvgPool3d refuses an input smaller than the window even when the
            # padding makes it fit (MaxPool3d and the 1-D/2-D pools do not): no 3-D avgpool
            text = self.pick(["maxpool", "pool"] if self.rank == 3 else ["maxpool", "avgpool", "pool"])
            if k != 2 or self.integer(0, 1):
                text += str(k)
            if self.integer(0, 1):
                text += f"/{self.integer(1, 3)}"
            if self.integer(0, 2) == 0:
                text += f" pad={self.integer(0, k // 2)}"
            elif self.integer(0, 5) == 0:
                text += " pad=same"
            if self.integer(0, 1):
                text += " ceil=yes"
        elif form == "upsample":
            text = self.upsample(shape)
        elif form == "pixelshuffle":
            r = self.pick([2, 2, 3])
            text = f"pixelshuffle{r}" if c % (r * r) == 0 or self.integer(0, 3) == 0 else f"pixelunshuffle{r}"
        elif form in ("zeropad", "crop"):
            text = self.margins(form, shape)
        elif form == "fc":
            units = self.integer(1, 16)
            text = self.pick([f"fc-{units}", f"fc {units}", f"linear-{units}", f"dense {units}"])
        elif form == "bn":
            text = self.pick(["bn", "batchnorm"])
        elif form == "ln":
            text = self.pick(["layernorm", "ln"])
        elif form == "gn":
            text = f"{self.pick(['groupnorm', 'gn'])} groups={self.pick([g for g in (1, 2, 3, 4) if c % g == 0])}"
            if self.integer(0, 2) == 0:
                text += " affine=no"
        elif form == "in":
            text = self.pick(["instancenorm", "instancenorm affine=yes", "instancenorm affine=no"])
        elif form == "scale":
            text = self.pick(["layerscale", "droppath", "droppath p=0.1", "stochasticdepth"])
        elif form == "shuffle":
            text = self.pick([f"shuffle groups={g}" for g in (1, 2, 3, 4) if c % g == 0] + ["channelshuffle"])
        elif form == "lrn":
            text = self.pick(["lrn", "lrn size=3"])
        elif form == "gap":
            text = self.pick(["gap", "gmp"])
        elif form in ("flatten", "softmax"):
            text = form
        else:
            text = self.pick(ACTIVATIONS)
        if form in ("conv", "deconv", "fc") and self.integer(0, 4) == 0:
            text += " bias=no"
        return text

    def deconv(self, c: int) -> str:
        k, stride = self.integer(1, 4), self.integer(1, 3)
        groups = self.pick([g for g in (1, 2) if c % g == 0])
        text = f"{self.pick(['deconv', 'convt', 'upconv'])}{k}-{groups * self.integer(1, 8)}/{stride}"
        if self.integer(0, 1):
            text += f" pad={self.integer(0, k)}"
        dilation = self.pick([1, 1, 2])
        if dilation > 1:
            text += f" dilation={dilation}"
        if max(stride, dilation) > 1 and self.integer(0, 1):
            text += f" outpad={self.integer(0, max(stride, dilation) - 1)}"
        if groups > 1:
            text += f" groups={groups}"
        return text

    def upsample(self, shape: tuple[int, ...]) -> str:
        mode = self.pick(["", "", " mode=nearest", " mode=bilinear", " mode=bicubic"])
        how = self.pick(["name", "scale", "axes", "size", "default"])
        if how == "name":
            return f"{self.pick(['upsample', 'upsampling'])}{self.integer(1, 3)}{mode}"
        if how == "scale":
            return f"upsample scale={self.integer(1, 3)}{mode}"
        if how == "axes":
            return f"upsample scale={self.integer(1, 3)}x{self.integer(1, 3)}{mode}"
        if how == "size":
            return f"upsample size={self.integer(1, 2 * shape[0])}x{self.integer(1, 2 * shape[1])}{mode}"
        return f"upsample{mode}"

    def margins(self, form: str, shape: tuple[int, ...]) -> str:
        how = self.pick(["n", "hxw", "sides"] + (["size"] if form == "crop" else []))
        if how == "n":
            return f"{form}{self.integer(0, 3)}"
        if how == "hxw":
            return f"{form}{self.integer(0, 3)}x{self.integer(0, 3)}"
        if how == "size":
            return f"crop size={self.integer(1, shape[0])}x{self.integer(1, shape[1])}"
        before = self.pick([str(self.integer(0, 2)), f"{self.integer(0, 2)}x{self.integer(0, 2)}"])
        after = self.pick([str(self.integer(0, 2)), f"{self.integer(0, 2)}x{self.integer(0, 2)}"])
        return self.pick([f"{form} before={before} after={after}", f"{form} after={after}", f"{form} before={before}"])

    # -- statements -------------------------------------------------------------

    def try_lines(self, shape, lines, fallback, need=None):
        out = _out_shape(self.header, shape, lines)
        if out is None:
            self.rejected.append(_text(self.header, shape, lines))
        if out is None or out is TOO_BIG or out is UNCHECKED or (need is not None and out != need) or math.prod(out) > MAX_ELEMENTS:
            out = _out_shape(self.header, shape, fallback, budget=None)
            assert out is not None and (need is None or out == need), (shape, fallback)
            return fallback, out
        return lines, out

    def statement(self, shape, depth: int):
        spatial = len(shape) > 1
        kinds = ["layer"] * 6 + ["count", "labelled"]
        if depth < 3:
            kinds += ["repeat", "group", "residual", "add", "concat"]
            if not self.rf:  # the last row of a side output is not the network's output
                kinds += ["side"] + (["skip", "skip"] if spatial else [])
            if spatial and not self.rf:
                kinds += ["se"] + (["split"] if shape[-1] >= 2 else [])
        if spatial:
            kinds += ["call"]
        kind = self.pick(kinds)
        safe = ["relu"]
        if kind == "layer":
            return self.try_lines(shape, [self.layer(shape)], safe)
        if kind == "labelled":
            return self.try_lines(shape, [f"{self.label()}: {self.layer(shape)}"], safe)
        if kind == "count":
            text = self.layer(shape)
            n = self.integer(2, 3)
            suffix = self.pick([f" x{n}", f" x {n}", f" ×{n}"])
            label = f"{self.label()}: " if self.integer(0, 1) else ""
            return self.try_lines(shape, [label + text + suffix], safe)
        if kind == "call":
            w = self.integer(1, 12)
            calls = [
                f"cbr {w}", f"cbr w={w} k={self.pick([1, 3, 5])}", f"cbr {w} 3 2", f"inv {w}",
                f"inv out={w} expand={self.integer(1, 3)}", "invres", "invres expand=1",
                f"incep {self.integer(1, 4)} {self.integer(1, 6)}", f"proj {w}", f"proj {w} s=1", "squeeze",
            ] + ([] if self.rf else [f"head {w}"])
            text = self.pick(calls)
            if self.integer(0, 3) == 0:
                text = f"{self.label()}: {text}"
            return self.try_lines(shape, [text], safe)
        if kind == "side":
            body, _ = self.sequence(shape, depth + 1, self.integer(1, 2))
            head = self.pick(["side:", f"{self.label()}: side:"])
            lines = [head, *_indent(body)]
            if head != "side:" and self.integer(0, 1):  # use the side output again
                name = head.split(":")[0]
                lines += [self.pick(["concat:", "add:"]), f"  branch: from {name}", "  branch: identity"]
            return self.try_lines(shape, lines, ["side:", "  relu"])
        if kind == "skip":
            return self.try_lines(shape, self.skip(shape, depth), ["relu"])
        if kind in ("repeat", "group"):
            body, _ = self.sequence(shape, depth + 1, self.integer(1, 3))
            if kind == "repeat":
                head = f"repeat {self.integer(1, 3)}:"
                if self.integer(0, 2) == 0:
                    head = f"{self.label()}: {head}"
            else:
                head = f"{self.label()}:"
            return self.try_lines(shape, [head, *_indent(body)], [f"{self.label()}:", "  relu"])
        if kind == "se":
            c = shape[-1]
            squeeze = self.integer(1, 8)
            excite = self.pick([
                ["gap", f"conv1-{squeeze}", "relu", f"conv1-{c}", "sigmoid"],
                ["gap", f"conv1-{squeeze}", "silu", f"conv1-{c}", "hardsigmoid"],
                ["gmp", f"fc-{squeeze}", "relu", f"fc-{c}", "sigmoid"],
                ["gap", f"conv1-{c} bias=no"],
            ])
            return self.try_lines(shape, ["scale:", *_indent(excite)], ["scale:", "  gap", f"  conv1-{c}"])
        if kind == "split":
            body, _ = self.sequence((*shape[:-1], shape[-1] // 2), depth + 1, self.integer(1, 3))
            return self.try_lines(shape, ["split:", *_indent(body)], ["residual:", "  identity"])
        if kind == "residual":
            body = self.preserving(shape, depth)
            return self.try_lines(shape, ["residual:", *_indent(body)], ["residual:", "  identity"], need=shape)
        # add / concat
        stride = self.pick([1, 1, 2]) if spatial else 1
        branches = []
        widths = [self.integer(1, 8) for _ in range(self.integer(2, 3))]
        if kind == "add":
            widths = [widths[0]] * len(widths)
        for width in widths:
            branches.append(self.branch(shape, width, stride))
        lines = [f"{kind}:"]
        for branch in branches:
            if len(branch) == 1 and self.integer(0, 1):
                lines.append(f"  branch: {branch[0]}")
            else:
                lines += ["  branch:", *_indent(branch, 4)]
        return self.try_lines(shape, lines, [f"{kind}:", "  branch: identity", "  branch: relu"])

    def skip(self, shape, depth: int) -> list[str]:
        """A long skip: name a tensor, go down and back up, then join the named one by
        ``from`` in a merge (or resume it with a bare ``from``)."""
        name = self.label()
        lines = [f"{name}: {self.pick(['identity', self.layer(shape)])}"]
        down = self.pick(["maxpool2", "conv3-8/2", "avgpool2", "pixelunshuffle2", "conv1-4"])
        up = self.pick(["upsample2", "upsample2 mode=bilinear", "deconv2-8/2", "pixelshuffle2", "identity",
                        f"upsample size={shape[0]}x{shape[1]}", "zeropad before=0 after=1", "crop before=0 after=1"])
        lines += [down, *self.pick([[], ["relu"], [f"conv3-{self.integer(1, 8)}"]]), up]
        ending = self.pick(["merge", "merge", "merge", "from"])
        if ending == "from":
            return [*lines, f"from {name}"]
        kind = self.pick(["concat", "add"])
        first, second = f"branch: from {name}", "branch: identity"
        if self.integer(0, 1):
            first, second = second, first
        return [*lines, f"{kind}:", f"  {first}", f"  {second}"]

    def branch(self, shape, width: int, stride: int) -> list[str]:
        if len(shape) == 1:
            return self.pick([[f"fc-{width}"], [f"fc-{width}", "bn", "relu"], [f"fc-{self.integer(1, 9)}", f"fc-{width}"]])
        k = self.pick([1, 3, 5])
        s = f"/{stride}" if stride > 1 else ""
        choices = [
            [f"conv{k}-{width}{s}"],
            [f"conv{k}-{width}{s}", "bn", "relu", f"conv3-{width}"],
            [f"maxpool3{'/' + str(stride) if stride > 1 else '/1'} pad=1", f"conv1-{width}"],
            [f"conv3-{width}{s} pad=same"] if stride == 1 else [f"conv{k}-{width}{s}", "bn"],
        ]
        if width == shape[-1]:
            choices.append([f"dwconv3{s}"])
            if stride == 1:
                choices.append(["identity"])
        return self.pick(choices)

    def preserving(self, shape, depth: int) -> list[str]:
        c = shape[-1]
        if len(shape) == 1:
            return self.pick([[f"fc-{c}"], [f"fc-{self.integer(1, 8)}", "relu", f"fc-{c}"], ["bn", "relu"]])
        options = [
            [f"conv{self.pick([1, 3, 5])}-{c}"],
            [f"conv3-{self.integer(1, 12)}", "bn", "relu", f"conv3-{c}"],
            ["dwconv3", "bn", f"conv1-{c}"],
            [f"inv {c}"],
            [f"cbr {c}", f"conv3-{c} dilation=2"],
            [f"conv3-{c} pad=same", "relu"],
        ]
        if depth < 2:
            options.append(["residual:", f"  conv3-{c}", "  bn"])
        return self.pick(options)

    def sequence(self, shape, depth: int, n: int):
        lines: list[str] = []
        for _ in range(n):
            more, shape = self.statement(shape, depth)
            lines += more
        return lines, shape


@st.composite
def specs(draw, max_statements: int = 8, rf: bool = False, with_rejected: bool = False):
    """A valid spec text with shape tracking (images of 8..40 px, mostly; 1-D signals of
    8..120, 3-D clips of 5..8 x 4..16 x 4..16; channels 1..16); with ``rf``, only images
    and layers that keep one. With ``with_rejected``: ``(spec, [specs PyTorch refused
    while drawing it])``."""
    rank = 2 if rf else draw(st.sampled_from([2, 2, 2, 1, 3]))
    c = draw(st.integers(1, 16))
    if rank == 1:
        sizes: tuple[int, ...] = (draw(st.integers(8, 120)),)
    elif rank == 2:
        sizes = (draw(st.integers(8, 40)), draw(st.integers(8, 40)))
    else:
        sizes = (draw(st.integers(5, 8)), draw(st.integers(4, 16)), draw(st.integers(4, 16)))
    header = [f"input {'x'.join(map(str, (*sizes, c)))}"]
    default = draw(st.sampled_from([None, None, "default conv bias=no", "default bias=no", "default fc bias=no"]))
    if default:
        header.append(default)
    gen = _Gen(draw, header, rf, rank)
    lines, _ = gen.sequence((*sizes, c), 0, draw(st.integers(1, max_statements)))
    text = "\n".join([*header, *lines]) + "\n" + DEFINES
    return (text, gen.rejected) if with_rejected else text


@st.composite
def deconv_chains(draw, max_layers: int = 6):
    """A chain of 2 to ``max_layers`` windowed layers (conv, dwconv, pools, transposed
    convolutions) on a small image, with at least one transposed convolution."""
    h, w = draw(st.integers(4, 24)), draw(st.integers(4, 24))
    c = draw(st.integers(1, 2))
    header = [f"input {h}x{w}x{c}"]
    gen = _Gen(draw, header, rf=True)
    count = draw(st.integers(2, max_layers))
    forced = draw(st.integers(0, count - 1))
    lines: list[str] = []
    shape = (h, w, c)
    for index in range(count):
        candidate = gen.deconv(shape[-1]) if index == forced else gen.layer(shape)
        more, shape = gen.try_lines(shape, [candidate], ["identity"])
        lines += more
    text = "\n".join([*header, *lines]) + "\n"
    assume(any(line.split()[0].startswith(("deconv", "convt", "upconv")) for line in lines))
    return text
