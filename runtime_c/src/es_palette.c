/* Palette tables: validation, Huffman decode tables and init-time decoding (es_palette.h). */
#include "es_palette.h"

int32_t es_huff_walk(es_bits_t *b, const es_huff_t *h)
{
    uint32_t first = 0, index = 0, len;
    es_bits_refill(b);
    for (len = 1u; len <= ES_HUFF_MAX_LEN; ++len) {
        const uint32_t count = h->counts[len];
        const uint32_t code = b->buf >> (32u - len);
        if (code - first < count) {
            b->buf <<= len;
            b->count -= len;
            return (int32_t)h->symbols[index + (code - first)];
        }
        index += count;
        first = (first + count) << 1;
    }
    return -1;
}

int32_t es_huff_long(es_bits_t *b, const es_huff_t *h)
{
    uint32_t len;
    es_bits_refill(b);
    for (len = ES_HUFF_LUT_BITS + 1u; len <= ES_HUFF_MAX_LEN; ++len) {
        const uint32_t code = b->buf >> (32u - len);
        if (code - h->first[len] < h->counts[len]) {
            b->buf <<= len;
            b->count -= len;
            return (int32_t)h->symbols[h->index[len] + (code - h->first[len])];
        }
    }
    return -1;
}

static int es_span_ok(uint32_t limit, uint32_t offset, uint64_t bytes, uint32_t align)
{
    return (offset % align) == 0u && (uint64_t)offset + bytes <= limit;
}

es_status_t es_huff_check_counts(const uint16_t *counts, uint32_t symbol_count)
{
    int64_t left = 1;
    uint32_t len, total = 0;
    if (counts[0] != 0u || symbol_count == 0u || symbol_count > 256u) {
        return ES_ERR_HUFFMAN;
    }
    for (len = 1u; len <= ES_HUFF_MAX_LEN; ++len) {
        left = 2 * left - (int64_t)counts[len];
        total += counts[len];
        if (left < 0) {
            return ES_ERR_HUFFMAN;
        }
    }
    return total == symbol_count ? ES_OK : ES_ERR_HUFFMAN;
}

/* coding 2's tables of a checked code at ram: the 8-bit lookup table, then the first code
 * and symbol position of each length. */
static void es_huff_build_tables(es_huff_t *h, uint8_t *ram)
{
    uint16_t *lut = (uint16_t *)(void *)ram;
    uint16_t *first = lut + (1u << ES_HUFF_LUT_BITS);
    uint16_t *index = first + ES_HUFF_MAX_LEN + 1u;
    uint32_t len, i, code = 0, k = 0;
    for (len = 0; len <= ES_HUFF_MAX_LEN; ++len) {
        first[len] = (uint16_t)code;
        index[len] = (uint16_t)k;
        k += h->counts[len];
        code = (code + h->counts[len]) << 1;
    }
    code = 0;
    k = 0;
    for (i = 0; i < (1u << ES_HUFF_LUT_BITS); ++i) {
        lut[i] = 0;
    }
    for (len = 1u; len <= ES_HUFF_LUT_BITS; ++len) {
        for (i = 0; i < h->counts[len]; ++i, ++k, ++code) {
            const uint32_t lo = code << (ES_HUFF_LUT_BITS - len);
            const uint32_t hi = (code + 1u) << (ES_HUFF_LUT_BITS - len);
            uint32_t j;
            for (j = lo; j < hi; ++j) {
                lut[j] = (uint16_t)(((uint32_t)h->symbols[k] << 4) | len);
            }
        }
        code <<= 1;
    }
    h->lut = lut;
    h->first = first;
    h->index = index;
}

es_status_t es_huff_read(es_bits_t *b, const es_huff_t *h, uint8_t *out, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t s = h->lut ? es_huff_next(b, h) : es_huff_walk(b, h);
        if (s < 0) {
            return ES_ERR_HUFFMAN;
        }
        out[i] = (uint8_t)s;
    }
    return ES_OK;
}

es_status_t es_palette_fold_bias(const uint8_t *blob, uint8_t *arena, uint8_t format, uint32_t offset,
                                 const int16_t *bias, int32_t zero_point)
{
    const es_palette_t *t = (const es_palette_t *)(const void *)(blob + offset);
    const int8_t *cb = (const int8_t *)(const void *)(blob + t->codebook_offset);
    const uint8_t *e = arena + t->ram_offset; /* the decoded stream */
    const uint32_t mask = (1u << t->bits) - 1u;
    int32_t *out;
    uint32_t r, i;
    if (t->coding != ES_PALETTE_HUFFMAN_INIT) {
        return ES_ERR_FORMAT;
    }
    if ((t->ram_bytes & 3u) != 0u || (uint64_t)es_palette_ram_bias(t) + 4u * (uint64_t)t->rows > t->ram_bytes) {
        return ES_ERR_TENSOR_BOUNDS; /* after what the decoder keeps, 4-aligned */
    }
    out = (int32_t *)(void *)(arena + t->ram_offset + t->ram_bytes - 4u * t->rows); /* es_folded_bias */
    for (r = 0; r < t->rows; ++r) {
        int64_t sum = 0, v;
        if (format == ES_FMT_PALETTE_CSR) {
            const uint16_t *counts = es_palette_marked(t)
                ? (const uint16_t *)(const void *)(arena + t->ram_offset + es_palette_ram_counts(t))
                : (const uint16_t *)(const void *)(blob + t->counts_offset);
            for (i = 0; i < counts[r]; ++i, ++e) {
                sum += cb[*e & mask];
            }
        } else {
            const uint32_t w = es_palette_container_bits(t->bits);
            for (i = 0; i < t->cols; ++i) {
                sum += cb[((uint32_t)e[i * w / 8u] >> ((i * w) % 8u)) & ((1u << w) - 1u)];
            }
            e += es_palette_row_bytes(t->cols, t->bits);
        }
        v = (int64_t)bias[r] - (int64_t)zero_point * sum;
        if (v < INT32_MIN || v > INT32_MAX) {
            return ES_ERR_QUANT;
        }
        out[r] = (int32_t)v;
    }
    return ES_OK;
}

/* Decodes one row of a row-marked stream into out (at most cap entries), its length in *n. */
static es_status_t es_huff_read_row(es_bits_t *b, const es_huff_t *h, uint8_t *out, uint32_t cap,
                                    uint32_t *n)
{
    uint32_t i = 0;
    for (;;) {
        const int32_t s = h->lut ? es_huff_next(b, h) : es_huff_walk(b, h);
        if (s < 0 || (s != 0 && i == cap)) {
            return ES_ERR_HUFFMAN;
        }
        if (s == 0) {
            *n = i;
            return ES_OK;
        }
        out[i++] = (uint8_t)s;
    }
}

/* One row of raw entries: every column a PALETTE_CSR row steps to lies in [0, cols), every
 * PALETTE code indexes the codebook. */
static es_status_t es_palette_check_row(const uint8_t *e, uint32_t n, uint32_t cols, uint32_t bits,
                                        int sparse)
{
    uint32_t i;
    if (sparse) {
        uint32_t col = 0;
        for (i = 0; i < n; ++i) {
            const uint32_t step = (uint32_t)e[i] >> bits;
            col += step;
            /* columns strictly increase: a repeated column could overflow the accumulator */
            if (col >= cols || (step == 0u && i != 0u)) {
                return ES_ERR_INDEX;
            }
        }
    } else {
        const uint32_t w = es_palette_container_bits(bits);
        for (i = 0; i < cols; ++i) {
            const uint32_t code = ((uint32_t)e[i * w / 8u] >> ((i * w) % 8u)) & ((1u << w) - 1u);
            if (code >= (1u << bits)) {
                return ES_ERR_INDEX;
            }
        }
    }
    return ES_OK;
}

es_status_t es_palette_check(const uint8_t *blob, uint32_t blob_bytes, uint8_t *arena,
                             uint32_t arena_bytes, uint8_t format, uint32_t offset, uint32_t bytes,
                             uint32_t rows, uint32_t cols)
{
    const es_palette_t *t;
    const uint16_t *counts = (const uint16_t *)0;
    const int sparse = format == ES_FMT_PALETTE_CSR;
    int marked = 0;
    uint32_t r, row_max = 0;
    uint64_t raw = 0, ram_need, decoded = 0;
    uint16_t *ram_counts = (uint16_t *)0;
    es_huff_t h;
    es_bits_t bits;
    uint8_t *dst;
    es_status_t st;

    if (bytes < sizeof(es_palette_t) || !es_span_ok(blob_bytes, offset, bytes, 4u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    t = (const es_palette_t *)(const void *)(blob + offset);
    if (t->rows != rows || t->cols != cols || rows == 0u || cols == 0u) {
        return ES_ERR_SHAPE;
    }
    if (t->bits < ES_PALETTE_MIN_BITS || t->bits > ES_PALETTE_MAX_BITS || t->coding > ES_PALETTE_HUFFMAN_ROWS) {
        return ES_ERR_FORMAT;
    }
    if (!es_span_ok(blob_bytes, t->codebook_offset, 1u << t->bits, 1u) ||
        !es_span_ok(blob_bytes, t->stream_offset, t->stream_bytes, 1u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    marked = sparse && t->coding != ES_PALETTE_RAW && t->counts_offset == 0u;
    if (sparse && blob[t->codebook_offset] != 0u) {
        return ES_ERR_INDEX; /* fillers must multiply by zero */
    }
    if (marked) {
        if ((uint64_t)t->entry_count + rows != t->raw_bytes) {
            return ES_ERR_INDEX;
        }
        raw = t->entry_count;
    } else if (sparse) {
        if (!es_span_ok(blob_bytes, t->counts_offset, 2u * (uint64_t)rows, 2u)) {
            return ES_ERR_TABLE_BOUNDS;
        }
        counts = (const uint16_t *)(const void *)(blob + t->counts_offset);
        for (r = 0; r < rows; ++r) {
            raw += counts[r];
            row_max = counts[r] > row_max ? counts[r] : row_max;
        }
        if (raw != t->raw_bytes || t->entry_count != t->raw_bytes) {
            return ES_ERR_INDEX;
        }
    } else {
        row_max = es_palette_row_bytes(cols, t->bits);
        raw = (uint64_t)row_max * rows;
        if (raw != t->raw_bytes || (uint64_t)rows * cols != t->entry_count) {
            return ES_ERR_SHAPE;
        }
    }

    if (t->coding == ES_PALETTE_RAW) {
        const uint8_t *entries = blob + t->stream_offset;
        if (t->stream_bytes != t->raw_bytes) {
            return ES_ERR_SHAPE;
        }
        for (r = 0; r < rows; ++r) {
            const uint32_t n = sparse ? counts[r] : row_max;
            st = es_palette_check_row(entries, n, cols, t->bits, sparse);
            if (st != ES_OK) {
                return st;
            }
            entries += n;
        }
        return ES_OK;
    }

    if (!es_span_ok(blob_bytes, t->huff_counts_offset, 2u * (ES_HUFF_MAX_LEN + 1u), 2u) ||
        !es_span_ok(blob_bytes, t->huff_symbols_offset, t->symbol_count, 1u)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    h.counts = (const uint16_t *)(const void *)(blob + t->huff_counts_offset);
    h.symbols = blob + t->huff_symbols_offset;
    h.stream = blob + t->stream_offset;
    h.stream_bytes = t->stream_bytes;
    h.lut = (const uint16_t *)0;
    h.row = (uint8_t *)0;
    st = es_huff_check_counts(h.counts, t->symbol_count);
    if (st != ES_OK) {
        return st;
    }
    if (t->coding == ES_PALETTE_HUFFMAN_INIT) {
        /* the entries, then (row-marked) the counts the decoder writes */
        ram_need = marked ? es_palette_ram_counts(t) + 2u * (uint64_t)rows : raw;
    } else {
        ram_need = ES_HUFF_TABLE_BYTES + (uint64_t)row_max; /* row-marked: a row of >= 0 */
    }
    if (!es_span_ok(arena_bytes, t->ram_offset, t->ram_bytes, 4u) || t->ram_bytes < ram_need) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    if (marked && t->coding == ES_PALETTE_HUFFMAN_INIT) {
        ram_counts = (uint16_t *)(void *)(arena + t->ram_offset + es_palette_ram_counts(t));
    }
    es_bits_init(&bits, h.stream, h.stream_bytes);
    if (t->coding == ES_PALETTE_HUFFMAN_ROWS) {
        es_huff_build_tables(&h, arena + t->ram_offset);
        h.row = arena + t->ram_offset + ES_HUFF_TABLE_BYTES;
    }
    dst = arena + t->ram_offset; /* coding 1: the decoded stream */
    for (r = 0; r < rows; ++r) {
        uint32_t n = sparse && !marked ? counts[r] : row_max;
        uint8_t *out = t->coding == ES_PALETTE_HUFFMAN_INIT ? dst : h.row;
        if (marked) {
            /* room: coding 1 the entries not yet decoded, coding 2 the row buffer */
            const uint32_t cap = t->coding == ES_PALETTE_HUFFMAN_INIT
                                     ? t->entry_count - (uint32_t)(dst - (arena + t->ram_offset))
                                     : t->ram_bytes - ES_HUFF_TABLE_BYTES;
            st = es_huff_read_row(&bits, &h, out, cap, &n);
            decoded += n;
            if (ram_counts != 0 && st == ES_OK) {
                if (n > 0xFFFFu) {
                    return ES_ERR_INDEX;
                }
                ram_counts[r] = (uint16_t)n;
            }
        } else {
            st = es_huff_read(&bits, &h, out, n);
        }
        if (st == ES_OK) {
            st = es_palette_check_row(out, n, cols, t->bits, sparse);
        }
        if (st != ES_OK) {
            return st;
        }
        if (t->coding == ES_PALETTE_HUFFMAN_INIT) {
            dst += n;
        }
    }
    if (marked && decoded != t->entry_count) {
        return ES_ERR_INDEX; /* the rows hold other than entry_count entries */
    }
    return es_bits_used(&bits, h.stream) <= 8u * (uint64_t)h.stream_bytes ? ES_OK : ES_ERR_HUFFMAN;
}
