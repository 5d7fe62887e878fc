/* DEPTHWISE_CONV_2D, dense int8 per-channel weights [k_h][k_w][out_c]: the reference kernel
 * (TFLite reference_integer_ops::DepthwiseConvPerChannel). */
#include "es_fixedpoint.h"
#include "es_kernels.h"

void es_depthwise_conv2d_dense_s8(const es_conv_params_t *p, const uint8_t *blob,
                                  const int8_t *input, int8_t *output)
{
    const int8_t *weights = (const int8_t *)(blob + p->weights_offset);
    const int32_t *bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    const int32_t *mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    const int32_t *shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    const int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int dm = p->depth_multiplier;
    int oy, ox, c, m, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            for (c = 0; c < in_c; ++c) {
                for (m = 0; m < dm; ++m) {
                    const int oc = c * dm + m;
                    int32_t acc = bias[oc];
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int y = y0 + ky * p->dil_h;
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int x = x0 + kx * p->dil_w;
                            if (y < 0 || y >= in_h || x < 0 || x >= in_w) {
                                continue;
                            }
                            acc += ((int32_t)input[(y * in_w + x) * in_c + c] + p->input_offset) *
                                   weights[(ky * p->k_w + kx) * out_c + oc];
                        }
                    }
                    output[(oy * p->out_w + ox) * out_c + oc] = (int8_t)es_requantize_clamp(
                        acc, mult[oc], shift[oc], p->output_zero_point, p->act_min, p->act_max);
                }
            }
        }
    }
}
