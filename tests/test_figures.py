"""Reference syntax, lookup and formats of :mod:`sphinx_cnntable.figures` (no Sphinx)."""

from __future__ import annotations

from decimal import Decimal, localcontext
from pathlib import Path

import pytest

from sphinx_cnntable.engine import analyse
from sphinx_cnntable.figures import FigureError, parse_reference, resolve, summarize

SPECS = Path(__file__).parent / "roots" / "test-role" / "specs"
GROUPED = summarize(analyse((SPECS / "vgg16.cnn").read_text(encoding="utf-8")))
FLAT = summarize(analyse("""
input 224x224x3
conv1: conv3-64 x2
maxpool
conv2: conv3-128 x2
maxpool
conv3: conv3-256 x3
maxpool
conv4: conv3-512 x3
maxpool
conv5: conv3-512 x3
pool5: maxpool
fc1: fc-4096
fc2: fc-4096
fc3: fc-1000
"""))


@pytest.mark.parametrize("summary", [GROUPED, FLAT], ids=["grouped", "flat"])
@pytest.mark.parametrize(
    ("reference", "text"),
    [
        ("vgg16:params", "138,357,544"),
        ("vgg16:params:raw", "138357544"),
        ("vgg16:params:compact", "140M"),
        ("vgg16:params:compact3", "138M"),
        ("vgg16:params:M", "138.358"),
        ("vgg16:params:M1", "138.4"),
        ("vgg16/conv3_1:params", "295,168"),
        ("vgg16/conv3:params", "1,475,328"),  # a group's subtotal, or a labelled repeat's sum
        ("vgg16:activations", "15,237,608"),
        ("vgg16:activation_memory", "60,950,432"),
        ("vgg16:activation_memory:B", "60,950,432 B"),
        ("vgg16:activation_memory:MiB", "58.13 MiB"),
        ("vgg16:activation_memory:MB", "60.95 MB"),
        ("vgg16:memory:GiB3", "0.057 GiB"),
        ("vgg16:param_memory:MiB", "527.79 MiB"),
        ("vgg16:macs:G", "15.47"),
        ("vgg16:macs:G3", "15.470"),
        ("vgg16:macs", "15,470,264,320"),
        ("vgg16/fc1:params", "102,764,544"),
        ("vgg16/fc1:params:percent", "74.3%"),
        ("vgg16/fc1:params:percent2", "74.27%"),
        ("vgg16/fc1:trainable", "102,764,544"),
        ("vgg16/fc1:weights", "102,760,448"),
        ("vgg16/fc1:biases", "4,096"),
        ("vgg16/fc1:non_trainable", "0"),
        ("vgg16/pool5:output_shape", "7x7x512"),
        ("vgg16/pool5:rf", "212"),
        ("vgg16:output_shape", "1000"),
        ("vgg16:input_shape", "224x224x3"),
        ("vgg16:weights", "138,344,128"),
        ("vgg16:biases", "13,416"),
        (" vgg16 : Params : EXACT ", "138,357,544"),
    ],
)
def test_reference_numbers(summary: dict, reference: str, text: str) -> None:
    assert resolve(summary, parse_reference(reference)) == text


def test_grouped_view_subtotals_sum_to_totals() -> None:
    for name in ("vgg16.cnn",):
        breakdown = analyse((SPECS / name).read_text(encoding="utf-8"))
        top = [row for row in breakdown.rows if row.depth < 1]
        for field in ("params", "macs", "activations", "weights", "biases", "non_trainable"):
            assert sum(getattr(row, field) for row in top) == sum(getattr(row, field) for row in breakdown.leaves())
        assert sum(row.params for row in top) == breakdown.totals.params == 138_357_544


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("vgg16", "write BREAKDOWN[/ROW]:FIGURE[:FORMAT]"),
        ("vgg16:params:exact:more", "write BREAKDOWN[/ROW]:FIGURE[:FORMAT]"),
        ("vgg16/:params", "write BREAKDOWN or BREAKDOWN/ROW"),
        ("vgg16:bogus", "unknown figure 'bogus'"),
        ("vgg16/fc1:activation_bytes", "unknown row figure"),
        ("vgg16:rf", "unknown figure 'rf'"),
        ("vgg16:params:zz", "unknown format 'zz'"),
        ("vgg16:params:MiB", "is for byte figures"),
        ("vgg16/pool5:output_shape:G", "does not apply to output_shape"),
        ("vgg16:params:exact2", "exact takes no digit"),
    ],
)
def test_bad_references(reference: str, message: str) -> None:
    with pytest.raises(FigureError, match=__import__("re").escape(message)):
        parse_reference(reference)


def test_unknown_and_ambiguous_rows() -> None:
    with pytest.raises(FigureError, match=r"has no row 'conv9' \(did you mean"):
        resolve(GROUPED, parse_reference("vgg16/conv9:params"))
    with pytest.raises(FigureError, match="4 rows of 'vgg16' are called 'maxpool'"):
        resolve(FLAT, parse_reference("vgg16/maxpool:params"))


def test_summary_is_plain_data() -> None:
    import pickle

    assert pickle.loads(pickle.dumps(GROUPED)) == GROUPED


# conv5-64 x2 on 32x32x3: 5*5*3*64 + 64 = 4,864, then 5*5*64*64 + 64 = 102,464;
# bn on 64 channels: gamma and beta (128 trainable) + running mean and variance (128).
GROUPED_UNLABELLED = """\
input 32x32x3
conv5-64 x2
block1:
  conv3-64
  bn
  relu
block2:
  conv3-64
  bn
  relu
maxpool
fc-10
"""
MYCNN = summarize(analyse(GROUPED_UNLABELLED))


@pytest.mark.parametrize(
    ("reference", "text"),
    [
        ("mycnn/conv5-64/1:params", "4,864"),
        ("mycnn/conv5-64/2:params", "102,464"),
        ("mycnn/conv5-64.2:params", "102,464"),
        ("mycnn/block2.bn:params", "256"),
        ("mycnn/block2/bn:trainable", "128"),
        ("mycnn/block2/bn:non_trainable", "128"),
        ("mycnn/block1/conv3-64:params", "36,928"),  # 3*3*64*64 + 64
        ("mycnn/2/2:params", "102,464"),  # spec line 2, its second row
        ("mycnn/5:params", "256"),  # spec line 5: block1's bn
        ("mycnn/12:params", "163,850"),  # fc-10 on maxpool's 16x16x64 = 16,384 inputs: 16,384*10 + 10
    ],
)
def test_any_row_by_path_place_or_line(reference: str, text: str) -> None:
    assert resolve(MYCNN, parse_reference(reference)) == text


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("mycnn/conv5-64:params", "2 rows of 'mycnn' are called 'conv5-64': cite one of them (conv5-64/1, conv5-64/2)"),
        ("mycnn/bn:params", "2 rows of 'mycnn' are called 'bn': cite one of them (bn/1, bn/2)"),
        ("mycnn/2:params", "2 rows of 'mycnn' come from spec line 2: cite one of them (2/1, 2/2)"),
        ("mycnn/99:params", "no row of 'mycnn' comes from spec line 99"),
        ("mycnn/block2/bnx:params", "has no row 'block2/bnx' (did you mean block2/bn,"),
        ("mycnn/conv5-64/3:params", "has no row 'conv5-64/3' (did you mean conv5-64/2, conv5-64/1?)"),
    ],
)
def test_row_messages(reference: str, message: str) -> None:
    with pytest.raises(FigureError) as caught:
        resolve(MYCNN, parse_reference(reference))
    assert message in str(caught.value)


GALLERY = Path(__file__).parent.parent / "docs" / "gallery" / "specs"
ALL_SPECS = {
    "mycnn": GROUPED_UNLABELLED,
    **{path.stem: path.read_text(encoding="utf-8") for path in sorted(GALLERY.glob("*.cnn"))},
    **{path.stem: path.read_text(encoding="utf-8") for path in sorted(SPECS.glob("*.cnn"))},
}


@pytest.mark.parametrize("name", ALL_SPECS)
def test_every_row_is_citable_by_each_of_its_keys(name: str) -> None:
    from sphinx_cnntable.figures import row_keys

    breakdown = analyse(ALL_SPECS[name])
    summary = summarize(breakdown)
    keyed, _shared = row_keys(breakdown)
    assert len(keyed) == len(breakdown.rows)
    for row, keys in keyed:
        assert keys, row
        for key in keys:
            cited = f"net/{key.replace('.', '/')}"
            assert resolve(summary, parse_reference(f"{cited}:params")) == f"{row.params:,}", cited
            assert resolve(summary, parse_reference(f"{cited}:macs:raw")) == str(row.macs), cited


@pytest.mark.parametrize("name", ALL_SPECS)
def test_suggestions_resolve_and_never_repeat_the_input(name: str) -> None:
    summary = summarize(analyse(ALL_SPECS[name]))
    checked = 0
    keys = summary["keys"]
    for key in keys[:: max(1, len(keys) // 40)]:
        for wrong in (key + "x", key[:-1], key.replace(".", ".z"), "z" + key):
            shown = wrong.strip()  # a key cut after a space is read without it: maybe another row's key
            if not shown or shown in summary["rows"] or shown in summary["ambiguous"] or shown.isdigit():
                continue
            try:
                resolve(summary, parse_reference(f"net/{wrong}:params"))
            except FigureError as error:
                message = str(error)
            else:
                raise AssertionError(wrong)
            checked += 1
            if "did you mean" not in message:
                continue
            suggested = message.split("(did you mean ", 1)[1].rstrip("?)").split(", ")
            for row in suggested:
                assert row.replace("/", ".") != wrong, message
                resolve(summary, parse_reference(f"net/{row}:params"))  # each one resolves
    assert checked


HUGE_FC = "fc: fc-1" + "0" * 28


def _exact(numerator: int, denominator: int) -> str:
    """The reference: the quotient to 2 decimals in a 100-digit decimal context."""
    with localcontext() as context:
        context.prec = 100
        return f"{(Decimal(numerator) / Decimal(denominator)).quantize(Decimal('0.01')):,}"  # 10^28 outputs: 29 digits, within the engine's limit


@pytest.mark.parametrize(
    ("spec", "reference", "text"),
    [
        # 1*10^28 weights + 10^28 biases = 2*10^28; / 10^3 is exact
        (f"input 1x1x1\n{HUGE_FC}", "big:params:K", "20,000,000,000,000,000,000,000,000"),
        (f"input 1x1x1\n{HUGE_FC}", "big:macs:K", "10,000,000,000,000,000,000,000,000"),
        (f"input 1x1x1\n{HUGE_FC}", "big:params:G3", "20,000,000,000,000,000,000.000"),
        (f"input 1x1x1\n{HUGE_FC}", "big:params:T", "20,000,000,000,000,000"),
        # 2*10^28 params * 4 bytes = 8*10^28 bytes; / 2^30 = 74505805969238281250000000000 / 1 (exactly .00)
        (f"input 1x1x1\n{HUGE_FC}", "big:param_memory:GiB", "74,505,805,969,238,281,250.00 GiB"),
        (f"input 1x1x1\n{HUGE_FC}", "big:param_memory:kB", "80,000,000,000,000,000,000,000,000.00 kB"),
        (f"input 1x1x1\n{HUGE_FC}", "big/fc:params:percent6", "100.000000%"),
        (f"input 1x1x1\n{HUGE_FC}", "big:params:compact", "20000000000000P"),
        # 10^18 inputs into 10^28 outputs: 10^46 weights, 10^28 biases -> 46/47 digits
        (f"input 1000000000x1000000000x1\n{HUGE_FC}", "big:params:M1", f"{10**40 + 10**22:,}.0"),
        (f"input 1000000000x1000000000x1\n{HUGE_FC}", "big:param_memory:MiB", f"{_exact(4 * (10**46 + 10**28), 2**20)} MiB"),
    ],
)
def test_regression_scaled_formats_of_huge_figures(spec: str, reference: str, text: str) -> None:
    # decimal.InvalidOperation used to escape: a 28-digit context cannot quantize these
    ref = parse_reference(reference)
    summary = summarize(analyse(spec))
    assert resolve(summary, ref) == text


def test_formats_round_half_to_even_exactly() -> None:
    summary = summarize(analyse("input 1x1x1\nfc-2500 bias=no\nfc-1 bias=no"))  # 2,500 + 2,500 params
    assert resolve(summary, parse_reference("s:params:K0")) == "5"
    summary = summarize(analyse("input 1x1x1\nfc-2500 bias=no"))
    assert resolve(summary, parse_reference("s:params:K0")) == "2"  # 2.5 -> 2 (half to even)
    summary = summarize(analyse("input 1x1x1\nfc-3500 bias=no"))
    assert resolve(summary, parse_reference("s:params:K0")) == "4"  # 3.5 -> 4
