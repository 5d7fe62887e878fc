/* FULLY_CONNECTED, dense int8 weights: the reference kernel. */
#include "es_fixedpoint.h"
#include "es_kernels.h"

void es_fully_connected_dense_s8(const es_fc_params_t *p, const uint8_t *blob, const int8_t *input,
                                 int8_t *output)
{
    const int8_t *weights = (const int8_t *)(blob + p->weights_offset);
    const int32_t *bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    const int32_t *mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    const int32_t *shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    uint32_t b, o, i;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->in_features;
        const int8_t *w = weights;
        for (o = 0; o < p->out_features; ++o) {
            int32_t acc = bias[o];
            for (i = 0; i < p->in_features; ++i) {
                acc += (int32_t)x[i] * w[i];
            }
            w += p->in_features;
            acc = es_requantize(acc, mult[o], shift[o]) + p->output_zero_point;
            output[b * p->out_features + o] = (int8_t)es_clamp(acc, p->act_min, p->act_max);
        }
    }
}
