/* Dense int8 weights, two output pixels at once, plain C (cores without the DSP extension):
 * each weight is loaded once for both pixels and two rows share each column load; the
 * columns are the int16 pairs of es_matvec.h's two-pixel layout. */
#include "es_matvec.h"

void es_conv2_dense_s8(const es_matvec_t *mp, const uint32_t *cols2, int8_t *y0, int8_t *y1)
{
    const es_matvec_t mv = *mp;
    const es_matvec_t *m = &mv;
    const uint32_t cols = m->cols;
    const int8_t *row = m->weights;
    uint32_t r = 0, c;
    for (; r + 2u <= m->rows; r += 2u, row += 2u * cols) {
        const int8_t *w0 = row, *w1 = row + cols;
        const int16_t *x = (const int16_t *)(const void *)cols2;
        int32_t a00 = m->bias[r], a01 = a00, a10 = m->bias[r + 1u], a11 = a10;
        /* group g: halfwords x[8g + 0..3] = p0 columns 4g, 4g+2, 4g+1, 4g+3; x[8g + 4..7]: p1 */
        /* one column at a time (two column and two weight loads, four multiply-adds), in an
         * order that keeps four temporaries live: twelve registers, no spills on an M3 */
#define ES_C2_STEP(h, k)                                                                      \
    do {                                                                                      \
        const int32_t p0_ = x[(h)], p1_ = x[(h) + 4], v0_ = w0[(k)], v1_ = w1[(k)];            \
        a00 += p0_ * v0_;                                                                     \
        a01 += p1_ * v0_;                                                                     \
        a10 += p0_ * v1_;                                                                     \
        a11 += p1_ * v1_;                                                                     \
    } while (0)
        const int8_t *const w0end = w0 + (cols & ~3u);
        for (; w0 != w0end; x += 8, w0 += 4, w1 += 4) {
            ES_C2_STEP(0, 0);
            ES_C2_STEP(2, 1);
            ES_C2_STEP(1, 2);
            ES_C2_STEP(3, 3);
        }
        for (c = 0; c < (cols & 3u); ++c) {
            static const uint8_t slot[4] = {0, 2, 1, 3};
            ES_C2_STEP(slot[c], c);
        }
        y0[r] = es_conv_out(m, a00, r);
        y1[r] = es_conv_out(m, a01, r);
        y0[r + 1u] = es_conv_out(m, a10, r + 1u);
        y1[r + 1u] = es_conv_out(m, a11, r + 1u);
    }
    if (r < m->rows) {
        const int8_t *w0 = row;
        const int16_t *x = (const int16_t *)(const void *)cols2;
        int32_t a00 = m->bias[r], a01 = a00;
        for (c = 0; c + 4u <= cols; c += 4u, x += 8) {
            a00 += x[0] * w0[c] + x[2] * w0[c + 1u] + x[1] * w0[c + 2u] + x[3] * w0[c + 3u];
            a01 += x[4] * w0[c] + x[6] * w0[c + 1u] + x[5] * w0[c + 2u] + x[7] * w0[c + 3u];
        }
        for (; c < cols; ++c) {
            static const uint8_t slot[4] = {0, 2, 1, 3};
            a00 += x[slot[c & 3u]] * w0[c];
            a01 += x[4u + slot[c & 3u]] * w0[c];
        }
        y0[r] = es_conv_out(m, a00, r);
        y1[r] = es_conv_out(m, a01, r);
    }
}
