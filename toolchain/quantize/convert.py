"""Full-integer (int8 in, int8 out) TFLite conversion with a representative dataset."""
from __future__ import annotations

import numpy as np

from toolchain.errors import DatasetError, InputFileError, ToolchainError

INT8_MIN = -128
INT8_MAX = 127


def to_int8_tflite(model, representative_x: np.ndarray, max_samples: int = 200,
                   per_tensor: bool = False, float_io: bool = False) -> bytes:
    """Convert a single-input keras.Model to a full-int8 .tflite flatbuffer.

    The graph has a fixed batch of 1, int8 input and output tensors and int8 builtin ops
    only (TF 2.21 quantizes CONV_2D and FULLY_CONNECTED weights per channel). Calibration
    uses the first `max_samples` samples of `representative_x` (float32, batch first,
    per-sample shape equal to the model's input shape), one at a time and in order, so the
    result is deterministic for a given model and data. per_tensor: one weight scale per
    tensor instead of per output channel, so a layer whose float weights take k values has
    at most k int8 values (weight sharing needs that). float_io: keep the input and output
    float32, as the converter does by default: the graph starts with QUANTIZE and ends with
    DEQUANTIZE, which the runtime runs too. Raises DatasetError for mismatching
    data and ToolchainError if the converter fails.
    """
    import tensorflow as tf

    if len(model.inputs) != 1:
        raise ToolchainError(f"model {model.name!r} has {len(model.inputs)} inputs; only 1 is supported")
    input_shape = tuple(model.inputs[0].shape[1:])
    samples = np.asarray(representative_x)
    if samples.ndim < 1 or tuple(samples.shape[1:]) != input_shape:
        raise DatasetError(
            f"representative data has samples of shape {tuple(samples.shape[1:])} "
            f"but model {model.name!r} expects {input_shape}"
        )
    if len(samples) == 0 or max_samples < 1:
        raise DatasetError("representative data is empty; int8 calibration needs at least 1 sample")
    samples = samples[:max_samples].astype(np.float32, copy=False)

    # Tracing with a [1, ...] signature bakes batch 1 into every tensor of the converted
    # graph, which the C runtime's static arena planning relies on.
    signature = tf.TensorSpec([1, *input_shape], tf.float32, name=model.inputs[0].name.split(":")[0])
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(signature)

    def representative_dataset():
        for sample in samples:
            yield [sample[np.newaxis, ...]]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if per_tensor:
        converter._experimental_disable_per_channel = True  # noqa: SLF001 (the converter's only switch)
    from toolchain.quiet import silenced

    try:
        with silenced():  # the MLIR converter logs from C++ to fd 2
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and plain RuntimeErrors
        raise ToolchainError(f"int8 conversion of model {model.name!r} failed: {exc}") from exc


def input_quantization(tflite_bytes: bytes) -> tuple[float, int]:
    """(scale, zero_point) of the first input tensor of an int8 .tflite model.

    Raises InputFileError if the model's input is not per-tensor quantized int8.
    """
    from toolchain.quantize.litert import litert_interpreter

    detail = litert_interpreter(tflite_bytes).get_input_details()[0]
    if detail["dtype"] != np.int8:
        raise InputFileError(
            f"input tensor {detail['name']!r} has dtype {np.dtype(detail['dtype']).name}; expected int8"
        )
    scales = detail["quantization_parameters"]["scales"]
    zero_points = detail["quantization_parameters"]["zero_points"]
    if len(scales) != 1:
        raise InputFileError(
            f"input tensor {detail['name']!r} has {len(scales)} quantization scales; expected 1 (per-tensor)"
        )
    return float(scales[0]), int(zero_points[0])


def quantize_input(x_float: np.ndarray, scale: float, zp: int) -> np.ndarray:
    """Quantize real values to int8: clip(round(x / scale) + zp, -128, 127).

    Rounding is half away from zero, as TFLite's QUANTIZE reference kernel (TfLiteRound).
    The division is done in float32, like the kernel's float arithmetic.
    """
    if scale <= 0:
        raise ToolchainError(f"input scale must be positive, got {scale}")
    scaled = np.asarray(x_float, dtype=np.float32) / np.float32(scale)
    rounded = np.round(scaled)
    # np.round breaks ties to even; std::round (TfLiteRound) breaks them away from zero.
    truncated = np.trunc(scaled)
    ties = np.abs(scaled - truncated) == 0.5
    rounded = np.where(ties, truncated + np.sign(scaled), rounded)
    return np.clip(rounded + zp, INT8_MIN, INT8_MAX).astype(np.int8)
