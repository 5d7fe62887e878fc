/* Dense palette: every weight is a code of `container` bits (1, 2, 4 or 8) into the layer's
 * codebook, packed LSB first, rows starting on byte boundaries. One byte load serves 8 /
 * container weights; each weight costs a shift-and-mask, a codebook load, an input load and
 * a multiply-add. With coding 2 each row is Huffman decoded into the arena row buffer first.
 * The row loop is specialised per container width. */
#include "es_matvec.h"

ES_INLINE int32_t es_pal_row(const uint8_t *c, uint32_t cols, const int8_t *x, const int8_t *cb,
                             const uint32_t w, int32_t acc)
{
    const uint32_t per = 8u / w, mask = (1u << w) - 1u;
    uint32_t k = 0, j;
    for (; k + per <= cols; k += per) {
        const uint32_t byte = *c++;
        for (j = 0; j < per; ++j) {
            acc += (int32_t)x[k + j] * cb[(byte >> (j * w)) & mask];
        }
    }
    if (k < cols) {
        uint32_t byte = *c;
        for (; k < cols; ++k, byte >>= w) {
            acc += (int32_t)x[k] * cb[byte & mask];
        }
    }
    return acc;
}

ES_INLINE void es_pal_rows(const es_matvec_t *m, const int8_t *x, int8_t *y, const uint32_t w)
{
    const uint32_t stride = (m->cols + 8u / w - 1u) / (8u / w);
    const uint8_t *c = (const uint8_t *)m->index;
    es_bits_t stream;
    uint32_t r;
    if (m->huff.lut) {
        es_bits_init(&stream, m->huff.stream, m->huff.stream_bytes);
    }
    for (r = 0; r < m->rows; ++r) {
        int32_t acc;
        if (m->huff.lut) {
            uint32_t i;
            for (i = 0; i < stride; ++i) {
                m->huff.row[i] = (uint8_t)es_huff_next(&stream, &m->huff);
            }
            acc = es_pal_row(m->huff.row, m->cols, x, m->values, w, m->bias[r]);
        } else {
            acc = es_pal_row(c, m->cols, x, m->values, w, m->bias[r]);
            c += stride;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}

void es_matvec_palette_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    switch (es_palette_container_bits(mv.bits)) {
    case 1u:
        es_pal_rows(&mv, x, y, 1u);
        break;
    case 2u:
        es_pal_rows(&mv, x, y, 2u);
        break;
    case 4u:
        es_pal_rows(&mv, x, y, 4u);
        break;
    default:
        es_pal_rows(&mv, x, y, 8u);
        break;
    }
}
