/* CONV_2D, CSR8 weights: one CSR row per output channel over the flattened (k_y, k_x, in_c)
 * reduction index. The column is tracked as (k_y, k_x, in_c) and advanced incrementally, so
 * no division happens per weight; taps over the padding are skipped like the reference. */
#include "es_fixedpoint.h"
#include "es_kernels.h"

void es_conv2d_csr8_s8(const es_conv_params_t *p, const uint8_t *blob, const int8_t *input,
                       int8_t *output)
{
    const es_csr8_t *csr = (const es_csr8_t *)(const void *)(blob + p->weights_offset);
    const uint16_t *counts = (const uint16_t *)(const void *)(blob + csr->counts_offset);
    const int32_t *bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    const int32_t *mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    const int32_t *shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    const int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_w = p->k_w;
    int oy, ox, oc;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int interior = y0 >= 0 && x0 >= 0 && y0 + (p->k_h - 1) * p->dil_h < in_h &&
                                 x0 + (k_w - 1) * p->dil_w < in_w;
            const uint8_t *delta = blob + csr->deltas_offset;
            const int8_t *value = (const int8_t *)(blob + csr->values_offset);
            for (oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = bias[oc];
                int ky = 0, kx = 0, ic = 0;
                uint32_t n = counts[oc];
                while (n--) {
                    ic += *delta++;
                    while (ic >= in_c) {
                        ic -= in_c;
                        if (++kx == k_w) {
                            kx = 0;
                            ++ky;
                        }
                    }
                    {
                        const int y = y0 + ky * p->dil_h;
                        const int x = x0 + kx * p->dil_w;
                        const int32_t w = *value++;
                        if (interior || (y >= 0 && y < in_h && x >= 0 && x < in_w)) {
                            acc += ((int32_t)input[(y * in_w + x) * in_c + ic] + p->input_offset) * w;
                        }
                    }
                }
                acc = es_requantize(acc, mult[oc], shift[oc]) + p->output_zero_point;
                output[(oy * p->out_w + ox) * p->out_c + oc] =
                    (int8_t)es_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}
