/* The float32 boundary of a model converted with float input or output: QUANTIZE float32 ->
 * int8 and DEQUANTIZE int8 -> float32, bit-exact with TFLM's reference kernels (AffineQuantize,
 * Dequantize). Only IEEE single-precision division and multiplication are used, which are
 * correctly rounded on every target (FPU, soft-float and host SSE alike). */
#include "es_kernels.h"

#define ES_AFFINE_LIMIT 1048576.0f /* 2^20: far outside int8 after adding any zero point */

/* round(v) half away from zero (TfLiteRound, std::round), saturated to +-2^20; NaN gives
 * the low end, as TFLM's conversion of NaN to int32 on the host does. */
static int32_t es_round_half_away(float v)
{
    int32_t t;
    float frac;
    if (!(v > -ES_AFFINE_LIMIT)) {
        return -1048576;
    }
    if (v > ES_AFFINE_LIMIT) {
        return 1048576;
    }
    t = (int32_t)v;          /* truncation towards zero */
    frac = v - (float)t;     /* exact: both lie below 2^21 and share their sign */
    if (frac >= 0.5f) {
        t += 1;
    } else if (frac <= -0.5f) {
        t -= 1;
    }
    return t;
}

void es_quantize_f32_s8(const es_affine_params_t *p, const float *input, int8_t *output)
{
    uint32_t i;
    for (i = 0; i < p->count; ++i) {
        int32_t q = es_round_half_away(input[i] / p->scale) + p->zero_point;
        output[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
}

void es_dequantize_s8_f32(const es_affine_params_t *p, const int8_t *input, float *output)
{
    uint32_t i;
    for (i = 0; i < p->count; ++i) {
        output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
    }
}
