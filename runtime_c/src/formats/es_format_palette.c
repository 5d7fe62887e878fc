/* ES_FMT_PALETTE and ES_FMT_PALETTE_CSR (weight sharing; es_palette_t in edgesparse.h): the
 * table check (es_palette.c, which decodes Huffman-coded streams at init), the binding and
 * the arena region coded tables keep. Kernels: kernels/es_matvec_palette_s8.c and
 * kernels/es_matvec_palette_csr_s8.c (every ISA). */
#include "es_palette.h"
#include "es_registry.h"

static es_status_t es_palette_dense_check(const es_check_t *c, uint32_t offset, uint32_t bytes,
                                          uint32_t rows, uint32_t cols)
{
    return es_palette_check(c->blob, c->blob_bytes, c->arena, c->arena_bytes, ES_FMT_PALETTE, offset,
                            bytes, rows, cols);
}

static es_status_t es_palette_csr_check(const es_check_t *c, uint32_t offset, uint32_t bytes,
                                        uint32_t rows, uint32_t cols)
{
    return es_palette_check(c->blob, c->blob_bytes, c->arena, c->arena_bytes, ES_FMT_PALETTE_CSR,
                            offset, bytes, rows, cols);
}

static void es_palette_bind(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena)
{
    const es_palette_t *t = (const es_palette_t *)(const void *)(blob + offset);
    m->weights = (const int8_t *)0;
    m->counts = t->counts_offset ? (const uint16_t *)(const void *)(blob + t->counts_offset)
                                 : (const uint16_t *)0;
    if (es_palette_marked(t) && t->coding == ES_PALETTE_HUFFMAN_INIT) {
        /* row-marked: the counts es_palette_check wrote after the decoded entries */
        m->counts = (const uint16_t *)(const void *)(arena + t->ram_offset + es_palette_ram_counts(t));
    }
    m->values = (const int8_t *)(blob + t->codebook_offset);
    m->bits = t->bits;
    m->huff.lut = (const uint16_t *)0;
    m->index = t->coding == ES_PALETTE_RAW ? (const void *)(blob + t->stream_offset)
                                           : (const void *)(arena + t->ram_offset);
    if (t->coding == ES_PALETTE_HUFFMAN_ROWS) {
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
}

/* What es_folded_bias finds through es_palette_kept: the last 4 * rows bytes of the ram. */
static const int32_t *es_palette_folded(const uint8_t *blob, uint32_t offset, uint8_t *arena)
{
    const es_palette_t *t = (const es_palette_t *)(const void *)(blob + offset);
    return (const int32_t *)(const void *)(arena + t->ram_offset + t->ram_bytes - 4u * t->rows);
}

/* ES_LAYER_BIAS_FOLD (es_format_entry_t.fold_bias) for each palette format. */
static es_status_t es_palette_fold(const es_check_t *c, uint8_t format, uint32_t weights_offset,
                                   uint32_t bias_offset, uint32_t channels, int32_t zero_point, uint64_t terms,
                                   uint32_t max_product)
{
    const es_status_t st = es_palette_fold_bias(c->blob, c->arena, format, weights_offset,
                                                (const int16_t *)(const void *)(c->blob + bias_offset), zero_point);
    return st != ES_OK ? st
                       : es_check_bias_values(es_palette_folded(c->blob, weights_offset, c->arena), channels,
                                              terms, max_product);
}

static es_status_t es_palette_dense_fold(const es_check_t *c, uint32_t weights_offset, uint32_t bias_offset,
                                         uint32_t channels, int32_t zero_point, uint64_t terms, uint32_t max_product)
{
    return es_palette_fold(c, ES_FMT_PALETTE, weights_offset, bias_offset, channels, zero_point, terms,
                           max_product);
}

static es_status_t es_palette_csr_fold(const es_check_t *c, uint32_t weights_offset, uint32_t bias_offset,
                                       uint32_t channels, int32_t zero_point, uint64_t terms, uint32_t max_product)
{
    return es_palette_fold(c, ES_FMT_PALETTE_CSR, weights_offset, bias_offset, channels, zero_point, terms,
                           max_product);
}

static void es_palette_kept(const uint8_t *blob, uint32_t offset, uint32_t *ram_offset,
                            uint32_t *ram_bytes)
{
    const es_palette_t *t = (const es_palette_t *)(const void *)(blob + offset);
    *ram_offset = t->ram_offset;
    *ram_bytes = t->coding != ES_PALETTE_RAW ? t->ram_bytes : 0u;
}

const es_format_entry_t es_format_palette = {
    ES_FMT_PALETTE, es_palette_dense_check, es_palette_bind, 0, es_palette_kept, es_matvec_palette_s8, 0, 0,
    es_palette_dense_fold,
};

const es_format_entry_t es_format_palette_csr = {
    ES_FMT_PALETTE_CSR, es_palette_csr_check, es_palette_bind, 0, es_palette_kept,
    es_matvec_palette_csr_s8, 0, 0, es_palette_csr_fold,
};
