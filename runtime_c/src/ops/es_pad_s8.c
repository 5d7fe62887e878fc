/* PAD int8 (TFLite reference_ops::Pad): the padding holds the output zero point. */
#include "es_kernels.h"
#include "es_registry.h"

void es_pad_s8(const es_pad_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t n, h, w, c;
    const int8_t *in = input;
    for (n = 0; n < p->out_dims[0]; ++n) {
        const int in_n = n >= p->pad_before[0] && n - p->pad_before[0] < p->in_dims[0];
        for (h = 0; h < p->out_dims[1]; ++h) {
            const int in_h = in_n && h >= p->pad_before[1] && h - p->pad_before[1] < p->in_dims[1];
            for (w = 0; w < p->out_dims[2]; ++w) {
                const int in_w = in_h && w >= p->pad_before[2] && w - p->pad_before[2] < p->in_dims[2];
                for (c = 0; c < p->out_dims[3]; ++c) {
                    if (in_w && c >= p->pad_before[3] && c - p->pad_before[3] < p->in_dims[3]) {
                        *output++ = *in++; /* inside the input: its elements in order */
                    } else {
                        *output++ = (int8_t)p->pad_value;
                    }
                }
            }
        }
    }
}

static es_status_t es_pad_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_pad_params_t *p = (const es_pad_params_t *)params;
    uint32_t d;
    (void)c;
    (void)l;
    (void)in2;
    if (es_dims_count(p->in_dims) != in->bytes || es_dims_count(p->out_dims) != out->bytes) {
        return ES_ERR_SHAPE;
    }
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if ((uint32_t)p->in_dims[d] + p->pad_before[d] > p->out_dims[d]) {
            return ES_ERR_SHAPE;
        }
    }
    return es_int8_ok(p->pad_value) ? ES_OK : ES_ERR_QUANT;
}

static void es_pad_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_pad_s8((const es_pad_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_pad = {
    ES_OP_PAD, ES_VARIANT_DEFAULT, 0u, sizeof(es_pad_params_t), es_pad_check, es_pad_eval, 0, 0,
};
