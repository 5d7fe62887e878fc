"""The .tflite importer: each supported op comes in with its options; bad models are refused
with a message naming the file, op and tensor."""
import numpy as np
import pytest

from toolchain.errors import InputFileError, UnsupportedOpError
from toolchain.ir.tflite_import import load_tflite



def _keras():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    return keras


@pytest.fixture(scope="module")
def every_op_tflite():
    from toolchain.quantize.convert import to_int8_tflite

    keras = _keras()
    inp = keras.Input((8, 8, 2), batch_size=1)
    a = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu6")(inp)
    b = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu")(inp)
    b = keras.layers.MaxPooling2D(2)(b)
    x = keras.layers.Add()([a, b])
    x = keras.layers.AveragePooling2D(2, padding="valid")(x)
    x = keras.layers.Reshape((16,))(x)
    x = keras.layers.Dense(6, activation="softmax")(x)
    model = keras.Model(inp, x)
    return to_int8_tflite(model, np.random.default_rng(0).random((10, 8, 8, 2)).astype(np.float32))


@pytest.mark.convert
def test_every_supported_op_and_options(every_op_tflite):
    g = load_tflite(every_op_tflite, "all")
    ops = {op.opcode.name: op for op in g.ops}
    assert set(ops) == {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "ADD", "AVERAGE_POOL_2D",
                        "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}
    conv = ops["CONV_2D"].options
    assert (conv["stride_h"], conv["stride_w"], conv["padding"], conv["activation"]) == (2, 2, "SAME", "RELU6")
    dw = ops["DEPTHWISE_CONV_2D"]
    assert dw.options["activation"] == "RELU" and g.tensors[dw.inputs[1]].shape == (1, 3, 3, 4)
    assert ops["MAX_POOL_2D"].options["filter_h"] == 2
    assert ops["SOFTMAX"].options["beta"] == pytest.approx(1.0)
    x = g.tensors[g.inputs[0]]
    assert x.dtype == "int8" and x.shape == (1, 8, 8, 2) and x.scale.size == 1
    w = g.tensors[ops["CONV_2D"].inputs[1]]
    assert w.data.dtype == np.int8 and w.scale.size == 4  # per-channel
    assert g.tensors[ops["CONV_2D"].inputs[2]].data.dtype == np.int32


def test_not_a_tflite_file(tmp_path):
    p = tmp_path / "model.tflite"
    p.write_text("this is text, not a model\n")
    with pytest.raises(InputFileError, match="not a TFLite flatbuffer"):
        load_tflite(p)
    with pytest.raises(InputFileError, match="cannot read"):
        load_tflite(tmp_path / "missing.tflite")


@pytest.mark.convert
def test_truncated_tflite(every_op_tflite):
    with pytest.raises(InputFileError, match="corrupt|constant tensor"):
        load_tflite(every_op_tflite[: len(every_op_tflite) // 3], "cut")


@pytest.mark.convert
def test_float_model_is_refused():
    import tensorflow as tf

    keras = _keras()
    inp = keras.Input((4,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(3)(inp))
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(UnsupportedOpError, match="float32|int8"):
        load_tflite(tflite, "float_model")


@pytest.mark.convert
def test_unsupported_op_names_op_and_tensor():
    import tensorflow as tf

    from toolchain.quantize.convert import to_int8_tflite

    keras = _keras()
    inp = keras.Input((4,), batch_size=1)
    x = keras.layers.Reshape((2, 2))(keras.layers.Dense(4)(inp))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: tf.gather(t, [1, 0], axis=-1), name="swap")(x))
    tflite = to_int8_tflite(model, np.random.default_rng(0).random((8, 4)).astype(np.float32))
    with pytest.raises(UnsupportedOpError) as e:
        load_tflite(tflite, "gather_model")
    assert "GATHER" in str(e.value) and "Supported ops" in str(e.value)
