"""256-entry tables for the int8 elementwise ops whose output depends on one input byte only
(LOGISTIC, TANH, QUANTIZE int8 -> int8), computed offline with TFLM's own integer arithmetic.

TFLM evaluates these ops per element in Eval (reference_integer_ops::Logistic / Tanh with
gemmlowp's fixed-point logistic and tanh, reference_ops::Requantize); an int8 input takes 256
values, so running the same arithmetic on every one of them here gives a table the runtime
reads instead, byte for byte the same. Plain Python integers, emulating int32 wrap-around and
saturation where gemmlowp has them. No TensorFlow import.
"""
from __future__ import annotations

import math

import numpy as np

from toolchain.quantize.requant import quantize_multiplier, tflite_round

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _wrap(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def _trunc_div(n: int, d: int) -> int:
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    return _trunc_div(ab + (2**30 if ab >= 0 else 1 - 2**30), 2**31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def _saturating_shift_left(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT for exponent > 0."""
    threshold = (1 << (31 - exponent)) - 1
    return INT32_MAX if x > threshold else INT32_MIN if x < -threshold else x << exponent


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (double rounding), int32 x."""
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(srdhm(_wrap(x << left), multiplier), right)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    constant_term, constant_1_over_3 = 1895147668, 715827883
    x = _wrap(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(_wrap(srdhm(_wrap(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return _wrap(constant_term + srdhm(constant_term, _wrap(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """gemmlowp exp_on_negative_values: a <= 0 with integer_bits (<= 5) integer bits -> Q0.31."""
    fractional = 31 - integer_bits
    one_quarter = 1 << (fractional - 2)
    a_mod_quarter_minus_one_quarter = _wrap((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _saturating_shift_left(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = _wrap(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional + exponent)):
            result = srdhm(result, multiplier)
    return INT32_MAX if a == 0 else result


def _newton_raphson_reciprocal_f2(a: int) -> int:
    """x ~ 1 / ((1 + a) / 2) in Q2.29 for a in [0, 1) (Q0.31): gemmlowp's three NR steps."""
    s = a + INT32_MAX
    half_denominator = _trunc_div(s + (1 if s >= 0 else -1), 2)
    x = _wrap(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus_half_denominator_times_x = _wrap((1 << 29) - srdhm(half_denominator, x))
        x = _wrap(x + _saturating_shift_left(srdhm(x, one_minus_half_denominator_times_x), 2))
    return x


def gemmlowp_logistic(a: int, integer_bits: int = 4) -> int:
    """gemmlowp logistic of a raw fixed-point value with integer_bits integer bits -> Q0.31."""
    if a == 0:
        return 1 << 30
    exp = exp_on_negative_values(_wrap(-abs(a)), integer_bits)
    positive = _saturating_shift_left(_newton_raphson_reciprocal_f2(exp), 1)
    return positive if a > 0 else _wrap(INT32_MAX - positive)


def gemmlowp_tanh(a: int, integer_bits: int = 4) -> int:
    """gemmlowp tanh -> Q0.31; exp of 2a reads the same raw value with one more integer bit."""
    if a == 0:
        return 0
    n = a if a < 0 else _wrap(-a)
    exp = exp_on_negative_values(n, integer_bits + 1)
    t = _saturating_shift_left(_wrap(_newton_raphson_reciprocal_f2(exp) - (1 << 29)), 2)
    return _wrap(-t) if a < 0 else t


_INPUT_INTEGER_BITS = 4


def _input_rescale(input_scale: float) -> tuple[int, int, int]:
    """TFLM's int8 LOGISTIC / TANH Prepare: (multiplier, left shift, input range radius) taking
    input - zero point to Q4.27."""
    real = float(np.float32(input_scale)) * float(1 << (31 - _INPUT_INTEGER_BITS))
    q, shift = math.frexp(real)
    multiplier = tflite_round(q * (1 << 31))
    if not 0 <= shift <= 30 or multiplier > INT32_MAX:
        raise ValueError(f"input scale {input_scale} is outside what the int8 kernel handles")
    radius = math.floor(((1 << _INPUT_INTEGER_BITS) - 1) * (1 << (31 - _INPUT_INTEGER_BITS))
                        / (1 << shift))
    return multiplier, shift, radius


def _table(fn) -> np.ndarray:
    return np.array([fn(q) for q in range(-128, 128)], dtype=np.int8)


def _activation_table(input_scale: float, input_zero_point: int, fn, output_bits: int,
                      output_offset: int) -> np.ndarray:
    """Saturate outside the radius, else fn of the rescaled input (Q0.31 result), rounded to
    output_bits fractional bits and shifted by output_offset (the output zero point)."""
    multiplier, shift, radius = _input_rescale(input_scale)

    def one(q: int) -> int:
        x = q - input_zero_point
        if x <= -radius:
            return -128
        if x >= radius:
            return 127
        y = fn(multiply_by_quantized_multiplier(x, multiplier, shift))
        return min(max(rounding_divide_by_pot(y, 31 - output_bits) + output_offset, -128), 127)

    return _table(one)


def logistic_table(input_scale: float, input_zero_point: int) -> np.ndarray:
    """int8 LOGISTIC output for inputs -128..127 (reference_integer_ops::Logistic; output
    scale 1/256, zero point -128)."""
    return _activation_table(input_scale, input_zero_point, gemmlowp_logistic, 8, -128)


def tanh_table(input_scale: float, input_zero_point: int) -> np.ndarray:
    """int8 TANH output for inputs -128..127 (reference_integer_ops::Tanh; output scale 1/128,
    zero point 0)."""
    return _activation_table(input_scale, input_zero_point, gemmlowp_tanh, 7, 0)


def leaky_relu_table(input_scale: float, input_zero_point: int, output_scale: float,
                     output_zero_point: int, alpha: float) -> np.ndarray:
    """LEAKY_RELU output for inputs -128..127 (TFLM's QuantizeLeakyRelu: x - zero point scaled
    by input_scale / output_scale when >= 0, by input_scale * alpha / output_scale below; both
    multipliers computed in float, as its Prepare does, then widened to double)."""
    s_in, s_out, a = np.float32(input_scale), np.float32(output_scale), np.float32(alpha)
    m_alpha, sh_alpha = quantize_multiplier(float(np.float32(np.float32(s_in * a) / s_out)))
    m_id, sh_id = quantize_multiplier(float(np.float32(s_in / s_out)))

    def one(q: int) -> int:
        v = q - input_zero_point
        m, sh = (m_id, sh_id) if v >= 0 else (m_alpha, sh_alpha)
        return min(max(output_zero_point + multiply_by_quantized_multiplier(v, m, sh), -128), 127)

    return _table(one)


def requantize_table(input_scale: float, input_zero_point: int, output_scale: float,
                     output_zero_point: int) -> np.ndarray:
    """int8 -> int8 QUANTIZE output for inputs -128..127 (reference_ops::Requantize with the
    multiplier of input_scale / output_scale in double)."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) /
                                            float(np.float32(output_scale)))

    def one(q: int) -> int:
        y = multiply_by_quantized_multiplier(q - input_zero_point, multiplier, shift)
        return min(max(y + output_zero_point, -128), 127)

    return _table(one)


def _srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    if a == b == -(2**15):
        return 2**15 - 1
    ab = a * b
    return _wrap16(_trunc_div(ab + (2**14 if ab >= 0 else 1 - 2**14), 2**15))


def _wrap16(x: int) -> int:
    return (x + 2**15) % 2**16 - 2**15


def _saturate16(x: int) -> int:
    return min(max(x, -(2**15)), 2**15 - 1)


def _rounding_divide_by_pot16(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT on int16: the mask (1 << exponent) - 1 is cast to int16,
    so an exponent of 16 or more makes it -1 and rounds every x >= 0 up by one (TFLM's
    HARD_SWISH shows it when the output multiplier is tiny)."""
    mask = _wrap16((1 << exponent) - 1)
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return _wrap16((x >> exponent) + (1 if (x & mask) > threshold else 0))


def _downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: the Q31 multiplier rounded to Q15."""
    if multiplier >= INT32_MAX - (1 << 15):
        return 2**15 - 1
    return (multiplier + (1 << 15)) >> 16


def hard_swish_table(input_scale: float, input_zero_point: int, output_scale: float,
                     output_zero_point: int) -> np.ndarray:
    """HARD_SWISH output for inputs -128..127 (TFLM's HardSwishPrepare and
    reference_ops::HardSwish: int16 fixed point, the input on a scale 128 times finer, a
    "reluish" factor in [0, 1] from the input on the scale where 3.0 is 32768, multiplied with
    the input by a truncating doubling high multiply, then shifted to the output scale). The
    scales combine in float32, as its Prepare does."""
    s_in, s_out = np.float32(input_scale), np.float32(output_scale)
    hires = np.float32(np.float32(1.0 / 128.0) * s_in)
    out_m, out_e = quantize_multiplier(float(np.float32(hires / s_out)))
    relu_m, relu_e = quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    if out_e > 0:
        raise ValueError(f"output scale {output_scale:.3g} is below input scale / 128 "
                         f"({input_scale:.3g} / 128): TFLM's HARD_SWISH refuses that")
    out_m16, relu_m16 = _downscale_to_int16(out_m), _downscale_to_int16(relu_m)

    def one(q: int) -> int:
        hires_v = _wrap16((q - input_zero_point) * 128)
        preshift = _srdhm16(hires_v, out_m16)
        r = hires_v
        if relu_e > 0:
            r = _saturate16(r * (1 << (relu_e - 1)))
        r = _srdhm16(r, relu_m16)
        if relu_e > 0:
            r = _saturate16(r * 2)
        if relu_e < 0:
            r = _rounding_divide_by_pot16(r, -relu_e)
        r = _wrap16((r + (1 << 15)) >> 1)
        if r == preshift == -(2**15):
            prod = 2**15 - 1
        else:
            prod = _wrap16(_trunc_div(r * preshift, 2**15))
        out = _wrap16(_rounding_divide_by_pot16(prod, -out_e) + output_zero_point)
        return min(max(out, -128), 127)

    return _table(one)


def relu_table(input_scale: float, input_zero_point: int, output_scale: float,
               output_zero_point: int) -> np.ndarray:
    """Standalone RELU output for inputs -128..127 (TFLM's CalculateReluOpData and
    ReluQuantized: x - input zero point requantized by input_scale / output_scale in double,
    then clamped to [max(-128, output zero point), 127])."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) /
                                            float(np.float32(output_scale)))
    lo = max(-128, output_zero_point)

    def one(q: int) -> int:
        y = output_zero_point + multiply_by_quantized_multiplier(q - input_zero_point, multiplier, shift)
        return min(max(y, lo), 127)

    return _table(one)


def relu6_table(input_scale: float, input_zero_point: int) -> np.ndarray:
    """Standalone RELU6 output for inputs -128..127 (TFLM's Relu6Prepare and Relu6Quantized:
    the input clamped to [input zero point, quantized 6.0] on the input's own scale; TFLM
    ignores the output tensor's quantization, so the table does too). 6.0 is quantized as
    FloatToQuantizedType: round(6.0f / scale) + zero point, clamped to int8."""
    six = tflite_round(float(np.float32(6.0) / np.float32(input_scale))) + input_zero_point
    if not INT32_MIN <= six <= INT32_MAX:
        raise ValueError(f"input scale {input_scale:.3g} puts 6.0 outside int32: TFLM's RELU6 "
                         "converts it with undefined behaviour")
    six = min(max(six, -128), 127)
    return _table(lambda q: min(max(q, input_zero_point), six))
