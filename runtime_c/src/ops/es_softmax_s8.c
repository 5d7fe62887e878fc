/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128): TFLite's reference_ops::Softmax
 * for quantized types, with gemmlowp's fixed-point exp and reciprocal. Raw int32 values carry
 * the integer-bit count in their names: f0 (Q0.31), f2 (Q2.29), f5 (Q5.26), f12 (Q12.19). */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent. */
static int32_t es_sat_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t es_exp_on_interval_f0(int32_t a_f0)
{
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = es_wrap_add(a_f0, 1 << 28); /* Taylor expansion around -1/8 */
    const int32_t x2 = es_srdhm(x, x);
    const int32_t x3 = es_srdhm(x2, x);
    const int32_t x4 = es_srdhm(x2, x2);
    const int32_t x4_over_4 = es_rounding_divide_by_pot(x4, 2);
    const int32_t poly = es_rounding_divide_by_pot(
        es_wrap_add(es_srdhm(es_wrap_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return es_wrap_add(constant_term, es_srdhm(constant_term, es_wrap_add(x, poly)));
}

/* exp(a) for a <= 0, a in Q5.26, result in Q0.31. */
static int32_t es_exp_on_negative_values_f5(int32_t a_f5)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535,   720401,     242};
    const int32_t one_quarter = 1 << 24;
    const int32_t mask = one_quarter - 1; /* gemmlowp FromScalar(1) is raw 1: a mod 1/4 */
    const int32_t a_mod_quarter_minus_one_quarter = es_wrap_sub(a_f5 & mask, one_quarter);
    const int32_t remainder = es_wrap_sub(a_mod_quarter_minus_one_quarter, a_f5);
    int32_t result = es_exp_on_interval_f0(es_sat_shift_left(a_mod_quarter_minus_one_quarter, 5));
    int e;
    for (e = 0; e < 7; ++e) { /* exponents -2 .. +4: bit 26 + exponent of the remainder */
        if (remainder & (int32_t)(1u << (24 + e))) {
            result = es_srdhm(result, multipliers[e]);
        }
    }
    return a_f5 == 0 ? INT32_MAX : result;
}

static int es_count_leading_zeros(uint32_t x)
{
#if defined(__GNUC__)
    return x == 0 ? 32 : __builtin_clz(x);
#else
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps. */
static int32_t es_one_over_one_plus_x_f0(int32_t a_f0)
{
    const int64_t sum = (int64_t)a_f0 + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x_f2 = es_wrap_add(1515870810, es_srdhm(half_denominator, -1010580540)); /* 48/17 - 32/17 d */
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus_dx = es_wrap_sub(1 << 29, es_srdhm(half_denominator, x_f2));
        x_f2 = es_wrap_add(x_f2, es_sat_shift_left(es_srdhm(x_f2, one_minus_dx), 2));
    }
    return es_sat_shift_left(x_f2, 1);
}

void es_softmax_s8(const es_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t r, c;
    for (r = 0; r < p->outer; ++r) {
        const int8_t *x = input + r * p->depth;
        int8_t *y = output + r * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_f12 = 0;
        int32_t scale_f0;
        int headroom, bits_over_unit;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t diff_f5 = es_srdhm(
                    (int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
                sum_f12 = es_wrap_add(sum_f12,
                                      es_rounding_divide_by_pot(es_exp_on_negative_values_f5(diff_f5), 12));
            }
        }
        headroom = es_count_leading_zeros((uint32_t)sum_f12);
        /* depth <= 4096 (checked at init) keeps the sum from overflowing; past 256 classes
         * the shift could exceed 31, where TFLite's own shift is undefined: clamp it. */
        bits_over_unit = 12 - headroom;
        if (bits_over_unit + 31 - 8 > 31) {
            bits_over_unit = 8;
        }
        scale_f0 = es_one_over_one_plus_x_f0(
            (int32_t)(((uint32_t)sum_f12 << headroom) - (1u << 31)));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t diff_f5 = es_srdhm(
                    (int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier);
                const int32_t exp_f0 = es_exp_on_negative_values_f5(diff_f5);
                const int32_t unsat = es_rounding_divide_by_pot(es_srdhm(scale_f0, exp_f0),
                                                                bits_over_unit + 31 - 8);
                y[c] = (int8_t)es_clamp(unsat - 128, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}

static es_status_t es_softmax_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_softmax_params_t *p = (const es_softmax_params_t *)params;
    (void)c;
    (void)l;
    (void)in2;
    if (p->depth == 0 || p->depth > 4096 || (uint64_t)p->outer * p->depth != in->bytes ||
        in->bytes != out->bytes) {
        return ES_ERR_SHAPE;
    }
    return (p->input_left_shift < 0 || p->input_left_shift > 31 || p->diff_min > 0) ? ES_ERR_QUANT : ES_OK;
}

static void es_softmax_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_softmax_s8((const es_softmax_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_softmax = {
    ES_OP_SOFTMAX, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE, sizeof(es_softmax_params_t), es_softmax_check, es_softmax_eval, 0, 0,
};
