/* CSR with 8-bit relative column deltas (fillers for wide gaps): each delta moves the input
 * pointer, so a stored weight costs a delta load, an add, two loads and a multiply-add. */
#include "es_matvec.h"

void es_matvec_csr8_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint8_t *d = (const uint8_t *)m->index;
    const int8_t *v = m->values;
    uint32_t r;
    for (r = 0; r < m->rows; ++r) {
        const int8_t *xp = x;
        int32_t acc = m->bias[r];
        uint32_t n = m->counts[r];
        for (; n >= 4u; n -= 4u, d += 4, v += 4) {
            xp += d[0];
            acc += (int32_t)*xp * v[0];
            xp += d[1];
            acc += (int32_t)*xp * v[1];
            xp += d[2];
            acc += (int32_t)*xp * v[2];
            xp += d[3];
            acc += (int32_t)*xp * v[3];
        }
        while (n--) {
            xp += *d++;
            acc += (int32_t)*xp * *v++;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
