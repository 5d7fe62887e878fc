"""Writes the committed seed corpora in tests/fuzz/corpus/ (run from the repo root):

    .venv/bin/python tests/fuzz/make_corpus.py

model/          blobs of small models compiled by the toolchain: a conv + FC model whose
                weights suit every weight format (tests/format_weights.py), built in each
                (checked: every layer in that format, none silently dense), and all_ops, one using every other op (ALL_OPS:
                depthwise, pools, ADD, PAD, STRIDED_SLICE, MEAN, REDUCE_MAX, LOGISTIC, MUL
                broadcasting, TANH, CONCATENATION, RESHAPE, SOFTMAX; checked when it is built),
                and float_io, float32 input and output (QUANTIZE from float32, DEQUANTIZE), and
                consts, MUL and SUB by constants held in the blob (ES_TENSOR_CONST); a few KB each
format_<name>/  weight tables of each encoder for the shapes fuzz_format.c expects

Deterministic (fixed seeds), so rerunning it changes nothing unless the encoders or the
blob layout changed; tests/fuzz/test_fuzz.py checks every seed still initialises.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: format_weights
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import es_fuzz_driver as drv  # noqa: E402

from toolchain.encode.format import OpCode  # noqa: E402


def all_ops_layers() -> set[OpCode]:
    """The runtime layers the all_ops seed model must contain (every op but the weight formats'
    FC / conv variants, which the conv_fc seeds cover)."""
    return {OpCode.CONV_2D, OpCode.DEPTHWISE_CONV_2D, OpCode.ADD, OpCode.PAD, OpCode.MAX_POOL_2D,
            OpCode.STRIDED_SLICE, OpCode.MEAN, OpCode.LOGISTIC, OpCode.MUL, OpCode.TANH,
            OpCode.REDUCE_MAX, OpCode.CONCATENATION, OpCode.AVERAGE_POOL_2D, OpCode.RESHAPE,
            OpCode.FULLY_CONNECTED, OpCode.SOFTMAX}


def blob_layer_ops(blob: bytes) -> list[OpCode]:
    """The op of each layer record of a model blob, in order."""
    from toolchain.encode.format import HEADER, LAYER

    h = HEADER.unpack(blob)
    return [OpCode(LAYER.unpack(blob, h["layers_offset"] + i * LAYER.size)["op"])
            for i in range(h["layer_count"])]


def model_blobs() -> dict[str, bytes]:
    import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
    import tf_keras as keras

    from toolchain.pipeline import plan_model
    from toolchain.encode import weight_formats as wf
    from toolchain.plan.select import ENCODERS
    from toolchain.quantize.convert import to_int8_tflite

    from format_weights import suit_every_format

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    blobs = {}

    inp = keras.Input((6, 6, 4), batch_size=1)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)  # K = 36
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8)(x)                             # K = 128
    conv_fc = keras.Model(inp, x)
    suit_every_format(conv_fc, rng, bits=(3, 5))
    tfl = to_int8_tflite(conv_fc, rng.random((16, 6, 6, 4)).astype(np.float32), per_tensor=True)
    for name in ENCODERS:  # force_strict: a format that does not take a layer stops the script
        fc_only = not wf.parse(name)[0].holds_op(OpCode.CONV_2D)  # its conv layer stays dense
        plan = plan_model(tfl, "fz", force_format=name, force_strict=not fc_only)
        assert [c.format for c in plan.choices if c.format != "none"] == \
            ["dense" if fc_only else name, name], name
        blobs[f"conv_fc_{drv.target_name(name)[len('format_'):]}"] = plan.blob.data

    L = keras.layers
    inp = keras.Input((6, 6, 4), batch_size=1)
    a = L.DepthwiseConv2D(3, padding="same", activation="relu")(inp)
    b = L.Conv2D(4, 1, padding="same")(inp)
    x = L.Add()([a, b])                                      # 6x6x4
    x = L.ZeroPadding2D(((1, 1), (0, 2)))(x)                 # PAD: 8x8x4
    x = L.MaxPooling2D(2)(x)                                 # 4x4x4
    x = L.Cropping2D(((0, 1), (1, 0)))(x)                    # STRIDED_SLICE: 3x3x4
    s = L.GlobalAveragePooling2D(keepdims=True)(x)           # MEAN: 1x1x4
    g = L.GlobalMaxPooling2D(keepdims=True)(x)               # REDUCE_MAX: 1x1x4
    s = L.Activation("sigmoid")(L.Add()([s, g]))             # ADD, LOGISTIC
    x = L.Multiply()([x, s])                                 # MUL, [3,3,4] x [1,1,4]
    t = L.Activation("tanh")(L.Conv2D(2, 1)(x))              # TANH: 3x3x2
    x = L.Concatenate()([x, t])                              # CONCATENATION: 3x3x6
    x = L.AveragePooling2D(padding="same")(x)                # 2x2x6
    x = L.Reshape((-1,))(x)
    x = L.Dense(6, activation="softmax")(x)
    ops = keras.Model(inp, x)
    tfl = to_int8_tflite(ops, rng.random((16, 6, 6, 4)).astype(np.float32))
    blob = plan_model(tfl, "fz").blob.data
    missing = all_ops_layers() - set(blob_layer_ops(blob))
    if missing:  # a converter or planner change that lowers a layer differently
        raise SystemExit(f"the all_ops seed model has no {sorted(o.name for o in missing)} layer; "
                         f"it has {[o.name for o in blob_layer_ops(blob)]}: change its Keras layers")
    blobs["all_ops"] = blob


    inp = keras.Input((5,), batch_size=1)                    # float32 in and out:
    x = keras.layers.Dense(4)(keras.layers.Dense(6, activation="relu")(inp))
    tfl = to_int8_tflite(keras.Model(inp, x), rng.random((16, 5)).astype(np.float32), float_io=True)
    blobs["float_io"] = plan_model(tfl, "fz").blob.data      # QUANTIZE ... DEQUANTIZE

    import tensorflow as tf

    inp = keras.Input((3, 3, 4), batch_size=1)               # constants in the blob:
    s = L.Add()([L.Conv2D(4, 1)(inp), inp])
    m = L.Lambda(lambda t: t * tf.constant([0.5, -1.0, 2.0, 0.25]))(s)       # MUL by [C]
    d = L.Subtract()([m, L.Conv2D(4, 1)(inp)])                               # SUB
    x = L.Lambda(lambda t: t - tf.constant([0.3, 0.1, -0.2, 0.0]))(d)        # SUB by [C]
    tfl = to_int8_tflite(keras.Model(inp, x), rng.random((16, 3, 3, 4)).astype(np.float32))
    blob = plan_model(tfl, "fz").blob.data
    if not {OpCode.MUL, OpCode.SUB} <= set(blob_layer_ops(blob)):
        raise SystemExit(f"the consts seed has {[o.name for o in blob_layer_ops(blob)]}, no MUL / SUB")
    blobs["consts"] = blob
    blobs["field_ops"] = field_ops_blob()

    inp = keras.Input((7, 5, 4), batch_size=1)              # the sparse depthwise kernel:
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inp)         # plane along y
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)  # two phases
    dw = keras.Model(inp, x)
    for layer in dw.layers[1:]:
        k, b = layer.get_weights()
        layer.set_weights([np.where(rng.random(k.shape) < 0.7, 0, k).astype(np.float32), b])
    tfl = to_int8_tflite(dw, rng.random((16, 7, 5, 4)).astype(np.float32))
    plan = plan_model(tfl, "fz", force_format="csr16", force_strict=True)
    # (the planner may cut the layers into row bands: every band in csr16)
    assert {c.format for c in plan.choices if c.format != "none"} == {"csr16"}
    blobs["dw_csr16"] = plan.blob.data
    blobs["streamed"] = streamed_blob()
    return blobs


def streamed_blob() -> bytes:
    """A seed whose input is streamed (--stream-input): READ_INPUT layers in row bands with a
    strided conv and a depthwise conv, so mutations reach the streamed tensor's and the
    reads' checks."""
    import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
    import tf_keras as keras

    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(2)
    keras.utils.set_random_seed(2)
    L = keras.layers
    inp = keras.Input((12, 8, 3), batch_size=1)
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    tfl = to_int8_tflite(keras.Model(inp, x), rng.uniform(-1, 1, (16, 12, 8, 3)).astype(np.float32))
    blob = plan_model(tfl, "fz", stream_input=True).blob.data
    if blob_layer_ops(blob).count(OpCode.READ_INPUT) < 2:
        raise SystemExit(f"the streamed seed has {[o.name for o in blob_layer_ops(blob)]}: no row "
                         "bands of READ_INPUT")
    return blob


FIELD_OPS = {OpCode.RELU, OpCode.HARD_SWISH, OpCode.RELU6, OpCode.MAXIMUM, OpCode.MINIMUM,
             OpCode.TRANSPOSE, OpCode.RESIZE_NEAREST_NEIGHBOR, OpCode.BATCH_MATMUL}


def field_ops_blob() -> bytes:
    """A seed with every field op (SPLIT runs as STRIDED_SLICE layers): RELU, HARD_SWISH, RELU6,
    MAXIMUM, MINIMUM by a constant, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, BATCH_MATMUL."""
    import toolchain  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
    import tensorflow as tf
    import tf_keras as keras

    from toolchain.pipeline import plan_model
    from toolchain.quantize.convert import to_int8_tflite

    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(1)
    L = keras.layers
    inp = keras.Input((3, 4, 4), batch_size=1)
    a = L.Activation(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(L.Conv2D(4, 1)(L.ReLU()(inp)))
    x = L.ReLU(6.0)(L.Concatenate()([a, L.Conv2D(2, 1)(inp)]))             # 3x4x6
    x = L.Lambda(lambda ts: tf.maximum(ts[0], ts[1]))([x, L.GlobalAveragePooling2D(keepdims=True)(x)])
    x = L.Lambda(lambda t: tf.minimum(t, 1.5))(x)
    x = L.Permute((2, 1, 3))(x)                                              # 4x3x6
    x = L.UpSampling2D(2, interpolation="nearest")(L.Conv2D(6, 1)(x))        # 8x6x6
    s = L.Lambda(lambda t: tf.split(t, 3, axis=-1))(x)
    x = L.Reshape((-1, 2))(L.Concatenate()([s[2], s[0]]))
    x = L.Lambda(lambda ts: tf.matmul(ts[0], ts[1], transpose_a=True))([L.Dense(3)(x), L.Dense(2)(x)])
    tfl = to_int8_tflite(keras.Model(inp, L.Flatten()(x)),
                         rng.uniform(-4, 4, (16, 3, 4, 4)).astype(np.float32))
    blob = plan_model(tfl, "fz").blob.data
    if not FIELD_OPS <= set(blob_layer_ops(blob)):
        raise SystemExit(f"the field_ops seed has {[o.name for o in blob_layer_ops(blob)]}, not "
                         f"all of {sorted(o.name for o in FIELD_OPS)}")
    return blob


def main() -> None:
    for t in drv.targets():
        if t.format_name is not None:
            drv.write_seeds(drv.CORPUS / t.name, drv.format_seeds(t.format_name))
    drv.write_seeds(drv.CORPUS / "model", model_blobs())
    for d in sorted(drv.CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name:20s} {len(files):3d} files {sum(f.stat().st_size for f in files):7,d} bytes")


if __name__ == "__main__":
    main()
