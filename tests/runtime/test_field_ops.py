"""The ops published field models use beyond the original set (HARD_SWISH, standalone RELU /
RELU6, MAXIMUM / MINIMUM, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, SPLIT / SPLIT_V, BATCH_MATMUL)
against TFLM's reference kernels, exact to the byte, on random shapes and random quantization.
Each test checks that the converter really emitted the op under test. The table ops are also
checked on every one of the 256 int8 inputs against TFLM, without building C."""
import numpy as np
import pytest
from opcheck import check_ops as _check, keras as _keras, poker, random_inputs

from toolchain.encode.format import OpCode

pytestmark = pytest.mark.convert


def _inputs(rng, shape, n=6):
    return random_inputs(rng, shape, n, low=(-4, 0.5), width=(0.5, 8))


def _single_op_tflite(fn, lo, hi, rng, n=256):
    """fn of a [1, n] input converted alone with inputs drawn from [lo, hi]."""
    import tensorflow as tf

    f = tf.function(fn).get_concrete_function(tf.TensorSpec([1, n], tf.float32))
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = [np.linspace(lo, hi, n, dtype=np.float32)[np.newaxis]] + \
        [rng.uniform(lo, hi, (1, n)).astype(np.float32) for _ in range(6)]
    conv.representative_dataset = lambda: ([s] for s in samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def _table_ops():
    import tensorflow as tf

    from toolchain.quantize import lut

    return (
        (OpCode.HARD_SWISH, lambda t: t * tf.nn.relu6(t + 3.0) / 6.0,
         lambda x, y: lut.hard_swish_table(float(x.scale[0]), int(x.zero_point[0]), float(y.scale[0]),
                                           int(y.zero_point[0]))),
        (OpCode.RELU, tf.nn.relu,
         lambda x, y: lut.relu_table(float(x.scale[0]), int(x.zero_point[0]), float(y.scale[0]),
                                     int(y.zero_point[0]))),
        (OpCode.RELU6, tf.nn.relu6,
         lambda x, y: lut.relu6_table(float(x.scale[0]), int(x.zero_point[0]))),
    )


def _requantized(tflite: bytes, in_q: tuple, out_q: tuple) -> bytes:
    """The single-op model with its input and output (scale, zero point) replaced."""
    import flatbuffers

    from toolchain.ir.tflite_import import schema

    s = schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    sg = m.subgraphs[0]
    for t, (scale, zp) in ((sg.inputs[0], in_q), (sg.outputs[0], out_q)):
        sg.tensors[t].quantization.scale, sg.tensors[t].quantization.zeroPoint = [scale], [zp]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tables_against_tflm(seeds):
    from toolchain.errors import InputFileError
    from toolchain.ir.tflite_import import load_tflite
    from toolchain.verify.reference import reference_outputs

    all_bytes = np.arange(-128, 128, dtype=np.int8)[np.newaxis, :]
    for seed in seeds:
        rng = np.random.default_rng(2600 + seed)
        for opcode, fn, table_fn in _table_ops():
            lo = rng.uniform(-12, 1)
            hi = max(lo + rng.uniform(0.3, 16), 1.0)  # some of it above 0
            tflite = _single_op_tflite(fn, lo, hi, rng)
            g = load_tflite(tflite)
            assert [op.opcode for op in g.ops] == [opcode], [op.opcode.name for op in g.ops]
            x, y = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
            ref = reference_outputs(tflite, all_bytes).ravel()
            ours = table_fn(x, y)
            bad = np.count_nonzero(ours != ref)
            assert bad == 0, (f"{opcode.name} seed {seed} (input range [{lo:.3g}, {hi:.3g}]): {bad} "
                              f"of 256 entries differ")
            assert len(set(ref.tolist())) > 8, opcode.name  # a real sweep, not a constant
            # scales no calibration gives: tiny (a dead input), huge ratios either way
            for _ in range(3):
                in_q = (float(10 ** rng.uniform(-9, 0.5)), int(rng.integers(-128, 128)))
                out_q = (float(10 ** rng.uniform(-4, 0.5)), int(rng.integers(-128, 128)))
                patched = _requantized(tflite, in_q, out_q)
                try:
                    ours = table_fn(*(load_tflite(patched).tensors[i] for i in (g.inputs[0], g.outputs[0])))
                except ValueError as e:  # refused offline: TFLM refuses it too, or is undefined
                    if "undefined" not in str(e):
                        with pytest.raises(InputFileError):
                            reference_outputs(patched, all_bytes)
                    continue
                ref = reference_outputs(patched, all_bytes).ravel()
                bad = np.count_nonzero(ours != ref)
                assert bad == 0, f"{opcode.name} seed {seed} {in_q} -> {out_q}: {bad} of 256 entries differ"


def test_table_ops_every_input_against_tflm():
    """HARD_SWISH, RELU and RELU6 tables equal TFLM on all 256 inputs for random input ranges
    (RELU's output scale differs from its input's: TFLM requantizes; RELU6 clamps on the
    input's scale whatever the output's)."""
    _tables_against_tflm(range(2))


@pytest.mark.slow
def test_table_ops_every_input_against_tflm_more_ranges():
    _tables_against_tflm(range(2, 12))


def _activations_model(rng):
    """RELU on the model input, HARD_SWISH after a conv, RELU6 after a concatenation (nothing
    fuses either), MAXIMUM against a broadcast pooled tensor, MINIMUM by a constant."""
    import tensorflow as tf

    keras = _keras()
    L = keras.layers
    h, w, c = (int(v) for v in rng.integers(2, 7, size=3))
    inp = keras.Input((h, w, c), batch_size=1)
    a = L.Conv2D(int(rng.integers(2, 6)), 1)(L.ReLU()(inp))
    a = L.Activation(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(a)
    b = L.ReLU(6.0)(L.Concatenate()([a, L.Conv2D(2, 1)(inp)]))
    m = L.Lambda(lambda ts: tf.maximum(ts[0], ts[1]))([b, L.GlobalAveragePooling2D(keepdims=True)(b)])
    m = L.Lambda(lambda t: tf.minimum(t, float(rng.uniform(0.5, 3))))(m)
    return keras.Model(inp, L.Conv2D(3, 1)(m)), (h, w, c)


@pytest.mark.parametrize("seed", range(2))
def test_activations_and_maximum_minimum(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(2700 + seed)
    _keras().utils.set_random_seed(seed)
    model, shape = _activations_model(rng)
    xf = _inputs(rng, shape)
    plan = _check(host_vs_reference, to_int8(model, xf), xf, OpCode.RELU, OpCode.HARD_SWISH,
                  OpCode.RELU6, OpCode.MAXIMUM, OpCode.MINIMUM)
    minimum = next(l for l in plan.layers if l.opcode == OpCode.MINIMUM)
    assert plan.graph.tensors[minimum.inputs[1]].is_constant  # the constant stays in the blob
    # RELU reads the model input, which stays intact (the in-place layers: tests/plan/test_in_place.py)
    assert OpCode.RELU not in {plan.layers[i].opcode for i in plan.arena.in_place}


def _movement_model(rng, seed):
    """TRANSPOSE (Permute), RESIZE_NEAREST_NEIGHBOR (UpSampling2D, or tf.image.resize to odd
    sizes with the seed's align_corners / half_pixel_centers), SPLIT and SPLIT_V (tf.split
    with equal and unequal sizes on a random axis)."""
    import tensorflow as tf

    keras = _keras()
    L = keras.layers
    h, w = (int(v) for v in rng.integers(2, 6, size=2))
    c = 6
    inp = keras.Input((h, w, c), batch_size=1)
    x = L.Conv2D(c, 1)(inp)
    perm = [(2, 1, 3), (3, 1, 2), (1, 3, 2)][seed % 3]
    t = L.Permute(perm)(x)
    t = L.Permute([perm.index(d) + 1 for d in (1, 2, 3)])(L.Conv2D(t.shape[-1], 1)(t))
    if seed % 2 == 0:
        r = L.UpSampling2D(int(rng.integers(2, 4)), interpolation="nearest")(t)
    else:
        size = (int(rng.integers(1, 3 * h)), int(rng.integers(1, 3 * w)))
        align, half = [(False, False), (True, False), (False, True)][(seed // 2) % 3]
        r = L.Lambda(lambda v: tf.compat.v1.image.resize_nearest_neighbor(
            v, size, align_corners=align, half_pixel_centers=half))(t)
    r = L.Conv2D(c, 1)(r)
    s = L.Lambda(lambda v: tf.split(v, 3, axis=-1))(r)
    u = L.Lambda(lambda v: tf.split(v, [1, 3, 2], axis=-1))(r)
    out = L.Concatenate()([L.Add()([s[0], s[2]]), L.Conv2D(2, 1)(s[1]), u[2], u[0], u[1]])
    if out.shape[2] > 1:  # SPLIT_V along the width: every output used, or it stays float
        cut = int(rng.integers(1, out.shape[2]))
        v = L.Lambda(lambda t: tf.split(t, [cut, int(t.shape[2]) - cut], axis=2))(out)
        out = L.Concatenate(axis=2)([v[1], L.Conv2D(out.shape[-1], 1)(v[0])])
    out = L.Flatten()(out)
    return keras.Model(inp, out), (h, w, c)


@pytest.mark.parametrize("seed", range(2))
def test_transpose_resize_split(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(2800 + seed)
    _keras().utils.set_random_seed(seed)
    model, shape = _movement_model(rng, seed)
    xf = _inputs(rng, shape)
    _check(host_vs_reference, to_int8(model, xf), xf, OpCode.TRANSPOSE, OpCode.RESIZE_NEAREST_NEIGHBOR,
           OpCode.SPLIT, OpCode.SPLIT_V)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 8))
def test_transpose_resize_split_more_seeds(seed, host_vs_reference, to_int8):
    test_transpose_resize_split(seed, host_vs_reference, to_int8)


def _attention_model(rng, seed):
    """Two BATCH_MATMULs of activations: q x k^T (adj_y, the converter folds the transpose) and
    the softmaxed scores x v, with a broadcast batch when the seed asks."""
    import tensorflow as tf

    keras = _keras()
    L = keras.layers
    heads, tokens, feat = int(rng.integers(1, 3)), int(rng.integers(2, 6)), int(rng.integers(3, 9))
    d = int(rng.integers(2, 7))
    inp = keras.Input((heads, tokens, feat), batch_size=1)
    q, k, v = L.Dense(d)(inp), L.Dense(d)(inp), L.Dense(int(rng.integers(2, 5)))(inp)
    scores = L.Lambda(lambda ts: tf.matmul(ts[0], ts[1], transpose_b=True))([q, k])
    att = L.Softmax()(scores)
    out = L.Lambda(lambda ts: tf.matmul(ts[0], ts[1]))([att, v])
    # adj_x: features x features
    gram = L.Lambda(lambda ts: tf.matmul(ts[0], ts[1], transpose_a=True))([out, q])
    return keras.Model(inp, L.Flatten()(gram)), (heads, tokens, feat)


@pytest.mark.parametrize("seed", range(2))
def test_batch_matmul(seed, host_vs_reference, to_int8):
    rng = np.random.default_rng(2900 + seed)
    _keras().utils.set_random_seed(seed)
    model, shape = _attention_model(rng, seed)
    xf = _inputs(rng, shape)
    plan = _check(host_vs_reference, to_int8(model, xf), xf, OpCode.BATCH_MATMUL)
    mm = [l.params for l in plan.layers if l.opcode == OpCode.BATCH_MATMUL]
    assert len(mm) == 3
    assert {(p["lhs_depth_stride"] != 1, p["rhs_depth_stride"] == 1) for p in mm} == \
        {(False, True), (False, False), (True, False)}  # adj_y, plain, adj_x


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 6))
def test_batch_matmul_more_seeds(seed, host_vs_reference, to_int8):
    test_batch_matmul(seed, host_vs_reference, to_int8)


@pytest.mark.slow
def test_init_rejects_corrupted_params_of_the_field_ops(tmp_path, to_int8):
    """es_model_init checks TRANSPOSE, MAXIMUM, RESIZE_NEAREST_NEIGHBOR and BATCH_MATMUL params
    against their tensors and tables before any kernel runs: each corrupted field gives its own
    status, the intact blob initialises."""
    import struct

    import tensorflow as tf

    from toolchain.codegen.model import write_model_sources
    from toolchain.encode import format as fmt
    from toolchain.pipeline import plan_model
    from toolchain.targets.build import build_host_library
    from toolchain.targets.host import init_status

    keras = _keras()
    L = keras.layers
    inp = keras.Input((3, 4, 5), batch_size=1)
    x = L.Permute((2, 1, 3))(L.Conv2D(5, 1)(inp))
    x = L.UpSampling2D(2, interpolation="nearest")(L.Conv2D(5, 1)(x))
    x = L.Lambda(lambda ts: tf.maximum(ts[0], ts[1]))([x, L.GlobalAveragePooling2D(keepdims=True)(x)])
    x = L.Reshape((-1, 5))(x)
    x = L.Lambda(lambda ts: tf.matmul(ts[0], ts[1], transpose_b=True))([L.Dense(4)(x), L.Dense(4)(x)])
    model = keras.Model(inp, L.Flatten()(x))
    plan = plan_model(to_int8(model, _inputs(np.random.default_rng(0), (3, 4, 5))), "v")
    write_model_sources(plan.graph, plan.layers, plan.choices, plan.arena, plan.blob, tmp_path / "src")
    lib = build_host_library(tmp_path / "src", tmp_path / "build")
    blob = plan.blob.data
    assert init_status(lib, blob) == "ES_OK"
    h = fmt.HEADER.unpack(blob)

    def record(opcode):
        i = [l.opcode for l in plan.layers].index(opcode)
        at = h["layers_offset"] + i * fmt.LAYER.size
        return at, fmt.LAYER.unpack(blob, at)

    poked = poker(lib, blob)

    def field(opcode, struct_, name, code, value, index=0):
        params_at = record(opcode)[1]["params_offset"]
        return poked(params_at + struct_.offsets()[name] + index * struct.calcsize("<" + code), code, value)

    T, M, R, B = fmt.TRANSPOSE_PARAMS, fmt.MINMAX_PARAMS, fmt.RESIZE_PARAMS, fmt.BATCH_MATMUL_PARAMS
    assert field(OpCode.TRANSPOSE, T, "in_strides", "I", 1000, index=3) == "ES_ERR_SHAPE"
    assert field(OpCode.TRANSPOSE, T, "out_dims", "H", 7, index=2) == "ES_ERR_SHAPE"
    assert field(OpCode.MAXIMUM, M, "in2_strides", "I", 1 << 20, index=2) == "ES_ERR_SHAPE"
    at, rec = record(OpCode.MAXIMUM)
    assert poked(at + fmt.LAYER.offsets()["input"] + 2, "H", fmt.NO_TENSOR) == "ES_ERR_TENSOR_BOUNDS"
    assert poked(at + fmt.LAYER.offsets()["params_bytes"], "I", M.size + 4) == "ES_ERR_TABLE_BOUNDS"
    resize = next(l for l in plan.layers if l.opcode == OpCode.RESIZE_NEAREST_NEIGHBOR).params
    assert field(OpCode.RESIZE_NEAREST_NEIGHBOR, R, "out_w", "H", resize["out_w"] + 1) == "ES_ERR_SHAPE"
    assert field(OpCode.RESIZE_NEAREST_NEIGHBOR, R, "y_map_offset", "I", h["blob_bytes"] - 2) == \
        "ES_ERR_TABLE_BOUNDS"
    y_map_at = struct.unpack_from("<I", blob, record(OpCode.RESIZE_NEAREST_NEIGHBOR)[1]["params_offset"]
                                           + R.offsets()["y_map_offset"])[0]
    assert poked(y_map_at + 2, "H", resize["in_h"]) == "ES_ERR_INDEX"
    assert field(OpCode.BATCH_MATMUL, B, "rhs_col_stride", "I", 1 << 16) == "ES_ERR_SHAPE"
    assert field(OpCode.BATCH_MATMUL, B, "depth", "H", 40000) == "ES_ERR_SHAPE"  # int32 sum overflow
    assert field(OpCode.BATCH_MATMUL, B, "lhs_offset", "i", 129) == "ES_ERR_QUANT"
    assert field(OpCode.BATCH_MATMUL, B, "output_shift", "i", 31) == "ES_ERR_QUANT"
