/* 2:4 with the DSP extension: a table word holds the group's two inputs as int16 halves and
 * a value word holds the weight pairs of two groups, split by SXTB16 / SXTB16 ROR 8; one
 * SMLAD per group. */
#include "es_dsp.h"
#include "es_matvec.h"

/* es_matvec_layer.h's row (sb: the pair table): per group its table offset, the table word and
 * one SMLAD with its weight pair (SXTB16 of a value word, which holds two groups' pairs); eight
 * groups a step, their four value words loaded by two LDRDs (a row's values are whole words,
 * 4-aligned: es_nm24_check), then four, then one at a time */
#define ES_NM_GROUP(w, rot)                                                                    \
    "ldrh %[t0], [%[d]], #2\n\t"                                                               \
    "ldr %[t0], [%[sb], %[t0]]\n\t"                                                            \
    "sxtb16 %[t1], %[" #w "]" rot "\n\t"                                                       \
    "smlad %[acc], %[t0], %[t1], %[acc]\n\t"
#define ES_NM_QUAD                                                                             \
    "ldrd %[w02], %[w13], [%[v]], #8\n\t"                                                      \
    ES_NM_GROUP(w02, "") ES_NM_GROUP(w02, ", ror #8")                                          \
    ES_NM_GROUP(w13, "") ES_NM_GROUP(w13, ", ror #8")
#define ES_MV_ROW_MAC                                                                          \
    ES_MV_ROW_LOOP(ES_NM_QUAD ES_NM_QUAD,                                                      \
                   ES_NM_QUAD,                                                                 \
                   "ldr %[w02], [%[v]], #4\n\t"                                                \
                   ES_NM_GROUP(w02, "")                                                        \
                   "subs %[n], %[n], #1\n\t"                                                   \
                   "beq 4f\n\t"                                                                \
                   ES_NM_GROUP(w02, ", ror #8")                                                \
                   "subs %[n], %[n], #1\n\t"                                                   \
                   "bne 3b\n")
#include "es_matvec_layer.h"

void es_matvec_nm24_s8_dsp(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint8_t *table = (const uint8_t *)m->scratch;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    const uint32_t groups = m->cols / 4u;
    uint32_t r, g;
    es_nm24_pairs(x, m->cols, m->scratch);
#ifdef ES_MV_LAYER_ASM
    if (m->rq_fast != 0u) {
        es_mv_whole_layer(m, m->scratch, y);
        return;
    }
#endif
    for (r = 0; r < m->rows; ++r) {
        int32_t acc = m->bias[r];
        for (g = 0; g + 2u <= groups; g += 2u, idx += 2, v += 4) {
            const uint32_t w = es_read_u32(v);
            acc = es_smlad(*(const uint32_t *)(const void *)(table + idx[0]), es_sxtb16(w), acc);
            acc = es_smlad(*(const uint32_t *)(const void *)(table + idx[1]), es_sxtb16_ror8(w), acc);
        }
        if (g < groups) {
            acc = es_smlad(*(const uint32_t *)(const void *)(table + *idx++), es_sxtb16(es_read_u32(v)),
                           acc);
            v += 4;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
