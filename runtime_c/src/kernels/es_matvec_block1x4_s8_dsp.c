/* Block-sparse 1x4 with the DSP extension: a block's four inputs and four weights are one
 * word each; two SXTB16 pairs and two SMLADs do the block. */
#include "es_dsp.h"
#include "es_matvec.h"

/* es_matvec_layer.h's row, two blocks a step: per block its index, one word of four inputs and
 * one of four weights, two SXTB16 pairs each and two SMLADs */
#define ES_MV_BLOCK                                                                            \
    "ldrh %[t0], [%[d]], #2\n\t"                                                               \
    "ldr %[t0], [%[sb], %[t0]]\n\t"                                                            \
    "ldr %[w13], [%[v]], #4\n\t"                                                               \
    "sxtb16 %[t1], %[t0]\n\t"                                                                  \
    "sxtb16 %[w02], %[w13]\n\t"                                                                \
    "smlad %[acc], %[t1], %[w02], %[acc]\n\t"                                                  \
    "sxtb16 %[t1], %[t0], ror #8\n\t"                                                          \
    "sxtb16 %[w02], %[w13], ror #8\n\t"                                                        \
    "smlad %[acc], %[t1], %[w02], %[acc]\n\t"
#define ES_MV_ROW_MAC                                                                          \
    "subs %[n], %[n], #2\n\t"                                                                  \
    "blt 2f\n"                                                                                 \
    "1:\n\t"                                                                                   \
    ES_MV_BLOCK ES_MV_BLOCK                                                                    \
    "subs %[n], %[n], #2\n\t"                                                                  \
    "bge 1b\n"                                                                                 \
    "2:\n\t"                                                                                   \
    "adds %[n], %[n], #2\n\t"                                                                  \
    "beq 4f\n\t"                                                                               \
    ES_MV_BLOCK                                                                                \
    "4:\n\t"
#include "es_matvec_layer.h"

void es_matvec_block1x4_s8_dsp(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    uint32_t r;
#ifdef ES_MV_LAYER_ASM
    if (m->rq_fast != 0u) {
        es_mv_whole_layer(m, x, y);
        return;
    }
#endif
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        uint32_t n = m->counts[r];
        for (; n >= 2u; n -= 2u, idx += 2, v += 8) {
            const uint32_t xa = es_read_u32(x + idx[0]), wa = es_read_u32(v);
            const uint32_t xb = es_read_u32(x + idx[1]), wb = es_read_u32(v + 4);
            acc = es_smlad(es_sxtb16(xa), es_sxtb16(wa), acc);
            acc = es_smlad(es_sxtb16_ror8(xa), es_sxtb16_ror8(wa), acc);
            acc = es_smlad(es_sxtb16(xb), es_sxtb16(wb), acc);
            acc = es_smlad(es_sxtb16_ror8(xb), es_sxtb16_ror8(wb), acc);
        }
        if (n) {
            const uint32_t xa = es_read_u32(x + *idx++), wa = es_read_u32(v);
            acc = es_smlad(es_sxtb16(xa), es_sxtb16(wa), acc);
            acc = es_smlad(es_sxtb16_ror8(xa), es_sxtb16_ror8(wa), acc);
            v += 4;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
