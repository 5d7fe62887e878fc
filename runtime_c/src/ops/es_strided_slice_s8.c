/* STRIDED_SLICE int8 (TFLite reference_ops::StridedSlice, resolved offline to 4-D begin and
 * positive strides). */
#include "es_kernels.h"

void es_strided_slice_s8(const es_slice_params_t *p, const int8_t *input, int8_t *output)
{
    const uint32_t s2 = p->in_dims[3], s1 = s2 * p->in_dims[2], s0 = s1 * p->in_dims[1];
    uint32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->out_dims[0]; ++i0) {
        const int8_t *a = input + (p->begin[0] + i0 * p->strides[0]) * s0;
        for (i1 = 0; i1 < p->out_dims[1]; ++i1) {
            const int8_t *b = a + (p->begin[1] + i1 * p->strides[1]) * s1;
            for (i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *c = b + (p->begin[2] + i2 * p->strides[2]) * s2 + p->begin[3];
                for (i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    *output++ = c[i3 * p->strides[3]];
                }
            }
        }
    }
}
