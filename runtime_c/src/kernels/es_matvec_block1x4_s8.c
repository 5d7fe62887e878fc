/* Block-sparse 1x4: each stored block is four consecutive weights of one row starting at a
 * 16-bit column index, so one index serves four multiply-adds. */
#include "es_matvec.h"

void es_matvec_block1x4_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    uint32_t r;
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        uint32_t n = m->counts[r];
        for (; n; --n, v += 4) {
            const int8_t *xp = x + *idx++;
            acc += (int32_t)xp[0] * v[0] + (int32_t)xp[1] * v[1] + (int32_t)xp[2] * v[2] +
                   (int32_t)xp[3] * v[3];
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
