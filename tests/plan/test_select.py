"""Format selection: each optimize goal picks what it promises, the flash budget is honoured
with the fewest extra instructions, and an impossible budget is a clear error."""
import numpy as np
import pytest

from toolchain.encode import patterns
from toolchain.encode.format import OpCode
from toolchain.errors import BudgetError
from toolchain.plan.lower import Layer
from toolchain.plan.select import choose_formats


def _fc(weights, index=0):
    rows, cols = weights.shape
    return Layer(index, f"fc{index}", OpCode.FULLY_CONNECTED, [0], 1,
                 dict(in_features=cols, out_features=rows, batches=1, output_zero_point=0,
                      act_min=-128, act_max=127),
                 weights=weights.astype(np.int8), bias=np.zeros(rows, np.int32),
                 mult=np.full(rows, 1 << 30, np.int32), shift=np.zeros(rows, np.int32))


def _weights(sparsity, shape=(64, 256), seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=shape)
    # a random mask: magnitude pruning would leave so few distinct values that a palette fits
    return (w * (rng.random(shape) >= sparsity)).astype(np.int8)


def test_goals():
    layers = [_fc(_weights(0.9)), _fc(_weights(0.0), 1), _fc(_weights(0.5), 2)]
    size = choose_formats(layers, optimize="size")
    speed = choose_formats(layers, optimize="speed")
    balanced = choose_formats(layers, optimize="balanced")
    for c in size:
        assert c.table_bytes == min(c.candidates.values())
    for c in speed:
        assert c.instructions[c.format] == min(c.instructions.values())
    assert [c.format for c in size][:2] == ["csr8", "dense"]
    assert speed[0].format != "dense" and speed[1].format == "dense"
    for c in balanced:  # never slower than dense, never bigger than the fastest
        assert c.instructions[c.format] <= c.instructions["dense"]
    assert balanced[1].format == "dense"


def test_flash_budget_moves_the_cheapest_layers_and_rejects_the_impossible():
    layers = [_fc(_weights(0.9, seed=s), s) for s in range(3)]
    speed = choose_formats(layers, optimize="speed")
    fast_total = sum(c.table_bytes for c in speed)
    small_total = sum(min(c.candidates.values()) for c in speed)
    assert small_total < fast_total
    budget = (fast_total + small_total) // 2
    fitted = choose_formats(layers, optimize="speed", flash_budget=budget)
    assert sum(c.table_bytes for c in fitted) <= budget
    assert any(c.format != s.format for c, s in zip(fitted, speed))
    with pytest.raises(BudgetError, match="over the flash budget by"):
        choose_formats(layers, optimize="speed", flash_budget=small_total - 1)


def test_force_falls_back_to_dense_where_a_format_does_not_apply():
    w = _weights(0.7, shape=(8, 30))  # 30 columns: no 1x4 blocks, no 2:4 groups
    (c,) = choose_formats([_fc(w)], force="nm2:4")
    assert c.format == "dense"
    (c,) = choose_formats([_fc((w * patterns.nm_mask(np.pad(w, ((0, 0), (0, 2))), 2, 4)[:, :30]))],
                          force="csr16")
    assert c.format == "csr16"


def test_compact_lets_a_small_layer_run_slower_while_the_model_stays_no_slower_than_dense():
    """optimize compact (--compress max's default): balanced keeps the small six-valued layer
    dense, as no smaller format of it is as fast; compact stores it Huffman-coded because the
    big layer's sparse format saves far more instructions than that costs, and never goes past
    the all-dense total."""
    rng = np.random.default_rng(3)
    values = np.array([-90, -40, -10, 10, 40, 90], np.int8)
    small = (rng.choice(values, size=(10, 200)) * (rng.random((10, 200)) >= 0.6)).astype(np.int8)
    layers = [_fc(_weights(0.9, shape=(128, 512))), _fc(small, 1)]
    balanced = choose_formats(layers, optimize="balanced", huffman="init")
    compact = choose_formats(layers, optimize="compact", huffman="init")
    # the big layer: csr8 with its streams Huffman coded, as fast as csr8 and smaller
    assert [c.format for c in balanced] == ["csr8+huffman", "dense"]
    assert compact[0].format == "csr8+huffman" and compact[1].format == "palette+huffman"
    assert compact[1].instructions["palette+huffman"] > compact[1].instructions["dense"]
    assert sum(c.table_bytes for c in compact) < sum(c.table_bytes for c in balanced)

    def total(choices, fmt=None):
        return sum(c.instructions[fmt or c.format] for c in choices)

    assert total(compact) <= total(compact, "dense")
    # the big layer alone pays for the small one: without it, compact is balanced
    alone = choose_formats(layers[1:], optimize="compact", huffman="init")
    assert [c.format for c in alone] == ["dense"]


def test_speed_takes_column_pairs_on_dsp_cores():
    """pairs (two int16 weights a stored pair, the input widened once) is the fastest FC format
    at moderate sparsity on cores with the DSP extension; its plain C kernel is not, and its
    table is twice CSR16's values, so size and balanced do not take it."""
    from toolchain.isa import Isa

    layers = [_fc(_weights(0.5)), _fc(_weights(0.9), 1)]
    speed = choose_formats(layers, optimize="speed", isa=Isa.DSP)
    assert [c.format for c in speed] == ["pairs", "pairs"]
    assert all(c.instructions["pairs"] < c.instructions["csr16"] for c in speed)
    assert "pairs" not in [c.format for c in choose_formats(layers, optimize="speed", isa=Isa.C)]
    for goal in ("size", "balanced"):
        assert "pairs" not in [c.format for c in choose_formats(layers, optimize=goal, isa=Isa.DSP)]
