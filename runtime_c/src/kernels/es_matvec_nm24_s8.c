/* 2:4 structured sparsity (two weights in every group of four inputs). The group's two
 * inputs are fetched as one word from a pair table built once per call (es_nm24_pairs),
 * addressed by the stored 16-bit byte offset, so a group costs one index load, one table
 * load and two multiply-adds whatever its positions. */
#include "es_matvec.h"

void es_matvec_nm24_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint8_t *table = (const uint8_t *)m->scratch;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    const uint32_t groups = m->cols / 4u;
    uint32_t r, g;
    es_nm24_pairs(x, m->cols, m->scratch);
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        for (g = 0; g < groups; ++g) {
            const int32_t p = *(const int32_t *)(const void *)(table + *idx++);
            const int8_t *w = v + (g >> 1) * 4u + (g & 1u);
            acc += (int32_t)(int16_t)(p & 0xFFFF) * w[0] + (p >> 16) * w[2];
        }
        v += 4u * ((groups + 1u) / 2u);
        y[r] = es_matvec_out(m, acc, r);
    }
}
