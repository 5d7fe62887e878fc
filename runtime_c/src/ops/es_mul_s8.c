/* MUL int8 with broadcasting (TFLite reference_integer_ops::Mul / BroadcastMul4DSlow):
 * clamp(requantize((x1 + offset1) * (x2 + offset2)) + output_offset). */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

void es_mul_s8(const es_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *a = input1 + i0 * p->in1_strides[0] + i1 * p->in1_strides[1] +
                                  i2 * p->in1_strides[2];
                const int8_t *b = input2 + i0 * p->in2_strides[0] + i1 * p->in2_strides[1] +
                                  i2 * p->in2_strides[2];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    const int32_t x = a[i3 * p->in1_strides[3]] + p->input1_offset;
                    const int32_t y = b[i3 * p->in2_strides[3]] + p->input2_offset;
                    *output++ = (int8_t)es_requantize_clamp(x * y, p->output_multiplier, p->output_shift,
                                                            p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

static es_status_t es_mul_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_mul_params_t *p = (const es_mul_params_t *)params;
    (void)c;
    (void)l;
    if (es_dims_count(p->out_dims) != out->bytes || !es_broadcast_ok(p->out_dims, p->in1_strides, in) ||
        !es_broadcast_ok(p->out_dims, p->in2_strides, in2) ||
        !es_in_place_strides_ok(p->out_dims, p->in1_strides, in, out)) {
        return ES_ERR_SHAPE;
    }
    if (!es_input_offset_ok(p->input1_offset) || !es_input_offset_ok(p->input2_offset) ||
        !es_int8_ok(p->output_offset) || p->output_multiplier < 0 || p->output_shift < -31 ||
        p->output_shift > 30 || !es_int8_range_ok(p->act_min, p->act_max)) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static void es_mul_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_mul_s8((const es_mul_params_t *)params, es_layer_input(m, l), es_layer_input2(m, l),
              es_layer_output(m, l));
}

const es_op_entry_t es_op_mul = {
    ES_OP_MUL, ES_VARIANT_DEFAULT, ES_OPF_INPUT2 | ES_OPF_IN_PLACE | ES_OPF_CONST2, sizeof(es_mul_params_t), es_mul_check, es_mul_eval, 0, 0,
};
