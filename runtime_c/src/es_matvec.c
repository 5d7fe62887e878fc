/* Format dispatch, weight-table binding and scratch sizes for the matrix-vector kernels. */
#include "es_dsp.h"
#include "es_matvec.h"

es_matvec_fn_t es_matvec_for_format(uint8_t format)
{
    switch (format) {
    case ES_FMT_DENSE:
        return ES_USE_DSP ? es_matvec_dense_s8_dsp : es_matvec_dense_s8;
    case ES_FMT_CSR8:
        return es_matvec_csr8_s8;
    case ES_FMT_CSR16:
        return ES_USE_DSP ? es_matvec_csr16_s8_dsp : es_matvec_csr16_s8;
    case ES_FMT_BLOCK1X4:
        return ES_USE_DSP ? es_matvec_block1x4_s8_dsp : es_matvec_block1x4_s8;
    case ES_FMT_NM24:
        return ES_USE_DSP ? es_matvec_nm24_s8_dsp : es_matvec_nm24_s8;
    case ES_FMT_PALETTE:
        return es_matvec_palette_s8;
    case ES_FMT_PALETTE_CSR:
        return es_matvec_palette_csr_s8;
    default:
        return (es_matvec_fn_t)0;
    }
}

void es_matvec_bind_weights(es_matvec_t *m, uint8_t format, const uint8_t *blob, uint32_t offset,
                            uint8_t *arena)
{
    m->bits = 0;
    m->huff.lut = (const uint16_t *)0;
    if (format == ES_FMT_PALETTE || format == ES_FMT_PALETTE_CSR) {
        const es_palette_t *t = (const es_palette_t *)(const void *)(blob + offset);
        m->weights = (const int8_t *)0;
        m->counts = t->counts_offset ? (const uint16_t *)(const void *)(blob + t->counts_offset)
                                     : (const uint16_t *)0;
        m->values = (const int8_t *)(blob + t->codebook_offset);
        m->bits = t->bits;
        m->index = t->coding == 0u ? (const void *)(blob + t->stream_offset)
                                   : (const void *)(arena + t->ram_offset);
        if (t->coding == 2u) {
            m->index = (const void *)0;
            m->huff.counts = (const uint16_t *)(const void *)(blob + t->huff_counts_offset);
            m->huff.symbols = blob + t->huff_symbols_offset;
            m->huff.lut = (const uint16_t *)(const void *)(arena + t->ram_offset);
            m->huff.first = m->huff.lut + (1u << ES_HUFF_LUT_BITS);
            m->huff.index = m->huff.first + ES_HUFF_MAX_LEN + 1u;
            m->huff.stream = blob + t->stream_offset;
            m->huff.stream_bytes = t->stream_bytes;
            m->huff.row = arena + t->ram_offset + ES_HUFF_TABLE_BYTES;
        }
    } else if (format == ES_FMT_DENSE) {
        m->weights = (const int8_t *)(blob + offset);
        m->counts = (const uint16_t *)0;
        m->index = (const void *)0;
        m->values = (const int8_t *)0;
    } else {
        const es_sparse_t *s = (const es_sparse_t *)(const void *)(blob + offset);
        m->weights = (const int8_t *)0;
        m->counts = (const uint16_t *)(const void *)(blob + s->counts_offset);
        m->index = blob + s->index_offset;
        m->values = (const int8_t *)(blob + s->values_offset);
    }
}

uint32_t es_matvec_scratch_bytes(uint8_t format, uint32_t cols)
{
    return format == ES_FMT_NM24 ? 24u * (cols / 4u) : 0u;
}

void es_nm24_pairs(const int8_t *x, uint32_t cols, int8_t *scratch)
{
    uint32_t *t = (uint32_t *)(void *)scratch;
    uint32_t g;
    for (g = 0; g < cols / 4u; ++g, x += 4, t += 6) {
        const uint32_t x0 = (uint32_t)(uint16_t)x[0], x1 = (uint32_t)(uint16_t)x[1],
                       x2 = (uint32_t)(uint16_t)x[2], x3 = (uint32_t)(uint16_t)x[3];
        t[0] = x0 | (x1 << 16);
        t[1] = x0 | (x2 << 16);
        t[2] = x0 | (x3 << 16);
        t[3] = x1 | (x2 << 16);
        t[4] = x1 | (x3 << 16);
        t[5] = x2 | (x3 << 16);
    }
}
