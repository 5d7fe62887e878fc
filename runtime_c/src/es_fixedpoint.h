/* Integer requantization arithmetic, bit-exact with TFLite's reference kernels
 * (tensorflow/lite/kernels/internal/common.h and gemmlowp fixedpoint), default
 * double-rounding MultiplyByQuantizedMultiplier. Internal to the runtime. */
#ifndef ES_FIXEDPOINT_H
#define ES_FIXEDPOINT_H

#include <stdint.h>

#if defined(__GNUC__)
#define ES_INLINE static inline __attribute__((always_inline))
#else
#define ES_INLINE static inline
#endif

/* Wrapping add/sub: gemmlowp's int32 fixed-point Add/Sub wrap; signed overflow in C is UB. */
ES_INLINE int32_t es_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

ES_INLINE int32_t es_wrap_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

ES_INLINE int32_t es_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    {
        const int64_t ab = (int64_t)a * (int64_t)b;
        const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
        return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    }
}

/* Arithmetic right shift with round-half-away-from-zero; exponent in [0, 31]. Right shift
 * of a negative value is arithmetic on every compiler this runtime supports (gcc, clang). */
ES_INLINE int32_t es_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: shift > 0 is a left shift, shift <= 0 a rounding right shift.
 * multiplier must be >= 0 (es_model_init checks), so SRDHM's one saturating case
 * (INT32_MIN * INT32_MIN) cannot occur and SRDHM is exactly (x * m + 2^30) >> 31: gemmlowp
 * nudges negative products by 1 - 2^30 and truncates toward zero, which for a negative
 * numerator equals flooring (x * m + 2^30) / 2^31. One 64-bit multiply-accumulate and a
 * shift instead of a 64-bit division. */
ES_INLINE int32_t es_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift <= -2) {
        /* The common case, a right shift rs >= 2, in one 64-bit multiply-accumulate. With
         * R = x * m + 2^30, SRDHM is v = floor(R / 2^31) and the rounding shift is
         * floor((v + 2^(rs-1) - [v < 0]) / 2^rs); nested floors combine, so the result is
         * floor((R + 2^(30+rs) - [R < 0] * 2^31) / 2^(31+rs)): the high word of
         * q = R + 2^(30+rs) (less 2^31 when R < 0, i.e. when q's high word is below
         * 2^(rs-2)), shifted right by rs - 1. */
        const int rs = (int)-shift;
        const uint32_t k = 1u << (rs - 2);
        int64_t q = (int64_t)(((uint64_t)k << 32) | (1u << 30)) + (int64_t)x * multiplier;
        if ((int32_t)(q >> 32) < (int32_t)k) {
            q -= (int64_t)1 << 31;
        }
        return (int32_t)(q >> 32) >> (rs - 1);
    }
    {
    const int left_shift = shift > 0 ? (int)shift : 0;
    const int right_shift = shift > 0 ? 0 : (int)-shift;
    const int64_t ab = (int64_t)(int32_t)((uint32_t)x << left_shift) * multiplier;
    return es_rounding_divide_by_pot((int32_t)((ab + ((int64_t)1 << 30)) >> 31), right_shift);
    }
}

ES_INLINE int32_t es_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* clamp(requantize(x) + zero_point, lo, hi) for int8 zero_point, lo and hi (es_model_init
 * checks), computed as clamp(requantize(x), lo - zero_point, hi - zero_point) + zero_point:
 * the same value, without the signed overflow of the plain sum when requantize(x) lies
 * within 128 of INT32_MAX or INT32_MIN. */
ES_INLINE int32_t es_requantize_clamp(int32_t x, int32_t multiplier, int32_t shift,
                                      int32_t zero_point, int32_t lo, int32_t hi)
{
    return es_clamp(es_requantize(x, multiplier, shift), lo - zero_point, hi - zero_point) +
           zero_point;
}

/* es_requantize_clamp of four accumulators of one channel (one multiplier and shift, e.g. four
 * output pixels): the shift's case and its constants are worked out once, and y is updated in
 * place before the caller stores anything, so no store can force the channel's parameters to
 * be reloaded. Same results as four es_requantize_clamp calls. */
ES_INLINE void es_requantize_clamp4(int32_t y[4], int32_t multiplier, int32_t shift, int32_t zero_point,
                                    int32_t lo, int32_t hi)
{
    int i;
    lo -= zero_point;
    hi -= zero_point;
    if (shift <= -2) {
        const int rs = (int)-shift;
        const uint32_t k = 1u << (rs - 2);
        const int64_t base = (int64_t)(((uint64_t)k << 32) | (1u << 30));
        if (lo + zero_point == -128 && hi + zero_point == 127) {
            /* the whole int8 range (no activation, or a ReLU whose zero point is -128): one
             * saturation after adding the zero point (|value| <= 2^30, so no overflow), which
             * compilers emit as SSAT */
            for (i = 0; i < 4; ++i) {
                int64_t q = base + (int64_t)y[i] * multiplier;
                if ((int32_t)(q >> 32) < (int32_t)k) {
                    q -= (int64_t)1 << 31;
                }
                y[i] = es_clamp(((int32_t)(q >> 32) >> (rs - 1)) + zero_point, -128, 127);
            }
            return;
        }
        for (i = 0; i < 4; ++i) {
            int64_t q = base + (int64_t)y[i] * multiplier;
            if ((int32_t)(q >> 32) < (int32_t)k) {
                q -= (int64_t)1 << 31;
            }
            y[i] = es_clamp((int32_t)(q >> 32) >> (rs - 1), lo, hi) + zero_point;
        }
    } else {
        for (i = 0; i < 4; ++i) {
            y[i] = es_clamp(es_requantize(y[i], multiplier, shift), lo, hi) + zero_point;
        }
    }
}

#endif /* ES_FIXEDPOINT_H */
