/* Column pairs in plain C: the input widened to int16 in scratch (a 0 after its last column),
 * then per pair two multiply-adds from its first column. */
#include "es_matvec.h"

void es_matvec_pairs_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int16_t *v = (const int16_t *)(const void *)m->values;
    int16_t *x16 = (int16_t *)(void *)m->scratch;
    uint32_t r, c;
    for (c = 0; c < m->cols; ++c) {
        x16[c] = x[c];
    }
    x16[m->cols] = 0;
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        uint32_t n = m->counts[r];
        for (; n != 0u; --n, ++idx, v += 2) {
            const int16_t *in = x16 + *idx;
            acc += in[0] * v[0] + in[1] * v[1];
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
