/* Palette CSR: one byte per stored weight, (step << bits) | code. The step moves the input
 * pointer as csr8's delta does and the code picks the weight from the layer's codebook, so a
 * weight costs csr8's loads plus one mask and one codebook load. With coding 2 each row is
 * Huffman decoded into the arena row buffer first (up to its 0 end byte when the table keeps
 * no counts; coding 1's counts are then in the arena, written at init). The row loop is specialised per code
 * width so the shift and mask are immediates. */
#include "es_matvec.h"

ES_INLINE int32_t es_pal_csr_row(const uint8_t *e, uint32_t n, const int8_t *x, const int8_t *cb,
                                 const uint32_t bits, int32_t acc)
{
    const uint32_t mask = (1u << bits) - 1u;
    for (; n >= 4u; n -= 4u, e += 4) {
        const uint32_t e0 = e[0], e1 = e[1], e2 = e[2], e3 = e[3];
        x += e0 >> bits;
        acc += (int32_t)*x * cb[e0 & mask];
        x += e1 >> bits;
        acc += (int32_t)*x * cb[e1 & mask];
        x += e2 >> bits;
        acc += (int32_t)*x * cb[e2 & mask];
        x += e3 >> bits;
        acc += (int32_t)*x * cb[e3 & mask];
    }
    for (; n != 0u; --n, ++e) {
        x += (uint32_t)*e >> bits;
        acc += (int32_t)*x * cb[*e & mask];
    }
    return acc;
}

ES_INLINE void es_pal_csr_rows(const es_matvec_t *m, const int8_t *x, int8_t *y, const uint32_t bits)
{
    const uint8_t *e = (const uint8_t *)m->index;
    es_bits_t stream;
    uint32_t r;
    if (m->huff.lut) {
        es_bits_init(&stream, m->huff.stream, m->huff.stream_bytes);
    }
    for (r = 0; r < m->rows; ++r) {
        int32_t acc;
        if (m->huff.lut) {
            uint32_t n = 0;
            if (m->counts != 0) {
                for (; n < m->counts[r]; ++n) {
                    m->huff.row[n] = (uint8_t)es_huff_next(&stream, &m->huff);
                }
            } else { /* row-marked: the row ends with a 0 byte (es_palette_check saw it does) */
                uint32_t s;
                while ((s = (uint32_t)es_huff_next(&stream, &m->huff)) != 0u) {
                    m->huff.row[n++] = (uint8_t)s;
                }
            }
            acc = es_pal_csr_row(m->huff.row, n, x, m->values, bits, m->bias[r]);
        } else {
            const uint32_t n = m->counts[r];
            acc = es_pal_csr_row(e, n, x, m->values, bits, m->bias[r]);
            e += n;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}

void es_matvec_palette_csr_s8(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    switch (mv.bits) {
    case 1u:
        es_pal_csr_rows(&mv, x, y, 1u);
        break;
    case 2u:
        es_pal_csr_rows(&mv, x, y, 2u);
        break;
    case 3u:
        es_pal_csr_rows(&mv, x, y, 3u);
        break;
    case 4u:
        es_pal_csr_rows(&mv, x, y, 4u);
        break;
    default:
        es_pal_csr_rows(&mv, x, y, 5u);
        break;
    }
}
