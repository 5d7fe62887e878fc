/* MAXIMUM / MINIMUM int8 with broadcasting (TFLite reference_ops::MaximumMinimumBroadcastSlow):
 * the raw values compared, inputs and output sharing one quantization. */
#include "es_kernels.h"
#include "es_registry.h"

void es_maximum_minimum_s8(const es_minmax_params_t *p, int is_max, const int8_t *input1,
                           const int8_t *input2, int8_t *output)
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
                    const int8_t x = a[i3 * p->in1_strides[3]];
                    const int8_t y = b[i3 * p->in2_strides[3]];
                    *output++ = (is_max ? x > y : x < y) ? x : y;
                }
            }
        }
    }
}

static es_status_t es_minmax_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_minmax_params_t *p = (const es_minmax_params_t *)params;
    (void)c;
    (void)l;
    if (es_dims_count(p->out_dims) != out->bytes || !es_broadcast_ok(p->out_dims, p->in1_strides, in) ||
        !es_broadcast_ok(p->out_dims, p->in2_strides, in2) ||
        !es_in_place_strides_ok(p->out_dims, p->in1_strides, in, out)) {
        return ES_ERR_SHAPE;
    }
    return (in->zero_point == out->zero_point && in2->zero_point == out->zero_point) ? ES_OK : ES_ERR_QUANT;
}

static void es_maximum_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_maximum_minimum_s8((const es_minmax_params_t *)params, 1, es_layer_input(m, l),
                          es_layer_input2(m, l), es_layer_output(m, l));
}

static void es_minimum_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_maximum_minimum_s8((const es_minmax_params_t *)params, 0, es_layer_input(m, l),
                          es_layer_input2(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_maximum = {
    ES_OP_MAXIMUM, ES_VARIANT_DEFAULT, ES_OPF_INPUT2 | ES_OPF_IN_PLACE | ES_OPF_CONST2, sizeof(es_minmax_params_t), es_minmax_check, es_maximum_eval, 0, 0,
};

const es_op_entry_t es_op_minimum = {
    ES_OP_MINIMUM, ES_VARIANT_DEFAULT, ES_OPF_INPUT2 | ES_OPF_IN_PLACE | ES_OPF_CONST2, sizeof(es_minmax_params_t), es_minmax_check, es_minimum_eval, 0, 0,
};
