/* DEPTHWISE_CONV_2D, the reference build: the shared kernel (es_depthwise_conv2d_s8.h) with
 * plain C multiply-accumulates; its check; the registry entry of C builds. */
#define ES_DW_KERNEL es_depthwise_conv2d_s8
#define ES_DW_QUAD(ip, wp)                          \
    do {                                            \
        a0 += ((int32_t)(ip)[0] + off) * (wp)[0];   \
        a1 += ((int32_t)(ip)[1] + off) * (wp)[1];   \
        a2 += ((int32_t)(ip)[2] + off) * (wp)[2];   \
        a3 += ((int32_t)(ip)[3] + off) * (wp)[3];   \
    } while (0)
#define ES_DW_SPLAT(ip, wp)                         \
    do {                                            \
        const int32_t v_ = (int32_t)*(ip) + off;    \
        a0 += v_ * (wp)[0];                         \
        a1 += v_ * (wp)[1];                         \
        a2 += v_ * (wp)[2];                         \
        a3 += v_ * (wp)[3];                         \
    } while (0)
/* x * w of four channels, the input offset already in the accumulators (ES_DW_FOLD_MAX) */
#define ES_DW_QUAD_RAW(ip, wp)                      \
    do {                                            \
        a0 += (int32_t)(ip)[0] * (wp)[0];           \
        a1 += (int32_t)(ip)[1] * (wp)[1];           \
        a2 += (int32_t)(ip)[2] * (wp)[2];           \
        a3 += (int32_t)(ip)[3] * (wp)[3];           \
    } while (0)
#define ES_DW_FOLD_MAX 256 /* channels (1 KB of stack) */
#include "es_depthwise_conv2d_s8.h"
#include "es_depthwise_check.h"

es_status_t es_depthwise_params_check(const es_check_t *c, const es_conv_params_t *p,
                                      const es_tensor_t *in, const es_tensor_t *out)
{
    if (p->depth_multiplier == 0 || (uint32_t)p->in_c * p->depth_multiplier != p->out_c) {
        return ES_ERR_SHAPE;
    }
    /* each input gets the input offset added (the sparse kernel's bias holds it instead, for
     * partial sums within the same bound): up to 255 * 128 per product */
    return es_check_conv_params(c, p, in, out, (uint32_t)p->k_h * p->k_w, 255u * 128u, p->out_c, 0);
}

es_status_t es_depthwise_conv2d_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                      const es_tensor_t *in, const es_tensor_t *in2,
                                      const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const uint32_t taps = (uint32_t)p->k_h * p->k_w;
    es_status_t st = es_depthwise_params_check(c, p, in, out);
    (void)in2;
    if (st != ES_OK) {
        return st;
    }
    if (l->format != ES_FMT_DENSE) { /* the only format depthwise weights come in */
        return ES_ERR_FORMAT;
    }
    if ((uint64_t)taps * p->out_c != p->weights_bytes) {
        return ES_ERR_SHAPE;
    }
    if (!es_in_place_lag_ok(in, out, es_window_lag_bytes(p->in_w, p->in_c, p->out_h, p->out_w, p->out_c,
                                                         p->stride_h, p->stride_w, p->pad_top,
                                                         p->pad_left))) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return es_table_ok(c, p->weights_offset, p->weights_bytes, 1, 1) ? ES_OK : ES_ERR_TABLE_BOUNDS;
}

static void es_depthwise_conv2d_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_depthwise_conv2d_s8((const es_conv_params_t *)params, m->blob, es_layer_input(m, l),
                           es_layer_output(m, l));
}

const es_op_entry_t es_op_depthwise_conv_2d = {
    ES_OP_DEPTHWISE_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS | ES_OPF_OWN_FORMAT | ES_OPF_IN_PLACE_BELOW, sizeof(es_conv_params_t),
    es_depthwise_conv2d_check, es_depthwise_conv2d_eval, ES_FIELD_AT(es_conv_params_t, weights_offset), 0,
};
