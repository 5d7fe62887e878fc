/* TRANSPOSE int8 (TFLite reference_ops::Transpose): a gather through the permuted input
 * strides, resolved offline. */
#include "es_kernels.h"

void es_transpose_s8(const es_transpose_params_t *p, const int8_t *input, int8_t *output)
{
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *a = input + i0 * p->in_strides[0] + i1 * p->in_strides[1] +
                                  i2 * p->in_strides[2];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    *output++ = a[i3 * p->in_strides[3]];
                }
            }
        }
    }
}
