"""Requantization parameters computed offline, exactly as TFLite / TFLM Prepare computes them.

Rounding rules and the float-vs-double order of operations matter for bit-exactness, so each
function names the TFLite routine it reproduces. No TensorFlow import: plain numpy/math.
"""
from __future__ import annotations

import math

import numpy as np


def tflite_round(x: float) -> int:
    """std::round / TfLiteRound: half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2**(shift - 31), q a Q31 value in [2**30, 2**31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if q_fixed > 0x7FFFFFFF:
        raise ValueError(f"multiplier {real} does not fit Q31")
    return q_fixed, shift


def conv_multipliers(input_scale: float, filter_scales, output_scale: float):
    """PopulateConvolutionQuantizationParams (conv, depthwise, per-channel FC): the product is
    taken in double from the float32 scales."""
    mults, shifts = [], []
    for fs in np.asarray(filter_scales, dtype=np.float32).ravel():
        real = float(np.float32(input_scale)) * float(fs) / float(np.float32(output_scale))
        m, s = quantize_multiplier(real)
        mults.append(m)
        shifts.append(s)
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)


def fc_per_tensor_multiplier(input_scale: float, filter_scale: float, output_scale: float):
    """GetQuantizedConvolutionMultipler (per-tensor FULLY_CONNECTED) as TFLM builds it: each
    float32 scale cast to double, then input * filter / output in double. (A float32 product
    first, as older TFLite did, differs in the multiplier's low bits: on the MLPerf Tiny AD
    autoencoder 9 of its 10 layers, and 1 output byte in 40,960.)"""
    product = float(np.float32(input_scale)) * float(np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (f / scale in float32, then round)."""

    def q(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    lo, hi = -128, 127
    if activation == "NONE":
        return lo, hi
    if activation == "RELU":
        return max(lo, q(0.0)), hi
    if activation == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    raise ValueError(f"fused activation {activation} is not supported")


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius: (input_multiplier, left_shift, diff_min)."""
    int_bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    real = min(float(beta) * float(np.float32(input_scale)) * (1 << (31 - int_bits)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)  # QuantizeMultiplierGreaterThanOne
    if shift < 0:
        raise ValueError(f"softmax input multiplier {real} is below one")
    radius = ((1 << int_bits) - 1) * (1 << (31 - int_bits)) / (1 << shift)
    diff_min = -int(math.floor(radius))
    return mult, shift, diff_min


ADD_LEFT_SHIFT = 20


def add_params(scale1: float, scale2: float, scale_out: float) -> dict:
    """CalculateOpDataAdd for int8."""
    s1, s2, so = (float(np.float32(s)) for s in (scale1, scale2, scale_out))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * so))
    return dict(left_shift=ADD_LEFT_SHIFT, input1_multiplier=m1, input1_shift=sh1,
                input2_multiplier=m2, input2_shift=sh2, output_multiplier=mo, output_shift=sho)


def sub_params(scale1: float, scale2: float, scale_out: float) -> dict:
    """CalculateOpDataSub for int8: ADD's formulas, but TFLM's SUB divides the scales in
    float before widening to double."""
    s1, s2, so = (np.float32(s) for s in (scale1, scale2, scale_out))
    twice_max = np.float32(2) * max(s1, s2)
    m1, sh1 = quantize_multiplier(float(np.float32(s1 / twice_max)))
    m2, sh2 = quantize_multiplier(float(np.float32(s2 / twice_max)))
    mo, sho = quantize_multiplier(float(np.float32(twice_max / (np.float32(1 << ADD_LEFT_SHIFT) * so))))
    return dict(left_shift=ADD_LEFT_SHIFT, input1_multiplier=m1, input1_shift=sh1,
                input2_multiplier=m2, input2_shift=sh2, output_multiplier=mo, output_shift=sho)


def compute_padding(in_size: int, filter_size: int, stride: int, dilation: int, padding: str):
    """(out_size, pad_before) as TFLite's ComputeOutSize / ComputePaddingHeightWidth."""
    eff = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out = (in_size - eff + stride) // stride
    else:
        raise ValueError(f"padding {padding} is not supported")
    total = max(0, (out - 1) * stride + eff - in_size)
    return out, total // 2
