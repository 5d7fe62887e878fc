"""The data-movement and elementwise ops (EXPAND_DIMS / SQUEEZE, PAD, MEAN, REDUCE_MAX,
CONCATENATION, STRIDED_SLICE, MUL with broadcasting, the float32 boundary QUANTIZE / DEQUANTIZE) against TFLM's reference kernels, exact to the byte, on
random shapes and random quantization (random input ranges give the converter different
scales and zero points each time). Each test also checks that the converter really emitted
the op under test, so a converter that lowers differently fails the test instead of
silently testing something else."""
import numpy as np
import pytest
from opcheck import check_ops as _check, keras as _keras, poker as _poker, random_inputs
from tiers import first_fast  # noqa: E402

from toolchain.encode.format import OpCode


def _inputs(rng, shape, n=8):
    return random_inputs(rng, shape, n)


def _model_ops(tflite: bytes):
    from toolchain.ir.tflite_import import schema

    s = schema()
    return s, s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))


def _pack(s, model) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _code(oc) -> int:
    return max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))


def _retype_reshapes(tflite: bytes, first_axis: int, last_axis: int) -> bytes:
    """The model's first RESHAPE rewritten as EXPAND_DIMS(first_axis) and its last as
    SQUEEZE([last_axis]): TFLite's converter turns both into RESHAPE, other converters do not."""
    s, m = _model_ops(tflite)
    sg = m.subgraphs[0]
    reshapes = [o for o in sg.operators if _code(m.operatorCodes[o.opcodeIndex]) == OpCode.RESHAPE]
    assert len(reshapes) >= 2
    for code in (OpCode.EXPAND_DIMS, OpCode.SQUEEZE):
        oc = s.OperatorCodeT()
        oc.builtinCode = oc.deprecatedBuiltinCode = int(code)
        oc.version = 1
        m.operatorCodes.append(oc)
    expand, squeeze = reshapes[0], reshapes[-1]
    expand.opcodeIndex = len(m.operatorCodes) - 2
    axis = sg.tensors[expand.inputs[1]]
    axis.shape = [1]
    m.buffers[axis.buffer].data = np.frombuffer(np.int32([first_axis]).tobytes(), np.uint8)
    expand.builtinOptionsType = s.BuiltinOptions.ExpandDimsOptions
    expand.builtinOptions = s.ExpandDimsOptionsT()
    squeeze.opcodeIndex = len(m.operatorCodes) - 1
    squeeze.inputs = squeeze.inputs[:1]
    squeeze.builtinOptionsType = s.BuiltinOptions.SqueezeOptions
    squeeze.builtinOptions = s.SqueezeOptionsT()
    squeeze.builtinOptions.squeezeDims = [last_axis]
    return _pack(s, m)


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(1)))
def test_expand_dims_and_squeeze(seed, host_vs_reference, to_int8):
    """Conv1D's shape: [1, W, C] -> EXPAND_DIMS -> [1, 1, W, C] -> CONV_2D -> SQUEEZE."""
    rng = np.random.default_rng(600 + seed)
    keras = _keras()
    w, c = int(rng.integers(3, 20)), int(rng.integers(1, 6))
    inp = keras.Input((w, c), batch_size=1)
    x = keras.layers.Reshape((1, w, c))(inp)
    x = keras.layers.Conv2D(int(rng.integers(1, 6)), (1, 3), padding="same")(x)
    x = keras.layers.Reshape((w, -1))(x)
    xf = _inputs(rng, (w, c))
    tflite = _retype_reshapes(to_int8(keras.Model(inp, x), xf), first_axis=1, last_axis=1)
    plan = _check(host_vs_reference, tflite, xf, OpCode.EXPAND_DIMS)
    assert OpCode.SQUEEZE in {op.opcode for op in plan.graph.ops}
    assert [l.opcode for l in plan.layers] == [OpCode.RESHAPE, OpCode.CONV_2D, OpCode.RESHAPE]
    assert plan.arena.offsets[plan.layers[0].output] == plan.arena.offsets[plan.layers[0].inputs[0]]


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(2)))
def test_pad(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(700 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(1, 9, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    pads = tuple(tuple(int(v) for v in rng.integers(0, 4, size=2)) for _ in range(2))
    x = keras.layers.Conv2D(int(rng.integers(1, 5)), 1)(inp)
    if seed == 0:
        x = keras.layers.ZeroPadding2D(pads)(x)
    else:  # rank 3: ZeroPadding1D
        x = keras.layers.Reshape((h * w, -1))(x)
        x = keras.layers.ZeroPadding1D(tuple(int(v) for v in rng.integers(1, 4, size=2)))(x)
    xf = _inputs(rng, (h, w, c))
    _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.PAD)


def _requantize_like_input(tflite: bytes, opcode: OpCode) -> bytes:
    """The op's output given its input's scale and zero point (TFLM takes another path then)."""
    s, m = _model_ops(tflite)
    sg = m.subgraphs[0]
    op = next(o for o in sg.operators if _code(m.operatorCodes[o.opcodeIndex]) == opcode)
    src, dst = sg.tensors[op.inputs[0]].quantization, sg.tensors[op.outputs[0]].quantization
    dst.scale, dst.zeroPoint = list(src.scale), list(src.zeroPoint)
    return _pack(s, m)


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(3)))
def test_mean(seed, host_vs_reference, to_int8):
    """GlobalAveragePooling2D / 1D (MEAN over H, W or over W) and an unchanged quantization
    (TFLM still requantizes then: rounding, not truncating). A channel mean (axis -1) runs in
    test_add_broadcast and test_init_rejects_corrupted_params_of_the_new_ops."""
    rng = np.random.default_rng(800 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(1, 12, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    x = keras.layers.Conv2D(int(rng.integers(1, 8)), 1)(inp)
    if seed == 0:
        x = keras.layers.GlobalAveragePooling2D()(x)
    elif seed == 1:
        x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    else:
        x = keras.layers.GlobalAveragePooling1D()(keras.layers.Reshape((h * w, -1))(x))
    xf = _inputs(rng, (h, w, c))
    tflite = to_int8(keras.Model(inp, x), xf)
    _check(host_vs_reference, tflite, xf, OpCode.MEAN)
    if seed == 1:
        _check(host_vs_reference, _requantize_like_input(tflite, OpCode.MEAN), xf, OpCode.MEAN)


REDUCE_MAX_CASES = ("gmp2d", "gmp1d", "keepdims", "axis_w", "axes_h_c")


def _reduce_max_model(rng, case):
    """A conv, then REDUCE_MAX as GlobalMaxPooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D
    with keepdims, tf.reduce_max over the width only, or over height and channels (keepdims:
    the innermost dim reduced)."""
    import tensorflow as tf

    keras = _keras()
    L = keras.layers
    h, w, c = (int(v) for v in rng.integers(1, 12, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    x = L.Conv2D(int(rng.integers(1, 8)), 1)(inp)
    if case == "gmp2d":
        x = L.GlobalMaxPooling2D()(x)
    elif case == "gmp1d":
        x = L.GlobalMaxPooling1D()(L.Reshape((h * w, -1))(x))
    elif case == "keepdims":
        x = L.GlobalMaxPooling2D(keepdims=True)(x)
    elif case == "axis_w":
        x = L.Lambda(lambda t: tf.reduce_max(t, axis=2))(x)
    else:
        x = L.Lambda(lambda t: tf.reduce_max(t, axis=[1, -1], keepdims=True))(x)
    return keras.Model(inp, x), (h, w, c)


@pytest.mark.convert
@pytest.mark.parametrize("case", first_fast(REDUCE_MAX_CASES))
def test_reduce_max(case, host_vs_reference, to_int8):
    """REDUCE_MAX on random shapes and quantization: the layer's reduce flags are the axes
    asked for, and every output byte is TFLM's."""
    rng = np.random.default_rng(3100 + REDUCE_MAX_CASES.index(case))
    model, shape = _reduce_max_model(rng, case)
    xf = _inputs(rng, shape)
    plan = _check(host_vs_reference, to_int8(model, xf), xf, OpCode.REDUCE_MAX)
    layer = next(l for l in plan.layers if l.opcode == OpCode.REDUCE_MAX)
    assert layer.params["reduce"] == {"gmp2d": [0, 1, 1, 0], "gmp1d": [0, 0, 1, 0],
                                      "keepdims": [0, 1, 1, 0], "axis_w": [0, 0, 1, 0],
                                      "axes_h_c": [0, 1, 0, 1]}[case]


@pytest.mark.convert
def test_reduce_max_with_a_requantizing_output_is_refused_by_name(tmp_path, to_int8):
    """TFLM's int8 REDUCE_MAX fails at invoke when the output's scale or zero point is not the
    input's; compile refuses such a model first, naming the op and why. es_model_init checks
    the params against the tensors: each corrupted field gives its own status."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.encode import format as fmt
    from toolchain.errors import UnsupportedOpError
    from toolchain.pipeline import plan_model
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status
    from toolchain.verify.reference import reference_outputs

    rng = np.random.default_rng(3199)
    model, shape = _reduce_max_model(rng, "keepdims")
    xf = _inputs(rng, shape)
    tflite = to_int8(model, xf)
    s, m = _model_ops(tflite)
    sg = m.subgraphs[0]
    q = sg.tensors[sg.outputs[0]].quantization
    scale, zp = q.scale[0], q.zeroPoint[0]
    for q.scale, q.zeroPoint in (([scale * 2], [zp]), ([scale], [zp + 1 if zp < 127 else zp - 1])):
        patched = _pack(s, m)
        with pytest.raises(RuntimeError):  # TFLM: "Interpreter invocation failed"
            reference_outputs(patched, np.zeros((1, *shape), np.int8))
        with pytest.raises(UnsupportedOpError, match="REDUCE_MAX.*quantized differently"):
            plan_model(patched, "r")

    plan = plan_model(tflite, "r")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    h = fmt.HEADER.unpack(blob)
    i = [l.opcode for l in plan.layers].index(OpCode.REDUCE_MAX)
    rec_at = h["layers_offset"] + i * fmt.LAYER.size
    rec = fmt.LAYER.unpack(blob, rec_at)
    poked = _poker(lib, blob)
    R = fmt.REDUCE_PARAMS
    dims_at, reduce_at = (rec["params_offset"] + R.offsets()[f] for f in ("in_dims", "reduce"))
    assert poked(reduce_at + 1, "B", 2) == "ES_ERR_SHAPE"
    assert poked(reduce_at + 3, "B", 1) == "ES_ERR_SHAPE"  # the output no longer fits
    assert poked(dims_at + 2, "H", plan.layers[i].params["in_dims"][1] + 1) == "ES_ERR_SHAPE"
    assert poked(dims_at + 4, "H", 0) == "ES_ERR_SHAPE"
    assert poked(rec_at + fmt.LAYER.offsets()["params_bytes"], "I", R.size + 4) == \
        "ES_ERR_TABLE_BOUNDS"
    out_at = h["tensors_offset"] + rec["output"] * fmt.TENSOR.size
    zp = fmt.TENSOR.unpack(blob, out_at)["zero_point"]
    assert poked(out_at + fmt.TENSOR.offsets()["zero_point"], "i", zp + 1 if zp < 127 else zp - 1) == \
        "ES_ERR_QUANT"


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(2)))
def test_concatenation(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(900 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(1, 8, size=3))
    axis = [-1, 1][seed]
    inp = keras.Input((h, w, c), batch_size=1)
    parts = [keras.layers.Conv2D(int(rng.integers(1, 5)), 1)(inp) if axis == -1 else
             keras.layers.Conv2D(c, 1)(inp) for _ in range(int(rng.integers(1, 3)))]
    x = keras.layers.Concatenate(axis=axis)([parts[0], inp, *parts[1:]])
    xf = _inputs(rng, (h, w, c))
    plan = _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.CONCATENATION)
    concat = next(l for l in plan.layers if l.opcode == OpCode.CONCATENATION)
    assert len(concat.inputs) == len(parts) + 1


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(3)))
def test_strided_slice(seed, host_vs_reference, to_int8):
    """Cropping2D / Cropping1D and a strided slice with begin and end masks."""
    rng = np.random.default_rng(1000 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(4, 10, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    x = keras.layers.Conv2D(int(rng.integers(1, 5)), 1)(inp)
    if seed == 0:
        crop = tuple(tuple(int(v) for v in rng.integers(0, 2, size=2)) for _ in range(2))
        x = keras.layers.Cropping2D(crop)(x)
    elif seed == 1:
        x = keras.layers.Cropping1D((1, int(rng.integers(0, 3))))(keras.layers.Reshape((h * w, -1))(x))
    else:
        x = keras.layers.Lambda(lambda t: t[:, 1::2, :-1, ::2])(x)
    xf = _inputs(rng, (h, w, c))
    _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.STRIDED_SLICE)


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(3)))
def test_mul(seed, host_vs_reference, to_int8):
    """Same shapes, a squeeze-excitation style [1,1,1,C] scale and both inputs broadcasting
    ([H,1,C] x [1,W,C]) with a ReLU."""
    import tensorflow as tf

    rng = np.random.default_rng(1100 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(1, 8, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    a = keras.layers.Conv2D(c, 1)(inp)
    if seed == 0:
        x = keras.layers.Multiply()([inp, a])
    elif seed == 1:
        x = keras.layers.Multiply()([inp, keras.layers.GlobalAveragePooling2D(keepdims=True)(a)])
    else:
        x = keras.layers.Lambda(lambda t: tf.nn.relu(tf.reduce_mean(t[0], axis=2, keepdims=True) *
                                                     tf.reduce_mean(t[1], axis=1, keepdims=True)))([inp, a])
    xf = _inputs(rng, (h, w, c))
    _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.MUL)


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(2)))
def test_add_broadcast(seed, host_vs_reference, to_int8):
    """A [1,1,1,C] bias-like term and a [H,W,1] + [H,W,C] channel broadcast, each followed by a
    same-shape ADD, which keeps its own params struct."""
    import tensorflow as tf

    from toolchain.encode.format import ADD_BROADCAST_PARAMS, ADD_PARAMS

    rng = np.random.default_rng(1200 + seed)
    keras = _keras()
    h, w, c = (int(v) for v in rng.integers(2, 8, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    a = keras.layers.Conv2D(c, 1)(inp)
    if seed == 0:
        x = keras.layers.Add()([inp, keras.layers.GlobalAveragePooling2D(keepdims=True)(a)])
    else:
        x = keras.layers.Lambda(lambda t: tf.reduce_mean(t[1], axis=-1, keepdims=True) + t[0])([inp, a])
    x = keras.layers.Add()([x, keras.layers.Conv2D(x.shape[-1], 1)(x)])
    xf = _inputs(rng, (h, w, c))
    plan = _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.ADD)
    structs = [l.entry.params for l in plan.layers if l.opcode == OpCode.ADD]
    assert structs == [ADD_BROADCAST_PARAMS, ADD_PARAMS]


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(4)))
def test_mul_and_add_with_a_constant(seed, host_vs_reference, to_int8):
    """MUL and ADD by a constant (BatchNormalization where nothing can absorb it, a per-channel
    scale or offset, a scalar), the constant as first or second operand, broadcast or full
    shape: the constant stays in the blob (ES_TENSOR_CONST), outside the arena."""
    import tensorflow as tf

    from toolchain.encode import format as fmt

    rng = np.random.default_rng(1700 + seed)
    keras = _keras()
    keras.utils.set_random_seed(seed)
    h, w, c = (int(v) for v in rng.integers(2, 7, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    a = keras.layers.Conv2D(c, 1)(inp)
    x = keras.layers.Add()([inp, a])
    vec = rng.uniform(-2, 2, size=c).astype(np.float32)
    full = rng.uniform(-2, 2, size=(h, w, c)).astype(np.float32)
    if seed == 0:  # BN after an ADD: the converter emits MUL and ADD by [C] constants
        bn = keras.layers.BatchNormalization()
        y = bn(x)
        bn.set_weights([rng.uniform(0.5, 2, c), rng.uniform(-1, 1, c), rng.uniform(-1, 1, c),
                        rng.uniform(0.5, 2, c)])
    elif seed == 1:  # constant first
        y = keras.layers.Lambda(lambda t: tf.constant(vec) * t + tf.constant(full))(x)
    elif seed == 2:  # scalars
        y = keras.layers.Lambda(lambda t: tf.nn.relu(t * 0.37 + 1.5))(x)
    else:  # full-shape constant, constant first
        y = keras.layers.Lambda(lambda t: tf.constant(full) + t * tf.constant(full))(x)
    xf = _inputs(rng, (h, w, c), n=16)
    tflite = to_int8(keras.Model(inp, y), xf)
    plan = _check(host_vs_reference, tflite, xf, OpCode.MUL)
    consts = [t for l in plan.layers for t in l.inputs if plan.graph.tensors[t].is_constant]
    assert len(consts) >= 2, [l.opcode.name for l in plan.layers]
    assert {plan.graph.tensors[t].data.size for t in consts} <= {1, c, h * w * c}
    assert not set(consts) & set(plan.arena.offsets)
    h_ = fmt.HEADER.unpack(plan.blob.data)
    flags = [fmt.TENSOR.unpack(plan.blob.data, h_["tensors_offset"] + i * fmt.TENSOR.size)["flags"]
             for i in range(h_["tensor_count"])]
    assert flags.count(fmt.TENSOR_CONST) == len(set(consts))


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(4)))
def test_sub(seed, host_vs_reference, to_int8):
    """SUB: Keras Normalization after an Add (SUB and MUL by [C] constants), Subtract of two
    activations of the same shape, a [H,W,1] - [H,W,C] broadcast, and a scalar constant."""
    import tensorflow as tf

    rng = np.random.default_rng(1800 + seed)
    keras = _keras()
    keras.utils.set_random_seed(seed)
    h, w, c = (int(v) for v in rng.integers(2, 7, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    a = keras.layers.Conv2D(c, 1)(inp)
    s = keras.layers.Add()([inp, a])  # nothing to fold a constant SUB into
    if seed == 0:
        x = keras.layers.Normalization(mean=rng.uniform(-1, 1, c).tolist(),
                                       variance=rng.uniform(0.2, 3, c).tolist())(s)
    elif seed == 1:
        x = keras.layers.Subtract()([inp, a])
    elif seed == 2:
        x = keras.layers.Lambda(lambda t: tf.reduce_mean(t[1], axis=-1, keepdims=True) - t[0])([inp, a])
    else:  # the ReLU keeps the converter from folding the SUB into the next conv's bias
        x = keras.layers.Lambda(lambda t: tf.nn.relu(t - 0.75))(s)
    x = keras.layers.Conv2D(2, 1)(x)
    xf = rng.uniform(-2, 3, size=(16, h, w, c)).astype(np.float32)  # s reaches past 0.75
    _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.SUB)


@pytest.mark.convert
def test_sub_with_a_dead_output_is_refused_by_name(to_int8):
    """relu(x - 100) is 0 on all calibration data: the output scale collapses, the output
    multiplier exceeds 1 and TFLM aborts the process on the model; compile refuses it first,
    naming the op."""
    import tensorflow as tf

    from toolchain.errors import UnsupportedOpError
    from toolchain.pipeline import plan_model

    keras = _keras()
    inp = keras.Input((2, 2, 3), batch_size=1)
    s = keras.layers.Add()([inp, keras.layers.Conv2D(3, 1)(inp)])
    x = keras.layers.Conv2D(2, 1)(keras.layers.Lambda(lambda t: tf.nn.relu(t - 100.0))(s))
    xf = _inputs(np.random.default_rng(5), (2, 2, 3))
    with pytest.raises(UnsupportedOpError, match="SUB .*output multiplier exceeds 1"):
        plan_model(to_int8(keras.Model(inp, x), xf), "dead")


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(2)))
def test_logistic_and_tanh(seed, host_vs_reference, to_int8):
    """Both activations of random input ranges (wide ones reach the saturated ends)."""
    rng = np.random.default_rng(1300 + seed)
    keras = _keras()
    n = int(rng.integers(4, 64))
    inp = keras.Input((n,), batch_size=1)
    x = keras.layers.Dense(int(rng.integers(8, 64)))(inp)
    x = keras.layers.Activation("sigmoid")(x) if seed % 2 == 0 else keras.layers.Activation("tanh")(x)
    xf = _inputs(rng, (n,), n=16) * rng.uniform(0.5, 8)
    _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf,
           OpCode.LOGISTIC if seed % 2 == 0 else OpCode.TANH)


@pytest.mark.convert
def test_lut_tables_cover_every_input_against_tflm(tmp_path):
    """The offline tables equal TFLM's LOGISTIC / TANH on all 256 inputs, for many input
    quantizations: a single-op model per activation, run with every int8 value."""
    import tensorflow as tf

    from toolchain.ir.tflite_import import load_tflite
    from toolchain.quantize import lut
    from toolchain.verify.reference import reference_outputs

    rng = np.random.default_rng(7)
    for kind, fn, table_fn in (("sigmoid", tf.math.sigmoid, lut.logistic_table),
                               ("tanh", tf.math.tanh, lut.tanh_table)):
        for _ in range(3):
            lo = rng.uniform(-12, 0)
            hi = lo + rng.uniform(0.2, 16)
            f = tf.function(lambda t: fn(t)).get_concrete_function(tf.TensorSpec([1, 256], tf.float32))
            conv = tf.lite.TFLiteConverter.from_concrete_functions([f])
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([rng.uniform(lo, hi, (1, 256)).astype(np.float32)]
                                                   for _ in range(8))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int8
            tflite = conv.convert()
            g = load_tflite(tflite)
            x = g.tensors[g.inputs[0]]
            all_bytes = np.arange(-128, 128, dtype=np.int8)[np.newaxis, :]
            ref = reference_outputs(tflite, all_bytes).ravel()
            ours = table_fn(float(x.scale[0]), int(x.zero_point[0]))
            assert np.array_equal(ours, ref), f"{kind}: {np.count_nonzero(ours != ref)} entries differ"


@pytest.mark.convert
@pytest.mark.parametrize("alpha", first_fast([0.01, 0.3, 1.7, -0.4]))
def test_leaky_relu_every_input(alpha, host_vs_reference, to_int8):
    """LEAKY_RELU (a table, like LOGISTIC) against TFLM on every int8 input value: the Dense in
    front is an identity scaled so that its int8 outputs sweep -128..127."""
    rng = np.random.default_rng(int(1900 + 100 * alpha))
    keras = _keras()
    n = 256
    inp = keras.Input((n,), batch_size=1)
    dense = keras.layers.Dense(n, use_bias=False)
    x = keras.layers.LeakyReLU(alpha=alpha)(dense(inp))
    dense.set_weights([np.eye(n, dtype=np.float32)])
    lo = rng.uniform(-6, -0.5)
    xf = np.linspace(lo, lo + rng.uniform(1, 12), n, dtype=np.float32)[np.newaxis].repeat(4, 0)
    plan = _check(host_vs_reference, to_int8(keras.Model(inp, x), xf), xf, OpCode.LEAKY_RELU)
    layer = next(l for l in plan.layers if l.opcode == OpCode.LEAKY_RELU)
    assert len(set(layer.params["table"])) > 64  # a real sweep, not a constant table


def _retype_reshape_to_quantize(tflite: bytes, scale: float, zero_point: int) -> bytes:
    """The model's RESHAPE rewritten as an int8 -> int8 QUANTIZE to (scale, zero_point): the
    converter emits such requantizations only in some graphs (mismatched concat inputs)."""
    s, m = _model_ops(tflite)
    sg = m.subgraphs[0]
    op = next(o for o in sg.operators if _code(m.operatorCodes[o.opcodeIndex]) == OpCode.RESHAPE)
    oc = s.OperatorCodeT()
    oc.builtinCode = oc.deprecatedBuiltinCode = int(OpCode.QUANTIZE)
    oc.version = 1
    m.operatorCodes.append(oc)
    op.opcodeIndex = len(m.operatorCodes) - 1
    op.inputs = op.inputs[:1]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.QuantizeOptions, s.QuantizeOptionsT()
    q = sg.tensors[op.outputs[0]].quantization
    q.scale, q.zeroPoint = [scale], [zero_point]
    sg.tensors[op.outputs[0]].shape = sg.tensors[op.inputs[0]].shape
    return _pack(s, m)


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(1)))
def test_quantize_int8_to_int8(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(1400 + seed)
    keras = _keras()
    n = int(rng.integers(4, 40))
    inp = keras.Input((n,), batch_size=1)
    x = keras.layers.Reshape((n, 1))(keras.layers.Dense(n)(inp))
    xf = _inputs(rng, (n,), n=16)
    tflite = to_int8(keras.Model(inp, x), xf)
    g = _model_ops(tflite)[1].subgraphs[0]
    src = g.tensors[g.operators[-1].inputs[0]].quantization.scale[0]
    tflite = _retype_reshape_to_quantize(tflite, float(src * rng.uniform(0.3, 3)),
                                         int(rng.integers(-128, 128)))
    _check(host_vs_reference, tflite, xf, OpCode.QUANTIZE)


def _exact_ties(s: np.float32, ks: np.ndarray) -> np.ndarray:
    """For each k, a float32 x whose float32 quotient x / s is exactly k + 0.5 (searched among
    the neighbours of (k + 0.5) * s); asserts that most k have one."""
    out = []
    for k in ks:
        want = np.float32(k + 0.5)
        x = np.float32(want * s)
        for _ in range(8):
            q = np.float32(x / s)
            if q == want:
                out.append(x)
                break
            x = np.nextafter(x, np.float32(np.inf) if q < want else np.float32(-np.inf), dtype=np.float32)
    assert len(out) >= len(ks) // 2, f"only {len(out)} exact ties of {len(ks)} for scale {s}"
    return np.asarray(out, np.float32)


def _float_io_inputs(rng, graph, n_features, n=24):
    """Random values, every rounding tie of the QUANTIZE input scale from -300.5 to 299.5
    steps (the half-away-from-zero case), signed zeros, a denormal and values far outside
    the int8 range (up to 2^20 steps; beyond 2^31 steps, and for NaN, TFLM's own kernel has
    undefined behaviour: a float-to-int32 overflow and a signed overflow)."""
    q = graph.tensors[graph.ops[0].outputs[0]]
    s = np.float32(q.scale[0])
    special = np.concatenate([_exact_ties(s, np.arange(-300, 300)),
                              np.float32([0.0, -0.0, 1e-40, -1e-40]),
                              np.float32([1e3, -1e3, 1e6, -1e6]) * s])
    special = np.concatenate([special, np.zeros((-len(special)) % n_features, np.float32)])
    lo = rng.uniform(-3, 0.5)
    x = rng.uniform(lo, lo + rng.uniform(0.1, 6), size=(n, n_features)).astype(np.float32)
    return np.concatenate([x, special.reshape(-1, n_features)])


@pytest.mark.convert
@pytest.mark.parametrize("seed", first_fast(range(3)))
def test_float_input_and_output_quantize_dequantize(seed, host_vs_reference):
    """A model converted with float32 input and output (the converter's default) starts with
    QUANTIZE float32 -> int8 and ends with DEQUANTIZE int8 -> float32: every output byte of
    the float32 output equals TFLM's, rounding ties and saturation included."""
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(1500 + seed)
    keras = _keras()
    n, units = int(rng.integers(3, 40)), int(rng.integers(2, 20))
    inp = keras.Input((n,), batch_size=1)
    x = keras.layers.Dense(units, activation=["relu", "tanh", None][seed])(inp)
    out = keras.layers.Dense(int(rng.integers(1, 12)))(x)
    xf = _inputs(rng, (n,), n=16)
    tflite = to_int8_tflite(keras.Model(inp, out), xf, float_io=True)
    graph = load_tflite(tflite)
    ops = [op.opcode for op in graph.ops]
    assert ops[0] == OpCode.QUANTIZE and ops[-1] == OpCode.DEQUANTIZE, ops
    assert graph.tensors[graph.inputs[0]].dtype == graph.tensors[graph.outputs[0]].dtype == "float32"
    xs = _float_io_inputs(rng, graph, n)
    _check(host_vs_reference, tflite, xs, OpCode.DEQUANTIZE)
    from toolchain.pipeline import reference
    from toolchain.verify.reference import decode_outputs, model_input_samples

    ref = decode_outputs(reference(tflite, model_input_samples(xs, "float32")), "float32")
    assert ref.dtype == np.float32 and np.isfinite(ref).all()


@pytest.mark.convert
def test_float16_weights_are_a_clear_unsupported_error():
    """A float16-weight model (DEQUANTIZE of constant weights, float32 activations) is refused
    with the tensor's name, not half run."""
    import tensorflow as tf

    from toolchain.errors import UnsupportedOpError
    from toolchain.ir.tflite_import import load_tflite

    keras = _keras()
    inp = keras.Input((8,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(4)(inp))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    with pytest.raises(UnsupportedOpError, match="is float32; edgesparse needs a full-integer"):
        load_tflite(conv.convert())



@pytest.mark.convert
def test_init_rejects_corrupted_params_of_the_new_ops(tmp_path, to_int8):
    """es_model_init checks every new op's params against its tensors before any kernel runs:
    each corrupted field gives its own status, the intact blob initialises."""
    import struct

    import tensorflow as tf

    from toolchain.codegen.model import write_model_sources
    from toolchain.encode import format as fmt
    from toolchain.pipeline import plan_model
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    keras = _keras()
    L = keras.layers
    inp = keras.Input((5, 4, 3), batch_size=1)
    x = L.ZeroPadding2D(((1, 0), (0, 1)))(L.Conv2D(3, 1)(inp))
    x = L.Cropping2D(((1, 0), (0, 1)))(x)
    x = L.Concatenate()([x, L.Conv2D(2, 1)(x), x])
    x = L.Multiply()([x, L.GlobalAveragePooling2D(keepdims=True)(x)])
    x = L.Lambda(lambda t: t + tf.reduce_mean(t, axis=-1, keepdims=True))(x)
    x = L.Activation("sigmoid")(x)
    model = keras.Model(inp, x)
    plan = plan_model(to_int8(model, _inputs(np.random.default_rng(0), (5, 4, 3))), "v")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    h = fmt.HEADER.unpack(blob)

    def layer(opcode, nth=0):
        i = [k for k, l in enumerate(plan.layers) if l.opcode == opcode][nth]
        rec_at = h["layers_offset"] + i * fmt.LAYER.size
        return rec_at, fmt.LAYER.unpack(blob, rec_at)

    poked = _poker(lib, blob)

    def field(opcode, struct_, name, code, value, nth=0, index=0):
        _, rec = layer(opcode, nth)
        size = struct.calcsize("<" + code)
        return poked(rec["params_offset"] + struct_.offsets()[name] + index * size, code, value)

    pad = plan.layers[[l.opcode for l in plan.layers].index(OpCode.PAD)].params
    assert field(OpCode.PAD, fmt.PAD_PARAMS, "pad_before", "H", pad["out_dims"][2], index=2) == "ES_ERR_SHAPE"
    assert field(OpCode.PAD, fmt.PAD_PARAMS, "pad_value", "i", 128) == "ES_ERR_QUANT"
    assert field(OpCode.STRIDED_SLICE, fmt.SLICE_PARAMS, "strides", "H", 0, index=1) == "ES_ERR_SHAPE"
    assert field(OpCode.STRIDED_SLICE, fmt.SLICE_PARAMS, "begin", "H", 60000, index=2) == "ES_ERR_SHAPE"
    concat = next(l for l in plan.layers if l.opcode == OpCode.CONCATENATION)
    assert field(OpCode.CONCATENATION, fmt.CONCAT_PARAMS, "input_count", "I", 1 << 30) == \
        "ES_ERR_TABLE_BOUNDS"
    table = fmt.CONCAT_PARAMS.size + layer(OpCode.CONCATENATION)[1]["params_offset"]
    assert poked(table + 2 * fmt.CONCAT_INPUT.size, "H", 0xFFF0) == "ES_ERR_TENSOR_BOUNDS"
    assert poked(table, "H", layer(OpCode.CONCATENATION)[1]["input"][1]) == "ES_ERR_TENSOR_BOUNDS"
    assert poked(table + 4, "I", concat.params["outer"] + 1) == "ES_ERR_SHAPE"
    assert field(OpCode.MEAN, fmt.MEAN_PARAMS, "reduce_count", "I", 7) == "ES_ERR_SHAPE"
    assert field(OpCode.MEAN, fmt.MEAN_PARAMS, "shift", "i", 31) == "ES_ERR_QUANT"
    assert field(OpCode.MUL, fmt.MUL_PARAMS, "in2_strides", "I", 1000, index=3) == "ES_ERR_SHAPE"
    assert field(OpCode.MUL, fmt.MUL_PARAMS, "output_multiplier", "i", -1) == "ES_ERR_QUANT"
    rec_at, _ = layer(OpCode.MUL)
    assert poked(rec_at + fmt.LAYER.offsets()["input"] + 2, "H", fmt.NO_TENSOR) == "ES_ERR_TENSOR_BOUNDS"
    assert poked(rec_at + fmt.LAYER.offsets()["params_bytes"], "I", fmt.MUL_PARAMS.size - 4) == \
        "ES_ERR_TABLE_BOUNDS"
    add = fmt.ADD_BROADCAST_PARAMS
    assert field(OpCode.ADD, add, "in1_strides", "I", 1 << 20, index=1) == "ES_ERR_SHAPE"
    assert field(OpCode.ADD, add, "left_shift", "i", 21) == "ES_ERR_QUANT"
    assert field(OpCode.LOGISTIC, fmt.LUT_PARAMS, "count", "I", 1) == "ES_ERR_SHAPE"


@pytest.mark.convert
def test_init_rejects_corrupted_float_boundary(tmp_path):
    """es_model_init checks the float32 boundary: QUANTIZE / DEQUANTIZE params against their
    tensors, and float32 tensors nowhere else (ES_ERR_TYPE); the intact blob initialises."""
    from toolchain.codegen.model import write_model_sources
    from toolchain.encode import format as fmt
    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    keras = _keras()
    inp = keras.Input((6,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.Dense(5)(inp)))
    plan = plan_model(to_int8_tflite(model, _inputs(np.random.default_rng(0), (6,)), float_io=True), "f")
    assert [l.opcode for l in plan.layers][::len(plan.layers) - 1] == [OpCode.QUANTIZE, OpCode.DEQUANTIZE]
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    h = fmt.HEADER.unpack(blob)
    last = len(plan.layers) - 1

    def rec(i):
        at = h["layers_offset"] + i * fmt.LAYER.size
        return at, fmt.LAYER.unpack(blob, at)

    poked = _poker(lib, blob)

    def param(i, name, code, value):
        return poked(rec(i)[1]["params_offset"] + fmt.AFFINE_PARAMS.offsets()[name], code, value)

    q_at, q = rec(0)
    d_at, d = rec(last)
    fc_at, _ = rec(1)
    assert param(0, "scale", "f", 0.0) == "ES_ERR_QUANT"
    assert param(0, "scale", "f", float("nan")) == "ES_ERR_QUANT"
    assert param(last, "zero_point", "i", 200) == "ES_ERR_QUANT"
    assert param(last, "count", "I", 4) == "ES_ERR_SHAPE"
    assert param(0, "count", "I", 7) == "ES_ERR_SHAPE"
    assert poked(q_at + fmt.LAYER.offsets()["params_bytes"], "I", fmt.LUT_PARAMS.size) == "ES_ERR_TABLE_BOUNDS"
    float_in = h["tensors_offset"] + q["input"][0] * fmt.TENSOR.size
    assert poked(float_in + fmt.TENSOR.offsets()["type"], "B", 7) == "ES_ERR_TYPE"
    assert poked(float_in + fmt.TENSOR.offsets()["type"], "B", int(fmt.TensorType.INT8)) == "ES_ERR_SHAPE"
    # an int8 op reading the float32 input, DEQUANTIZE writing an int8 tensor, QUANTIZE
    # writing the float32 output
    assert poked(fc_at + fmt.LAYER.offsets()["input"], "H", q["input"][0]) == "ES_ERR_TYPE"
    assert poked(d_at + fmt.LAYER.offsets()["output"], "H", d["input"][0]) == "ES_ERR_TYPE"
    assert poked(q_at + fmt.LAYER.offsets()["output"], "H", d["output"]) == "ES_ERR_TYPE"


@pytest.mark.convert
def test_init_rejects_misplaced_constants(tmp_path, to_int8):
    """ES_TENSOR_CONST: the constant's bytes must lie inside the blob, and a constant may only
    be the second input of MUL or a broadcasting ADD (never an op's first input, an output or
    a model input / output); unknown tensor flags are refused."""
    import tensorflow as tf

    from toolchain.codegen.model import write_model_sources
    from toolchain.encode import format as fmt
    from toolchain.pipeline import plan_model
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    keras = _keras()
    inp = keras.Input((3, 3, 4), batch_size=1)
    x = keras.layers.Lambda(lambda t: t * tf.constant([0.5, -1.0, 2.0, 0.25]))(inp)
    x = keras.layers.Conv2D(2, 1)(x)
    plan = plan_model(to_int8(keras.Model(inp, x), _inputs(np.random.default_rng(3), (3, 3, 4))), "c")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    poked = _poker(lib, blob)
    h = fmt.HEADER.unpack(blob)
    tensors = [fmt.TENSOR.unpack(blob, h["tensors_offset"] + i * fmt.TENSOR.size)
               for i in range(h["tensor_count"])]
    const = next(i for i, t in enumerate(tensors) if t["flags"] == fmt.TENSOR_CONST)
    act = next(i for i, t in enumerate(tensors) if t["flags"] == 0)

    def at(i, name):
        return h["tensors_offset"] + i * fmt.TENSOR.size + fmt.TENSOR.offsets()[name]

    assert poked(at(const, "arena_offset"), "I", h["blob_bytes"]) == "ES_ERR_TABLE_BOUNDS"
    assert poked(at(const, "flags"), "H", 3) == "ES_ERR_TYPE"
    assert poked(at(act, "flags"), "H", fmt.TENSOR_CONST) in ("ES_ERR_TYPE", "ES_ERR_TABLE_BOUNDS")
    layers = [fmt.LAYER.unpack(blob, h["layers_offset"] + i * fmt.LAYER.size) for i in range(h["layer_count"])]
    conv = next(i for i, l in enumerate(layers) if l["op"] == OpCode.CONV_2D)
    conv_in = h["layers_offset"] + conv * fmt.LAYER.size + fmt.LAYER.offsets()["input"]
    assert poked(conv_in, "H", const) == "ES_ERR_TYPE"
    io_model_input = h["io_offset"]
    assert poked(io_model_input, "H", const) == "ES_ERR_TYPE"
