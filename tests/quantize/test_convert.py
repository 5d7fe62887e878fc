import numpy as np
import pytest

from toolchain.errors import DatasetError, ToolchainError
from toolchain.models import build_model
from toolchain.quantize import input_quantization, quantize_input, to_int8_tflite
from toolchain.verify import litert_interpreter


def test_quantize_input_rounds_half_away_from_zero():
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49, -0.51, 0.0], dtype=np.float32)
    np.testing.assert_array_equal(quantize_input(x, 1.0, 0), [1, -1, 2, -2, 3, -3, 0, -1, 0])


def test_quantize_input_applies_scale_zero_point_and_clips():
    x = np.array([0.0, 0.25, 1.0, 2.0, -2.0], dtype=np.float32)
    q = quantize_input(x, 0.5 / 127, -128)
    assert q.dtype == np.int8
    # 0.25 / (0.5/127) = 63.5 -> 64 (half away from zero), then -128.
    np.testing.assert_array_equal(q, [-128, -64, 126, 127, -128])


def test_quantize_input_rejects_non_positive_scale():
    with pytest.raises(ToolchainError, match="input scale must be positive, got 0"):
        quantize_input(np.zeros(2), 0, 0)


@pytest.fixture
def digits_int8(cnn, digits, cnn_int8):
    return cnn, digits, cnn_int8


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_int8_tflite_has_int8_io_and_batch_1(digits_int8):
    _, _, tflite = digits_int8
    interpreter = litert_interpreter(tflite)
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"]) == [1, 8, 8, 1]
    assert list(out["shape"]) == [1, 10]
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert ops == {"CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_input_quantization_matches_data_range(digits_int8):
    _, _, tflite = digits_int8
    scale, zero_point = input_quantization(tflite)
    # The calibration inputs span [0, 1], so int8 -128..127 covers exactly that range.
    assert zero_point == -128
    assert scale == pytest.approx(1.0 / 255, rel=1e-6)


@pytest.mark.convert
@pytest.mark.train
@pytest.mark.slow
def test_conversion_is_deterministic(digits_int8):
    model, ds, tflite = digits_int8
    assert to_int8_tflite(model, ds.x_train, max_samples=100) == tflite


@pytest.mark.convert
@pytest.mark.slow
def test_mlp_converts_with_batch_1():
    model = build_model("mlp_300_100", (28, 28, 1), 10)
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    interpreter = litert_interpreter(to_int8_tflite(model, x))
    assert list(interpreter.get_input_details()[0]["shape"]) == [1, 28, 28, 1]
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert ops == {"RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}


def test_representative_shape_mismatch_names_shapes():
    model = build_model("mlp_300_100", (8, 8, 1), 10)
    with pytest.raises(DatasetError, match=r"shape \(28, 28, 1\) but model 'mlp_300_100' expects \(8, 8, 1\)"):
        to_int8_tflite(model, np.zeros((2, 28, 28, 1), np.float32))
