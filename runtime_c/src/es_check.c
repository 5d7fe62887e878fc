/* Checks shared by several ops and formats, and the registry lookups (es_registry.h). */
#include "es_registry.h"

const es_op_entry_t *es_registry_op(const es_registry_t *r, uint8_t op, uint8_t variant)
{
    uint32_t i;
    for (i = 0; i < r->op_count; ++i) {
        if (r->ops[i]->op == op && r->ops[i]->variant == variant) {
            return r->ops[i];
        }
    }
    return (const es_op_entry_t *)0;
}

const es_format_entry_t *es_registry_format(const es_registry_t *r, uint8_t format)
{
    uint32_t i;
    for (i = 0; i < r->format_count; ++i) {
        if (r->formats[i]->format == format) {
            return r->formats[i];
        }
    }
    return (const es_format_entry_t *)0;
}

int es_table_ok(const es_check_t *c, uint32_t offset, uint64_t count, uint32_t elem_bytes,
                uint32_t align)
{
    const uint64_t end = (uint64_t)offset + count * elem_bytes;
    return (offset % align) == 0 && end <= c->blob_bytes;
}

es_status_t es_check_quant(const es_check_t *c, uint32_t bias_offset, uint32_t mult_offset,
                           uint32_t shift_offset, uint32_t channels, uint32_t rq_channels,
                           uint32_t bias_bytes, int32_t act_min, int32_t act_max)
{
    const int32_t *shifts, *mults;
    uint32_t i;
    if (!es_table_ok(c, bias_offset, channels, bias_bytes, bias_bytes) || !es_table_ok(c, mult_offset, rq_channels, 4, 4) ||
        !es_table_ok(c, shift_offset, rq_channels, 4, 4)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    shifts = (const int32_t *)(const void *)(c->blob + shift_offset);
    mults = (const int32_t *)(const void *)(c->blob + mult_offset);
    for (i = 0; i < rq_channels; ++i) {
        if (shifts[i] < -31 || shifts[i] > 30 || mults[i] < 0) {
            return ES_ERR_QUANT;
        }
    }
    return es_int8_range_ok(act_min, act_max) ? ES_OK : ES_ERR_QUANT;
}

/* Signed overflow is undefined behaviour in C; real models are far inside this bound (a
 * 784-input FC layer allows |bias| < 2.1e9). */
es_status_t es_check_bias_values(const int32_t *bias, uint32_t channels, uint64_t terms,
                                 uint32_t max_product)
{
    const uint64_t reach = terms * max_product;
    uint32_t i;
    if (reach > (uint64_t)INT32_MAX) {
        return ES_ERR_QUANT;
    }
    for (i = 0; i < channels; ++i) {
        const int64_t b = bias[i];
        if ((uint64_t)(b < 0 ? -b : b) > (uint64_t)INT32_MAX - reach) {
            return ES_ERR_QUANT;
        }
    }
    return ES_OK;
}

es_status_t es_check_bias(const es_check_t *c, uint32_t bias_offset, uint32_t channels,
                          uint64_t terms, uint32_t max_product)
{
    return es_check_bias_values((const int32_t *)(const void *)(c->blob + bias_offset), channels, terms,
                                max_product);
}

es_status_t es_check_fold_bias(const es_check_t *c, const es_format_entry_t *f, uint32_t weights_offset,
                               uint32_t bias_offset, uint32_t channels, int32_t zero_point,
                               uint64_t terms, uint32_t max_product)
{
    return f->fold_bias != 0 ? f->fold_bias(c, weights_offset, bias_offset, channels, zero_point, terms, max_product)
                             : ES_ERR_FORMAT;
}

/* Every window starts before the input's end and ends after its start, as TFLite's SAME and
 * VALID geometry guarantee, and the kernels' int index arithmetic (o * stride - pad + k * dil)
 * cannot overflow. */
int es_window_ok(uint32_t in, uint32_t out, uint32_t k, uint32_t stride, uint32_t dil, uint32_t pad)
{
    const uint64_t reach = (uint64_t)out * stride + (uint64_t)k * dil + pad;
    return out == 0 || (reach <= (uint64_t)INT32_MAX &&
                        (uint64_t)(out - 1u) * stride < (uint64_t)in + pad &&
                        (uint64_t)pad < (uint64_t)(k - 1u) * dil + 1u);
}

es_status_t es_check_scratch(const es_check_t *c, uint32_t offset, uint32_t bytes, uint64_t needed,
                             const es_tensor_t *in, const es_tensor_t *out)
{
    const uint64_t end = (uint64_t)offset + bytes;
    if (bytes < needed) {
        return ES_ERR_SHAPE;
    }
    if (bytes == 0) {
        return ES_OK;
    }
    if (offset % 4u != 0 || end > c->arena_bytes ||
        (offset < (uint64_t)in->arena_offset + in->bytes && in->arena_offset < end) ||
        (offset < (uint64_t)out->arena_offset + out->bytes && out->arena_offset < end)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return ES_OK;
}

es_status_t es_check_weights(const es_check_t *c, uint8_t format, uint32_t offset, uint32_t bytes,
                             uint32_t rows, uint32_t cols, const es_format_entry_t **f)
{
    *f = es_registry_format(&es_registry, format);
    if (*f == 0) {
        return ES_ERR_FORMAT;
    }
    return (*f)->check(c, offset, bytes, rows, cols);
}

int es_broadcast_ok(const uint16_t *out_dims, const uint32_t *strides, const es_tensor_t *in)
{
    uint64_t last = 0;
    uint32_t d;
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        last += (uint64_t)(out_dims[d] - 1u) * strides[d];
    }
    return last < in->bytes;
}

uint32_t es_window_lag_bytes(uint32_t in_w, uint32_t in_c, uint32_t out_h, uint32_t out_w,
                             uint32_t out_c, uint32_t stride_h, uint32_t stride_w, uint32_t pad_top,
                             uint32_t pad_left)
{
    int64_t worst = 0;
    uint64_t first = UINT64_MAX; /* the earliest window start from pixel q on */
    uint32_t oy, ox;
    for (oy = out_h; oy-- > 0u;) {
        const uint64_t y = (uint64_t)oy * stride_h;
        const uint64_t row = y > pad_top ? y - pad_top : 0u;
        for (ox = out_w; ox-- > 0u;) {
            const uint64_t x = (uint64_t)ox * stride_w;
            const uint64_t start = row * in_w + (x > pad_left ? x - pad_left : 0u);
            const int64_t need = (int64_t)(((uint64_t)oy * out_w + ox + 1u) * out_c) -
                                 (int64_t)((first = start < first ? start : first) * in_c);
            worst = need > worst ? need : worst;
        }
    }
    return (uint32_t)(((uint64_t)worst + 3u) & ~(uint64_t)3u);
}

int es_in_place_lag_ok(const es_tensor_t *in, const es_tensor_t *out, uint32_t lag_bytes)
{
    const uint64_t in_start = in->arena_offset, out_start = out->arena_offset;
    if (in_start + in->bytes <= out_start || out_start + out->bytes <= in_start) {
        return 1;
    }
    return out_start + lag_bytes <= in_start;
}

int es_in_place_strides_ok(const uint16_t *out_dims, const uint32_t *strides, const es_tensor_t *in,
                           const es_tensor_t *out)
{
    uint32_t expected = 1u;
    int d;
    if (in->arena_offset != out->arena_offset || (in->flags & ES_TENSOR_CONST) != 0) {
        return 1;
    }
    for (d = ES_MAX_DIMS - 1; d >= 0; --d) {
        if (out_dims[d] > 1u && strides[d] != expected) {
            return 0;
        }
        expected *= out_dims[d];
    }
    return 1;
}

es_status_t es_check_pool(const es_check_t *c, const es_layer_t *l, const void *params,
                          const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_pool_params_t *p = (const es_pool_params_t *)params;
    (void)c;
    (void)l;
    (void)in2;
    if (p->f_h == 0 || p->f_w == 0 || p->stride_h == 0 || p->stride_w == 0 || p->channels == 0 ||
        (uint64_t)p->in_h * p->in_w * p->channels != in->bytes ||
        (uint64_t)p->out_h * p->out_w * p->channels != out->bytes ||
        !es_window_ok(p->in_h, p->out_h, p->f_h, p->stride_h, 1u, p->pad_top) ||
        !es_window_ok(p->in_w, p->out_w, p->f_w, p->stride_w, 1u, p->pad_left)) {
        return ES_ERR_SHAPE;
    }
    if (!es_in_place_lag_ok(in, out, es_window_lag_bytes(p->in_w, p->channels, p->out_h, p->out_w,
                                                         p->channels, p->stride_h, p->stride_w,
                                                         p->pad_top, p->pad_left))) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return es_int8_range_ok(p->act_min, p->act_max) ? ES_OK : ES_ERR_QUANT;
}

uint32_t es_matvec_scratch_bytes(uint8_t format, uint32_t cols)
{
    const es_format_entry_t *f = es_registry_format(&es_registry, format);
    return (f != 0 && f->scratch_bytes != 0) ? f->scratch_bytes(cols) : 0u;
}

es_status_t es_check_conv_params(const es_check_t *c, const es_conv_params_t *p, const es_tensor_t *in,
                                 const es_tensor_t *out, uint64_t terms, uint32_t max_product,
                                 uint32_t rq_channels, int fold)
{
    es_status_t st;
    if (p->k_h == 0 || p->k_w == 0 || p->stride_h == 0 || p->stride_w == 0 || p->dil_h == 0 ||
        p->dil_w == 0 || p->in_c == 0 || p->out_c == 0 ||
        (uint64_t)p->in_h * p->in_w * p->in_c != in->bytes ||
        (uint64_t)p->out_h * p->out_w * p->out_c != out->bytes ||
        !es_window_ok(p->in_h, p->out_h, p->k_h, p->stride_h, p->dil_h, p->pad_top) ||
        !es_window_ok(p->in_w, p->out_w, p->k_w, p->stride_w, p->dil_w, p->pad_left)) {
        return ES_ERR_SHAPE;
    }
    if (!es_input_offset_ok(p->input_offset) || !es_int8_ok(p->output_zero_point)) {
        return ES_ERR_QUANT;
    }
    st = es_check_quant(c, p->bias_offset, p->mult_offset, p->shift_offset, p->out_c, rq_channels,
                        fold ? 2u : 4u, p->act_min, p->act_max);
    /* a folded bias is checked once the weights are decoded (es_check_fold_bias) */
    return st == ES_OK && !fold ? es_check_bias(c, p->bias_offset, p->out_c, terms, max_product) : st;
}
