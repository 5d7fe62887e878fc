/* Dense int8 weights, two output pixels at once, with the DSP extension: each weight word is
 * sign-extended once (SXTB16) and serves both pixels; the pixels' columns were expanded to
 * int16 pairs once per pixel pair (es_matvec.h), so the inner loop holds no input expansion:
 * per four columns and two rows, two weight loads, four SXTB16 and eight SMLAD for sixteen
 * multiply-accumulates. */
#include "es_dsp.h"
#include "es_matvec.h"

/* The last, partial group of a weight row: its cols & 3 bytes, zeros above. */
ES_INLINE uint32_t es_tail_u32(const int8_t *w, uint32_t n)
{
    uint32_t v = 0, i;
    for (i = 0; i < n; ++i) {
        v |= (uint32_t)(uint8_t)w[i] << (8u * i);
    }
    return v;
}

void es_conv2_dense_s8_dsp(const es_matvec_t *mp, const uint32_t *cols2, int8_t *y0, int8_t *y1)
{
    const es_matvec_t mv = *mp;
    const es_matvec_t *m = &mv;
    const uint32_t cols = m->cols, groups = cols >> 2, tail = cols & 3u;
    const uint32_t *end = cols2 + 4u * groups;
    const int8_t *row = m->weights;
    uint32_t r = 0;
    for (; r + 2u <= m->rows; r += 2u, row += 2u * cols) {
        const int8_t *w0 = row, *w1 = row + cols;
        const uint32_t *c = cols2;
        int32_t a00 = m->bias[r], a01 = a00, a10 = m->bias[r + 1u], a11 = a10;
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && defined(__OPTIMIZE__)
        if (c != end) {
            /* the loop below in twelve registers (gcc spills two pointers from the C form):
             * per group of four columns 2 LDR, 3 LDRD, 4 SXTB16, 8 SMLAD, CMP, BNE */
            uint32_t x1, x2, wv, we;
            __asm__ volatile(
                "1:\n\t"
                "ldr    %[wv], [%[w0]], #4\n\t"
                "ldrd   %[x1], %[x2], [%[c]]\n\t"
                "sxtb16 %[we], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad  %[a00], %[x1], %[we], %[a00]\n\t"
                "smlad  %[a00], %[x2], %[wv], %[a00]\n\t"
                "ldrd   %[x1], %[x2], [%[c], #8]\n\t"
                "smlad  %[a01], %[x1], %[we], %[a01]\n\t"
                "smlad  %[a01], %[x2], %[wv], %[a01]\n\t"
                "ldr    %[wv], [%[w1]], #4\n\t"
                "sxtb16 %[we], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad  %[a11], %[x1], %[we], %[a11]\n\t"
                "smlad  %[a11], %[x2], %[wv], %[a11]\n\t"
                "ldrd   %[x1], %[x2], [%[c]], #16\n\t"
                "smlad  %[a10], %[x1], %[we], %[a10]\n\t"
                "smlad  %[a10], %[x2], %[wv], %[a10]\n\t"
                "cmp    %[c], %[end]\n\t"
                "bne    1b\n\t"
                : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [c] "+r"(c),
                  [w0] "+r"(w0), [w1] "+r"(w1), [x1] "=&r"(x1), [x2] "=&r"(x2), [wv] "=&r"(wv),
                  [we] "=&r"(we)
                : [end] "r"(end)
                : "cc", "memory");
        }
#else
        while (c != end) {
            const uint32_t v0 = es_read_u32(w0), v1 = es_read_u32(w1);
            const uint32_t e0 = es_sxtb16(v0), o0 = es_sxtb16_ror8(v0);
            const uint32_t e1 = es_sxtb16(v1), o1 = es_sxtb16_ror8(v1);
            a00 = es_smlad(c[0], e0, a00);
            a00 = es_smlad(c[1], o0, a00);
            a01 = es_smlad(c[2], e0, a01);
            a01 = es_smlad(c[3], o0, a01);
            a10 = es_smlad(c[0], e1, a10);
            a10 = es_smlad(c[1], o1, a10);
            a11 = es_smlad(c[2], e1, a11);
            a11 = es_smlad(c[3], o1, a11);
            c += 4;
            w0 += 4;
            w1 += 4;
        }
#endif
        if (tail != 0u) {
            const uint32_t v0 = es_tail_u32(w0, tail), v1 = es_tail_u32(w1, tail);
            const uint32_t e0 = es_sxtb16(v0), o0 = es_sxtb16_ror8(v0);
            const uint32_t e1 = es_sxtb16(v1), o1 = es_sxtb16_ror8(v1);
            a00 = es_smlad(c[1], o0, es_smlad(c[0], e0, a00));
            a01 = es_smlad(c[3], o0, es_smlad(c[2], e0, a01));
            a10 = es_smlad(c[1], o1, es_smlad(c[0], e1, a10));
            a11 = es_smlad(c[3], o1, es_smlad(c[2], e1, a11));
        }
        {
            const int32_t m0 = m->mult[r], s0 = m->shift[r], m1 = m->mult[r + 1u], s1 = m->shift[r + 1u];
            const int32_t zp = m->output_zero_point, lo = m->act_min, hi = m->act_max;
            y0[r] = (int8_t)es_requantize_clamp(a00, m0, s0, zp, lo, hi);
            y1[r] = (int8_t)es_requantize_clamp(a01, m0, s0, zp, lo, hi);
            y0[r + 1u] = (int8_t)es_requantize_clamp(a10, m1, s1, zp, lo, hi);
            y1[r + 1u] = (int8_t)es_requantize_clamp(a11, m1, s1, zp, lo, hi);
        }
    }
    if (r < m->rows) {
        const int8_t *w0 = row;
        const uint32_t *c = cols2;
        int32_t a00 = m->bias[r], a01 = a00;
        while (c != end) {
            const uint32_t v0 = es_read_u32(w0);
            const uint32_t e0 = es_sxtb16(v0), o0 = es_sxtb16_ror8(v0);
            a00 = es_smlad(c[1], o0, es_smlad(c[0], e0, a00));
            a01 = es_smlad(c[3], o0, es_smlad(c[2], e0, a01));
            c += 4;
            w0 += 4;
        }
        if (tail != 0u) {
            const uint32_t v0 = es_tail_u32(w0, tail);
            const uint32_t e0 = es_sxtb16(v0), o0 = es_sxtb16_ror8(v0);
            a00 = es_smlad(c[1], o0, es_smlad(c[0], e0, a00));
            a01 = es_smlad(c[3], o0, es_smlad(c[2], e0, a01));
        }
        y0[r] = es_conv_out(m, a00, r);
        y1[r] = es_conv_out(m, a01, r);
    }
}
