/* Palette CSR: one byte per stored weight, (step << bits) | code. The step moves the input
 * pointer as csr8's delta does and the code picks the weight from the layer's codebook, so a
 * weight costs csr8's loads plus one mask and one codebook load. With coding 2 each entry is
 * multiplied as soon as it is Huffman decoded, the bit buffer in registers across the whole
 * table (a row ends at its count, or at its 0 end byte when the table keeps no counts; coding
 * 1's counts are in the arena, written at init). The row loops are specialised per code width
 * so the shift and mask are immediates. */
#include <string.h>

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

/* Four stream bytes, the first in the top byte. */
ES_INLINE uint32_t es_pal_be32(const uint8_t *p)
{
#if defined(__GNUC__)
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
#else
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
#endif
}

/* Coding 2: the whole table's stream decoded entry by entry, each entry multiplied as it comes.
 * A code of at most ES_HUFF_LUT_BITS bits is one table load; longer ones go through
 * es_huff_long. Below 8 valid bits the buffer takes the next three bytes at once (four read:
 * the bits of the fourth beyond the 24 counted are the stream's own, so OR-ing them in again
 * at the next refill changes nothing); within four bytes of the end, es_bits_refill's
 * byte-wise refill with zeros past the end. es_palette_check decoded every row at init, so
 * every code is in the table and no row runs past its end. */
ES_INLINE void es_pal_csr_stream_rows(const es_matvec_t *m, const int8_t *x, int8_t *y, const uint32_t bits)
{
    const uint32_t mask = (1u << bits) - 1u;
    const uint16_t *const lut = m->huff.lut;
    const int8_t *const cb = m->values;
    es_bits_t b;
    uint32_t buf = 0, count = 0, r;
    const uint8_t *p = m->huff.stream;
    /* four bytes can be read at p while p < fast_lim (a stream under four bytes: never) */
    const uint8_t *const fast_lim = m->huff.stream_bytes >= 4u ? p + m->huff.stream_bytes - 3u : p;
    es_bits_init(&b, m->huff.stream, m->huff.stream_bytes);
    for (r = 0; r < m->rows; ++r) {
        uint32_t n = m->counts != 0 ? m->counts[r] : ~0u; /* row-marked: to the 0 end byte */
        const int8_t *xp = x;
        int32_t acc = m->bias[r];
        for (; n != 0u; --n) {
            uint32_t e;
            if (count < ES_HUFF_LUT_BITS) {
                if (p < fast_lim) {
                    buf |= es_pal_be32(p) >> count;
                    p += 3;
                    count += 24u;
                } else {
                    b.p = p;
                    b.buf = buf;
                    b.count = count;
                    es_bits_refill(&b);
                    p = b.p;
                    buf = b.buf;
                    count = b.count;
                }
            }
            e = lut[buf >> (32u - ES_HUFF_LUT_BITS)];
            if (e != 0u) {
                buf <<= e & 15u;
                count -= e & 15u;
                e >>= 4;
            } else {
                b.p = p;
                b.buf = buf;
                b.count = count;
                e = (uint32_t)es_huff_long(&b, &m->huff) & 0xFFu;
                p = b.p;
                buf = b.buf;
                count = b.count;
            }
            if (e == 0u) {
                break;
            }
            xp += e >> bits;
            acc += (int32_t)*xp * cb[e & mask];
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}

ES_INLINE void es_pal_csr_rows(const es_matvec_t *m, const int8_t *x, int8_t *y, const uint32_t bits)
{
    const uint8_t *e = (const uint8_t *)m->index;
    uint32_t r;
    if (m->huff.lut) {
        es_pal_csr_stream_rows(m, x, y, bits);
        return;
    }
    for (r = 0; r < m->rows; ++r) {
        const uint32_t n = m->counts[r];
        const int32_t acc = es_pal_csr_row(e, n, x, m->values, bits, m->bias[r]);
        e += n;
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
