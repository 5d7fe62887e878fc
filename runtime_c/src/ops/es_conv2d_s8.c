/* CONV_2D in any weight format: for each output pixel, gather its receptive field into an
 * im2col column (padding taps hold the input zero point, which the folded bias cancels
 * exactly) and run the format's matrix-vector kernel over the output channels. An unpadded
 * 1x1 convolution reads its column straight from the input. */
#include <string.h>

#include "es_kernels.h"
#include "es_registry.h"
#include "es_matvec.h"

static void es_copy_bytes(int8_t *dst, const int8_t *src, uint32_t n)
{
    for (; n >= 4u; n -= 4u, dst += 4, src += 4) {
        uint32_t w;
        memcpy(&w, src, 4);
        memcpy(dst, &w, 4);
    }
    while (n--) {
        *dst++ = *src++;
    }
}

uint32_t es_conv2d_im2col_bytes(const es_conv_params_t *p)
{
    if (p->k_h == 1u && p->k_w == 1u && p->pad_top == 0u && p->pad_left == 0u) {
        return 0;
    }
    return ((uint32_t)p->k_h * p->k_w * p->in_c + 3u) & ~3u;
}

void es_conv2d_s8(const es_conv_params_t *p, const es_format_entry_t *f, const uint8_t *blob, uint8_t *arena,
                  const int8_t *input, int8_t *output)
{
    const es_matvec_fn_t fn = f->matvec;
    const uint32_t col_bytes = es_conv2d_im2col_bytes(p);
    const int in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_h = p->k_h, k_w = p->k_w;
    const int8_t pad = (int8_t)(-p->input_offset);
    int8_t *col = (int8_t *)(arena + p->scratch_offset);
    es_matvec_t m;
    int oy, ox, ky, kx;
    m.rows = p->out_c;
    m.cols = (uint32_t)k_h * (uint32_t)k_w * (uint32_t)in_c;
    f->bind(&m, blob, p->weights_offset, arena);
    m.bias = (const int32_t *)(const void *)(blob + p->bias_offset);
    m.mult = (const int32_t *)(const void *)(blob + p->mult_offset);
    m.shift = (const int32_t *)(const void *)(blob + p->shift_offset);
    m.output_zero_point = p->output_zero_point;
    m.act_min = p->act_min;
    m.act_max = p->act_max;
    m.scratch = col + col_bytes;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_left;
            const int8_t *column;
            if (col_bytes == 0u) {
                column = input + ((uint32_t)y0 * (uint32_t)in_w + (uint32_t)x0) * (uint32_t)in_c;
            } else {
                int8_t *dst = col;
                for (ky = 0; ky < k_h; ++ky) {
                    const int y = y0 + ky * p->dil_h;
                    const int row_ok = y >= 0 && y < in_h;
                    if (row_ok && p->dil_w == 1u && x0 >= 0 && x0 + k_w <= in_w) {
                        es_copy_bytes(dst, input + (y * in_w + x0) * in_c, (uint32_t)(k_w * in_c));
                        dst += k_w * in_c;
                        continue;
                    }
                    for (kx = 0; kx < k_w; ++kx, dst += in_c) {
                        const int x = x0 + kx * p->dil_w;
                        if (row_ok && x >= 0 && x < in_w) {
                            es_copy_bytes(dst, input + (y * in_w + x) * in_c, (uint32_t)in_c);
                        } else {
                            memset(dst, pad, (uint32_t)in_c);
                        }
                    }
                }
                column = col;
            }
            fn(&m, column, output + ((uint32_t)oy * p->out_w + (uint32_t)ox) * p->out_c);
        }
    }
}

static es_status_t es_conv_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                 const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const uint32_t cols = (uint32_t)p->k_h * p->k_w * p->in_c;
    const es_format_entry_t *f;
    es_status_t st;
    (void)in2;
    if (p->depth_multiplier != 0) {
        return ES_ERR_SHAPE;
    }
    /* int8 inputs (padding: the zero point) times int8 weights */
    st = es_check_conv_params(c, p, in, out, (uint64_t)p->k_h * p->k_w * p->in_c, 128u * 128u);
    if (st == ES_OK) {
        st = es_check_weights(c, l->format, p->weights_offset, p->weights_bytes, p->out_c, cols, &f);
    }
    if (st != ES_OK) {
        return st;
    }
    return es_check_scratch(c, p->scratch_offset, p->scratch_bytes,
                            (uint64_t)es_conv2d_im2col_bytes(p) + (f->scratch_bytes ? f->scratch_bytes(cols) : 0u),
                            in, out);
}

static void es_conv_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_conv2d_s8((const es_conv_params_t *)params, es_layer_format(m, l), m->blob, m->arena, es_layer_input(m, l),
                 es_layer_output(m, l));
}

const es_op_entry_t es_op_conv_2d = {
    ES_OP_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS, sizeof(es_conv_params_t), es_conv_check,
    es_conv_eval, ES_FIELD_AT(es_conv_params_t, weights_offset),
    ES_FIELD_AT(es_conv_params_t, scratch_offset),
};
