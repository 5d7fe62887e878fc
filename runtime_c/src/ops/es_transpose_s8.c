/* TRANSPOSE int8 (TFLite reference_ops::Transpose): a gather through the permuted input
 * strides, resolved offline. */
#include "es_kernels.h"
#include "es_registry.h"

void es_transpose_s8(const es_transpose_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *a = input + i0 * p->in_strides[0] + i1 * p->in_strides[1] +
                                  i2 * p->in_strides[2];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    *output++ = a[i3 * p->in_strides[3]];
                }
            }
        }
    }
}

/* a pure data movement, one output byte per input byte, every gathered index inside the input */
static es_status_t es_transpose_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_transpose_params_t *p = (const es_transpose_params_t *)params;
    (void)c;
    (void)l;
    (void)in2;
    if (es_dims_count(p->out_dims) != out->bytes || in->bytes != out->bytes ||
        !es_broadcast_ok(p->out_dims, p->in_strides, in)) {
        return ES_ERR_SHAPE;
    }
    return in->zero_point == out->zero_point ? ES_OK : ES_ERR_QUANT;
}

static void es_transpose_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_transpose_s8((const es_transpose_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_transpose = {
    ES_OP_TRANSPOSE, ES_VARIANT_DEFAULT, 0u, sizeof(es_transpose_params_t), es_transpose_check, es_transpose_eval, 0, 0,
};
