/* ES_FMT_CSR8: es_sparse_t with uint8 column deltas (fillers bridge gaps > 255). Kernel:
 * kernels/es_matvec_csr8_s8.c (every ISA). */
#include "es_format_sparse.h"

es_status_t es_csr8_deltas_check(const uint16_t *counts, const uint8_t *d, uint32_t rows, uint32_t cols)
{
    uint32_t r, e, k = 0;
    for (r = 0; r < rows; ++r) {
        uint32_t col = 0;
        for (e = 0; e < counts[r]; ++e, ++k) {
            col += d[k];
            if (col >= cols || (e > 0 && d[k] == 0)) {
                return ES_ERR_INDEX;
            }
        }
    }
    return ES_OK;
}

static es_status_t es_csr8_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                 uint32_t cols)
{
    const es_sparse_t *s;
    const uint16_t *counts;
    es_status_t st = es_sparse_header(c, offset, bytes, rows, cols, &s);
    if (st == ES_OK) {
        st = es_sparse_tables(c, s, 1u, s->entry_count, 1u, &counts);
    }
    return st != ES_OK ? st : es_csr8_deltas_check(counts, c->blob + s->index_offset, rows, cols);
}

const es_format_entry_t es_format_csr8 = {
    ES_FMT_CSR8, es_csr8_check, es_sparse_bind, 0, 0, es_matvec_csr8_s8, 0,
#if ES_ISA >= ES_ISA_DSP
    es_conv4_csr8_s8_dsp,
#else
    es_conv4_csr8_s8,
#endif
    0, /* fold_bias */
};

/* The same without the conv4 hook, for a model with no CONV_2D layer in this format (its
 * firmware then does not link the four-pixel conv kernel). */
const es_format_entry_t es_format_csr8_fc = {
    ES_FMT_CSR8, es_csr8_check, es_sparse_bind, 0, 0, es_matvec_csr8_s8, 0, 0,
    0, /* fold_bias */
};
