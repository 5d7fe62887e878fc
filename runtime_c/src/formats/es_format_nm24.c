/* ES_FMT_NM24 (2:4): es_sparse_t with, per group of 4 inputs, the byte offset of its input
 * pair in the pair table the kernel builds in its scratch. Kernels: kernels/es_matvec_nm24_s8.c
 * (C), kernels/es_matvec_nm24_s8_dsp.c (DSP, MVE); CONV_2D four pixels at a time:
 * kernels/es_conv4_nm24_s8[_dsp].c. */
#include "es_format_sparse.h"

static es_status_t es_nm24_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                 uint32_t cols)
{
    const es_sparse_t *s;
    const uint16_t *counts, *idx;
    uint32_t r, e, k = 0;
    es_status_t st = es_sparse_header(c, offset, bytes, rows, cols, &s);
    if (st != ES_OK) {
        return st;
    }
    if (cols % 4u != 0 || s->entry_count != rows * (cols / 4u)) {
        return ES_ERR_SHAPE;
    }
    /* the values: whole words per row, 4-aligned (the DSP kernel reads them by LDRD) */
    st = es_sparse_tables(c, s, 2u, 4u * (uint64_t)rows * ((cols / 4u + 1u) / 2u), 4u, &counts);
    if (st != ES_OK) {
        return st;
    }
    idx = (const uint16_t *)(const void *)(c->blob + s->index_offset);
    for (r = 0; r < rows; ++r) {
        if (counts[r] != cols / 4u) {
            return ES_ERR_INDEX;
        }
        for (e = 0; e < counts[r]; ++e, ++k) { /* group e's pair: one of its six table words */
            if (idx[k] < e * 24u || idx[k] >= e * 24u + 24u || (idx[k] & 3u) != 0) {
                return ES_ERR_INDEX;
            }
        }
    }
    return ES_OK;
}

static uint32_t es_nm24_scratch_bytes(uint32_t cols)
{
    return 24u * (cols / 4u);
}

const es_format_entry_t es_format_nm24 = {
    ES_FMT_NM24, es_nm24_check, es_sparse_bind, es_nm24_scratch_bytes, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_nm24_s8_dsp, 0, es_conv4_nm24_s8_dsp,
#else
    es_matvec_nm24_s8, 0, es_conv4_nm24_s8,
#endif
    0, /* fold_bias */
};

/* The same without the conv4 hook, for a model with no CONV_2D layer in this format (its
 * firmware then does not link the four-pixel conv kernel). */
const es_format_entry_t es_format_nm24_fc = {
    ES_FMT_NM24, es_nm24_check, es_sparse_bind, es_nm24_scratch_bytes, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_nm24_s8_dsp, 0, 0,
#else
    es_matvec_nm24_s8, 0, 0,
#endif
    0, /* fold_bias */
};
