/* ES_FMT_PAIRS: es_sparse_t whose entries are column pairs: a uint16 first column c and one word
 * of two int16 weights (columns c and c + 1). FULLY_CONNECTED only (no conv hooks). Kernels:
 * kernels/es_matvec_pairs_s8.c (C), kernels/es_matvec_pairs_s8_dsp.c (DSP, MVE). */
#include "es_format_sparse.h"

static es_status_t es_pairs_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                  uint32_t cols)
{
    const es_sparse_t *s;
    const uint16_t *counts, *idx;
    const int16_t *v;
    uint32_t r, e, k = 0;
    es_status_t st = es_sparse_header(c, offset, bytes, rows, cols, &s);
    if (st == ES_OK) {
        st = es_sparse_tables(c, s, 2u, 4u * (uint64_t)s->entry_count, 4u, &counts);
    }
    if (st != ES_OK) {
        return st;
    }
    idx = (const uint16_t *)(const void *)(c->blob + s->index_offset);
    v = (const int16_t *)(const void *)(c->blob + s->values_offset);
    for (r = 0; r < rows; ++r) {
        uint32_t next = 0; /* the first column the pair may start at: pairs never overlap, so a
                            * row holds at most cols products (the bias check relies on it) */
        for (e = 0; e < counts[r]; ++e, ++k) {
            if (idx[k] >= cols || idx[k] < next || !es_int8_ok(v[2u * k]) ||
                !es_int8_ok(v[2u * k + 1u]) || (idx[k] == cols - 1u && v[2u * k + 1u] != 0)) {
                return ES_ERR_INDEX;
            }
            next = (uint32_t)idx[k] + 2u;
        }
    }
    return ES_OK;
}

/* the input widened to int16, and one 0 after it (a pair at the last column reads it) */
static uint32_t es_pairs_scratch_bytes(uint32_t cols)
{
    return (2u * cols + 2u + 3u) & ~3u;
}

const es_format_entry_t es_format_pairs = {
    ES_FMT_PAIRS, es_pairs_check, es_sparse_bind, es_pairs_scratch_bytes, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_pairs_s8_dsp,
#else
    es_matvec_pairs_s8,
#endif
    0, 0, /* no conv2 / conv4: FULLY_CONNECTED only */
    0,    /* fold_bias */
};
