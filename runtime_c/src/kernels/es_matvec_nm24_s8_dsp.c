/* 2:4 with the DSP extension: a table word holds the group's two inputs as int16 halves and
 * a value word holds the weight pairs of two groups, split by SXTB16 / SXTB16 ROR 8; one
 * SMLAD per group. */
#include "es_dsp.h"
#include "es_matvec.h"

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
