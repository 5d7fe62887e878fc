/* Dense int8 weights, plain C: the kernel for cores without the DSP extension. Four rows
 * (then two, then one) share each input load. */
#include "es_matvec.h"

void es_matvec_dense_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint32_t cols = m->cols;
    const int8_t *w0 = m->weights;
    uint32_t r = 0, c;
    /* four rows share each input load: per column one input load, four weight loads (post-
     * incremented pointers) and four multiply-accumulates, in eleven registers */
    for (; r + 4u <= m->rows; r += 4u) {
        const int8_t *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
        const int8_t *xp = x, *const xe = x + cols;
        int32_t a0 = m->bias[r], a1 = m->bias[r + 1u], a2 = m->bias[r + 2u], a3 = m->bias[r + 3u];
        while (xp != xe) {
            const int32_t xv = *xp++;
            a0 += xv * *w0++;
            a1 += xv * *w1++;
            a2 += xv * *w2++;
            a3 += xv * *w3++;
        }
        y[r] = es_matvec_out(m, a0, r);
        y[r + 1u] = es_matvec_out(m, a1, r + 1u);
        y[r + 2u] = es_matvec_out(m, a2, r + 2u);
        y[r + 3u] = es_matvec_out(m, a3, r + 3u);
        w0 = w3;
    }
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
