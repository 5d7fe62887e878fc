/* REDUCE_MAX int8 as TFLM's reduce kernel (reference_ops::ReduceGeneric with the max reducer,
 * every output starting at -128): the largest raw value over the reduced dims. TFLM requires
 * input and output to share scale and zero point for int8, so nothing is requantized. */
#include "es_registry.h"

/* One pass over the input in order: element (i0, i1, i2, i3) updates output element
 * sum(i_d * ost[d]), ost[d] being the output stride of a kept dim and 0 for a reduced one. */
static void es_reduce_max_s8(const es_reduce_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t ost[ES_MAX_DIMS];
    uint32_t d, i, i0, i1, i2, i3;
    uint32_t out_count = 1u;
    const uint32_t inner = p->in_dims[3];
    for (d = ES_MAX_DIMS; d-- > 0u;) {
        ost[d] = p->reduce[d] ? 0u : out_count;
        out_count *= p->reduce[d] ? 1u : p->in_dims[d];
    }
    for (i = 0; i < out_count; ++i) {
        output[i] = -128;
    }
    for (i0 = 0; i0 < p->in_dims[0]; ++i0) {
        for (i1 = 0; i1 < p->in_dims[1]; ++i1) {
            for (i2 = 0; i2 < p->in_dims[2]; ++i2) {
                int8_t *o = output + i0 * ost[0] + i1 * ost[1] + i2 * ost[2];
                if (ost[3] == 0u) { /* the innermost dim reduced: one output for the row */
                    int8_t m = *o;
                    for (i3 = 0; i3 < inner; ++i3) {
                        m = input[i3] > m ? input[i3] : m;
                    }
                    *o = m;
                } else { /* kept: the row updates as many consecutive outputs */
                    for (i3 = 0; i3 < inner; ++i3) {
                        o[i3] = input[i3] > o[i3] ? input[i3] : o[i3];
                    }
                }
                input += inner;
            }
        }
    }
}

static es_status_t es_reduce_max_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_reduce_params_t *p = (const es_reduce_params_t *)params;
    uint64_t kept = 1;
    uint32_t d;
    (void)c;
    (void)l;
    (void)in2;
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if (p->reduce[d] > 1u || p->in_dims[d] == 0u) {
            return ES_ERR_SHAPE;
        }
        kept *= p->reduce[d] ? 1u : p->in_dims[d];
    }
    if (es_dims_count(p->in_dims) != in->bytes || kept != out->bytes) {
        return ES_ERR_SHAPE;
    }
    /* values are copied, not requantized */
    return in->zero_point == out->zero_point ? ES_OK : ES_ERR_QUANT;
}

static void es_reduce_max_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_reduce_max_s8((const es_reduce_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_reduce_max = {
    ES_OP_REDUCE_MAX, ES_VARIANT_DEFAULT, 0u, sizeof(es_reduce_params_t), es_reduce_max_check,
    es_reduce_max_eval, 0, 0,
};
