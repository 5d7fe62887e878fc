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
#include "es_depthwise_conv2d_s8.h"

es_status_t es_depthwise_conv2d_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                      const es_tensor_t *in, const es_tensor_t *in2,
                                      const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const uint32_t taps = (uint32_t)p->k_h * p->k_w;
    es_status_t st;
    (void)in2;
    if (p->k_h == 0 || p->k_w == 0 || p->stride_h == 0 || p->stride_w == 0 || p->dil_h == 0 ||
        p->dil_w == 0 || p->in_c == 0 || p->out_c == 0 ||
        (uint64_t)p->in_h * p->in_w * p->in_c != in->bytes ||
        (uint64_t)p->out_h * p->out_w * p->out_c != out->bytes || p->depth_multiplier == 0 ||
        (uint32_t)p->in_c * p->depth_multiplier != p->out_c ||
        !es_window_ok(p->in_h, p->out_h, p->k_h, p->stride_h, p->dil_h, p->pad_top) ||
        !es_window_ok(p->in_w, p->out_w, p->k_w, p->stride_w, p->dil_w, p->pad_left)) {
        return ES_ERR_SHAPE;
    }
    if (!es_input_offset_ok(p->input_offset) || !es_int8_ok(p->output_zero_point)) {
        return ES_ERR_QUANT;
    }
    st = es_check_quant(c, p->bias_offset, p->mult_offset, p->shift_offset, p->out_c, p->act_min,
                        p->act_max);
    if (st == ES_OK) { /* each input gets the input offset added: up to 255 * 128 per product */
        st = es_check_bias(c, p->bias_offset, p->out_c, taps, 255u * 128u);
    }
    if (st != ES_OK) {
        return st;
    }
    if (l->format != ES_FMT_DENSE) { /* the only format depthwise weights come in */
        return ES_ERR_FORMAT;
    }
    if ((uint64_t)taps * p->out_c != p->weights_bytes) {
        return ES_ERR_SHAPE;
    }
    return es_table_ok(c, p->weights_offset, p->weights_bytes, 1, 1) ? ES_OK : ES_ERR_TABLE_BOUNDS;
}

static void es_depthwise_conv2d_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_depthwise_conv2d_s8((const es_conv_params_t *)params, m->blob, es_layer_input(m, l),
                           es_layer_output(m, l));
}

const es_op_entry_t es_op_depthwise_conv_2d = {
    ES_OP_DEPTHWISE_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS | ES_OPF_OWN_FORMAT, sizeof(es_conv_params_t),
    es_depthwise_conv2d_check, es_depthwise_conv2d_eval, ES_FIELD_AT(es_conv_params_t, weights_offset), 0,
};
