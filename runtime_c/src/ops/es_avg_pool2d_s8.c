/* AVERAGE_POOL_2D int8 (TFLite reference_integer_ops::AveragePool): the divisor counts
 * only taps inside the input; the quotient rounds half away from zero. Windows of at most 256
 * taps sum four channels per input word in halfword pairs on DSP builds (SXTAB16); plain C
 * builds sum four channels at a time in registers. */
#include "es_dsp.h"
#include "es_fixedpoint.h"
#include "es_isa.h"
#include "es_kernels.h"
#include "es_registry.h"

/* The quotient of TFLite's AveragePool: acc / count rounded half away from zero, clamped. */
ES_INLINE int8_t es_avg_out(const es_pool_params_t *p, int32_t acc, int32_t count)
{
    if (count > 0) {
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    }
    return (int8_t)es_clamp(acc, p->act_min, p->act_max);
}

void es_avg_pool2d_s8(const es_pool_params_t *p, const int8_t *input, int8_t *output)
{
    const int ch = p->channels;
    int oy, ox, c, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        const int ky0 = y0 < 0 ? -y0 : 0;
        const int ky1 = p->in_h - y0 < p->f_h ? p->in_h - y0 : p->f_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int kx0 = x0 < 0 ? -x0 : 0;
            const int kx1 = p->in_w - x0 < p->f_w ? p->in_w - x0 : p->f_w;
            const int32_t count = (ky1 - ky0) * (kx1 - kx0);
            int8_t *out = output + (oy * p->out_w + ox) * ch;
            const int8_t *win = input + ((y0 + ky0) * p->in_w + x0 + kx0) * ch;
            c = 0;
#if ES_ISA >= ES_ISA_DSP
            if (count > 0 && count <= 256) {
                /* four channels per word: two halfword sums each of channels 0,2 and 1,3 (at
                 * most 256 int8 values: |sum| <= 32768 fits an int16) */
                for (; c + 4 <= ch; c += 4) {
                    uint32_t s02 = 0, s13 = 0;
                    const int8_t *row = win + c;
                    for (ky = ky0; ky < ky1; ++ky, row += p->in_w * ch) {
                        const int8_t *ip = row;
                        for (kx = kx0; kx < kx1; ++kx, ip += ch) {
                            const uint32_t w = es_read_u32(ip);
                            s02 = es_sxtab16(s02, w);
                            s13 = es_sxtab16_ror8(s13, w);
                        }
                    }
                    out[c] = es_avg_out(p, (int16_t)(s02 & 0xFFFFu), count);
                    out[c + 1] = es_avg_out(p, (int16_t)(s13 & 0xFFFFu), count);
                    out[c + 2] = es_avg_out(p, (int16_t)(s02 >> 16), count);
                    out[c + 3] = es_avg_out(p, (int16_t)(s13 >> 16), count);
                }
            }
#else
            for (; c + 4 <= ch; c += 4) {
                int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                const int8_t *row = win + c;
                for (ky = ky0; ky < ky1; ++ky, row += p->in_w * ch) {
                    const int8_t *ip = row;
                    for (kx = kx0; kx < kx1; ++kx, ip += ch) {
                        a0 += ip[0];
                        a1 += ip[1];
                        a2 += ip[2];
                        a3 += ip[3];
                    }
                }
                out[c] = es_avg_out(p, a0, count);
                out[c + 1] = es_avg_out(p, a1, count);
                out[c + 2] = es_avg_out(p, a2, count);
                out[c + 3] = es_avg_out(p, a3, count);
            }
#endif
            for (; c < ch; ++c) {
                int32_t acc = 0;
                for (ky = ky0; ky < ky1; ++ky) {
                    for (kx = kx0; kx < kx1; ++kx) {
                        acc += input[((y0 + ky) * p->in_w + x0 + kx) * ch + c];
                    }
                }
                out[c] = es_avg_out(p, acc, count);
            }
        }
    }
}

static void es_avg_pool2d_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_avg_pool2d_s8((const es_pool_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_average_pool_2d = {
    ES_OP_AVERAGE_POOL_2D, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE_BELOW, sizeof(es_pool_params_t), es_check_pool, es_avg_pool2d_eval, 0, 0,
};
