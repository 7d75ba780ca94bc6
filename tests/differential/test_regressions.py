"""Fixed specs at the corners of PyTorch's arithmetic, run through the same comparison
as the random specs (test_differential.compare), so these corners are checked on every
run whatever Hypothesis draws.

The random runs (4,000 + 2,000 examples while this suite was written) found no
disagreement with the engine; the cases below are the corners most likely to regress.
Two traps of the *translator*, not the engine, are pinned here as well: PyTorch reads an
(N, C) tensor as an unbatched image (so a global pool on a vector "works" in torch), and
a ``define`` parameter default must not be evaluated when the call gives the value.
"""

from __future__ import annotations

import pytest

pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests need the 'torch' extra (torch==2.13.0, torchinfo==1.8.0)"
)


from test_differential import check_receptive_field, compare
from translate import translate

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.errors import SpecError

CASES = {
    # ceil mode: the last window would start in the right padding, so PyTorch drops it
    "ceil-drops-window-in-padding": "input 5x7x2\nmaxpool2/2 pad=1 ceil=yes\n",
    "ceil-keeps-partial-window": "input 6x9x2\navgpool3/2 ceil=yes\nmaxpool3/2 pad=1 ceil=yes\n",
    # TF "same": odd total padding goes to the bottom/right; stride larger than the kernel
    "same-odd-padding": "input 10x11x3\nconv4-5/3 pad=same\nconv3-4 pad=same dilation=2\n",
    "same-pool-stride-over-kernel": "input 13x9x2\nmaxpool1/3 pad=same\navgpool2/3 pad=same\n",
    "asymmetric-kernel-stride-pad": "input 17x12x4\nconv1x7-6 stride=2x1 pad=0x3\nconv3x1-6/2 pad=1x0 dilation=1x2\n",
    "grouped-conv": "input 12x12x8\nconv3-12 groups=4 bias=no\nconv1-6 groups=3\n",
    "dwconv-multiplier": "input 9x9x3\ndwconv3/2 mult=2\ndwconv5 pad=valid mult=1 bias=no\n",
    "deconv-outpad-dilation": "input 7x5x4\ndeconv3-6/2 pad=1 outpad=1\nconvt3-4 dilation=2 outpad=1 pad=0\nupconv4-2/2 groups=2\n",
    "deconv-outpad-with-stride-1-dilation-3": "input 6x6x2\ndeconv2-3 dilation=3 outpad=2 pad=0\n",
    "global-pool-then-fc-chain": "input 8x10x5\ngmp\nfc-7\nbn\nfc 3 bias=no\nsoftmax\n",
    "flatten-then-bn1d": "input 4x3x2\nflatten\nbatchnorm\nfc-5\n",
    "vector-merges": "input 8x8x2\nfc-6\nconcat:\n  branch: fc-2\n  branch:\n    fc-3\n    relu\nresidual:\n  fc-5\nadd:\n  branch: fc-4\n  branch: dense 4\n",
    "defaults-by-family": "input 9x9x3\ndefault conv bias=no\ndefault fc bias=no\nconv3-4\ndeconv2-4/2\nfc-3\n",
    "define-defaults-and-in": (
        "input 16x16x6\ndefine blk w s=1 e=2:\n  conv1-{in*e}\n  dwconv3/{s}\n  conv1-{w}\n"
        "define twice:\n  blk {in} 1 1\n  blk w={in//2+1} s=2\nblk 4\ntwice x2\nrepeat 2:\n  residual:\n    blk 2\n"
    ),
    # a ViT in small: patches, class token, position embedding, pre-norm blocks, the class token out
    "vit-small": (
        "input 16x16x3\npatch4-8\nclstoken\nposembed\nrepeat 2:\n  residual:\n    layernorm\n"
        "    attention heads=2\n  residual:\n    layernorm\n    fc-16 per=token\n    gelu\n"
        "    fc-8 per=token\nlayernorm\nselectcls\nfc-5\n"
    ),
    # Swin's windows on a map that is not a multiple of the window (padded), shifted,
    # per-axis windows, patch merging of odd sides, then global attention on tokens
    "swin-padding-and-shift": (
        "input 15x13x4\nconv3-8\nattention heads=2 window=4 shift=2\nlayernorm\npatchmerge\n"
        "fc-8 per=token bias=no\nattention heads=4 window=3x2 shift=1x0\ntokens\nattention heads=2 bias=no\ngap\n"
    ),
    "sequence-input": "input 20x6\nmhsa heads=3\nfc-4 per=token\nlayernorm\nclstoken\nposembed\nselectcls\n",
    "attention-defaults": "input 8x8x4\ndefault fc bias=no\nresidual:\n  layernorm\n  attention heads=2 window=3 shift=1\nfc-3 per=token\n",
    # long skips: a user block takes the skip's name; the latest tensor of a name wins
    "unet-two-levels": (
        "input 12x12x2\ndefine up out skip:\n  concat:\n    branch: from {skip}\n    branch: deconv2-{out}/2\n"
        "  conv3-{out}\nenc1: conv3-4\nmaxpool2\nenc2: conv3-8\nmaxpool2\nconv3-16\nup 8 enc2\nup 4 enc1\nconv1-3\n"
    ),
    "from-latest-and-repeated-names": (
        "input 8x8x3\nc: conv3-4 x2\nc: conv1-5\nfrom c_2\nrelu\nr: repeat 2:\n  t: conv3-6/2\nfrom t\n"
        "add:\n  branch: from r\n  branch: identity\nfrom input\nconv1-2\n"
    ),
    # side outputs: a side block last, a labelled one used again, one inside a repeat
    "side-outputs": (
        "input 10x10x3\nconv3-4\nrepeat 2:\n  s: side:\n    gap\n    fc-3\n  conv3-4\n"
        "p: side: conv1-2\nconcat:\n  branch: from p\n  branch: identity\nside:\n  maxpool2\n  flatten\n"
    ),
    # resampling: odd sizes, every mode on its rank, bicubic to an explicit size
    "resampling-corners": (
        "input 5x7x4\nupsample3 mode=bilinear\nupsample size=10x4 mode=bicubic\nupsample scale=1x2\n"
        "pixelunshuffle2\npixelshuffle2\nzeropad before=0x2 after=1\ncrop size=7x3\ncrop before=1 after=0x1\n"
    ),
    # 'default size=' is lrn's; it must not reach upsample or crop (mode= does)
    "resampling-ignores-default-size": "input 8x8x4\ndefault size=3 mode=bilinear\nlrn\nupsample2\ncrop1\nzeropad1\n",
    "resampling-1d": "input 9x3\nupsampling2 mode=linear\nzeropadding1\ncropping before=2 after=0\n",
    "resampling-3d": "input 3x4x5x2\nupsample2 mode=trilinear\ncrop1x0x1\nzeropad0x1x0\nupsample scale=1x1x2\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_corner(name: str) -> None:
    compare(CASES[name])


RF_CASES = {
    "dilated-stack": "input 20x20x1\nconv3-2 dilation=2\nconv3-2 dilation=3\nmaxpool2\nconv3-1 dilation=2\n",
    "strided-even-kernels": "input 20x20x1\nconv4-2/2\nmaxpool2/3\nconv2-1/2 pad=0\n",
    "same-padding-even-kernel": "input 20x20x1\nconv4-2/2 pad=same\nconv2-2 pad=same\n",
    "merge-of-different-depths": (
        "input 20x20x1\nconcat:\n  branch: conv5-2\n  branch:\n    conv3-2\n    conv3-2\n    conv3-2\n"
    ),
    "asymmetric": "input 20x20x1\nconv1x5-2\nconv3x1-2/2x1\nmaxpool3x2\n",
    # transposed convolutions: neighbouring outputs see different extents (the issue's
    # examples, 3 and 2 before, true 5 and 3), and the padding phase of a later stride
    "deconv-after-stride-4": "input 64x64x1\nconv1-1/4\ndeconv2-1/2 pad=0\nconv2-1 pad=0\n",
    "deconv-stride-3-then-pool": "input 64x64x1\nconv1-1/2\ndeconv3-1/3 pad=0\nmaxpool2/2\n",
    "deconv-then-stride-even-phase": "input 20x20x1\ndeconv2-1/2 pad=0\nconv2-1/2 pad=0\n",
    "deconv-then-stride-odd-phase": "input 20x20x1\ndeconv2-1/2 pad=0\nconv2-1/2 pad=1\n",
    "deconv-gaps-then-merge": (
        "input 20x20x1\ndeconv1-1/3 pad=0\nadd:\n  branch: conv4-1 pad=1\n  branch: conv2-1 pad=1 dilation=3\n"
    ),
}


@pytest.mark.parametrize("name", sorted(RF_CASES))
def test_receptive_field_corner(name: str) -> None:
    assert check_receptive_field(RF_CASES[name])


def test_translator_refuses_global_pool_on_a_vector() -> None:
    with pytest.raises(ValueError, match="needs an image"):
        translate("input 4x4x2\nfc-3\ngap\n")


def test_residual_whose_body_changes_channels_in_a_later_repeat_iteration_is_refused() -> None:
    """Found by the receptive-field probe: PyTorch broadcasts a 1-channel map onto a
    2-channel sum and runs; the engine must refuse it, and the translator now does too."""
    spec = "input 8x8x1\nconv1-2\nrepeat 2:\n  residual:\n    conv1-2\n  conv1-1\n"
    with pytest.raises(SpecError, match="residual: the body changes the shape from 8x8x1 to 8x8x2"):
        analyse(spec)
    with pytest.raises(ValueError, match="residual: shapes differ"):
        translate(spec)


@pytest.mark.parametrize("text", [
    "input 8x8x4\nclstoken\n", "input 8x8x4\nselectcls\n", "input 8x6\nattention heads=4\n",
    "input 8x8x4\nattention heads=3 window=4\n", "input 8x8x4\nfc-3\nposembed\n", "input 8x8x4\nfc-3\ntokens\n",
])
def test_token_forms_refused_by_both(text: str) -> None:
    with pytest.raises((ValueError, AssertionError, RuntimeError)):  # translate's, nn.MultiheadAttention's, Swin's
        translate(text)
    with pytest.raises(SpecError):
        analyse(text)


def test_crop_to_nothing_is_refused_by_both() -> None:
    """Found by the differential suite: slicing a 1x1 map to 0x0 gives PyTorch an empty
    tensor and no error, and a later ``from`` hid it from the output; the engine refuses
    the crop, and so does the translator now."""
    spec = "input 8x8x1\ngap\nL1: identity\ncrop before=0 after=1\nfrom L1\n"
    with pytest.raises(SpecError, match="crop: cropping 1x1 leaves nothing"):
        analyse(spec)
    with pytest.raises(ValueError, match="crop: nothing left"):
        translate(spec)


def test_lrn_on_a_vector_is_refused_by_both() -> None:
    """Found by the differential suite: ``repeat 2:`` over ``lrn``, ``flatten``, ``fc-1``
    puts ``lrn`` on a vector in the second pass. PyTorch's LocalResponseNorm needs a
    feature map; the engine accepted it. Both refuse it now."""
    spec = "input 8x8x1\nL3: repeat 2:\n  L1: repeat 1:\n    lrn\n  flatten\n  fc-1 bias=no\n"
    with pytest.raises(SpecError, match="lrn needs an HxWxC input, got a vector of 1"):
        analyse(spec)
    with pytest.raises(ValueError, match="lrn needs an image"):
        translate(spec)
