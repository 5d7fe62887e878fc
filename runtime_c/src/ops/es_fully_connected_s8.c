/* FULLY_CONNECTED in any weight format: one matrix-vector product per batch row. */
#include "es_kernels.h"
#include "es_matvec.h"

void es_fully_connected_s8(const es_fc_params_t *p, uint8_t format, const uint8_t *blob,
                           uint8_t *arena, const int8_t *input, int8_t *output)
{
    const es_matvec_fn_t fn = es_matvec_for_format(format);
    es_matvec_t m;
    uint32_t b;
    m.rows = p->out_features;
    m.cols = p->in_features;
    es_matvec_bind_weights(&m, format, blob, p->weights_offset, arena);
    m.bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    m.mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    m.shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    m.output_zero_point = p->output_zero_point;
    m.act_min = p->act_min;
    m.act_max = p->act_max;
    m.scratch = (int8_t *)(arena + p->scratch_offset);
    for (b = 0; b < p->batches; ++b) {
        fn(&m, input + b * p->in_features, output + b * p->out_features);
    }
}
