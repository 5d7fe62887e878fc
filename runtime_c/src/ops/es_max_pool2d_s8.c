/* MAX_POOL_2D int8 (TFLite reference_integer_ops::MaxPool): padding taps are skipped. */
#include "es_fixedpoint.h"
#include "es_kernels.h"
#include "es_registry.h"

void es_max_pool2d_s8(const es_pool_params_t *p, const int8_t *input, int8_t *output)
{
    int oy, ox, c, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        const int ky0 = y0 < 0 ? -y0 : 0;
        const int ky1 = p->in_h - y0 < p->f_h ? p->in_h - y0 : p->f_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int kx0 = x0 < 0 ? -x0 : 0;
            const int kx1 = p->in_w - x0 < p->f_w ? p->in_w - x0 : p->f_w;
            for (c = 0; c < p->channels; ++c) {
                int32_t m = -128;
                for (ky = ky0; ky < ky1; ++ky) {
                    for (kx = kx0; kx < kx1; ++kx) {
                        const int32_t v = input[((y0 + ky) * p->in_w + x0 + kx) * p->channels + c];
                        m = v > m ? v : m;
                    }
                }
                output[(oy * p->out_w + ox) * p->channels + c] =
                    (int8_t)es_clamp(m, p->act_min, p->act_max);
            }
        }
    }
}

static void es_max_pool2d_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_max_pool2d_s8((const es_pool_params_t *)params, es_layer_input(m, l), es_layer_output(m, l));
}

const es_op_entry_t es_op_max_pool_2d = {
    ES_OP_MAX_POOL_2D, ES_VARIANT_DEFAULT, ES_OPF_IN_PLACE_BELOW, sizeof(es_pool_params_t), es_check_pool, es_max_pool2d_eval, 0, 0,
};
