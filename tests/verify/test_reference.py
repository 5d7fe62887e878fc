import numpy as np
import pytest

from toolchain.errors import DatasetError, ToolchainError
from toolchain.models import evaluate
from toolchain.quantize import input_quantization, quantize_input
from toolchain.verify import accuracy_from_outputs, reference_outputs


def test_accuracy_from_outputs_uses_last_axis_argmax():
    outputs = np.array([[-128, 5, 3], [100, -1, 0], [0, 0, 127], [1, 2, 3]], dtype=np.int8)
    assert accuracy_from_outputs(outputs, np.array([1, 0, 2, 0])) == 0.75


def test_accuracy_from_outputs_length_mismatch():
    with pytest.raises(DatasetError, match="2 outputs but 3 labels"):
        accuracy_from_outputs(np.zeros((2, 3), np.int8), np.zeros(3))


@pytest.fixture
def trained(cnn, digits, cnn_int8):
    scale, zero_point = input_quantization(cnn_int8)
    return cnn, digits, cnn_int8, quantize_input(digits.x_test, scale, zero_point)


def test_unknown_backend():
    with pytest.raises(ToolchainError, match="unknown reference backend 'xnnpack'"):
        reference_outputs(b"", np.zeros((1, 8, 8, 1), np.int8), backend="xnnpack")


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_input_dtype_and_shape_are_checked(trained):
    _, _, tflite, x = trained
    with pytest.raises(DatasetError, match="must be int8, got float32"):
        reference_outputs(tflite, x.astype(np.float32))
    with pytest.raises(DatasetError, match=r"shape \(64,\) but the .tflite model expects \(8, 8, 1\)"):
        reference_outputs(tflite, x.reshape(len(x), 64))


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_tflm_outputs_track_float_model(trained):
    model, ds, tflite, x = trained
    outputs = reference_outputs(tflite, x, backend="tflm")
    assert outputs.shape == (450, 10) and outputs.dtype == np.int8
    int8_accuracy = accuracy_from_outputs(outputs, ds.y_test)
    assert abs(int8_accuracy - evaluate(model, ds.x_test, ds.y_test)) < 0.03


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_tflm_and_litert_reference_agree(trained):
    _, _, tflite, x = trained
    tflm = reference_outputs(tflite, x[:200], backend="tflm").astype(np.int16)
    litert = reference_outputs(tflite, x[:200], backend="litert").astype(np.int16)
    assert tflm.shape == litert.shape == (200, 10)
    # LiteRT's reference FULLY_CONNECTED requantizes with single rounding, TFLM with double
    # rounding: they may differ by 1 on rare outputs, never by more.
    assert np.abs(tflm - litert).max() <= 1
    assert np.count_nonzero(tflm != litert) <= 0.01 * tflm.size


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_tflm_is_deterministic_per_sample(trained):
    _, _, tflite, x = trained
    together = reference_outputs(tflite, x[:10])
    one_by_one = np.concatenate([reference_outputs(tflite, x[i:i + 1]) for i in range(10)])
    np.testing.assert_array_equal(together, one_by_one)


@pytest.mark.convert
@pytest.mark.slow
def test_tflm_reference_runs_a_model_whose_activations_outgrow_the_default_arena(to_int8):
    """One depthwise 3x3 layer on 48x48x16: 144 weights, 46 KB of activations, more than the
    tflite_micro package's default arena (ten times the model's bytes); the runner grows it."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((48, 48, 16))
    model = keras.Model(inp, keras.layers.DepthwiseConv2D(3, strides=2, padding="same")(inp))
    x = np.random.default_rng(0).normal(size=(9, 48, 48, 16)).astype(np.float32)
    tflite = to_int8(model, x[:8])
    assert 10 * len(tflite) < 48 * 48 * 16 + 24 * 24 * 16
    x_int8 = quantize_input(x[8:], *input_quantization(tflite))
    tflm = reference_outputs(tflite, x_int8, backend="tflm")
    assert tflm.shape == (1, 24, 24, 16) and tflm.dtype == np.int8
    np.testing.assert_array_equal(tflm, reference_outputs(tflite, x_int8, backend="litert"))
