/* MAXIMUM / MINIMUM int8 with broadcasting (TFLite reference_ops::MaximumMinimumBroadcastSlow):
 * the raw values compared, inputs and output sharing one quantization. */
#include "es_kernels.h"

void es_maximum_minimum_s8(const es_minmax_params_t *p, int is_max, const int8_t *input1,
                           const int8_t *input2, int8_t *output)
{
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *a = input1 + i0 * p->in1_strides[0] + i1 * p->in1_strides[1] +
                                  i2 * p->in1_strides[2];
                const int8_t *b = input2 + i0 * p->in2_strides[0] + i1 * p->in2_strides[1] +
                                  i2 * p->in2_strides[2];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    const int8_t x = a[i3 * p->in1_strides[3]];
                    const int8_t y = b[i3 * p->in2_strides[3]];
                    *output++ = (is_max ? x > y : x < y) ? x : y;
                }
            }
        }
    }
}
