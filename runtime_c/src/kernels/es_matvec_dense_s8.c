/* Dense int8 weights, plain C: the kernel for cores without the DSP extension. Two rows
 * share each input load. */
#include "es_matvec.h"

void es_matvec_dense_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint32_t cols = m->cols;
    const int8_t *w0 = m->weights;
    uint32_t r = 0, c;
    for (; r + 2u <= m->rows; r += 2u) {
        const int8_t *w1 = w0 + cols;
        int32_t a0 = m->bias[r], a1 = m->bias[r + 1u];
        for (c = 0; c < cols; ++c) {
            const int32_t xv = x[c];
            a0 += xv * w0[c];
            a1 += xv * w1[c];
        }
        y[r] = es_matvec_out(m, a0, r);
        y[r + 1u] = es_matvec_out(m, a1, r + 1u);
        w0 = w1 + cols;
    }
    if (r < m->rows) {
        int32_t a0 = m->bias[r];
        for (c = 0; c < cols; ++c) {
            a0 += (int32_t)x[c] * w0[c];
        }
        y[r] = es_matvec_out(m, a0, r);
    }
}
