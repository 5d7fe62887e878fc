/* ES_FMT_DENSE: int8 [rows][cols], no table header. Kernels: kernels/es_matvec_dense_s8.c (C),
 * kernels/es_matvec_dense_s8_dsp.c (DSP, MVE); for CONV_2D two pixels at a time,
 * kernels/es_conv2_dense_s8.c and kernels/es_conv2_dense_s8_dsp.c. */
#include "es_registry.h"

static es_status_t es_dense_check(const es_check_t *c, uint32_t offset, uint32_t bytes, uint32_t rows,
                                  uint32_t cols)
{
    if ((uint64_t)rows * cols != bytes) {
        return ES_ERR_SHAPE;
    }
    return es_table_ok(c, offset, bytes, 1, 1) ? ES_OK : ES_ERR_TABLE_BOUNDS;
}

static void es_dense_bind(es_matvec_t *m, const uint8_t *blob, uint32_t offset, uint8_t *arena)
{
    (void)arena;
    m->weights = (const int8_t *)(blob + offset);
    m->counts = (const uint16_t *)0;
    m->index = (const void *)0;
    m->values = (const int8_t *)0;
    m->bits = 0;
    m->huff.lut = (const uint16_t *)0;
}

const es_format_entry_t es_format_dense = {
    ES_FMT_DENSE, es_dense_check, es_dense_bind, 0, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_dense_s8_dsp, es_conv2_dense_s8_dsp, 0,
#else
    es_matvec_dense_s8, es_conv2_dense_s8, 0,
#endif
    0, /* fold_bias */
};

/* The same format for a model whose dense layers are all FULLY_CONNECTED: no conv2 hook, so
 * --gc-sections drops the two-pixel conv kernel from its firmware (the generated registry
 * names this entry then; toolchain/codegen/model.py). */
const es_format_entry_t es_format_dense_fc = {
    ES_FMT_DENSE, es_dense_check, es_dense_bind, 0, 0,
#if ES_ISA >= ES_ISA_DSP
    es_matvec_dense_s8_dsp, 0, 0,
#else
    es_matvec_dense_s8, 0, 0,
#endif
    0, /* fold_bias */
};
