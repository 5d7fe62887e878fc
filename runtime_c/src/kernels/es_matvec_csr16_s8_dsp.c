/* CSR16 with the DSP extension: four stored weights are one word, split by SXTB16 into the
 * pairs (0,2) and (1,3); the four gathered inputs are packed into the same pairs (PKHBT) so
 * two SMLADs do the four multiply-adds. */
#include "es_dsp.h"
#include "es_matvec.h"

/* es_matvec_layer.h's row: eight stored weights a step (two words of weights, four SXTB16; per
 * pair of weights two index loads, two input loads, one PKHBT and one SMLAD), then four, then
 * one at a time */
#define ES_MV_PAIRS(w, o0, o1)                                                                 \
    "ldrh %[t0], [%[d], #" #o0 "]\n\t"                                                         \
    "ldrh %[t1], [%[d], #" #o1 "]\n\t"                                                         \
    "ldrsb %[t0], [%[sb], %[t0]]\n\t"                                                          \
    "ldrsb %[t1], [%[sb], %[t1]]\n\t"                                                          \
    "pkhbt %[t0], %[t0], %[t1], lsl #16\n\t"                                                   \
    "smlad %[acc], %[t0], %[" #w "], %[acc]\n\t"
#define ES_MV_QUAD(a, b, c, e)                                                                 \
    "ldr %[w13], [%[v]], #4\n\t"                                                               \
    "sxtb16 %[w02], %[w13]\n\t"                                                                \
    "sxtb16 %[w13], %[w13], ror #8\n\t"                                                        \
    ES_MV_PAIRS(w02, a, c) ES_MV_PAIRS(w13, b, e)
#define ES_MV_ROW_MAC                                                                          \
    ES_MV_ROW_LOOP(ES_MV_QUAD(0, 2, 4, 6) ES_MV_QUAD(8, 10, 12, 14)                            \
                   "add %[d], %[d], #16\n\t",                                                  \
                   ES_MV_QUAD(0, 2, 4, 6)                                                      \
                   "add %[d], %[d], #8\n\t",                                                   \
                   "ldrh %[t0], [%[d]], #2\n\t"                                                \
                   "ldrsb %[t0], [%[sb], %[t0]]\n\t"                                           \
                   "ldrsb %[t1], [%[v]], #1\n\t"                                               \
                   "mla %[acc], %[t0], %[t1], %[acc]\n\t"                                      \
                   "subs %[n], %[n], #1\n\t"                                                   \
                   "bne 3b\n")
#include "es_matvec_layer.h"

void es_matvec_csr16_s8_dsp(const es_matvec_t *mp, const int8_t *x, int8_t *y)
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
        for (; n >= 8u; n -= 8u, idx += 8, v += 8) {
            const uint32_t w = es_read_u32(v), u = es_read_u32(v + 4);
            acc = es_smlad(es_pkhbt16((uint32_t)(int32_t)x[idx[0]], (uint32_t)(int32_t)x[idx[2]]),
                           es_sxtb16(w), acc);
            acc = es_smlad(es_pkhbt16((uint32_t)(int32_t)x[idx[1]], (uint32_t)(int32_t)x[idx[3]]),
                           es_sxtb16_ror8(w), acc);
            acc = es_smlad(es_pkhbt16((uint32_t)(int32_t)x[idx[4]], (uint32_t)(int32_t)x[idx[6]]),
                           es_sxtb16(u), acc);
            acc = es_smlad(es_pkhbt16((uint32_t)(int32_t)x[idx[5]], (uint32_t)(int32_t)x[idx[7]]),
                           es_sxtb16_ror8(u), acc);
        }
        if (n >= 4u) {
            const uint32_t w = es_read_u32(v);
            acc = es_smlad(es_pkhbt16((uint32_t)(int32_t)x[idx[0]], (uint32_t)(int32_t)x[idx[2]]),
                           es_sxtb16(w), acc);
            acc = es_smlad(es_pkhbt16((uint32_t)(int32_t)x[idx[1]], (uint32_t)(int32_t)x[idx[3]]),
                           es_sxtb16_ror8(w), acc);
            n -= 4u;
            idx += 4;
            v += 4;
        }
        while (n--) {
            acc += (int32_t)x[*idx++] * *v++;
        }
        y[r] = es_matvec_out(m, acc, r);
    }
}
