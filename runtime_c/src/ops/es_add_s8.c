/* ADD int8, same shapes (TFLite reference_integer_ops::Add with AddFunc). */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

/* Each input's scaled value depends on its int8 value alone: with enough elements, both inputs'
 * 256 scaled values are computed once per call (2 KB of stack) and the loop is two table loads,
 * one add and the output's requantization per element. */
#define ES_ADD_TABLE_MIN 1024u

void es_add_s8(const es_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    uint32_t i;
    if (p->count >= ES_ADD_TABLE_MIN) {
        int32_t t1[256], t2[256];
        const int32_t om = p->output_multiplier, os = p->output_shift, oz = p->output_offset;
        const int32_t lo = p->act_min, hi = p->act_max;
        int v;
        for (v = -128; v < 128; ++v) {
            t1[v + 128] = es_requantize((int32_t)((uint32_t)(v + p->input1_offset) << p->left_shift),
                                        p->input1_multiplier, p->input1_shift);
            t2[v + 128] = es_requantize((int32_t)((uint32_t)(v + p->input2_offset) << p->left_shift),
                                        p->input2_multiplier, p->input2_shift);
        }
        for (i = 0; i < p->count; ++i) {
            const int32_t sum = t1[input1[i] + 128] + t2[input2[i] + 128];
            output[i] = (int8_t)es_requantize_clamp(sum, om, os, oz, lo, hi);
        }
        return;
    }
    for (i = 0; i < p->count; ++i) {
        const int32_t a = (int32_t)((uint32_t)(input1[i] + p->input1_offset) << p->left_shift);
        const int32_t b = (int32_t)((uint32_t)(input2[i] + p->input2_offset) << p->left_shift);
        const int32_t sum = es_requantize(a, p->input1_multiplier, p->input1_shift) +
                            es_requantize(b, p->input2_multiplier, p->input2_shift);
        output[i] = (int8_t)es_requantize_clamp(sum, p->output_multiplier, p->output_shift,
                                                p->output_offset, p->act_min, p->act_max);
    }
}

static es_status_t es_add_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_add_params_t *p = (const es_add_params_t *)params;
    (void)c;
    (void)l;
    if (p->count != in->bytes || p->count != in2->bytes || p->count != out->bytes) {
        return ES_ERR_SHAPE;
    }
    if (p->left_shift < 0 || p->left_shift > 20 || p->input1_shift > 0 || p->input1_shift < -31 ||
        p->input2_shift > 0 || p->input2_shift < -31 || p->output_shift > 0 || p->output_shift < -31 ||
        !es_input_offset_ok(p->input1_offset) || !es_input_offset_ok(p->input2_offset) ||
        !es_int8_ok(p->output_offset) || !es_int8_range_ok(p->act_min, p->act_max)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static void es_add_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_add_s8((const es_add_params_t *)params, es_layer_input(m, l), es_layer_input2(m, l),
              es_layer_output(m, l));
}

const es_op_entry_t es_op_add = {
    ES_OP_ADD, ES_VARIANT_DEFAULT, ES_OPF_INPUT2 | ES_OPF_IN_PLACE, sizeof(es_add_params_t), es_add_check, es_add_eval, 0, 0,
};
