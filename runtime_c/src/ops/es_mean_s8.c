/* MEAN int8 as TFLM's reduce kernel (reference_ops::QuantizedMeanOrSum): the int32 sum of
 * the reduced elements, requantized by a multiplier that folds in 1 / reduce_count. */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

void es_mean_s8(const es_mean_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t od[ES_MAX_DIMS], rd[ES_MAX_DIMS], st[ES_MAX_DIMS];
    uint32_t d, i0, i1, i2, i3, r0, r1, r2, r3;
    const int32_t n = (int32_t)p->reduce_count;
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        od[d] = p->reduce[d] ? 1u : p->in_dims[d];
        rd[d] = p->reduce[d] ? p->in_dims[d] : 1u;
    }
    st[3] = 1u;
    for (d = 3; d > 0; --d) {
        st[d - 1] = st[d] * p->in_dims[d];
    }
    for (i0 = 0; i0 < od[0]; ++i0) {
        for (i1 = 0; i1 < od[1]; ++i1) {
            for (i2 = 0; i2 < od[2]; ++i2) {
                for (i3 = 0; i3 < od[3]; ++i3) {
                    int32_t sum = 0;
                    for (r0 = 0; r0 < rd[0]; ++r0) {
                        for (r1 = 0; r1 < rd[1]; ++r1) {
                            for (r2 = 0; r2 < rd[2]; ++r2) {
                                const int8_t *row = input + (i0 + r0) * st[0] + (i1 + r1) * st[1] +
                                                    (i2 + r2) * st[2] + i3;
                                for (r3 = 0; r3 < rd[3]; ++r3) {
                                    sum += row[r3];
                                }
                            }
                        }
                    }
                    *output++ = (int8_t)es_requantize_clamp(sum - p->input_zero_point * n, p->multiplier,
                                                            p->shift, p->output_zero_point, -128, 127);
                }
            }
        }
    }
}

static es_status_t es_mean_check(const es_check_t *c, const es_layer_t *l, const void *params,
        const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_mean_params_t *p = (const es_mean_params_t *)params;
    uint64_t reduced = 1, kept = 1;
    uint32_t d;
    (void)c;
    (void)l;
    (void)in2;
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        if (p->reduce[d] > 1u) {
            return ES_ERR_SHAPE;
        }
        if (p->reduce[d]) {
            reduced *= p->in_dims[d];
        } else {
            kept *= p->in_dims[d];
        }
    }
    /* the int32 sum of reduce_count values x - zero point cannot overflow */
    if (es_dims_count(p->in_dims) != in->bytes || kept != out->bytes || reduced != p->reduce_count ||
        p->reduce_count == 0 || p->reduce_count > (uint32_t)INT32_MAX / 256u) {
        return ES_ERR_SHAPE;
    }
    if (!es_int8_ok(p->input_zero_point) || !es_int8_ok(p->output_zero_point) || p->multiplier < 0 ||
        p->shift < -31 || p->shift > 30) {
        return ES_ERR_QUANT;
    }
    return ES_OK;
}

static void es_mean_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_mean_s8((const es_mean_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_mean = {
    ES_OP_MEAN, ES_VARIANT_DEFAULT, 0u, sizeof(es_mean_params_t), es_mean_check, es_mean_eval, 0, 0,
};
