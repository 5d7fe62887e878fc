"""Every kernel against TFLM's reference kernels, exact to the byte, on random shapes and
random quantization parameters (random input ranges and weight magnitudes give the converter
different scales and zero points each time). Sparse formats are also forced dense and
compared, so the CSR kernels are checked against the dense oracle as well."""
import numpy as np
import pytest
from one_tap import one_tap_kernel
from opcheck import keras as _keras, random_inputs
from tiers import first_fast  # noqa: E402


def random_sparse_weights(model, rng, sparsity=0.7):
    """Zero a random fraction of every kernel so the sparse formats get exercised."""
    for layer in model.layers:
        ws = layer.get_weights()
        if ws and ws[0].ndim >= 2:
            ws[0] = np.where(rng.random(ws[0].shape) < sparsity, 0, ws[0]).astype(ws[0].dtype)
            layer.set_weights(ws)


def _inputs(rng, shape, n=12):
    return random_inputs(rng, shape, n)


def _scale_weights(model, rng):
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([w * rng.uniform(0.2, 3.0) for w in ws])


def _check(host_vs_reference, to_int8, model, x, rng, formats=(None, "dense")):
    """Byte-exact in each format (None: the toolchain's choice), and dense once more with the
    DSP kernels (ES_FORCE_DSP: their C emulations on the host)."""
    _scale_weights(model, rng)
    random_sparse_weights(model, rng, sparsity=rng.uniform(0.3, 0.95))
    tflite = to_int8(model, x)
    runs = [(f, ()) for f in formats] + [("dense", ("ES_FORCE_DSP",))]
    for f, defines in runs:
        ours, ref, plan = host_vs_reference(tflite, x, force_format=f, defines=defines)
        assert ours.shape == ref.shape
        bad = np.count_nonzero(ours != ref)
        assert bad == 0, (f"{bad} of {ref.size} bytes differ (format {f} {defines}): "
                          f"{ours[0][:8]} vs {ref[0][:8]}")
    return plan


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(4)))
def test_fully_connected(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(seed)
    keras = _keras()
    n_in, n_out = int(rng.integers(1, 700)), int(rng.integers(1, 120))
    act = ["relu", None, "relu6"][seed % 3]
    inp = keras.Input((n_in,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(n_out, activation=act)(inp))
    plan = _check(host_vs_reference, to_int8, model, _inputs(rng, (n_in,)), rng)
    assert [l.opcode.name for l in plan.layers] == ["FULLY_CONNECTED"]


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(4)))
def test_conv2d(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(100 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(3, 14, size=3))
    k = int(rng.integers(1, min(h, w, 5) + 1))
    stride = int(rng.integers(1, 3))
    padding = ["same", "valid"][seed % 2]
    dil = 2 if seed == 3 and k <= 2 and stride == 1 else 1
    inp = keras.Input((h, w, c), batch_size=1)
    out = keras.layers.Conv2D(int(rng.integers(1, 24)), k, strides=stride, padding=padding,
                              dilation_rate=dil, activation=["relu", None][seed % 2])(inp)
    plan = _check(host_vs_reference, to_int8, keras.Model(inp, out), _inputs(rng, (h, w, c), n=6), rng)
    assert plan.layers[0].opcode.name == "CONV_2D"


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(3)))
def test_depthwise_conv2d(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(200 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(3, 12, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    out = keras.layers.DepthwiseConv2D(int(rng.integers(1, 4)), strides=int(rng.integers(1, 3)),
                                       padding=["same", "valid", "same"][seed],
                                       depth_multiplier=[1, 2, 3][seed], activation="relu6")(inp)
    plan = _check(host_vs_reference, to_int8, keras.Model(inp, out), _inputs(rng, (h, w, c), n=6), rng,
                  formats=(None, "dense", "csr16"))
    assert plan.layers[0].opcode.name == "DEPTHWISE_CONV_2D"


# (input h, w, c; kernel; stride; padding; depth multiplier): the unrolled 3-wide window rows,
# and multipliers of 4 (four output channels per input value: micro_speech's 10x8 x8 shape)
DW_PATH_CASES = [((9, 7, 8), 3, 1, "same", 1), ((6, 5, 1), (4, 3), 2, "same", 8),
                 ((8, 9, 12), 3, 2, "valid", 1), ((7, 6, 3), 3, 1, "same", 4)]


@pytest.mark.convert
@pytest.mark.parametrize("case", first_fast(DW_PATH_CASES))
def test_depthwise_conv2d_kernel_paths(case, host_vs_reference, to_int8):
    (h, w, c), k, stride, padding, dm = case
    rng = np.random.default_rng(h * 100 + c)
    keras = _keras()
    inp = keras.Input((h, w, c), batch_size=1)
    out = keras.layers.DepthwiseConv2D(k, strides=stride, padding=padding, depth_multiplier=dm)(inp)
    plan = _check(host_vs_reference, to_int8, keras.Model(inp, out), _inputs(rng, (h, w, c), n=6),
                  rng, formats=("dense",))
    assert plan.layers[0].opcode.name == "DEPTHWISE_CONV_2D"


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(6)))
def test_depthwise_conv2d_multiplier_1(seed, host_vs_reference, to_int8):
    """The channel-blocked path (4 channels at a time, leftover channels one by one) with
    clipped windows: random channel counts, kernels up to 5x5, strides, padding, dilation."""
    rng = np.random.default_rng(300 + seed)
    keras = _keras()
    h, w = (int(v) for v in rng.integers(3, 14, size=2))
    c = int(rng.integers(1, 14))
    dilation = int(rng.integers(1, 3)) if seed % 2 else 1
    stride = 1 if dilation > 1 else int(rng.integers(1, 3))
    k = int(rng.integers(1, 6))
    padding = "same" if seed % 3 != 2 else "valid"
    if padding == "valid":
        k = min(k, (min(h, w) - 1) // dilation + 1)
    inp = keras.Input((h, w, c), batch_size=1)
    out = keras.layers.DepthwiseConv2D(k, strides=stride, padding=padding, dilation_rate=dilation,
                                       activation=["relu", None][seed % 2])(inp)
    model, x = keras.Model(inp, out), _inputs(rng, (h, w, c), n=6)
    plan = _check(host_vs_reference, to_int8, model, x, rng, formats=(None, "dense", "csr16"))
    assert plan.layers[0].opcode.name == "DEPTHWISE_CONV_2D"
    # the DSP path (SXTAB16 / SMLABB / SMLATT, C emulations on the host)
    tflite = to_int8(model, x)
    ours, ref, _ = host_vs_reference(tflite, x, defines=("ES_FORCE_DSP",))
    assert np.count_nonzero(ours != ref) == 0


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(3)))
def test_pools_add_softmax_reshape(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(300 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(4, 12, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    a = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(inp)
    b = keras.layers.Conv2D(c, 1, padding="same")(inp)
    x = keras.layers.Add()([a, b])
    pad = ["same", "valid", "same"][seed]
    x = keras.layers.MaxPooling2D(int(rng.integers(2, 4)), strides=int(rng.integers(1, 3)), padding=pad)(x)
    x = keras.layers.AveragePooling2D(int(rng.integers(1, 3)), padding=pad)(x)
    x = keras.layers.Reshape((-1,))(x)
    x = keras.layers.Dense(int(rng.integers(2, 40)))(x)
    x = keras.layers.Softmax()(x)
    plan = _check(host_vs_reference, to_int8, keras.Model(inp, x), _inputs(rng, (h, w, c), n=10), rng)
    ops = {l.opcode.name for l in plan.layers}
    assert {"ADD", "MAX_POOL_2D", "SOFTMAX", "FULLY_CONNECTED"} <= ops


# (input h, w, c; kernel; stride; padding; depth multiplier; dilation): the sparse depthwise
# kernel's plane along x (wide outputs) and along y (tall, narrow: DS-CNN's 25x5), stride
# phases (2 and 3 on the fast axis), dilation, multipliers, a one-column output and 1x1 taps
DW_SPARSE_CASES = [((25, 5, 8), 3, 1, "same", 1, 1), ((12, 12, 6), 3, 2, "same", 1, 1),
                   ((11, 13, 5), (3, 5), (1, 3), "valid", 2, 1), ((9, 10, 4), 3, 1, "same", 1, 2),
                   ((6, 5, 1), (4, 3), 2, "same", 8, 1), ((7, 1, 3), (3, 1), 1, "same", 1, 1),
                   ((8, 6, 5), 1, 1, "valid", 3, 1), ((10, 9, 7), 5, 2, "valid", 1, 1)]


@pytest.mark.convert
@pytest.mark.parametrize("case,activation", [(((22, 20, 6), 3, 1, "same", 1), "relu"),
                                             (((34, 29, 3), 3, 2, "same", 2), "relu6"),
                                             (((21, 18, 4), (3, 5), 1, "valid", 1), None)])
def test_depthwise_conv2d_csr16_one_tap_per_channel(case, activation, host_vs_reference, to_int8):
    """A depthwise layer pruned to one tap per channel (3x3 at 88.9%) on a plane large enough
    for the per-channel table of outputs (ES_DWS_LUT in es_depthwise_csr16_s8.h), with rows
    that end in a partial group, an activation clamp inside int8 and a channel with two taps
    beside them, byte for byte against TFLM in C and with the DSP kernel's emulation."""
    (h, w, c), k, stride, padding, dm = case
    rng = np.random.default_rng(h * 13 + w)
    keras = _keras()
    inp = keras.Input((h, w, c), batch_size=1)
    layer = keras.layers.DepthwiseConv2D(k, strides=stride, padding=padding, depth_multiplier=dm,
                                         activation=activation)
    model = keras.Model(inp, layer(inp))
    kernel, bias = layer.get_weights()
    layer.set_weights([one_tap_kernel(kernel, rng, extra=(1,)),
                       bias + rng.normal(0, 0.5, bias.shape).astype(np.float32)])
    x = _inputs(rng, (h, w, c), n=3)
    _, _, plan = _csr16_bit_exact_c_and_dsp(host_vs_reference, to_int8(model, x), x)
    assert [ch.format for ch in plan.choices] == ["csr16"]


def _csr16_bit_exact_c_and_dsp(host_vs_reference, tflite, x):
    """(ours, reference, plan) of `tflite` forced to CSR16 on the host, after asserting every
    output byte equal to TFLM's in the C build and with the DSP kernels' emulation."""
    for defines in ((), ("ES_FORCE_DSP",)):
        ours, ref, plan = host_vs_reference(tflite, x, force_format="csr16", defines=defines)
        bad = np.count_nonzero(ours != ref)
        assert bad == 0, f"{bad} of {ref.size} bytes differ ({defines}): {ours[0][:8]} vs {ref[0][:8]}"
    return ours, ref, plan


@pytest.mark.convert
@pytest.mark.parametrize("case", first_fast(DW_SPARSE_CASES))
def test_depthwise_conv2d_csr16(case, host_vs_reference, to_int8):
    """DEPTHWISE_CONV_2D in CSR16 (the sparse depthwise kernel, ES_VARIANT_DW_SPARSE) byte for
    byte against TFLM, in C and with the DSP kernel's emulation, at 80% sparsity and with a
    channel whose every tap is pruned (its outputs are the requantized bias alone)."""
    from toolchain.encode import format as fmt

    (h, w, c), k, stride, padding, dm, dil = case
    rng = np.random.default_rng(h * 31 + w * 7 + c)
    keras = _keras()
    inp = keras.Input((h, w, c), batch_size=1)
    layer = keras.layers.DepthwiseConv2D(k, strides=stride, padding=padding, depth_multiplier=dm,
                                         dilation_rate=dil, activation="relu")
    model = keras.Model(inp, layer(inp))
    kernel, bias = layer.get_weights()
    kernel = np.where(rng.random(kernel.shape) < 0.8, 0, kernel * rng.uniform(0.5, 3.0))
    kernel[..., 0, 0] = 0  # output channel 0: no taps left
    layer.set_weights([kernel.astype(np.float32), bias + rng.normal(0, 0.5, bias.shape).astype(np.float32)])
    x = _inputs(rng, (h, w, c), n=6)
    ours, ref, plan = _csr16_bit_exact_c_and_dsp(host_vs_reference, to_int8(model, x), x)
    records = [fmt.LAYER.unpack(plan.blob.data, fmt.HEADER.unpack(plan.blob.data)["layers_offset"])]
    assert records[0]["op"] == int(fmt.OpCode.DEPTHWISE_CONV_2D)
    assert records[0]["variant"] == fmt.VARIANT_DW_SPARSE
    assert records[0]["format"] == int(fmt.WeightFormat.CSR16)
