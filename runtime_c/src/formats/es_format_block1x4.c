/* ES_FMT_BLOCK1X4: es_sparse_t with the uint16 first column of each block of 4 consecutive
 * weights of a row, a multiple of 4 (the four-pixel conv kernel reads a block's inputs as its
 * group of four columns); values 4 per block, 4-byte aligned. Kernels: kernels/es_matvec_block1x4_s8.c
 * (C), kernels/es_matvec_block1x4_s8_dsp.c (DSP, MVE). */
#include "es_format_sparse.h"

static es_status_t es_block1x4_check(const es_check_t *c, uint32_t offset, uint32_t bytes,
                                     uint32_t rows, uint32_t cols)
{
    const es_sparse_t *s;
    const uint16_t *counts, *idx;
    uint32_t r, e, k = 0;
    es_status_t st = es_sparse_header(c, offset, bytes, rows, cols, &s);
    if (st == ES_OK) {
        st = es_sparse_tables(c, s, 2u, 4u * (uint64_t)s->entry_count, 4u, &counts);
    }
    if (st != ES_OK) {
        return st;
    }
    idx = (const uint16_t *)(const void *)(c->blob + s->index_offset);
    for (r = 0; r < rows; ++r) {
        uint32_t next = 0; /* blocks do not overlap */
        for (e = 0; e < counts[r]; ++e, ++k) {
            if ((uint32_t)idx[k] + 4u > cols || idx[k] < next || (idx[k] & 3u) != 0u) {
                return ES_ERR_INDEX;
            }
            next = (uint32_t)idx[k] + 4u;
        }
    }
    return ES_OK;
}

const es_format_entry_t es_format_block1x4 = {
    ES_FMT_BLOCK1X4, es_block1x4_check, es_sparse_bind, 0, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_block1x4_s8_dsp, 0, es_conv4_block1x4_s8_dsp,
#else
    es_matvec_block1x4_s8, 0, es_conv4_block1x4_s8,
#endif
    0, /* fold_bias */
};

/* The same without the conv4 hook, for a model with no CONV_2D layer in this format (its
 * firmware then does not link the four-pixel conv kernel). */
const es_format_entry_t es_format_block1x4_fc = {
    ES_FMT_BLOCK1X4, es_block1x4_check, es_sparse_bind, 0, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_block1x4_s8_dsp, 0, 0,
#else
    es_matvec_block1x4_s8, 0, 0,
#endif
    0, /* fold_bias */
};
