/* ES_FMT_CSR8_HUFFMAN (es_csr8_huffman_t in edgesparse.h): a CSR8 table whose deltas and values
 * are Huffman coded. The check decodes both streams into the table's arena region once, at
 * init, and checks them as a CSR8 table; the binding points the CSR8 kernels
 * (kernels/es_matvec_csr8_s8.c, every ISA) at the decoded arrays. */
#include "es_format_sparse.h"
#include "es_palette.h"

/* Arena offset, from ram_offset, of the decoded values. */
static uint32_t es_csr8h_values_at(const es_csr8_huffman_t *t)
{
    return (t->entry_count + 3u) & ~3u;
}

/* One stream's code (counts, symbols) and bits inside the blob, decoded into n bytes at out. */
static es_status_t es_csr8h_decode(const es_check_t *c, uint32_t counts_offset, uint32_t symbols_offset,
                                   uint32_t symbol_count, uint32_t stream_offset, uint32_t stream_bytes,
                                   uint8_t *out, uint32_t n)
{
    es_huff_t h;
    es_bits_t b;
    es_status_t st;
    if (!es_table_ok(c, counts_offset, ES_HUFF_MAX_LEN + 1u, 2u, 2u) ||
        !es_table_ok(c, symbols_offset, symbol_count, 1u, 1u) ||
        !es_table_ok(c, stream_offset, stream_bytes, 1u, 1u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    h.counts = (const uint16_t *)(const void *)(c->blob + counts_offset);
    h.symbols = c->blob + symbols_offset;
    h.lut = (const uint16_t *)0;
    st = es_huff_check_counts(h.counts, symbol_count);
    if (st != ES_OK) {
        return st;
    }
    es_bits_init(&b, c->blob + stream_offset, stream_bytes);
    st = es_huff_read(&b, &h, out, n);
    if (st == ES_OK && es_bits_used(&b, c->blob + stream_offset) > 8u * (uint64_t)stream_bytes) {
        st = ES_ERR_HUFFMAN; /* the codes ran past the end of the stream */
    }
    return st;
}

static es_status_t es_csr8h_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                  uint32_t cols)
{
    const es_csr8_huffman_t *t;
    const uint16_t *counts;
    uint8_t *ram;
    uint64_t total = 0;
    uint32_t r;
    es_status_t st;
    if (bytes < sizeof(es_csr8_huffman_t) || !es_table_ok(c, offset, 1u, sizeof(es_csr8_huffman_t), 4u) ||
        (uint64_t)offset + bytes > c->blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    t = (const es_csr8_huffman_t *)(const void *)(c->blob + offset);
    if (t->rows != rows || t->cols != cols) {
        return ES_ERR_SHAPE;
    }
    if (!es_table_ok(c, t->counts_offset, rows, 2u, 2u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    counts = (const uint16_t *)(const void *)(c->blob + t->counts_offset);
    for (r = 0; r < rows; ++r) {
        total += counts[r];
    }
    if (total != t->entry_count) {
        return ES_ERR_INDEX;
    }
    if (t->entry_count == 0u) {
        return ES_OK; /* nothing to decode: the kernels read no entry */
    }
    if ((t->ram_offset & 3u) != 0u || (uint64_t)t->ram_offset + t->ram_bytes > c->arena_bytes ||
        t->ram_bytes < (uint64_t)es_csr8h_values_at(t) + t->entry_count) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    ram = c->arena + t->ram_offset;
    st = es_csr8h_decode(c, t->index_counts_offset, t->index_symbols_offset, t->index_symbol_count,
                         t->index_stream_offset, t->index_stream_bytes, ram, t->entry_count);
    if (st == ES_OK) {
        st = es_csr8h_decode(c, t->values_counts_offset, t->values_symbols_offset, t->values_symbol_count,
                             t->values_stream_offset, t->values_stream_bytes, ram + es_csr8h_values_at(t),
                             t->entry_count);
    }
    return st != ES_OK ? st : es_csr8_deltas_check(counts, ram, rows, cols);
}

static void es_csr8h_bind(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena)
{
    const es_csr8_huffman_t *t = (const es_csr8_huffman_t *)(const void *)(blob + offset);
    m->weights = (const int8_t *)0;
    m->counts = (const uint16_t *)(const void *)(blob + t->counts_offset);
    m->index = arena + t->ram_offset;
    m->values = (const int8_t *)(const void *)(arena + t->ram_offset + es_csr8h_values_at(t));
    m->bits = 0;
    m->huff.lut = (const uint16_t *)0;
}

static void es_csr8h_kept(const uint8_t *blob, uint32_t offset, uint32_t *ram_offset, uint32_t *ram_bytes)
{
    const es_csr8_huffman_t *t = (const es_csr8_huffman_t *)(const void *)(blob + offset);
    *ram_offset = t->ram_offset;
    *ram_bytes = t->entry_count != 0u ? t->ram_bytes : 0u;
}

const es_format_entry_t es_format_csr8_huffman = {
    ES_FMT_CSR8_HUFFMAN, es_csr8h_check, es_csr8h_bind, 0, es_csr8h_kept, es_matvec_csr8_s8, 0,
#if ES_ISA >= ES_ISA_DSP
    es_conv4_csr8_s8_dsp,
#else
    es_conv4_csr8_s8,
#endif
    0, /* fold_bias */
};

/* The same without the conv4 hook (a model with no CONV_2D layer in this format). */
const es_format_entry_t es_format_csr8_huffman_fc = {
    ES_FMT_CSR8_HUFFMAN, es_csr8h_check, es_csr8h_bind, 0, es_csr8h_kept, es_matvec_csr8_s8, 0, 0,
    0, /* fold_bias */
};
