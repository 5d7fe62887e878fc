/* The float32 boundary of a model converted with float input or output: QUANTIZE float32 ->
 * int8 and DEQUANTIZE int8 -> float32, bit-exact with TFLM's reference kernels (AffineQuantize,
 * Dequantize). Only IEEE single-precision division and multiplication are used, which are
 * correctly rounded on every target (FPU, soft-float and host SSE alike). */
#include "es_kernels.h"
#include "es_registry.h"

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

/* count elements on both sides, a positive finite scale */
static es_status_t es_affine_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_affine_params_t *p = (const es_affine_params_t *)params;
    const uint32_t in_size = in->type == ES_TYPE_FLOAT32 ? 4u : 1u;
    const uint32_t out_size = out->type == ES_TYPE_FLOAT32 ? 4u : 1u;
    (void)c;
    (void)l;
    (void)in2;
    if ((uint64_t)p->count * in_size != in->bytes || (uint64_t)p->count * out_size != out->bytes) {
        return ES_ERR_SHAPE;
    }
    if (!es_int8_ok(p->zero_point) || !(p->scale > 0.0f && p->scale <= 3.4028234e38f)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static void es_quantize_f32_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_quantize_f32_s8((const es_affine_params_t *)params,
                       (const float *)(const void *)es_layer_input(m, l), es_layer_output(m, l));
}

static void es_dequantize_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_dequantize_s8_f32((const es_affine_params_t *)params, es_layer_input(m, l),
                         (float *)(void *)es_layer_output(m, l));
}

const es_op_entry_t es_op_quantize_f32 = {
    ES_OP_QUANTIZE, ES_VARIANT_QUANTIZE_F32, ES_OPF_FLOAT_IN, sizeof(es_affine_params_t), es_affine_check, es_quantize_f32_eval, 0, 0,
};

const es_op_entry_t es_op_dequantize = {
    ES_OP_DEQUANTIZE, ES_VARIANT_DEFAULT, ES_OPF_FLOAT_OUT, sizeof(es_affine_params_t), es_affine_check, es_dequantize_eval, 0, 0,
};
