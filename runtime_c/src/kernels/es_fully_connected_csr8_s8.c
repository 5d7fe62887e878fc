/* FULLY_CONNECTED, CSR with 8-bit relative column deltas: the delta moves the input pointer,
 * so the inner loop is a load, an add and a multiply-accumulate per stored weight. */
#include "es_fixedpoint.h"
#include "es_kernels.h"

void es_fully_connected_csr8_s8(const es_fc_params_t *p, const uint8_t *blob, const int8_t *input,
                                int8_t *output)
{
    const es_csr8_t *csr = (const es_csr8_t *)(const void *)(blob + p->weights_offset);
    const uint16_t *counts = (const uint16_t *)(const void *)(blob + csr->counts_offset);
    const int32_t *bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    const int32_t *mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    const int32_t *shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    uint32_t b, o;
    for (b = 0; b < p->batches; ++b) {
        const uint8_t *delta = blob + csr->deltas_offset;
        const int8_t *value = (const int8_t *)(blob + csr->values_offset);
        for (o = 0; o < p->out_features; ++o) {
            const int8_t *x = input + b * p->in_features;
            int32_t acc = bias[o];
            uint32_t n = counts[o];
            while (n--) {
                x += *delta++;
                acc += (int32_t)*x * *value++;
            }
            acc = es_requantize(acc, mult[o], shift[o]) + p->output_zero_point;
            output[b * p->out_features + o] = (int8_t)es_clamp(acc, p->act_min, p->act_max);
        }
    }
}
