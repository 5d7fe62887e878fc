/* Dense int8 weights with the DSP extension: four inputs and four weights per step are
 * sign-extended in pairs (SXTB16) and multiplied-accumulated two at a time (SMLAD); two rows
 * share each input expansion. Same pairing for inputs and weights (bytes 0,2 then 1,3), so
 * the sums are exactly the plain dot products. */
#include "es_dsp.h"
#include "es_matvec.h"

void es_matvec_dense_s8_dsp(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint32_t cols = m->cols, cols4 = cols & ~3u;
    const int8_t *w0 = m->weights;
    uint32_t r = 0, c;
    for (; r + 2u <= m->rows; r += 2u) {
        const int8_t *w1 = w0 + cols;
        int32_t a0 = m->bias[r], a1 = m->bias[r + 1u];
        for (c = 0; c < cols4; c += 4u) {
            const uint32_t xw = es_read_u32(x + c);
            const uint32_t xe = es_sxtb16(xw), xo = es_sxtb16_ror8(xw);
            const uint32_t v0 = es_read_u32(w0 + c), v1 = es_read_u32(w1 + c);
            a0 = es_smlad(xe, es_sxtb16(v0), a0);
            a0 = es_smlad(xo, es_sxtb16_ror8(v0), a0);
            a1 = es_smlad(xe, es_sxtb16(v1), a1);
            a1 = es_smlad(xo, es_sxtb16_ror8(v1), a1);
        }
        for (; c < cols; ++c) {
            a0 += (int32_t)x[c] * w0[c];
            a1 += (int32_t)x[c] * w1[c];
        }
        y[r] = es_matvec_out(m, a0, r);
        y[r + 1u] = es_matvec_out(m, a1, r + 1u);
        w0 = w1 + cols;
    }
    if (r < m->rows) {
        int32_t a0 = m->bias[r];
        for (c = 0; c < cols4; c += 4u) {
            const uint32_t xw = es_read_u32(x + c), v0 = es_read_u32(w0 + c);
            a0 = es_smlad(es_sxtb16(xw), es_sxtb16(v0), a0);
            a0 = es_smlad(es_sxtb16_ror8(xw), es_sxtb16_ror8(v0), a0);
        }
        for (; c < cols; ++c) {
            a0 += (int32_t)x[c] * w0[c];
        }
        y[r] = es_matvec_out(m, a0, r);
    }
}
