/* ADD and SUB int8 with broadcasting (TFLite reference_integer_ops::BroadcastAdd*Slow,
 * reference_ops::BroadcastQuantSubSlow): es_add_s8's arithmetic, each input addressed through
 * its strides (0 along a broadcast dim); SUB takes the difference of the two scaled inputs
 * where ADD takes their sum (not ADD of a negated input: the rounding is not symmetric). */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

static void es_add_sub_broadcast(const es_add_broadcast_params_t *p, const int8_t *input1,
                                 const int8_t *input2, int8_t *output, int subtract)
{
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *x1 = input1 + i0 * p->in1_strides[0] + i1 * p->in1_strides[1] +
                                   i2 * p->in1_strides[2];
                const int8_t *x2 = input2 + i0 * p->in2_strides[0] + i1 * p->in2_strides[1] +
                                   i2 * p->in2_strides[2];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    const int32_t a = (int32_t)((uint32_t)(x1[i3 * p->in1_strides[3]] + p->input1_offset)
                                                << p->left_shift);
                    const int32_t b = (int32_t)((uint32_t)(x2[i3 * p->in2_strides[3]] + p->input2_offset)
                                                << p->left_shift);
                    const int32_t sa = es_requantize(a, p->input1_multiplier, p->input1_shift);
                    const int32_t sb = es_requantize(b, p->input2_multiplier, p->input2_shift);
                    const int32_t sum = subtract ? sa - sb : sa + sb;
                    *output++ = (int8_t)es_requantize_clamp(sum, p->output_multiplier, p->output_shift,
                                                            p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

void es_add_broadcast_s8(const es_add_broadcast_params_t *p, const int8_t *input1, const int8_t *input2,
                         int8_t *output)
{
    es_add_sub_broadcast(p, input1, input2, output, 0);
}

void es_sub_broadcast_s8(const es_add_broadcast_params_t *p, const int8_t *input1, const int8_t *input2,
                         int8_t *output)
{
    es_add_sub_broadcast(p, input1, input2, output, 1);
}

static es_status_t es_add_broadcast_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_add_broadcast_params_t *p = (const es_add_broadcast_params_t *)params;
    (void)c;
    (void)l;
    if (es_dims_count(p->out_dims) != out->bytes || !es_broadcast_ok(p->out_dims, p->in1_strides, in) ||
        !es_broadcast_ok(p->out_dims, p->in2_strides, in2) ||
        !es_in_place_strides_ok(p->out_dims, p->in1_strides, in, out)) {
        return ES_ERR_SHAPE;
    }
    if (p->left_shift < 0 || p->left_shift > 20 || p->input1_multiplier < 0 || p->input1_shift > 0 ||
        p->input1_shift < -31 || p->input2_multiplier < 0 || p->input2_shift > 0 ||
        p->input2_shift < -31 || p->output_multiplier < 0 || p->output_shift > 0 ||
        p->output_shift < -31 || !es_input_offset_ok(p->input1_offset) ||
        !es_input_offset_ok(p->input2_offset) || !es_int8_ok(p->output_offset) ||
        !es_int8_range_ok(p->act_min, p->act_max)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static void es_add_broadcast_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_add_broadcast_s8((const es_add_broadcast_params_t *)params, es_layer_input(m, l),
                        es_layer_input2(m, l), es_layer_output(m, l));
}

static void es_sub_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_sub_broadcast_s8((const es_add_broadcast_params_t *)params, es_layer_input(m, l),
                        es_layer_input2(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_add_broadcast = {
    ES_OP_ADD, ES_VARIANT_ADD_BROADCAST, ES_OPF_INPUT2 | ES_OPF_IN_PLACE | ES_OPF_CONST2, sizeof(es_add_broadcast_params_t), es_add_broadcast_check, es_add_broadcast_eval, 0, 0,
};

const es_op_entry_t es_op_sub = {
    ES_OP_SUB, ES_VARIANT_DEFAULT, ES_OPF_INPUT2 | ES_OPF_IN_PLACE | ES_OPF_CONST2, sizeof(es_add_broadcast_params_t), es_add_broadcast_check, es_sub_eval, 0, 0,
};
