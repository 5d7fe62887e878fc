/* DEPTHWISE_CONV_2D with CSR16 weights, the reference build: the shared kernel
 * (es_depthwise_csr16_s8.h) with plain C multiply-accumulates; the plane geometry and the
 * layer check both builds share; the registry entry of C builds. */
#include "../formats/es_format_sparse.h"
#include "es_depthwise_check.h"

#define ES_DWS_KERNEL es_depthwise_csr16_s8
/* the weight in the word's high halfword, sign-extended without an implementation-defined shift */
#define ES_DWS_WEIGHT(e) ((int32_t)((e) >> 16) - (int32_t)(((e) >> 16) & 0x8000u) * 2)
#define ES_DWS_ACCUMULATE(px, ent, n)                          \
    do {                                                       \
        const uint32_t *e_ = (ent);                            \
        uint32_t k_;                                           \
        for (k_ = 0; k_ < (n); ++k_) {                         \
            const uint32_t w_ = e_[k_];                        \
            const int8_t *q_ = (px) + (w_ & 0xFFFFu);          \
            const int32_t v_ = ES_DWS_WEIGHT(w_);              \
            a0 += (int32_t)q_[0] * v_;                         \
            a1 += (int32_t)q_[1] * v_;                         \
            a2 += (int32_t)q_[2] * v_;                         \
            a3 += (int32_t)q_[3] * v_;                         \
        }                                                      \
    } while (0)
#include "es_depthwise_csr16_s8.h"

static uint32_t es_round4(uint32_t n)
{
    return (n + 3u) & ~3u;
}

void es_dw_plane(const es_conv_params_t *p, es_dw_plane_t *g)
{
    /* pixels computed along x-major rows vs y-major columns: the smaller wins, x on a tie */
    const uint64_t along_x = (uint64_t)p->out_h * es_round4(p->out_w);
    const uint64_t along_y = (uint64_t)p->out_w * es_round4(p->out_h);
    const uint32_t y = along_y < along_x;
    const uint32_t c_in = p->in_c, c_out = p->out_c;
    uint32_t k_f, k_s;
    g->fast_y = y;
    g->in_s = y ? p->in_w : p->in_h;
    g->in_f = y ? p->in_h : p->in_w;
    g->out_s = y ? p->out_w : p->out_h;
    g->out_f = y ? p->out_h : p->out_w;
    g->s_s = y ? p->stride_w : p->stride_h;
    g->s_f = y ? p->stride_h : p->stride_w;
    g->d_s = y ? p->dil_w : p->dil_h;
    g->d_f = y ? p->dil_h : p->dil_w;
    g->pad_s = y ? p->pad_left : p->pad_top;
    g->pad_f = y ? p->pad_top : p->pad_left;
    k_s = y ? p->k_w : p->k_h;
    k_f = y ? p->k_h : p->k_w;
    g->in_ss = (int32_t)((y ? 1u : p->in_w) * c_in);
    g->in_fs = (int32_t)((y ? p->in_w : 1u) * c_in);
    g->out_ss = (int32_t)((y ? 1u : p->out_w) * c_out);
    g->out_fs = (int32_t)((y ? p->out_w : 1u) * c_out);
    g->groups = (g->out_f + 3u) / 4u;
    g->wq = 4u * g->groups + (k_f - 1u) * g->d_f / g->s_f;
    g->row_bytes = g->s_f * g->wq;
    g->rows = (g->out_s - 1u) * g->s_s + (k_s - 1u) * g->d_s + 1u;
    g->plane_bytes = es_round4(g->rows * g->row_bytes);
}

uint32_t es_dw_tap_offset(const es_conv_params_t *p, const es_dw_plane_t *g, uint32_t ky, uint32_t kx)
{
    const uint32_t ks = g->fast_y ? kx : ky, kf = g->fast_y ? ky : kx;
    (void)p;
    return ks * g->d_s * g->row_bytes + (kf * g->d_f) % g->s_f * g->wq + kf * g->d_f / g->s_f;
}

uint64_t es_dw_plane_scratch_bytes(const es_conv_params_t *p)
{
    es_dw_plane_t g;
    /* the shape check has run: sizes are non-zero and the windows fit (es_window_ok); these
     * limits keep the plane's arithmetic within 32 bits */
    if (p->out_h > 0x4000u || p->out_w > 0x4000u || p->k_h > 0x100u || p->k_w > 0x100u ||
        p->dil_h > 0x100u || p->dil_w > 0x100u) {
        return 0;
    }
    es_dw_plane(p, &g);
    /* the phase tables' length; plane offsets are 16-bit */
    if (g.s_f > ES_DW_PLANE_MAX_STRIDE || g.plane_bytes > 0x10000u) {
        return 0;
    }
    /* the plane, each tap's plane offset, one channel's expanded weights */
    return (uint64_t)g.plane_bytes + 8u * (uint64_t)p->k_h * p->k_w;
}

es_status_t es_depthwise_csr16_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                            const es_tensor_t *in, const es_tensor_t *in2,
                                            const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const uint32_t taps = (uint32_t)p->k_h * p->k_w;
    uint64_t need;
    /* raw inputs times weights, the bias holding bias + input_offset * sum(w): the partial
     * sums stay within |bias| + taps * 255 * 128 */
    es_status_t st = es_depthwise_params_check(c, p, in, out);
    (void)in2;
    if (st != ES_OK) {
        return st;
    }
    if (l->format != ES_FMT_CSR16) {
        return ES_ERR_FORMAT;
    }
    st = es_csr16_table_check(c, p->weights_offset, p->weights_bytes, p->out_c, taps);
    if (st != ES_OK) {
        return st;
    }
    need = es_dw_plane_scratch_bytes(p);
    if (need == 0u) {
        return ES_ERR_SHAPE;
    }
    /* ES_OPF_IN_PLACE_BELOW, but only exactly over the input and with its channels: channel c's
     * outputs are written once all of channel c's inputs are in the plane, each over an input
     * byte of channel c; starting below the input they would reach channels not yet copied */
    if (es_tensors_overlap(in, out) && (out->arena_offset != in->arena_offset || p->out_c != p->in_c)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return es_check_scratch(c, p->scratch_offset, p->scratch_bytes, need, in, out);
}

static void es_depthwise_csr16_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    es_depthwise_csr16_s8((const es_conv_params_t *)params, m->blob, m->arena, es_layer_input(m, l),
                          es_layer_output(m, l));
}

const es_op_entry_t es_op_depthwise_conv_2d_csr16 = {
    ES_OP_DEPTHWISE_CONV_2D, ES_VARIANT_DW_SPARSE, ES_OPF_WEIGHTS | ES_OPF_OWN_FORMAT | ES_OPF_IN_PLACE_BELOW,
    sizeof(es_conv_params_t), es_depthwise_csr16_check, es_depthwise_csr16_eval,
    ES_FIELD_AT(es_conv_params_t, weights_offset), ES_FIELD_AT(es_conv_params_t, scratch_offset),
};
