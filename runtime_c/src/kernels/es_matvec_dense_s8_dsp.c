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
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && defined(__OPTIMIZE__)
    /* three rows share each input expansion: per four columns one LDR and two SXTB16 for the
     * input, then per row one LDR, two SXTB16 and two SMLAD (20 instructions per 12
     * multiply-accumulates with the loop's CMP and BNE) */
    for (; r + 3u <= m->rows; r += 3u) {
        const int8_t *w1 = w0 + cols, *w2 = w1 + cols;
        const int8_t *xp = x;
        int32_t a0 = m->bias[r], a1 = m->bias[r + 1u], a2 = m->bias[r + 2u];
        if (cols4 != 0u) {
            const int8_t *const xend = x + cols4;
            uint32_t xe, xo, wv, we;
            __asm__ volatile(
                "1:\n\t"
                "ldr    %[xo], [%[xp]], #4\n\t"
                "ldr    %[wv], [%[w0]], #4\n\t"
                "sxtb16 %[xe], %[xo]\n\t"
                "sxtb16 %[xo], %[xo], ror #8\n\t"
                "sxtb16 %[we], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad  %[a0], %[xe], %[we], %[a0]\n\t"
                "smlad  %[a0], %[xo], %[wv], %[a0]\n\t"
                "ldr    %[wv], [%[w1]], #4\n\t"
                "sxtb16 %[we], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad  %[a1], %[xe], %[we], %[a1]\n\t"
                "smlad  %[a1], %[xo], %[wv], %[a1]\n\t"
                "ldr    %[wv], [%[w2]], #4\n\t"
                "sxtb16 %[we], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad  %[a2], %[xe], %[we], %[a2]\n\t"
                "smlad  %[a2], %[xo], %[wv], %[a2]\n\t"
                "cmp    %[xp], %[xend]\n\t"
                "bne    1b\n\t"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [xp] "+r"(xp), [w0] "+r"(w0),
                  [w1] "+r"(w1), [w2] "+r"(w2), [xe] "=&r"(xe), [xo] "=&r"(xo), [wv] "=&r"(wv),
                  [we] "=&r"(we)
                : [xend] "r"(xend)
                : "cc", "memory");
        }
        for (c = cols4; c < cols; ++c, ++w0, ++w1, ++w2) {
            a0 += (int32_t)x[c] * *w0;
            a1 += (int32_t)x[c] * *w1;
            a2 += (int32_t)x[c] * *w2;
        }
        y[r] = es_matvec_out(m, a0, r);
        y[r + 1u] = es_matvec_out(m, a1, r + 1u);
        y[r + 2u] = es_matvec_out(m, a2, r + 2u);
        w0 = w2;
    }
#endif
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
