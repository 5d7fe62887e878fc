/* PAD int8 (TFLite reference_ops::Pad): the padding holds the output zero point. */
#include "es_kernels.h"

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
