/* STRIDED_SLICE int8 (TFLite reference_ops::StridedSlice, resolved offline to 4-D begin and
 * positive strides). */
#include "es_kernels.h"
#include "es_registry.h"

void es_strided_slice_s8(const es_slice_params_t *p, const int8_t *input, int8_t *output)
{
    const uint32_t s2 = p->in_dims[3], s1 = s2 * p->in_dims[2], s0 = s1 * p->in_dims[1];
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        const int8_t *a = input + (p->begin[0] + i0 * p->strides[0]) * s0;
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            const int8_t *b = a + (p->begin[1] + i1 * p->strides[1]) * s1;
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *c = b + (p->begin[2] + i2 * p->strides[2]) * s2 + p->begin[3];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    *output++ = c[i3 * p->strides[3]];
                }
            }
        }
    }
}

static es_status_t es_strided_slice_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_slice_params_t *p = (const es_slice_params_t *)params;
    uint32_t d;
    (void)c;
    (void)l;
    (void)in2;
    if (es_dims_count(p->in_dims) != in->bytes || es_dims_count(p->out_dims) != out->bytes) {
        return ES_ERR_SHAPE;
    }
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if (p->strides[d] == 0 ||
            (uint64_t)p->begin[d] + (uint64_t)(p->out_dims[d] - 1u) * p->strides[d] >= p->in_dims[d]) {
            return ES_ERR_SHAPE;
        }
    }
    return ES_OK;
}

static void es_strided_slice_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_strided_slice_s8((const es_slice_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_strided_slice = {
    ES_OP_STRIDED_SLICE, ES_VARIANT_DEFAULT, 0u, sizeof(es_slice_params_t), es_strided_slice_check, es_strided_slice_eval, 0, 0,
};
