/* CSR with absolute 16-bit column indices: the input load addresses x[index] directly
 * (register-offset load), so a stored weight costs an index load, two loads and a
 * multiply-add, with no pointer arithmetic. */
#include "es_matvec.h"

void es_matvec_csr16_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    uint32_t r;
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        uint32_t n = m->counts[r];
        for (; n >= 4u; n -= 4u, idx += 4, v += 4) {
            acc += (int32_t)x[idx[0]] * v[0];
            acc += (int32_t)x[idx[1]] * v[1];
            acc += (int32_t)x[idx[2]] * v[2];
            acc += (int32_t)x[idx[3]] * v[3];
        }
        while (n--) {
            acc += (int32_t)x[*idx++] * *v++;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
