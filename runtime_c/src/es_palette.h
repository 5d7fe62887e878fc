/* Palette (weight-sharing) tables: canonical Huffman decoding and the row loops that the
 * palette kernels share. Internal to the runtime; the table layout is es_palette_t in
 * edgesparse.h.
 *
 * Huffman streams are read MSB first through a 32-bit bit buffer. A 256-entry table answers
 * codes of up to 8 bits in one lookup ((symbol << 4) | length, 0 for longer codes); longer
 * codes are found length by length from 9 bits up, comparing with the first code of each
 * length (canonical codes are consecutive within a length, as in DEFLATE). Without the
 * tables (at init, coding 1) the same search starts at 1 bit. Past
 * the end of the stream the buffer fills with zeros and `overrun` counts them, so a decoder
 * can never read outside the stream; es_model_init rejects a stream that needed them. */
#ifndef ES_PALETTE_H
#define ES_PALETTE_H

#include "edgesparse.h"
#include "es_fixedpoint.h"

#define ES_HUFF_MAX_LEN 16u
#define ES_HUFF_LUT_BITS 8u
#define ES_HUFF_LUT_BYTES (2u << ES_HUFF_LUT_BITS)
/* coding 2's decode tables in the arena: lut[256], first[17], index[17] (all uint16) */
#define ES_HUFF_TABLE_BYTES (ES_HUFF_LUT_BYTES + 4u * (ES_HUFF_MAX_LEN + 1u))

typedef struct {
    const uint16_t *counts; /* [ES_HUFF_MAX_LEN + 1], codes per length */
    const uint8_t *symbols; /* in canonical order */
    const uint16_t *lut;    /* [256]: (symbol << 4) | length for codes of <= 8 bits */
    const uint16_t *first;  /* [17]: first code of each length */
    const uint16_t *index;  /* [17]: its position in symbols */
    const uint8_t *stream;
    uint32_t stream_bytes;
    uint8_t *row; /* coding 2: one row of raw entries */
} es_huff_t;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t buf;     /* unread bits, MSB aligned */
    uint32_t count;   /* valid bits in buf */
    uint32_t overrun; /* zero bytes fed after the end of the stream */
} es_bits_t;

ES_INLINE void es_bits_init(es_bits_t *b, const uint8_t *stream, uint32_t bytes)
{
    b->p = stream;
    b->end = stream + bytes;
    b->buf = 0;
    b->count = 0;
    b->overrun = 0;
}

/* At least 25 valid bits in buf afterwards. */
ES_INLINE void es_bits_refill(es_bits_t *b)
{
    while (b->count <= 24u) {
        uint32_t byte = 0;
        if (b->p < b->end) {
            byte = *b->p++;
        } else {
            b->overrun++;
        }
        b->buf |= byte << (24u - b->count);
        b->count += 8u;
    }
}

/* Bits taken from the stream so far, beyond its end included. */
ES_INLINE uint32_t es_bits_used(const es_bits_t *b, const uint8_t *stream)
{
    return 8u * ((uint32_t)(b->p - stream) + b->overrun) - b->count;
}

/* The next symbol by the canonical walk from 1 bit, or -1 for a code not in the table. */
int32_t es_huff_walk(es_bits_t *b, const es_huff_t *h);

/* The next symbol of a code longer than the lookup table's (coding 2's tables built). */
int32_t es_huff_long(es_bits_t *b, const es_huff_t *h);

/* The next symbol through the lookup table (which must exist), else the canonical walk. */
ES_INLINE int32_t es_huff_next(es_bits_t *b, const es_huff_t *h)
{
    uint32_t e;
    if (b->count < ES_HUFF_LUT_BITS) {
        es_bits_refill(b);
    }
    e = h->lut[b->buf >> (32u - ES_HUFF_LUT_BITS)];
    if (e != 0u) {
        const uint32_t len = e & 15u;
        b->buf <<= len;
        b->count -= len;
        return (int32_t)(e >> 4);
    }
    return es_huff_long(b, h);
}

/* counts[0..16] describe a prefix code of symbol_count symbols: no length over-subscribed. */
es_status_t es_huff_check_counts(const uint16_t *counts, uint32_t symbol_count);

/* Decodes n bytes into out (through the lookup table when h->lut is set, else the canonical
 * walk), ES_ERR_HUFFMAN for a code not in the table. */
es_status_t es_huff_read(es_bits_t *b, const es_huff_t *h, uint8_t *out, uint32_t n);

/* Container bits per code of a PALETTE row: 1, 2, 4 or 8. */
ES_INLINE uint32_t es_palette_container_bits(uint32_t bits)
{
    return bits <= 2u ? bits : (bits <= 4u ? 4u : 8u);
}

/* Bytes of one PALETTE row of cols codes. */
ES_INLINE uint32_t es_palette_row_bytes(uint32_t cols, uint32_t bits)
{
    const uint32_t per_byte = 8u / es_palette_container_bits(bits);
    return (cols + per_byte - 1u) / per_byte;
}

/* A Huffman-coded PALETTE_CSR table stores no counts (counts_offset 0): each row of the
 * decoded stream ends with a 0 byte, which no entry is, so raw_bytes = entry_count + rows (a
 * PALETTE table's raw_bytes, rows * ceil(cols / codes per byte), never are). For a table
 * es_palette_check accepted. */
ES_INLINE int es_palette_marked(const es_palette_t *t)
{
    return t->coding != ES_PALETTE_RAW && t->counts_offset == 0u &&
           (uint64_t)t->entry_count + t->rows == t->raw_bytes;
}

/* Coding 1 of a row-marked table: the arena offset (from ram_offset) of the uint16 counts
 * the init decoder writes after the entries. */
ES_INLINE uint32_t es_palette_ram_counts(const es_palette_t *t)
{
    return (t->entry_count + 3u) & ~3u;
}

/* Coding 1: the ram offset (from ram_offset) where what the decoder keeps ends (the decoded
 * entries, and a row-marked table's counts): an ES_LAYER_BIAS_FOLD layer's folded bias lies
 * at or after it. */
ES_INLINE uint32_t es_palette_ram_bias(const es_palette_t *t)
{
    return es_palette_marked(t) ? es_palette_ram_counts(t) + ((2u * t->rows + 3u) & ~3u)
                                : (t->raw_bytes + 3u) & ~3u;
}

/* ES_LAYER_BIAS_FOLD, after es_palette_check decoded the table at blob + offset (coding 1):
 * writes bias[r] - zero_point * (row r's weight sum) for every row into the last 4 * rows bytes
 * of the table's ram (es_folded_bias); ES_ERR_FORMAT unless coding 1, ES_ERR_TENSOR_BOUNDS
 * when they would overlap what the decoder keeps (es_palette_ram_bias), ES_ERR_QUANT for a
 * value outside int32. */
es_status_t es_palette_fold_bias(const uint8_t *blob, uint8_t *arena, uint8_t format, uint32_t offset,
                                 const int16_t *bias, int32_t zero_point);

/* Checks a palette table (format, blob offset, bytes) for a rows x cols matrix; decodes a
 * Huffman stream (into the arena for coding 1, building the decode table for coding 2)
 * and checks every entry it holds. */
es_status_t es_palette_check(const uint8_t *blob, uint32_t blob_bytes, uint8_t *arena,
                             uint32_t arena_bytes, uint8_t format, uint32_t offset, uint32_t bytes,
                             uint32_t rows, uint32_t cols);

#endif /* ES_PALETTE_H */
