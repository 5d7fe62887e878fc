/* ES_FMT_CSR8_HUFFMAN (es_csr8_huffman_t in edgesparse.h): a CSR8 table whose deltas and values
 * are Huffman coded, rows ending in the index stream. The check decodes both streams into the
 * table's arena region once, at init (deltas, values, row counts), and checks them as a CSR8
 * table; the binding points the CSR8 kernels (kernels/es_matvec_csr8_s8.c, every ISA) at them.
 * An ES_LAYER_BIAS_FOLD layer's bias is folded into the region's last 4 * rows bytes. */
#include "es_format_sparse.h"
#include "es_palette.h"

/* Arena offsets, from ram_offset, of the decoded values and row counts. */
static uint32_t es_csr8h_values_at(const es_csr8_huffman_t *t)
{
    return (t->entry_count + 3u) & ~3u;
}

static uint32_t es_csr8h_counts_at(const es_csr8_huffman_t *t)
{
    return 2u * es_csr8h_values_at(t);
}

/* One stream's code (counts, symbols) inside the blob, checked, and its bits. */
static es_status_t es_csr8h_code(const es_check_t *c, uint32_t counts_offset, uint32_t symbols_offset,
                                 uint32_t symbol_count, uint32_t stream_offset, uint32_t stream_bytes,
                                 es_huff_t *h, es_bits_t *b)
{
    if (!es_table_ok(c, counts_offset, ES_HUFF_MAX_LEN + 1u, 2u, 2u) ||
        !es_table_ok(c, symbols_offset, symbol_count, 1u, 1u) ||
        !es_table_ok(c, stream_offset, stream_bytes, 1u, 1u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    h->counts = (const uint16_t *)(const void *)(c->blob + counts_offset);
    h->symbols = c->blob + symbols_offset;
    h->lut = (const uint16_t *)0;
    es_bits_init(b, c->blob + stream_offset, stream_bytes);
    return es_huff_check_counts(h->counts, symbol_count);
}

/* The index stream into deltas[entry_count] and counts[rows]: ES_ERR_INDEX unless its rows hold
 * entry_count entries in all, no row more than 65535. */
static es_status_t es_csr8h_index(es_bits_t *b, const es_huff_t *h, const es_csr8_huffman_t *t, uint8_t *deltas,
                                  uint16_t *counts)
{
    uint32_t r, k = 0;
    for (r = 0; r < t->rows; ++r) {
        uint32_t n = 0;
        for (;;) {
            const int32_t s = es_huff_walk(b, h);
            if (s < 0) {
                return ES_ERR_HUFFMAN;
            }
            if (s == 0) {
                break;
            }
            if (k == t->entry_count || n == 0xFFFFu) {
                return ES_ERR_INDEX;
            }
            deltas[k++] = (uint8_t)(s - 1);
            ++n;
        }
        counts[r] = (uint16_t)n;
    }
    return k == t->entry_count ? ES_OK : ES_ERR_INDEX;
}

static es_status_t es_csr8h_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                  uint32_t cols)
{
    const es_csr8_huffman_t *t;
    uint8_t *ram;
    es_huff_t h;
    es_bits_t b;
    es_status_t st;
    if (bytes < sizeof(es_csr8_huffman_t) || !es_table_ok(c, offset, 1u, sizeof(es_csr8_huffman_t), 4u) ||
        (uint64_t)offset + bytes > c->blob_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    t = (const es_csr8_huffman_t *)(const void *)(c->blob + offset);
    if (t->rows != rows || t->cols != cols) {
        return ES_ERR_SHAPE;
    }
    /* deltas, values and counts fit the ram (in 64 bits: es_csr8h_counts_at wraps for a huge
     * entry_count, which this rules out) */
    if ((t->ram_offset & 3u) != 0u || (uint64_t)t->ram_offset + t->ram_bytes > c->arena_bytes ||
        t->ram_bytes < 2u * (((uint64_t)t->entry_count + 3u) & ~3ull) + 2u * (uint64_t)rows) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    ram = c->arena + t->ram_offset;
    st = es_csr8h_code(c, t->index_counts_offset, t->index_symbols_offset, t->index_symbol_count,
                       t->index_stream_offset, t->index_stream_bytes, &h, &b);
    if (st == ES_OK) {
        st = es_csr8h_index(&b, &h, t, ram, (uint16_t *)(void *)(ram + es_csr8h_counts_at(t)));
    }
    if (st == ES_OK && es_bits_used(&b, c->blob + t->index_stream_offset) > 8u * (uint64_t)t->index_stream_bytes) {
        st = ES_ERR_HUFFMAN; /* the codes ran past the end of the stream */
    }
    if (st == ES_OK && t->entry_count != 0u) {
        st = es_csr8h_code(c, t->values_counts_offset, t->values_symbols_offset, t->values_symbol_count,
                           t->values_stream_offset, t->values_stream_bytes, &h, &b);
        if (st == ES_OK) {
            st = es_huff_read(&b, &h, ram + es_csr8h_values_at(t), t->entry_count);
        }
        if (st == ES_OK &&
            es_bits_used(&b, c->blob + t->values_stream_offset) > 8u * (uint64_t)t->values_stream_bytes) {
            st = ES_ERR_HUFFMAN;
        }
    }
    return st != ES_OK ? st
                       : es_csr8_deltas_check((const uint16_t *)(const void *)(ram + es_csr8h_counts_at(t)), ram,
                                              rows, cols);
}

static void es_csr8h_bind(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena)
{
    const es_csr8_huffman_t *t = (const es_csr8_huffman_t *)(const void *)(blob + offset);
    const uint8_t *ram = arena + t->ram_offset;
    m->weights = (const int8_t *)0;
    m->counts = (const uint16_t *)(const void *)(ram + es_csr8h_counts_at(t));
    m->index = ram;
    m->values = (const int8_t *)(const void *)(ram + es_csr8h_values_at(t));
    m->bits = 0;
    m->huff.lut = (const uint16_t *)0;
}

static void es_csr8h_kept(const uint8_t *blob, uint32_t offset, uint32_t *ram_offset, uint32_t *ram_bytes)
{
    const es_csr8_huffman_t *t = (const es_csr8_huffman_t *)(const void *)(blob + offset);
    *ram_offset = t->ram_offset;
    *ram_bytes = t->ram_bytes;
}

/* ES_LAYER_BIAS_FOLD: bias[r] - zero_point * (row r's weight sum) into the ram's last 4 * rows
 * bytes (es_folded_bias), once es_csr8h_check decoded the table. */
static es_status_t es_csr8h_fold(const es_check_t *c, uint32_t weights_offset, uint32_t bias_offset,
                                 uint32_t channels, int32_t zero_point, uint64_t terms, uint32_t max_product)
{
    const es_csr8_huffman_t *t = (const es_csr8_huffman_t *)(const void *)(c->blob + weights_offset);
    const uint8_t *ram = c->arena + t->ram_offset;
    const int8_t *v = (const int8_t *)(const void *)(ram + es_csr8h_values_at(t));
    const uint16_t *counts = (const uint16_t *)(const void *)(ram + es_csr8h_counts_at(t));
    const int16_t *bias = (const int16_t *)(const void *)(c->blob + bias_offset);
    int32_t *out;
    uint32_t r, i;
    /* after the counts, 4-aligned (the check saw the counts fit) */
    if ((t->ram_bytes & 3u) != 0u ||
        (uint64_t)es_csr8h_counts_at(t) + ((2u * (uint64_t)t->rows + 3u) & ~3ull) + 4u * (uint64_t)t->rows >
            t->ram_bytes) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    out = (int32_t *)(void *)(c->arena + t->ram_offset + t->ram_bytes - 4u * t->rows);
    for (r = 0; r < t->rows; ++r) {
        int64_t sum = 0, folded;
        for (i = 0; i < counts[r]; ++i) {
            sum += *v++;
        }
        folded = (int64_t)bias[r] - (int64_t)zero_point * sum;
        if (folded < INT32_MIN || folded > INT32_MAX) {
            return ES_ERR_QUANT;
        }
        out[r] = (int32_t)folded;
    }
    return es_check_bias_values(out, channels, terms, max_product);
}

const es_format_entry_t es_format_csr8_huffman = {
    ES_FMT_CSR8_HUFFMAN, es_csr8h_check, es_csr8h_bind, 0, es_csr8h_kept, es_matvec_csr8_s8, 0,
#if ES_ISA >= ES_ISA_DSP
    es_conv4_csr8_s8_dsp,
#else
    es_conv4_csr8_s8,
#endif
    es_csr8h_fold,
};

/* The same without the conv4 hook (a model with no CONV_2D layer in this format). */
const es_format_entry_t es_format_csr8_huffman_fc = {
    ES_FMT_CSR8_HUFFMAN, es_csr8h_check, es_csr8h_bind, 0, es_csr8h_kept, es_matvec_csr8_s8, 0, 0,
    es_csr8h_fold,
};
