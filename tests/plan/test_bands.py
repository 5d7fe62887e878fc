"""Row bands (issue 22, toolchain/plan/bands.py): chains of convolutions computed a few rows at a
time, so the tensors between them never exist whole, checked against TFLM byte for byte for
every chain of a small model and several band heights, on the host (plain C and the DSP
kernels' C emulation) and in QEMU; and the arena check that follows every byte refuses a band
order that would read a residual row after it was overwritten."""
import numpy as np
import pytest

from qemu_run import qemu_outputs
from requires import needs
from toolchain.enums import OpCode


@pytest.fixture(scope="module")
def residual_tflite():
    """conv 3x3 -> [conv 3x3 -> conv 3x3 dilated 2] + residual ADD -> conv 3x3 stride 2 ->
    depthwise 3x3 -> conv 1x1 -> global average pool -> FC: a residual chain, and a chain
    with a stride, a depthwise layer and a pointwise one."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    keras.utils.set_random_seed(31)
    L = keras.layers
    inp = keras.Input((13, 10, 3), batch_size=1)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 3, padding="same", dilation_rate=2)(y)
    x = L.ReLU()(L.Add()([y, x]))  # the residual second: its band swaps the inputs
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(12, 1)(x)
    out = L.Dense(5)(L.GlobalAveragePooling2D()(x))
    xf = np.random.default_rng(31).uniform(-2, 3, size=(12, 13, 10, 3)).astype(np.float32)
    return to_int8_tflite(keras.Model(inp, out), xf), xf


def _unbanded(tflite, xf, force_format=None):
    from toolchain.pipeline import input_samples, plan_model, reference

    plan = plan_model(tflite, "bands", force_format=force_format, in_place=False)
    xq = input_samples(plan.graph, xf)
    return plan, xq, reference(tflite, xq)


def _banded(plan, chain, rows):
    """The plan with `chain` split into bands of `rows` rows (None when it cannot be)."""
    from toolchain.encode.blob import build_blob
    from toolchain.pipeline import Plan
    from toolchain.plan.arena import plan_arena, validate_contents
    from toolchain.plan.bands import split_rows

    cand = split_rows(plan.graph, plan.layers, plan.choices, chain, rows)
    if cand is None:
        return None
    graph, layers, choices = cand
    arena = plan_arena(graph, layers, choices)
    validate_contents(graph, layers, arena)
    return Plan(graph, layers, choices, arena, build_blob(graph, layers, choices, arena))


@pytest.mark.convert
@pytest.mark.parametrize("force_format", [None, "csr16"], ids=["dense", "csr16-conv4"])
def test_every_chain_in_bands_is_bit_exact_on_the_host(residual_tflite, force_format, tmp_path):
    from toolchain.codegen.model import write_model_sources
    from toolchain.plan.bands import find_chains
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import HostModel

    plan, xq, ref = _unbanded(*residual_tflite, force_format=force_format)
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    libs = [build_host_library(tmp_path / "src", tmp_path / f"build{len(d)}", defines=d)
            for d in ((), ("ES_FORCE_DSP",))]
    chains = find_chains(plan.graph, plan.layers, plan.choices)
    assert any(c.residual for c in chains) and any(
        {plan.layers[i].opcode for i in c.layers} >= {OpCode.CONV_2D, OpCode.DEPTHWISE_CONV_2D}
        for c in chains)
    runs = 0
    for chain in chains:
        for rows in (1, 2, 3, 5):
            banded = _banded(plan, chain, rows)
            if banded is None:
                continue
            assert len(banded.layers) > len(plan.layers)
            for lib in libs:
                ours = HostModel(lib, banded.blob.data).run(xq).reshape(ref.shape)
                assert np.count_nonzero(ours != ref) == 0, (chain, rows, lib)
            runs += 1
    assert runs >= 8


@pytest.mark.convert
def test_plan_memory_takes_the_band_rewrite_that_shrinks_the_arena(residual_tflite):
    """The compile path (plan_memory): the residual block in bands, the arena smaller than
    every tensor planned whole, the weight tables once in the blob."""
    from toolchain.pipeline import plan_model
    from toolchain.plan.arena import plan_arena
    from toolchain.plan.bands import plan_memory

    whole = plan_model(residual_tflite[0], "bands")
    plan, _, _ = _unbanded(*residual_tflite)
    base = plan_arena(plan.graph, plan.layers, plan.choices)
    graph, layers, choices, arena = plan_memory(plan.graph, plan.layers, plan.choices)
    assert arena.arena_bytes < base.arena_bytes
    assert whole.arena.arena_bytes == arena.arena_bytes
    assert any(l.shares is not None for l in whole.layers)
    assert sum(whole.blob.weight_table_bytes) == sum(plan.blob.weight_table_bytes)
    assert sum(l.param_count for l in whole.layers) == sum(l.param_count for l in plan.layers)


@pytest.mark.convert
def test_an_add_band_before_the_rows_it_overwrites_are_read_is_refused(residual_tflite):
    """Moving the first residual ADD band before the next band's first convolution would
    overwrite input rows that convolution still reads: validate_contents names it."""
    from toolchain.errors import ToolchainError
    from toolchain.plan.arena import plan_arena, validate_contents
    from toolchain.plan.bands import find_chains, split_rows

    plan, _, _ = _unbanded(*residual_tflite)
    chain = next(c for c in find_chains(plan.graph, plan.layers, plan.choices) if c.residual)
    graph, layers, choices = split_rows(plan.graph, plan.layers, plan.choices, chain, 2)
    adds = [i for i, l in enumerate(layers) if l.opcode == OpCode.ADD and "[rows" in l.name]
    first_conv = next(i for i in range(adds[0], len(layers)) if layers[i].opcode == OpCode.CONV_2D)
    arena = plan_arena(graph, layers, choices)
    validate_contents(graph, layers, arena)
    # ADD band 1 (rows 2-3) first, then band 1's convolutions, which read x rows 2-4
    second = adds[1]
    order = list(range(len(layers)))
    order.remove(second)
    order.insert(first_conv, second)
    moved = [layers[i] for i in order]
    with pytest.raises(ToolchainError, match="overwrite bytes .* of its input"):
        validate_contents(graph, moved, arena)


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.slow
@needs("arm-none-eabi-gcc", "qemu-system-arm")
def test_banded_model_is_bit_exact_in_qemu(residual_tflite, tmp_path):
    from toolchain.pipeline import input_samples, plan_model, reference

    tflite, xf = residual_tflite
    plan = plan_model(tflite, "bands", force_format="csr16")
    assert any(l.shares is not None for l in plan.layers)
    xq = input_samples(plan.graph, xf)
    ref = reference(tflite, xq)
    ours = qemu_outputs(plan, xq, tmp_path, "bands")
    assert np.count_nonzero(ours.reshape(ref.shape) != ref) == 0


@pytest.mark.convert
def test_a_ram_budget_takes_the_cheapest_plan_that_fits(residual_tflite):
    """A budget the plain plan fits: no bands (no extra layers). A budget only bands reach: the
    plan fits it. One below anything the bands reach: the smallest arena they make."""
    from toolchain.plan.arena import plan_arena
    from toolchain.plan.bands import plan_memory

    plan, _, _ = _unbanded(*residual_tflite)
    whole = plan_arena(plan.graph, plan.layers, plan.choices)
    _, layers, _, arena = plan_memory(plan.graph, plan.layers, plan.choices, ram_budget=whole.arena_bytes)
    assert len(layers) == len(plan.layers) and arena.arena_bytes == whole.arena_bytes
    _, _, _, smallest = plan_memory(plan.graph, plan.layers, plan.choices, ram_budget=1)
    assert smallest.arena_bytes < whole.arena_bytes
    budget = whole.arena_bytes - 4
    _, layers, _, arena = plan_memory(plan.graph, plan.layers, plan.choices, ram_budget=budget)
    assert arena.arena_bytes <= budget and len(layers) > len(plan.layers)
