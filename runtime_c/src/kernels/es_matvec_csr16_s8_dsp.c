/* CSR16 with the DSP extension: four stored weights are one word, split by SXTB16 into the
 * pairs (0,2) and (1,3); the four gathered inputs are packed into the same pairs (PKHBT) so
 * two SMLADs do the four multiply-adds. */
#include "es_dsp.h"
#include "es_matvec.h"

void es_matvec_csr16_s8_dsp(const es_matvec_t *mp, const int8_t *x, int8_t *y)
{
    const es_matvec_t mv = *mp; /* locals: stores through y (int8_t) would force reloads */
    const es_matvec_t *m = &mv;
    const uint16_t *idx = (const uint16_t *)m->index;
    const int8_t *v = m->values;
    uint32_t r;
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
