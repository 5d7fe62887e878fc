/* FULLY_CONNECTED in any weight format: one matrix-vector product per batch row. */
#include "es_kernels.h"
#include "es_registry.h"
#include "es_matvec.h"

void es_fully_connected_s8(const es_fc_params_t *p, const es_format_entry_t *f, const uint8_t *blob,
                           uint8_t *arena, const int8_t *input, int8_t *output, uint32_t layer_flags)
{
    const es_matvec_fn_t fn = f->matvec;
    es_matvec_t m;
    uint32_t b;
    m.rows = p->out_features;
    m.cols = p->in_features;
    f->bind(&m, blob, p->weights_offset, arena);
    m.bias = (layer_flags & ES_LAYER_BIAS_FOLD) != 0u
                 ? es_folded_bias(f, blob, p->weights_offset, arena, m.rows)
                 : (const int32_t *)(const void *)(blob + p->bias_offset);
    m.mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    m.shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    m.rq_mask = (layer_flags & ES_LAYER_RQ_PER_TENSOR) != 0u ? 0u : ~0u;
    m.output_zero_point = p->output_zero_point;
    m.act_min = p->act_min;
    m.act_max = p->act_max;
    m.scratch = (int8_t *)(arena + p->scratch_offset);
#if defined(ES_ROW_BY_ROW)
    m.rq_fast = 0u * layer_flags; /* tests: the row-by-row paths */
#else
    m.rq_fast = (layer_flags & ES_LAYER_RQ_WHOLE) != 0u ? 1u : 0u;
#endif
    for (b = 0; b < p->batches; ++b) {
        fn(&m, input + b * p->in_features, output + b * p->out_features);
    }
}

static es_status_t es_fc_check(const es_check_t *c, const es_layer_t *l, const void *params,
                               const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_fc_params_t *p = (const es_fc_params_t *)params;
    const es_format_entry_t *f;
    es_status_t st;
    const uint32_t rq_rows = (l->flags & ES_LAYER_RQ_PER_TENSOR) != 0u ? 1u : p->out_features;
    const int fold = (l->flags & ES_LAYER_BIAS_FOLD) != 0u;
    (void)in2;
    if (p->in_features == 0 || p->out_features == 0 ||
        (uint64_t)p->batches * p->in_features != in->bytes ||
        (uint64_t)p->batches * p->out_features != out->bytes) {
        return ES_ERR_SHAPE;
    }
    st = es_check_quant(c, p->bias_offset, p->mult_offset, p->shift_offset, p->out_features, rq_rows,
                        fold ? 2u : 4u, p->act_min, p->act_max);
    if (st == ES_OK && !fold) { /* int8 inputs times int8 weights (folded: once decoded, below) */
        st = es_check_bias(c, p->bias_offset, p->out_features, p->in_features, 128u * 128u);
    }
    if (st != ES_OK) {
        return st;
    }
    if (!es_int8_ok(p->output_zero_point)) {
        return ES_ERR_QUANT;
    }
    if ((l->flags & ES_LAYER_RQ_WHOLE) != 0u) { /* the flag must be true of the tables */
        const int32_t *shift = (const int32_t *)(const void *)(c->blob + p->shift_offset);
        uint32_t r;
        if (p->act_min != -128 || p->act_max != 127) {
            return ES_ERR_QUANT;
        }
        for (r = 0; r < rq_rows; ++r) {
            if (shift[r] > -2) {
                return ES_ERR_QUANT;
            }
        }
    }
    st = es_check_weights(c, l->format, p->weights_offset, p->weights_bytes, p->out_features,
                          p->in_features, &f);
    if (st == ES_OK && fold) {
        st = es_check_fold_bias(c, f, p->weights_offset, p->bias_offset, p->out_features,
                                in->zero_point, p->in_features, 128u * 128u);
    }
    if (st != ES_OK) {
        return st;
    }
    return es_check_scratch(c, p->scratch_offset, p->scratch_bytes,
                            f->scratch_bytes ? f->scratch_bytes(p->in_features) : 0u, in, out);
}

static void es_fc_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_fully_connected_s8((const es_fc_params_t *)params, es_layer_format(m, l), m->blob, m->arena,
                          es_layer_input(m, l), es_layer_output(m, l), l->flags);
}

const es_op_entry_t es_op_fully_connected = {
    ES_OP_FULLY_CONNECTED, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS, sizeof(es_fc_params_t), es_fc_check,
    es_fc_eval, ES_FIELD_AT(es_fc_params_t, weights_offset), ES_FIELD_AT(es_fc_params_t, scratch_offset),
};
