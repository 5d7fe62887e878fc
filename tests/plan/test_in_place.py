"""Layers writing over their own dead input (issue 22), run against TFLM byte for byte: the
convolutions, depthwise convolutions and pools of a small model planned in place (each output starting its
window lag below its input), on the host (plain C and the DSP kernels' C emulation) and in QEMU
on a Cortex-M4 (the DSP kernels themselves)."""
import numpy as np
import pytest

from qemu_run import qemu_outputs
from requires import needs
from toolchain.enums import OpCode

WINDOWED = {OpCode.DEPTHWISE_CONV_2D, OpCode.MAX_POOL_2D, OpCode.AVERAGE_POOL_2D}


def _forced(tflite, xf, force_format=None):
    """tflite planned with every layer that may overlap its input forced to (plan_arena takes
    only the merges that do not grow the arena), its int8 inputs and TFLM's outputs."""
    from toolchain.encode.blob import build_blob
    from toolchain.pipeline import Plan, input_samples, plan_model, reference
    from toolchain.plan.arena import _plan, in_place_lag, validate_arena

    plan = plan_model(tflite, "in_place", force_format=force_format)
    lags = {i: lag for i, (l, c) in enumerate(zip(plan.layers, plan.choices))
            if (lag := in_place_lag(plan.graph, l, c)) is not None}
    arena = _plan(plan.graph, plan.layers, plan.choices, lags)
    validate_arena(plan.graph, plan.layers, arena, plan.choices)
    forced = Plan(plan.graph, plan.layers, plan.choices, arena,
                  build_blob(plan.graph, plan.layers, plan.choices, arena))
    xq = input_samples(plan.graph, xf)
    return forced, xq, reference(tflite, xq)


@pytest.fixture(scope="module")
def windowed_tflite():
    """conv 1x1 -> depthwise 3x3 same -> conv 1x1 (direct) -> depthwise 3x3 stride 2 (x2
    channels) -> max pool -> conv 3x3 same (im2col) -> LEAKY_RELU -> average pool -> FC; the
    convolutions' weights 2:4 sparse along their input channels, so every format applies."""
    import tf_keras as keras

    from toolchain.quantize.convert import to_int8_tflite

    keras.utils.set_random_seed(22)
    L = keras.layers
    inp = keras.Input((9, 7, 3), batch_size=1)
    x = L.Conv2D(8, 1, activation="relu")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(8, 1)(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)
    x = L.MaxPooling2D(2, padding="same")(x)
    x = L.Conv2D(12, 3, padding="same")(x)
    x = L.LeakyReLU(0.2)(x)
    x = L.AveragePooling2D(2, strides=1)(x)
    out = L.Dense(5)(L.Flatten()(x))
    model = keras.Model(inp, out)
    for layer in model.layers:
        if isinstance(layer, L.Conv2D) and not isinstance(layer, L.DepthwiseConv2D):
            w, b = layer.get_weights()
            if w.shape[2] % 4 == 0:
                w[:, :, (np.arange(w.shape[2]) % 4) >= 2, :] = 0
                layer.set_weights([w, b])
    xf = np.random.default_rng(22).uniform(-2, 3, size=(16, 9, 7, 3)).astype(np.float32)
    return to_int8_tflite(model, xf), xf


@pytest.fixture(scope="module")
def in_place_model(windowed_tflite):
    return _forced(*windowed_tflite)


@pytest.mark.convert
def test_element_wise_layers_run_in_place_bit_exact(tmp_path):
    """HARD_SWISH, MAXIMUM against a broadcast tensor, MINIMUM by a constant, ADD, MUL and
    SOFTMAX, each over its dead first input."""
    import tensorflow as tf
    import tf_keras as keras

    from toolchain.codegen.model import write_model_sources
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import HostModel

    keras.utils.set_random_seed(23)
    L = keras.layers
    inp = keras.Input((5, 4, 3), batch_size=1)
    a = L.Conv2D(6, 1)(inp)
    a = L.Activation(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(a)
    m = L.Lambda(lambda ts: tf.maximum(ts[0], ts[1]))([a, L.GlobalAveragePooling2D(keepdims=True)(a)])
    m = L.Lambda(lambda t: tf.minimum(t, 1.5))(m)
    s = L.Add()([m, L.Conv2D(6, 1)(inp)])
    s = L.Multiply()([s, L.Conv2D(6, 1)(inp)])
    out = L.Softmax()(L.Dense(7)(L.Flatten()(s)))
    xf = np.random.default_rng(23).uniform(-2, 3, size=(16, 5, 4, 3)).astype(np.float32)
    plan, xq, ref = _forced(to_int8_tflite(keras.Model(inp, out), xf), xf)
    ops = {plan.layers[i].opcode for i, lag in plan.arena.in_place.items() if lag == 0}
    assert ops >= {OpCode.HARD_SWISH, OpCode.MAXIMUM, OpCode.MINIMUM, OpCode.ADD, OpCode.MUL,
                   OpCode.SOFTMAX}, ops
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    ours = HostModel(build_host_library(tmp_path / "src", tmp_path / "build")).run(xq)
    assert np.count_nonzero(ours.reshape(ref.shape) != ref) == 0


@pytest.mark.convert
@pytest.mark.parametrize("force_format", [None, "csr16", "nm2:4"],
                         ids=["dense-conv2", "csr16-conv4", "nm24-matvec"])
def test_windowed_layers_run_in_place_bit_exact_on_the_host(windowed_tflite, force_format, tmp_path):
    """Each CONV_2D path (dense two pixels at a time, a sparse format four at a time, a format
    with the one-pixel matrix-vector kernel), depthwise and pools, each output its lag below
    its input. Depthwise layers in CSR16 run the sparse depthwise kernel, which copies one
    input channel at a time: it runs exactly over its input (lag 0) when the output has the
    input's channels, and not at all with a depth multiplier of 2."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import HostModel

    plan, xq, ref = _forced(*windowed_tflite, force_format=force_format)
    ops = {}
    for i, lag in plan.arena.in_place.items():
        ops.setdefault(plan.layers[i].opcode, []).append(lag)
    windowed = WINDOWED - {OpCode.DEPTHWISE_CONV_2D} if force_format == "csr16" else WINDOWED
    assert set(ops) >= windowed | {OpCode.CONV_2D, OpCode.LEAKY_RELU}, ops
    if force_format == "csr16":  # the stride-1 one exactly over its input, not the x2 one
        assert ops[OpCode.DEPTHWISE_CONV_2D] == [0]
    assert all(lag > 0 for op in windowed | {OpCode.CONV_2D} for lag in ops[op])
    assert ops[OpCode.LEAKY_RELU] == [0] and len(ops[OpCode.CONV_2D]) == 2
    if force_format is not None:
        assert force_format in {c.format for c in plan.choices}
    for i, lag in plan.arena.in_place.items():  # each output lies its lag below its input
        layer = plan.layers[i]
        assert plan.arena.offsets[layer.inputs[0]] - plan.arena.offsets[layer.output] == lag
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    for defines in ((), ("ES_FORCE_DSP",)):
        lib = build_host_library(tmp_path / "src", tmp_path / f"build{len(defines)}", defines=defines)
        ours = HostModel(lib).run(xq).reshape(len(xq), -1)
        assert ours.shape == ref.shape
        assert np.count_nonzero(ours != ref) == 0, (defines, ours[0], ref[0])


@pytest.mark.convert
def test_a_lag_one_word_short_is_refused(in_place_model, tmp_path):
    """The same blob with one windowed layer's output moved 4 bytes up (closer to its input
    than its lag allows): validate_arena and es_model_init both refuse it."""
    from toolchain.encode.blob import build_blob
    from toolchain.errors import ToolchainError
    from toolchain.plan.arena import ArenaPlan, validate_arena
    from toolchain.targets.host import init_status
    from toolchain.codegen.model import write_model_sources
    from toolchain.targets.build import build_host_library

    plan, _, _ = in_place_model
    i = next(i for i, lag in plan.arena.in_place.items()
             if plan.layers[i].opcode == OpCode.DEPTHWISE_CONV_2D)
    out = plan.layers[i].output
    a = plan.arena
    short = ArenaPlan({**a.offsets, out: a.offsets[out] + 4}, a.sizes, a.lifetimes, a.arena_bytes,
                      a.scratch, a.kept, a.in_place)
    with pytest.raises(ToolchainError, match=rf"layer {i} \(.*DEPTHWISE_CONV_2D\)"):
        validate_arena(plan.graph, plan.layers, short)
    write_model_sources(plan.graph, plan.layers, plan.choices, a, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    assert init_status(lib, plan.blob.data) == "ES_OK"
    bad = build_blob(plan.graph, plan.layers, plan.choices, short)
    assert init_status(lib, bad.data) == "ES_ERR_TENSOR_BOUNDS"


@pytest.mark.convert
@pytest.mark.firmware
@pytest.mark.qemu
@pytest.mark.slow
@needs("arm-none-eabi-gcc", "qemu-system-arm")
def test_windowed_layers_run_in_place_bit_exact_in_qemu(in_place_model, tmp_path):
    plan, xq, ref = in_place_model
    ours = qemu_outputs(plan, xq, tmp_path, "in_place")
    assert np.count_nonzero(ours.reshape(ref.shape) != ref) == 0


@pytest.mark.convert
def test_sparse_depthwise_runs_exactly_over_its_input_or_not_at_all(windowed_tflite, tmp_path):
    """The sparse depthwise kernel writes channel c's outputs over channel c's inputs once it
    has copied them: its output one word below its input (what the dense kernel's lag would
    allow) would overwrite inputs of channels not yet copied, so validate_arena and
    es_model_init both refuse it."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.encode.blob import build_blob
    from toolchain.errors import ToolchainError
    from toolchain.plan.arena import ArenaPlan, validate_arena
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    plan, _, _ = _forced(*windowed_tflite, force_format="csr16")
    i = next(i for i, lag in plan.arena.in_place.items()
             if plan.layers[i].opcode == OpCode.DEPTHWISE_CONV_2D)
    assert plan.choices[i].format == "csr16"
    a = plan.arena
    out, nxt = plan.layers[i].output, plan.layers[i + 1]
    assert a.offsets[out] == a.offsets[plan.layers[i].inputs[0]] and nxt.inputs[0] == out
    # every buffer 16 bytes up (still a valid plan), then the depthwise output one word below
    # its input, and the conv reading it one word lower too, so that its own lag still holds
    up = {t: o + 16 for t, o in a.offsets.items()}
    scratch = {k: (o + 16, n) for k, (o, n) in a.scratch.items()}
    shifted = ArenaPlan(up, a.sizes, a.lifetimes, a.arena_bytes + 16, scratch, a.kept, a.in_place)
    below = ArenaPlan({**up, out: up[out] - 4, nxt.output: up[nxt.output] - 4}, a.sizes,
                      a.lifetimes, a.arena_bytes + 16, scratch, a.kept, a.in_place)
    validate_arena(plan.graph, plan.layers, shifted, plan.choices)
    with pytest.raises(ToolchainError, match=rf"layer {i} \(.*DEPTHWISE_CONV_2D\)"):
        validate_arena(plan.graph, plan.layers, below, plan.choices)
    write_model_sources(plan.graph, plan.layers, plan.choices, a, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    assert init_status(lib, build_blob(plan.graph, plan.layers, plan.choices, shifted).data) == "ES_OK"
    bad = build_blob(plan.graph, plan.layers, plan.choices, below)
    assert init_status(lib, bad.data) == "ES_ERR_TENSOR_BOUNDS"
