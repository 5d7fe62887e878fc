"""Granularity parsing, fallbacks and masks: plain numpy, no training."""
import numpy as np
import pytest

from toolchain.encode import patterns
from toolchain.errors import ToolchainError
from toolchain.prune.granularity import (UNSTRUCTURED, Granularity, fit_granularity, from_rows,
                                         layer_mask, parse_granularity, pattern_holds, to_rows)


@pytest.mark.parametrize("text,expected", [
    ("unstructured", UNSTRUCTURED),
    ("block:1x4", Granularity("block", 1, 4)),
    ("BLOCK:4x1", Granularity("block", 4, 1)),
    ("block:1x1", UNSTRUCTURED),
    ("nm:2:4", Granularity("nm", 2, 4)),
    ("nm:1:4", Granularity("nm", 1, 4)),
])
def test_parse(text, expected):
    g = parse_granularity(text)
    assert g == expected
    assert parse_granularity(str(g)) == g


@pytest.mark.parametrize("text", ["", "block", "block:4", "block:0x4", "nm:4:4", "nm:3:2", "nm:2",
                                  "n:m", "2:4"])
def test_parse_rejects(text):
    with pytest.raises(ToolchainError, match="granularity"):
        parse_granularity(text)


def test_nm_fixes_sparsity():
    assert parse_granularity("nm:2:4").fixed_sparsity == 0.5
    assert parse_granularity("nm:1:4").fixed_sparsity == 0.75
    assert parse_granularity("block:1x4").fixed_sparsity is None


def test_depthwise_rows_round_trip():
    k = np.arange(3 * 3 * 5 * 2, dtype=np.float32).reshape(3, 3, 5, 2)
    rows = to_rows(k, "DepthwiseConv2D")
    assert rows.shape == (10, 9)
    # output channel c * mult + j reduces over the 9 taps of input channel c
    np.testing.assert_array_equal(rows[3 * 2 + 1], k[:, :, 3, 1].ravel())
    np.testing.assert_array_equal(from_rows(rows, k.shape, "DepthwiseConv2D"), k)


@pytest.mark.parametrize("kind,shape,g,fits,note", [
    ("Conv2D", (3, 3, 1, 16), "nm:2:4", False, "1 input channels are not a multiple of M=4"),
    ("Conv2D", (3, 3, 16, 32), "nm:2:4", True, None),
    ("Conv2D", (3, 3, 1, 16), "block:4x1", True, None),
    ("Conv2D", (3, 3, 1, 16), "block:1x4", False, "1 input channels are not a multiple of 4"),
    ("Dense", (64, 10), "block:4x1", False, "10 outputs are not a multiple of 4"),
    ("Dense", (64, 10), "block:1x4", True, None),
    ("Dense", (30, 8), "nm:1:4", False, "30 inputs are not a multiple of M=4"),
    ("DepthwiseConv2D", (3, 3, 8, 1), "nm:2:4", False, "does not apply to DepthwiseConv2D"),
    ("DepthwiseConv2D", (3, 3, 8, 1), "unstructured", True, None),
])
def test_fit_granularity_falls_back_and_says_why(kind, shape, g, fits, note):
    got, why = fit_granularity(kind, shape, parse_granularity(g))
    if fits:
        assert got == parse_granularity(g) and why is None
    else:
        assert got == UNSTRUCTURED
        assert note in why


def test_nm_mask_groups_along_the_reduction_of_each_output_channel():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(3, 3, 8, 6)).astype(np.float32)
    for n, m in ((2, 4), (1, 4)):
        mask = layer_mask(k, "Conv2D", Granularity("nm", n, m), 0.5)
        pruned = k * mask
        rows = patterns.keras_rows(pruned)
        groups = (rows != 0).reshape(6, -1, m).sum(axis=2)
        assert (groups == n).all()  # random weights: exactly N survive in each group of M
        assert pattern_holds(pruned, "Conv2D", Granularity("nm", n, m))
        # the survivors are the N largest magnitudes of their group
        a = np.abs(patterns.keras_rows(k)).reshape(6, -1, m)
        kept = np.abs(rows).reshape(6, -1, m)
        assert np.allclose(np.sort(a, axis=2)[:, :, m - n:], np.sort(kept, axis=2)[:, :, m - n:])


@pytest.mark.parametrize("bh,bw", [(1, 4), (4, 1), (2, 2)])
def test_block_mask_zeros_whole_blocks(bh, bw):
    rng = np.random.default_rng(1)
    k = rng.normal(size=(3, 3, 8, 12)).astype(np.float32)
    pruned = k * layer_mask(k, "Conv2D", Granularity("block", bh, bw), 0.75)
    assert patterns.zeros_in_whole_blocks(patterns.keras_rows(pruned), bh, bw)
    assert patterns.sparsity(pruned) == pytest.approx(0.75, abs=0.01)
    assert pattern_holds(pruned, "Conv2D", Granularity("block", bh, bw))


def test_zeros_in_whole_blocks_detects_a_stray_zero():
    w = np.ones((4, 8))
    w[0, 0:4] = 0
    assert patterns.zeros_in_whole_blocks(w, 1, 4)
    w[2, 5] = 0
    assert not patterns.zeros_in_whole_blocks(w, 1, 4)
    column = np.ones((4, 8))
    column[:, 3] = 0  # one whole 4x1 block
    assert patterns.zeros_in_whole_blocks(column, 4, 1)
    column[0, 6] = 0  # a quarter of another
    assert not patterns.zeros_in_whole_blocks(column, 4, 1)


@pytest.mark.parametrize("kind,shape", [("Dense", (40, 30)), ("Conv2D", (3, 3, 4, 5)),
                                        ("DepthwiseConv2D", (3, 3, 6, 1))])
def test_unstructured_mask_hits_the_target(kind, shape):
    k = np.random.default_rng(2).normal(size=shape)
    for s in (0.0, 0.5, 0.9):
        mask = layer_mask(k, kind, UNSTRUCTURED, s)
        assert mask.shape == shape
        # a depthwise channel keeps a tap (test_depthwise_masks_leave_no_channel_empty)
        target = min(s, 1 - shape[2] * shape[3] / k.size) if kind == "DepthwiseConv2D" else s
        assert np.mean(~mask) == pytest.approx(target, abs=0.5 / k.size + 1e-12)
        if 0 < s and kind != "DepthwiseConv2D":
            assert np.abs(k[~mask]).max() <= np.abs(k[mask]).min()


def test_depthwise_masks_leave_no_channel_empty():
    """A depthwise channel pruned to nothing outputs its bias alone, which the TFLite converter
    quantizes with a ~4e-9 weight scale and a bias saturated at 2^30: each channel keeps its
    largest tap, the rest go by magnitude, the sparsity exact where a tap per channel allows."""
    import numpy as np

    from toolchain.prune.granularity import UNSTRUCTURED, every_row_kept, layer_mask

    rows = np.random.default_rng(3).normal(size=(64, 9))
    rows[5] *= 1e-3  # a channel whose taps are all smaller than the others'
    for sparsity, kept in ((0.0, 576), (0.5, 288), (0.8, 115), (0.9, 64), (0.97, 64)):
        keep = every_row_kept(rows, sparsity)
        assert keep.sum() == kept and keep.any(axis=1).all(), sparsity
    keep = every_row_kept(rows, 0.8)
    assert keep[5].sum() == 1 and keep[5, np.abs(rows[5]).argmax()]
    a = np.abs(rows)
    extra = keep.copy()
    extra[np.arange(64), a.argmax(axis=1)] = False  # beyond the one per row: the largest
    assert a[extra].min() >= a[~keep].max()
    kernel = rows.reshape(16, 4, 3, 3).transpose(2, 3, 0, 1)  # [kh, kw, c, mult]
    mask = layer_mask(kernel, "DepthwiseConv2D", UNSTRUCTURED, 0.9)
    assert mask.shape == kernel.shape and mask.reshape(9, -1).any(axis=0).all()
